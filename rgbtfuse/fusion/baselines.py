"""Training-free fusion rules: add, mean, max, l1-norm (spatial) and nuclear-norm (channel)."""

from __future__ import annotations

import torch

from rgbtfuse.fusion.base import FusionModule, register_fusion
from rgbtfuse.fusion.functional import channel_pool, l1_activity, weights_from_activity


@register_fusion("add", "sum")
class AddFusion(FusionModule):
    """``rgb + ir`` (DIDFuse's 'Sum' strategy)."""

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return rgb + ir


@register_fusion("mean", "average")
class MeanFusion(FusionModule):
    """``(rgb + ir) / 2``."""

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return (rgb + ir) / 2


@register_fusion("max")
class MaxFusion(FusionModule):
    """Element-wise maximum."""

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return torch.maximum(rgb, ir)


@register_fusion("l1", "l1_norm")
class L1NormFusion(FusionModule):
    """DenseFuse/DIDFuse l1-norm rule: spatial weights from channel-wise l1 activity.

    ``w_k(x, y) = A_k / (A_rgb + A_ir + eps)`` with ``A_k = box_r(sum_c |φ_k|)``; ``window`` is the
    box radius (0: no blur, 1: the 3×3 box of DenseFuse/DIDFuse).
    """

    def __init__(self, channels: int, window: int = 1, eps: float = 0.0):
        super().__init__(channels)
        self.window = window
        self.eps = eps

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        w_rgb, w_ir = weights_from_activity(l1_activity(rgb, self.window), l1_activity(ir, self.window), self.eps)
        return w_rgb * rgb + w_ir * ir


@register_fusion("nuclear", "nuclear_norm")
class NuclearNormFusion(FusionModule):
    """Channel weights from each channel map's nuclear norm: ``w_k = N_k / (N_rgb + N_ir + eps)``."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__(channels)
        self.eps = eps

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        w_rgb, w_ir = weights_from_activity(channel_pool(rgb, "nuclear"), channel_pool(ir, "nuclear"), self.eps)
        return w_rgb * rgb + w_ir * ir
