"""NestFuse's spatial/channel attention fusion (SCA), batched and vectorised.

For features ``φ_rgb, φ_ir`` of shape ``(B, C, H, W)`` (NestFuse, Li et al. 2020, Sec. III-B):

* channel attention: ``p_k = pool(φ_k) ∈ R^{B×C×1×1}`` (global avg, max or nuclear-norm
  pooling), ``α_k = p_k / (p_rgb + p_ir + ε)``, ``F_ch = α_rgb φ_rgb + α_ir φ_ir``;
* spatial attention: ``s_k = mean_c φ_k ∈ R^{B×1×H×W}``,
  ``β_k = exp(s_k) / (exp(s_rgb) + exp(s_ir) + ε)``, ``F_sp = β_rgb φ_rgb + β_ir φ_ir``;
* fused: ``(F_ch + F_sp) / 2``.

ε = 1e-5 as in the authors' ``fusion_strategy.py``; nuclear pooling adds the same ε to every
map before taking its singular values, as they do. Both rules are symmetric in the two inputs.
"""

from __future__ import annotations

import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion.base import FusionModule, register_fusion
from rgbtfuse.fusion.functional import (
    CHANNEL_POOLINGS,
    channel_pool,
    softmax_weights,
    weights_from_activity,
)

#: NestFuse's ``EPSILON``
NESTFUSE_EPS = 1e-5


def channel_attention_fusion(
    rgb: torch.Tensor, ir: torch.Tensor, pooling: str = "avg", eps: float = NESTFUSE_EPS, nuclear_offset: float = NESTFUSE_EPS
) -> torch.Tensor:
    """``α_rgb φ_rgb + α_ir φ_ir`` with per-channel weights ``α_k = p_k / (p_rgb + p_ir + ε)``."""
    p_rgb = channel_pool(rgb, pooling, nuclear_offset)
    p_ir = channel_pool(ir, pooling, nuclear_offset)
    w_rgb, w_ir = weights_from_activity(p_rgb, p_ir, eps)
    return w_rgb * rgb + w_ir * ir


def spatial_attention_fusion(rgb: torch.Tensor, ir: torch.Tensor, eps: float = NESTFUSE_EPS) -> torch.Tensor:
    """``β_rgb φ_rgb + β_ir φ_ir`` with ``β_k = softmax`` (with ε) of the channel-mean maps."""
    w_rgb, w_ir = softmax_weights(rgb.mean(dim=1, keepdim=True), ir.mean(dim=1, keepdim=True), eps)
    return w_rgb * rgb + w_ir * ir


@register_fusion("sca", "attention")
class SpatialChannelAttentionFusion(FusionModule):
    """NestFuse's attention fusion: mean of the channel- and the spatial-attention fusions.

    Args:
        channels: feature channels (any; the rule has no parameters).
        pooling: channel pooling, ``avg`` | ``max`` | ``nuclear``.
        eps: ε in both weight denominators (NestFuse: 1e-5).
        nuclear_offset: added to each map before its nuclear norm (NestFuse: the same 1e-5).

    Shape: ``rgb, ir: (B, C, H, W)`` → ``(B, C, H, W)``; every batch element is fused alone.
    """

    def __init__(self, channels: int, pooling: str = "avg", eps: float = NESTFUSE_EPS, nuclear_offset: float = NESTFUSE_EPS):
        super().__init__(channels)
        if pooling not in CHANNEL_POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(CHANNEL_POOLINGS)}, got {pooling!r}")
        self.pooling = pooling
        self.eps = eps
        self.nuclear_offset = nuclear_offset

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        f_channel = channel_attention_fusion(rgb, ir, self.pooling, self.eps, self.nuclear_offset)
        f_spatial = spatial_attention_fusion(rgb, ir, self.eps)
        return (f_channel + f_spatial) / 2

    def extra_repr(self) -> str:
        return f"channels={self.channels}, pooling={self.pooling}, eps={self.eps}"


@register_fusion("attention_avg")
class AttentionAvgFusion(SpatialChannelAttentionFusion):
    """NestFuse strategy ``attention_avg``: SCA with global average pooling."""

    def __init__(self, channels: int, eps: float = NESTFUSE_EPS):
        super().__init__(channels, "avg", eps)


@register_fusion("attention_max")
class AttentionMaxFusion(SpatialChannelAttentionFusion):
    """NestFuse strategy ``attention_max``: SCA with global max pooling."""

    def __init__(self, channels: int, eps: float = NESTFUSE_EPS):
        super().__init__(channels, "max", eps)


@register_fusion("attention_nuclear")
class AttentionNuclearFusion(SpatialChannelAttentionFusion):
    """NestFuse strategy ``attention_nuclear``: SCA with nuclear-norm pooling (``svd(φ + ε)``)."""

    def __init__(self, channels: int, eps: float = NESTFUSE_EPS, nuclear_offset: float = NESTFUSE_EPS):
        super().__init__(channels, "nuclear", eps, nuclear_offset)


@register_fusion("spatial_attention")
class SpatialAttentionFusion(FusionModule):
    """Spatial attention alone (RFN-Nest's static ``spa`` strategy uses ``eps=1e-10``)."""

    def __init__(self, channels: int, eps: float = NESTFUSE_EPS):
        super().__init__(channels)
        self.eps = eps

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return spatial_attention_fusion(rgb, ir, self.eps)


@register_fusion("channel_attention")
class ChannelAttentionFusion(SpatialChannelAttentionFusion):
    """Channel attention alone: ``α_rgb φ_rgb + α_ir φ_ir`` with pooled per-channel weights.

    Same options as :class:`SpatialChannelAttentionFusion` (whose channel half this is).
    """

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return channel_attention_fusion(rgb, ir, self.pooling, self.eps, self.nuclear_offset)
