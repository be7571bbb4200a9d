"""RFN, RFN-Nest's learnable residual fusion network (Li, Wu, Kittler 2021, Fig. 2 and Fig. 17).

``RFN(φ_rgb, φ_ir) = Conv6([φ_ir, φ_rgb]) + Bottleneck([Conv1(φ_ir), Conv2(φ_rgb)])`` where every
conv is Hui Li's reflection-pad + conv + ReLU (:class:`~rgbtfuse.fusion.layers.ConvLayer`) and
``[·, ·]`` is channel concatenation (infrared first, as in the authors' code). The bottleneck
is a 1×1 conv 2C→C followed by 3×3 convs C→C: two in the image-fusion RFN (Conv3-5, Fig. 2),
one in the reduced RFN the paper uses for RGB-T tracking (Conv3-4, Fig. 17).
"""

from __future__ import annotations

import torch
from torch import nn

from rgbtfuse.fusion.base import FusionModule, register_fusion
from rgbtfuse.fusion.layers import ConvLayer


@register_fusion("rfn")
class ResidualFusionBlock(FusionModule):
    """RFN of RFN-Nest (the authors' ``FusionBlock_res``); keys equal the published checkpoint's.

    Args:
        channels: feature channels C (input and output).
        kernel_size: kernel of the 3×3 convs (the authors use 3 at every scale).
        bottleneck_convs: number of k×k convs after the bottleneck's 1×1 conv (2 in Fig. 2).

    State-dict keys: ``conv_fusion.conv2d.*`` (2C→C), ``conv_ir.conv2d.*``, ``conv_vi.conv2d.*``
    (C→C), ``bottelblock.0.conv2d.*`` (1×1, 2C→C), ``bottelblock.{1..n}.conv2d.*`` (C→C) — the
    authors' spelling. Shape: ``rgb, ir: (B, C, H, W)`` → ``(B, C, H, W)``.
    """

    trainable = True

    def __init__(self, channels: int, kernel_size: int = 3, bottleneck_convs: int = 2):
        super().__init__(channels)
        self.conv_fusion = ConvLayer(2 * channels, channels, kernel_size)
        self.conv_ir = ConvLayer(channels, channels, kernel_size)
        self.conv_vi = ConvLayer(channels, channels, kernel_size)
        self.bottelblock = nn.Sequential(
            ConvLayer(2 * channels, channels, 1),
            *(ConvLayer(channels, channels, kernel_size) for _ in range(bottleneck_convs)),
        )

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        initial = self.conv_fusion([ir, rgb])  # ConvLayer concatenates its parts
        residual = self.bottelblock([self.conv_ir(ir), self.conv_vi(rgb)])
        return initial + residual


@register_fusion("rfn_light")
class LightResidualFusionBlock(ResidualFusionBlock):
    """Reduced RFN used for RGB-T tracking (RFN-Nest Fig. 17): one 3×3 conv after the 1×1."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__(channels, kernel_size, bottleneck_convs=1)
