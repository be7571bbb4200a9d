"""pysot's depthwise-correlation RPN heads (SiamRPN++).

* :class:`DepthwiseXCorr`: 3×3 conv + BN + ReLU on template and search (``conv_kernel``,
  ``conv_search``), per-channel cross-correlation, then 1×1 conv + BN + ReLU + 1×1 conv (``head``).
* :class:`DepthwiseRPN`: one :class:`DepthwiseXCorr` for ``cls`` (2·A channels: A background
  then A foreground logits) and one for ``loc`` (4·A: dx, dy, dw, dh blocks of A anchors).
* :class:`MultiRPN`: one :class:`DepthwiseRPN` per level (``rpn2``, ``rpn3``, ``rpn4``) combined by a
  softmax-weighted sum of learnt ``cls_weight``/``loc_weight`` (``weighted``, R50) or a plain mean
  (MobileNetV2).

Template-only work (``conv_kernel``) can be done once per target: :meth:`MultiRPN.kernels` then
:meth:`MultiRPN.correlate` per frame gives the same result as ``forward``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def xcorr_depthwise(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel correlation: ``(B, C, H, W)`` with ``(B, C, h, w)`` →
    ``(B, C, H - h + 1, W - w + 1)``."""
    b, c = kernel.shape[:2]
    out = F.conv2d(search.reshape(1, b * c, *search.shape[2:]), kernel.reshape(b * c, 1, *kernel.shape[2:]), groups=b * c)
    return out.reshape(b, c, *out.shape[2:])


def _conv_bn_relu(cin: int, cout: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DepthwiseXCorr(nn.Module):
    """Template ``(B, C, 7, 7)`` and search ``(B, C, 31, 31)`` → ``(B, out_channels, 25, 25)``."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv_kernel = _conv_bn_relu(in_channels, hidden, kernel_size)
        self.conv_search = _conv_bn_relu(in_channels, hidden, kernel_size)
        self.head = nn.Sequential(
            nn.Conv2d(hidden, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 1),
        )

    def correlate(self, kernel: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """Output for a precomputed ``kernel = conv_kernel(template)``."""
        return self.head(xcorr_depthwise(self.conv_search(search), kernel))

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.correlate(self.conv_kernel(template), search)


class DepthwiseRPN(nn.Module):
    """``(cls (B, 2A, h, w), loc (B, 4A, h, w))`` for one level."""

    def __init__(self, anchor_num: int = 5, in_channels: int = 256, out_channels: int = 256):
        super().__init__()
        self.cls = DepthwiseXCorr(in_channels, out_channels, 2 * anchor_num)
        self.loc = DepthwiseXCorr(in_channels, out_channels, 4 * anchor_num)

    def kernels(self, template: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls.conv_kernel(template), self.loc.conv_kernel(template)

    def correlate(self, kernels: tuple[torch.Tensor, torch.Tensor], search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls.correlate(kernels[0], search), self.loc.correlate(kernels[1], search)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.correlate(self.kernels(template), search)


class MultiRPN(nn.Module):
    """One :class:`DepthwiseRPN` per level, combined into one ``(cls, loc)``."""

    def __init__(self, anchor_num: int, in_channels: list[int], weighted: bool = False):
        super().__init__()
        self.weighted = weighted
        self.levels = len(in_channels)
        for i, c in enumerate(in_channels, start=2):
            self.add_module(f"rpn{i}", DepthwiseRPN(anchor_num, c, c))
        if weighted:
            self.cls_weight = nn.Parameter(torch.ones(self.levels))
            self.loc_weight = nn.Parameter(torch.ones(self.levels))

    def _rpns(self) -> list[DepthwiseRPN]:
        return [getattr(self, f"rpn{i}") for i in range(2, 2 + self.levels)]

    def kernels(self, templates: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Template-side convs of every level (computed once per target)."""
        return [rpn.kernels(z) for rpn, z in zip(self._rpns(), templates)]

    def correlate(self, kernels: list[tuple[torch.Tensor, torch.Tensor]], searches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [rpn.correlate(k, x) for rpn, k, x in zip(self._rpns(), kernels, searches)]
        cls = [o[0] for o in outs]
        loc = [o[1] for o in outs]
        if not self.weighted:
            return sum(cls) / len(cls), sum(loc) / len(loc)
        return _weighted_sum(cls, F.softmax(self.cls_weight, 0)), _weighted_sum(loc, F.softmax(self.loc_weight, 0))

    def forward(self, templates: list[torch.Tensor], searches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.correlate(self.kernels(templates), searches)


def _weighted_sum(maps: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    # accumulated in level order, as pysot does (keeps results bit-identical)
    total = maps[0] * weights[0]
    for m, w in zip(maps[1:], weights[1:]):
        total = total + m * w
    return total
