"""Layers shared by Hui Li's fusion networks (NestFuse, RFN-Nest) and the RFN fusion modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvLayer(nn.Module):
    """Reflection pad + conv + ReLU (``(B, C_in, H, W) → (B, C_out, H', W')``).

    Hui Li's ``ConvLayer``: the ReLU is applied on every layer, the network's output layer
    included. Padding is ``kernel_size // 2`` so a stride-1 layer keeps ``H × W``. The
    state-dict keys are ``conv2d.weight`` / ``conv2d.bias``, as in the published checkpoints.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2d(self.reflection_pad(x)))


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
