"""Score-map grids shared by the models, their losses and the trackers.

pysot's anchors for SiamRPN (one set of ``len(ratios)·len(scales)`` boxes per score-map cell)
and NanoTrack's points (one per cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError


@dataclass
class AnchorConfig:
    """pysot ``cfg.ANCHOR``: anchor stride (the feature stride), aspect ratios h/w, scales."""

    stride: int = 8
    ratios: tuple[float, ...] = (0.33, 0.5, 1, 2, 3)
    scales: tuple[float, ...] = (8,)
    anchor_num: int | None = None  # pysot's redundant ANCHOR_NUM; checked if given

    def __post_init__(self) -> None:
        self.ratios = tuple(self.ratios)
        self.scales = tuple(self.scales)
        if self.anchor_num is not None and self.anchor_num != len(self.ratios) * len(self.scales):
            raise ConfigError(f"anchor_num {self.anchor_num} != len(ratios) * len(scales) = {len(self.ratios) * len(self.scales)}")
        self.anchor_num = len(self.ratios) * len(self.scales)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> AnchorConfig:
        return from_dict(cls, cfg, "model.anchor")


def base_anchors(stride: int, ratios: tuple[float, ...], scales: tuple[float, ...]) -> np.ndarray:
    """``(A, 4)`` float32 corners ``x1, y1, x2, y2`` centred at 0, ratio-major order.

    pysot's integer rounding: ``w = int(sqrt(stride² / ratio))``, ``h = int(w · ratio)``, then × scale.
    """
    anchors = []
    for r in ratios:
        ws = int(math.sqrt(stride * stride / r))
        hs = int(ws * r)
        for s in scales:
            w, h = ws * s, hs * s
            anchors.append([-w * 0.5, -h * 0.5, w * 0.5, h * 0.5])
    return np.array(anchors, dtype=np.float32)


def anchor_grid(cfg: AnchorConfig, score_size: int) -> np.ndarray:
    """``(A·S·S, 4)`` float32 ``cx, cy, w, h`` in search-crop pixels relative to the crop centre.

    Row order is anchor-major, then score-map row, then column — the order of the flattened
    ``cls``/``loc`` channels (``(A, S, S)``).
    """
    corners = base_anchors(cfg.stride, cfg.ratios, cfg.scales)
    wh = corners[:, 2:] - corners[:, :2]
    origin = -(score_size // 2) * cfg.stride
    offsets = origin + cfg.stride * np.arange(score_size)
    xx, yy = np.meshgrid(offsets, offsets)
    num = len(corners)
    grid = np.empty((num, score_size * score_size, 4), np.float32)
    grid[:, :, 0] = xx.reshape(-1)
    grid[:, :, 1] = yy.reshape(-1)
    grid[:, :, 2:] = wh[:, None, :]
    return grid.reshape(-1, 4)


def make_points(stride: int, size: int) -> np.ndarray:
    """``(2, size·size)`` float32 x/y offsets of the score-map points from the crop centre,
    row-major; the centre point (index ``size // 2``) is at 0."""
    coords = (np.arange(size) - size // 2) * stride
    xs, ys = np.meshgrid(coords, coords)
    return np.stack([xs.ravel(), ys.ravel()]).astype(np.float32)
