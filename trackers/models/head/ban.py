"""NanoTrack's box-adaptive (anchor-free) heads, versions 1, 2 and 3.

Every head maps template features ``z`` ``(B, C, 8, 8)`` and search features ``x``
``(B, C, 16, 16)`` to ``(cls, loc)``: ``cls`` ``(B, 2, S, S)`` background/foreground logits and
``loc`` ``(B, 4, S, S)`` positive distances (left, top, right, bottom) in search-crop pixels from
each point of the score map (``S`` = 16 for v1/v2, 15 for v3). Module names are the
published checkpoints' (``corr_pw*``, ``CA_layer``, ``*_tower``, ...).

* v1: one pixel-wise correlation (64 template positions → 64 maps) + channel attention,
  shared by a cls tower (5×5/5×5/3×3 separable, 128 channels) and a box tower (96 channels).
* v2: separate pixel-wise correlations for cls and box, each with 1×1 conv + BN projections
  of ``z`` and ``x``, followed by six 3×3 separable layers per branch.
* v3: pixel-wise (with a 2×2 depthwise refinement → 15×15) and depthwise correlation (centre
  4×4 of the template, padding 1 → 15×15) per branch, concatenated and reduced by a 1×1 conv,
  then six depthwise/pointwise layers per branch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rgbtfuse.errors import ConfigError

TEMPLATE_POSITIONS = 64  # an 8×8 template feature map: one correlation channel per position


def pixelwise_xcorr(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` × ``(B, C, h, w)`` → ``(B, h·w, H, W)``: dot product of every template
    position's feature vector with every search position's."""
    b, c, h, w = search.shape
    return torch.matmul(kernel.reshape(b, c, -1).transpose(1, 2), search.reshape(b, c, -1)).reshape(b, -1, h, w)


def depthwise_xcorr(search: torch.Tensor, kernel: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Per-channel correlation of ``search`` ``(B, C, H, W)`` with ``kernel`` ``(B, C, h, w)``."""
    b, c = kernel.shape[:2]
    out = F.conv2d(search.reshape(1, b * c, *search.shape[2:]), kernel.reshape(b * c, 1, *kernel.shape[2:]), padding=padding, groups=b * c)
    return out.reshape(b, c, *out.shape[2:])


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))


def _separable(specs: list[tuple[int, int, int]]) -> nn.Sequential:
    """v1/v2 tower: per ``(cin, cout, k)`` depthwise k×k → pointwise → BN → ReLU6."""
    layers: list[nn.Module] = []
    for cin, cout, k in specs:
        layers += [
            nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        ]
    return nn.Sequential(*layers)


def _dw_pw_tower(channels: int, depth: int) -> nn.Sequential:
    """v3 tower: ``depth`` × (depthwise 3×3 → BN → ReLU6 → pointwise → BN)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU6(inplace=True),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        ]
    return nn.Sequential(*layers)


class ChannelAttention(nn.Module):
    """``x · sigmoid(fc2(relu(fc1(avgpool(x)))))`` with 1×1 convs ``fc1``, ``fc2``."""

    def __init__(self, channels: int = TEMPLATE_POSITIONS):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels, 1)
        self.fc2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1))))
        return x * torch.sigmoid(w)


class PixelwiseCorrelation(nn.Module):
    """Pixel-wise correlation + channel attention; optional 1×1 projections (v2, v3) of both
    inputs and a 2×2 depthwise refinement (v3; shrinks the map by one)."""

    def __init__(self, in_channels: int | None = None, refine: bool = False):
        super().__init__()
        self.CA_layer = ChannelAttention(TEMPLATE_POSITIONS)
        self.conv_kernel = _conv_bn(in_channels, in_channels) if in_channels else None
        self.conv_search = _conv_bn(in_channels, in_channels) if in_channels else None
        c = TEMPLATE_POSITIONS
        self.conv = (
            nn.Sequential(
                nn.Conv2d(c, c, 2, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU6(inplace=True), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c)
            )
            if refine
            else None
        )

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.conv_kernel is not None:
            z, x = self.conv_kernel(z), self.conv_search(x)
        out = self.CA_layer(pixelwise_xcorr(x, z))
        return self.conv(out) if self.conv is not None else out


