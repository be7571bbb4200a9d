"""MobileNetV3-small trunk of NanoTrack (v1/v2 and the deeper v3 variant).

Layout and state-dict keys follow the published NanoTrack checkpoints (``features.<i>...``):
a 3×3 stride-2 stem, then inverted-residual blocks; the output is the last block's map at
stride 16 — ``(B, 48, 8, 8)`` for a 127² template and ``(B, 48, 16, 16)`` for a 255² search
crop (96 channels for v3). No classifier, no input normalisation (raw 0–255 BGR, as trained).
"""

from __future__ import annotations

import torch
from torch import nn

from rgbtfuse.errors import ConfigError

# (kernel, expansion, out channels, squeeze-excite, hard-swish, stride) per block
_SMALL = [
    (3, 1, 16, True, False, 2),
    (3, 4.5, 24, False, False, 2),
    (3, 3.67, 24, False, False, 1),
    (5, 4, 40, True, True, 2),
    (5, 6, 40, True, True, 1),
    (5, 6, 40, True, True, 1),
    (5, 3, 48, True, True, 1),
    (5, 3, 48, True, True, 1),
]
# NanoTrack v3 appends a 96-channel block (stride 1, so the output stays at stride 16)
_SMALL_V3 = _SMALL + [(5, 6, 96, True, True, 1)]

VARIANTS = {"mobilenetv3_small": _SMALL, "mobilenetv3_small_v3": _SMALL_V3}


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round ``v`` to a multiple of ``divisor`` without going more than 10 % below it."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _activation(hard_swish: bool) -> nn.Module:
    return nn.Hardswish(inplace=True) if hard_swish else nn.ReLU(inplace=True)


class SqueezeExcite(nn.Module):
    """Channel gating ``x · hardsigmoid(fc(avgpool(x)))``; keys ``fc.0``, ``fc.2`` (Linear)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = make_divisible(channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Hardsigmoid(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=(2, 3)))
        return x * w[:, :, None, None]


class InvertedResidual(nn.Module):
    """MobileNetV3 block (``conv.*`` keys as published).

    Without expansion: depthwise → BN → act → SE → pointwise → BN. With expansion: pointwise →
    BN → act → depthwise → BN → SE → act → pointwise → BN. Residual when shape is kept.
    """

    def __init__(self, inp: int, hidden: int, out: int, kernel: int, stride: int, use_se: bool, hard_swish: bool):
        super().__init__()
        self.identity = stride == 1 and inp == out
        pad = (kernel - 1) // 2
        se = SqueezeExcite(hidden) if use_se else nn.Identity()
        depthwise = nn.Conv2d(hidden, hidden, kernel, stride, pad, groups=hidden, bias=False)
        project = [nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        if inp == hidden:
            layers = [depthwise, nn.BatchNorm2d(hidden), _activation(hard_swish), se, *project]
        else:
            expand = [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), _activation(hard_swish)]
            layers = [*expand, depthwise, nn.BatchNorm2d(hidden), se, _activation(hard_swish), *project]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


class MobileNetV3Small(nn.Module):
    """NanoTrack's MobileNetV3-small trunk: ``(B, 3, H, W)`` → ``(B, C, ⌈H/16⌉, ⌈W/16⌉)``."""

    def __init__(self, variant: str = "mobilenetv3_small", width_mult: float = 1.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"unknown NanoTrack backbone {variant!r}; available: {sorted(VARIANTS)}")
        channels = make_divisible(16 * width_mult)
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False), nn.BatchNorm2d(channels), nn.Hardswish(inplace=True))
        ]
        for kernel, expansion, out, use_se, hard_swish, stride in VARIANTS[variant]:
            out = make_divisible(out * width_mult)
            layers.append(InvertedResidual(channels, make_divisible(channels * expansion), out, kernel, stride, use_se, hard_swish))
            channels = out
        self.features = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
