"""pysot's adjust neck: 1×1 conv + BN per level, and a centre crop of template features.

Keys: ``downsample.{0,1}`` for one level (:class:`AdjustLayer`), ``downsample{2,3,4}.downsample.{0,1}``
for pysot's three-level :class:`AdjustAllLayer` (numbered from 2 like the backbone layers).
"""

from __future__ import annotations

import torch
from torch import nn

#: feature maps narrower than this are template features and get centre-cropped (pysot's rule)
TEMPLATE_MAX_WIDTH = 20


class AdjustLayer(nn.Module):
    """``(B, C_in, H, W)`` → ``(B, C_out, H, W)``; template maps (width < 20) are then cropped to
    their central ``center_size``×``center_size`` (15×15 → 7×7 for a 127 template)."""

    def __init__(self, in_channels: int, out_channels: int, center_size: int = 7):
        super().__init__()
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.center_size = center_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if x.shape[3] < TEMPLATE_MAX_WIDTH:
            left = (x.shape[3] - self.center_size) // 2
            x = x[:, :, left : left + self.center_size, left : left + self.center_size]
        return x


class AdjustAllLayer(nn.Module):
    """One :class:`AdjustLayer` per level: list of ``(B, C_in_i, H, W)`` → list of ``(B, C_out_i, h, w)``
    (a single tensor in and out when there is one level, as in pysot)."""

    def __init__(self, in_channels: list[int], out_channels: list[int], center_size: int = 7):
        super().__init__()
        if len(in_channels) != len(out_channels):
            raise ValueError(f"in_channels {in_channels} and out_channels {out_channels} differ in length")
        self.num = len(out_channels)
        self.out_channels = list(out_channels)
        if self.num == 1:
            self.downsample = AdjustLayer(in_channels[0], out_channels[0], center_size)
        else:
            for i, (cin, cout) in enumerate(zip(in_channels, out_channels), start=2):
                self.add_module(f"downsample{i}", AdjustLayer(cin, cout, center_size))

    def forward(self, features: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        if self.num == 1:
            return self.downsample(features)
        return [getattr(self, f"downsample{i}")(f) for i, f in enumerate(features, start=2)]