class DepthwiseCorrelation(nn.Module):
    """v3: 1×1 conv + BN projections of both inputs, then depthwise correlation (padding 1)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_kernel = _conv_bn(channels, channels)
        self.conv_search = _conv_bn(channels, channels)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return depthwise_xcorr(self.conv_search(x), self.conv_kernel(z), padding=1)


class BANHeadV1(nn.Module):
    """NanoTrack v1 head (no projections: any feature channel count, 48 in the release)."""

    def __init__(self):
        super().__init__()
        c = TEMPLATE_POSITIONS
        self.corr_pw = PixelwiseCorrelation()
        self.cls_tower = _separable([(c, 128, 5), (128, 128, 5), (128, 128, 3)])
        self.bbox_tower = _separable([(c, 96, 3), (96, 96, 3), (96, 96, 5), (96, 96, 5)])
        self.cls_logits = nn.Sequential(nn.Conv2d(128, 2, 1))
        self.bbox_pred = nn.Sequential(nn.Conv2d(96, 4, 1))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        corr = self.corr_pw(z, x)
        return self.cls_logits(self.cls_tower(corr)), torch.exp(self.bbox_pred(self.bbox_tower(corr)))


class BANHeadV2(nn.Module):
    """NanoTrack v2 head (48-channel features in the release)."""

    def __init__(self, in_channels: int = 48):
        super().__init__()
        c = TEMPLATE_POSITIONS
        specs = [(c, 96, 3)] + [(96, 96, 3)] * 5
        self.corr_pw_reg = PixelwiseCorrelation(in_channels)
        self.corr_pw_cls = PixelwiseCorrelation(in_channels)
        self.cls_pw_tower = _separable(specs)
        self.bbox_pw_tower = _separable(specs)
        self.cls_pred = nn.Sequential(nn.Conv2d(96, 2, 1))
        self.bbox_pred = nn.Sequential(nn.Conv2d(96, 4, 1))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cls = self.cls_pred(self.cls_pw_tower(self.corr_pw_cls(z, x)))
        loc = torch.exp(self.bbox_pred(self.bbox_pw_tower(self.corr_pw_reg(z, x))))
        return cls, loc


class BANHeadV3(nn.Module):
    """NanoTrack v3 head (96-channel features in the release); 15×15 output."""

    def __init__(self, in_channels: int = 96):
        super().__init__()
        c = in_channels
        self.corr_dw_reg = DepthwiseCorrelation(c)
        self.corr_pw_reg = PixelwiseCorrelation(c, refine=True)
        self.corr_dw_cls = DepthwiseCorrelation(c)
        self.corr_pw_cls = PixelwiseCorrelation(c, refine=True)
        self.cls_tower = _dw_pw_tower(c, 6)
        self.bbox_tower = _dw_pw_tower(c, 6)
        self.cls_logits = nn.Sequential(nn.Conv2d(c, 2, 1))
        self.bbox_pred = nn.Sequential(nn.Conv2d(c, 4, 1))
        self.down_reg = nn.Sequential(nn.Conv2d(c + TEMPLATE_POSITIONS, c, 1))
        self.down_cls = nn.Sequential(nn.Conv2d(c + TEMPLATE_POSITIONS, c, 1))

    @staticmethod
    def centre(z: torch.Tensor) -> torch.Tensor:
        """Centre 4×4 of the 8×8 template map (the target without most of its context)."""
        return z[:, :, 2:6, 2:6] if z.shape[3] > 4 else z

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zc = self.centre(z)
        x_reg = self.down_reg(torch.cat([self.corr_pw_reg(z, x), self.corr_dw_reg(zc, x)], 1))
        x_cls = self.down_cls(torch.cat([self.corr_pw_cls(z, x), self.corr_dw_cls(zc, x)], 1))
        return self.cls_logits(self.cls_tower(x_cls)), torch.exp(self.bbox_pred(self.bbox_tower(x_reg)))


BAN_HEADS: dict[str, type[nn.Module]] = {"ban_v1": BANHeadV1, "ban_v2": BANHeadV2, "ban_v3": BANHeadV3}


def build_ban_head(name: str, **kwargs: int) -> nn.Module:
    """Build the NanoTrack head ``ban_v1`` | ``ban_v2`` | ``ban_v3``."""
    if name not in BAN_HEADS:
        raise ConfigError(f"unknown NanoTrack head {name!r}; available: {sorted(BAN_HEADS)}")
    try:
        return BAN_HEADS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"head {name!r}: bad options {kwargs}: {exc}") from exc
