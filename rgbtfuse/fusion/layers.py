"""Layers shared by Hui Li's fusion networks (NestFuse, RFN-Nest) and the RFN fusion modules.

Without autograd, :class:`ConvLayer` avoids the copies a literal ``conv(pad(cat(parts)))`` makes:
the parts are written once into a reflection-padded buffer, and a map that the network would
upsample ×2 (nearest) before the convolution is convolved at its own, coarse resolution with
per-phase 2×2 kernels (4 instead of 9 multiply-adds per fine pixel, see
:func:`upsampled_conv3x3_phases`). Both give the literal computation's values up to float32
summation order; with autograd the literal form runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Parts = torch.Tensor | Sequence[torch.Tensor]


class ConvLayer(nn.Module):
    """Reflection pad + conv + ReLU (``(B, C_in, H, W) → (B, C_out, H', W')``).

    Hui Li's ``ConvLayer``: the ReLU is applied on every layer, the network's output layer
    included. Padding is ``kernel_size // 2`` so a stride-1 layer keeps ``H × W``. The
    state-dict keys are ``conv2d.weight`` / ``conv2d.bias``, as in the published checkpoints.

    The input may be given as parts, concatenated on channels in order, and a ``coarse`` map
    concatenated last after :func:`upsample_like` to the parts' size — the nest decoder's
    ``conv(cat([x, up(coarse)]))``, computed without materialising either.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.pad = kernel_size // 2
        self.reflection_pad = nn.ReflectionPad2d(self.pad)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)
        self._phase_cache: tuple | None = None

    def forward(self, x: Parts, coarse: torch.Tensor | None = None) -> torch.Tensor:
        parts = [x] if isinstance(x, torch.Tensor) else list(x)
        conv = self.conv2d
        if self.records_grad(parts, coarse):
            return F.relu(conv(self.reflection_pad(_cat(parts, coarse))))
        if coarse is None:
            return F.relu_(F.conv2d(reflect_pad_cat(parts, self.pad), conv.weight, conv.bias, conv.stride))
        if not self.takes_phases(parts, coarse):
            return F.relu_(conv(self.reflection_pad(_cat(parts, coarse))))
        return self.forward_rows(parts, F.pad(coarse, (1, 1, 1, 1), mode="replicate"), 0, parts[0].shape[-2])

    def records_grad(self, parts: list[torch.Tensor], coarse: torch.Tensor | None) -> bool:
        """Whether autograd records this layer (then the literal computation runs)."""
        inputs = [*parts, self.conv2d.weight, self.conv2d.bias] + ([] if coarse is None else [coarse])
        return torch.is_grad_enabled() and any(t.requires_grad for t in inputs)

    def takes_phases(self, parts: list[torch.Tensor], coarse: torch.Tensor) -> bool:
        """Whether :meth:`forward_rows` applies: a 3×3 stride-1 conv and the floor-pooled coarse size."""
        h, w = parts[0].shape[-2:]
        return self.conv2d.kernel_size == (3, 3) and self.conv2d.stride == (1, 1) and coarse.shape[-2:] == (h // 2, w // 2)

    def forward_rows(self, parts: list[torch.Tensor], coarse_padded: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
        """Output rows ``[r0, r1)`` (``r0`` even) of ``forward(parts, coarse)``, without autograd.

        ``coarse_padded`` is the coarse map replicate-padded by 1. Only the input rows these outputs
        read are copied, so a caller looping over row bands never holds a full-size input buffer.
        """
        fine_weight, phase_weight = self._split_weights(sum(p.shape[1] for p in parts))
        out = F.conv2d(reflect_pad_cat_rows(parts, r0, r1), fine_weight, self.conv2d.bias)
        add_phases_(out, F.conv2d(coarse_padded[..., r0 // 2 : r1 // 2 + 2, :], phase_weight))
        return F.relu_(out)

    def _split_weights(self, fine_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights on the fine parts, per-phase 2×2 weights on the coarse map), cached per weight version."""
        w = self.conv2d.weight
        key = (w.data_ptr(), w._version, fine_channels, w.device, w.dtype)
        if self._phase_cache is None or self._phase_cache[0] != key:
            fine = w[:, :fine_channels].contiguous(memory_format=torch.channels_last)
            phases = upsampled_conv3x3_phases(w[:, fine_channels:]).contiguous(memory_format=torch.channels_last)
            self._phase_cache = (key, fine.detach(), phases.detach())
        return self._phase_cache[1], self._phase_cache[2]


def _cat(parts: list[torch.Tensor], coarse: torch.Tensor | None) -> torch.Tensor:
    """The literal input: the parts and the upsampled coarse map, concatenated on channels."""
    if coarse is not None:
        parts = [*parts, upsample_like(coarse, parts[0])]
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


def reflect_pad_cat(parts: Sequence[torch.Tensor], pad: int) -> torch.Tensor:
    """``F.pad(torch.cat(parts, 1), [pad] * 4, mode="reflect")``, written once into one buffer for ``pad`` 1.

    ``parts``: ``(B, C_i, H, W)`` each → ``(B, ΣC_i, H + 2 pad, W + 2 pad)``, in the memory format
    of ``parts[0]`` (channels-last stays channels-last).
    """
    first = parts[0]
    if pad == 0:
        return first if len(parts) == 1 else torch.cat(list(parts), 1)
    h, w = first.shape[-2:]
    if pad >= min(h, w):
        raise ValueError(f"reflection padding {pad} needs maps larger than {pad} pixels, got {w}×{h}")
    if pad == 1:  # every 3×3 layer of these nets
        return reflect_pad_cat_rows(parts, 0, h)
    fmt = torch.channels_last if first.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return F.pad(torch.cat(list(parts), 1), (pad,) * 4, mode="reflect").contiguous(memory_format=fmt)


def reflect_pad_cat_rows(parts: Sequence[torch.Tensor], r0: int, r1: int) -> torch.Tensor:
    """Rows ``r0 .. r1 + 1`` of ``reflect_pad_cat(parts, 1)``: what a 3×3 conv needs for output rows ``[r0, r1)``.

    ``parts``: ``(B, C_i, H, W)`` each → ``(B, ΣC_i, r1 - r0 + 2, W + 2)``, memory format of ``parts[0]``.
    """
    first = parts[0]
    b, _, h, w = first.shape
    if min(h, w) < 2:
        raise ValueError(f"reflection padding 1 needs maps larger than 1 pixel, got {w}×{h}")
    channels_last = first.is_contiguous(memory_format=torch.channels_last)
    buf = torch.empty(
        (b, sum(p.shape[1] for p in parts), r1 - r0 + 2, w + 2),
        dtype=first.dtype,
        device=first.device,
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
    )
    lo, hi = max(r0 - 1, 0), min(r1 + 1, h)
    top = lo - (r0 - 1)  # 1 at the image's first row: that padded row is reflected below
    c0 = 0
    for p in parts:
        c1 = c0 + p.shape[1]
        buf[:, c0:c1, top : top + hi - lo, 1 : w + 1] = p[:, :, lo:hi]
        if r0 == 0:
            buf[:, c0:c1, 0, 1 : w + 1] = p[:, :, 1]
        if r1 == h:
            buf[:, c0:c1, -1, 1 : w + 1] = p[:, :, h - 2]
        c0 = c1
    buf[:, :, :, 0] = buf[:, :, :, 2]
    buf[:, :, :, w + 1] = buf[:, :, :, w - 1]
    return buf


def upsampled_conv3x3_phases(weight: torch.Tensor) -> torch.Tensor:
    """3×3 kernels on a nearest-×2-upsampled map → 2×2 kernels on the coarse map, one per output phase.

    ``weight: (O, C, 3, 3)`` → ``(4·O, C, 2, 2)``, phase blocks ordered (row, col) parity 00, 01, 10, 11.
    An even output row ``2i`` sees coarse rows ``i-1, i, i`` (taps ``w0`` and ``w1 + w2``), an odd row
    ``2i+1`` sees ``i, i, i+1`` (taps ``w0 + w1`` and ``w2``); likewise for columns.
    """
    rows = (
        torch.stack([weight[:, :, 0], weight[:, :, 1] + weight[:, :, 2]], 2),
        torch.stack([weight[:, :, 0] + weight[:, :, 1], weight[:, :, 2]], 2),
    )
    kernels = []
    for r in rows:
        kernels.append(torch.stack([r[..., 0], r[..., 1] + r[..., 2]], 3))
        kernels.append(torch.stack([r[..., 0] + r[..., 1], r[..., 2]], 3))
    return torch.cat(kernels, 0)


def add_phases_(out: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
    """Add per-phase coarse results into the fine map, in place.

    ``out: (B, O, H, W)``; ``phases: (B, 4·O, h + 1, w + 1)``, the 2×2 phase kernels of
    :func:`upsampled_conv3x3_phases` applied to the coarse map replicate-padded by 1
    (``h = H // 2``, ``w = W // 2``: the floor 2×2 pooling that made it). Phase ``(py, px)`` at
    coarse position ``(i, j)`` is fine pixel ``(2i + py, 2j + px)`` and reads window ``(i + py, j + px)``.
    Replicate padding of the coarse map equals the reflection padding of its upsampled copy,
    including :func:`upsample_like`'s extra reflected row/column for odd sizes.
    """
    o, (h, w) = out.shape[1], out.shape[-2:]
    k = 0
    for py in (0, 1):
        for px in (0, 1):
            ny, nx = (h + 1 - py) // 2, (w + 1 - px) // 2
            out[:, :, py::2, px::2] += phases[:, k * o : (k + 1) * o, py : py + ny, px : px + nx]
            k += 1
    return out


def upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Nearest ×2 upsampling of ``x``, reflection-padded on the right/bottom to ``ref``'s size.

    After a floor-mode 2×2 max-pool, the coarse map upsampled ×2 is at most one row/column
    short of the fine one; NestFuse's ``UpsampleReshape_eval`` pads ``d // 2`` before and the
    rest after, i.e. the missing row/column is reflected at the bottom/right.
    """
    up = F.interpolate(x, scale_factor=2.0, mode="nearest")
    dh, dw = ref.shape[-2] - up.shape[-2], ref.shape[-1] - up.shape[-1]
    if dh or dw:
        up = F.pad(up, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="reflect")
    return up
