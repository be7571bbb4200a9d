"""Layers shared by Hui Li's fusion networks (NestFuse, RFN-Nest) and the RFN fusion modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: without autograd, inputs with more elements are convolved in row bands: the same result,
#: without the full-size padded copy and the convolution library's re-layouted copies
BAND_ELEMENTS = 1 << 24


class ConvLayer(nn.Module):
    """Reflection pad + conv + ReLU (``(B, C_in, H, W) → (B, C_out, H', W')``).

    Hui Li's ``ConvLayer``: the ReLU is applied on every layer, the network's output layer
    included. Padding is ``kernel_size // 2`` so a stride-1 layer keeps ``H × W``. The
    state-dict keys are ``conv2d.weight`` / ``conv2d.bias``, as in the published checkpoints.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.pad = kernel_size // 2
        self.reflection_pad = nn.ReflectionPad2d(self.pad)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        banded = x.numel() > BAND_ELEMENTS and self.conv2d.stride == (1, 1)
        if not banded or (torch.is_grad_enabled() and x.requires_grad):
            return F.relu(self.conv2d(self.reflection_pad(x)), inplace=True)  # the conv output is fresh
        return self._forward_banded(x)

    def _forward_banded(self, x: torch.Tensor) -> torch.Tensor:
        """Row bands with ``pad`` halo rows, reflected at the image border like the full pad."""
        b, c, h, w = x.shape
        rows = max(1, BAND_ELEMENTS // (b * c * w))
        out = x.new_empty(b, self.conv2d.out_channels, h, w)
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            idx = torch.arange(r0 - self.pad, r1 + self.pad, device=x.device).abs()
            idx = torch.where(idx >= h, 2 * (h - 1) - idx, idx)
            band = F.pad(x.index_select(2, idx), (self.pad, self.pad, 0, 0), mode="reflect")
            out[:, :, r0:r1] = self.conv2d(band)
        return F.relu_(out)


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
