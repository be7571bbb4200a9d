"""pysot's MobileNetV2 backbone (SiamRPN++ ``mobilev2_l234``): dilated, output stride 8.

Differences from torchvision's MobileNetV2, needed for pysot's checkpoints and outputs: the
stem conv is unpadded; stages 4–7 keep stride 1 and dilate (2, 2, 4, 4) instead; every
inverted residual has its expansion 1×1 conv, even with expansion 1; no final 1×1 conv.
Modules are ``layer0`` (stem) … ``layer7`` (stages); ``used_layers`` picks the outputs.

With ``width_mult=1.4`` the used layers 3, 5, 7 give 44, 134 and 448 channels at stride 8
(127 → 15×15, 255 → 31×31).
"""

from __future__ import annotations

import torch
from torch import nn

#: ``(expansion t, channels c, blocks n, stride s, dilation d)`` of stages ``layer1``…``layer7``
STAGES = (
    (1, 16, 1, 1, 1),
    (6, 24, 2, 2, 1),
    (6, 32, 3, 2, 1),
    (6, 64, 4, 1, 2),
    (6, 96, 3, 1, 2),
    (6, 160, 3, 1, 4),
    (6, 320, 1, 1, 4),
)


class InvertedResidual(nn.Module):
    """Expand 1×1 → depthwise 3×3 → project 1×1, residual when shape-preserving (``conv.0``…``conv.7``).

    Padding of the depthwise conv: ``dilation`` if > 1, else 1 at stride 1 and 0 at stride 2.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int, dilation: int = 1):
        super().__init__()
        hidden = in_channels * expansion
        padding = dilation if dilation > 1 else 2 - stride
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, padding, dilation=dilation, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """Dilated MobileNetV2.

    Shape: ``(B, 3, H, W)`` raw 0–255 BGR → list of ``(B, C_i, H_i, W_i)`` for ``used_layers``
    (indices of ``layer0``…``layer7``; a single tensor when only one is used).
    """

    def __init__(self, width_mult: float = 1.0, used_layers: list[int] = (3, 5, 7)):
        super().__init__()
        self.used_layers = list(used_layers)
        in_channels = int(32 * width_mult)
        self.layer0 = nn.Sequential(
            nn.Conv2d(3, in_channels, 3, 2, 0, bias=False), nn.BatchNorm2d(in_channels), nn.ReLU6(inplace=True)
        )
        stage_channels = [in_channels]
        last_dilation = 1
        for idx, (t, c, n, s, d) in enumerate(STAGES, start=1):
            out_channels = int(c * width_mult)
            # the first block of a stage that raises the dilation uses half of it (pysot)
            first_dilation = d if d == last_dilation else max(d // 2, 1)
            blocks = [InvertedResidual(in_channels, out_channels, s, t, first_dilation)]
            blocks += [InvertedResidual(out_channels, out_channels, 1, t, d) for _ in range(1, n)]
            self.add_module(f"layer{idx}", nn.Sequential(*blocks))
            in_channels = out_channels
            last_dilation = d
            stage_channels.append(out_channels)
        self.channels = [stage_channels[i] for i in self.used_layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        feats = []
        for idx in range(max(self.used_layers) + 1):
            x = getattr(self, f"layer{idx}")(x)
            feats.append(x)
        out = [feats[i] for i in self.used_layers]
        return out[0] if len(out) == 1 else out


def mobilenetv2(width_mult: float = 1.0, used_layers: list[int] = (3, 5, 7)) -> MobileNetV2:
    """pysot's ``mobilenetv2`` backbone (``BACKBONE.TYPE: mobilenetv2``)."""
    return MobileNetV2(width_mult, used_layers)
