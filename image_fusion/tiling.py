"""Exact tiled inference for fully convolutional fusion networks (bounded memory on large images).

A network made of stride-1 'same' convolutions and pointwise operations has a finite receptive-field
radius r. Running it on a crop that extends ``halo ≥ r`` pixels beyond a tile (clipped at the image
border) gives exactly the full-image values inside the tile: wrong padding at the crop's inner edges
reaches at most r pixels inwards, and at the true image border the crop pads as the full image does.
The stitched output therefore has no seams (equal to the untiled output up to float summation order).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def tile_spans(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``[0, length)`` into ``ceil(length / tile)`` near-equal spans ``(start, stop)``."""
    count = max(1, math.ceil(length / tile))
    size = math.ceil(length / count)
    return [(s, min(s + size, length)) for s in range(0, length, size)]


def tiled_forward(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rgb: torch.Tensor,
    ir: torch.Tensor,
    tile: int | None,
    halo: int,
) -> torch.Tensor:
    """``fn(rgb, ir)`` evaluated tile by tile; ``(B, C, H, W)`` inputs → ``(B, C_out, H, W)``.

    Args:
        fn: the network's forward on ``(B, C, h, w)`` crops, returning ``(B, C_out, h, w)``.
        tile: side of the tiles (``None`` or larger than the image: one call on the whole image).
        halo: context added on each side of a tile; must be at least the receptive-field radius.
    """
    h, w = ir.shape[-2:]
    if tile is None or (h <= tile and w <= tile):
        return fn(rgb, ir)
    out: torch.Tensor | None = None
    for y0, y1 in tile_spans(h, tile):
        for x0, x1 in tile_spans(w, tile):
            ya, yb, xa, xb = max(y0 - halo, 0), min(y1 + halo, h), max(x0 - halo, 0), min(x1 + halo, w)
            res = fn(rgb[..., ya:yb, xa:xb], ir[..., ya:yb, xa:xb])
            if out is None:
                out = res.new_empty((*res.shape[:2], h, w))
            out[..., y0:y1, x0:x1] = res[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    assert out is not None
    return out
