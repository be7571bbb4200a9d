"""Fusion modules by name: :func:`build_fusion` for one scale, :class:`MultiScaleFusion` for several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion.base import _REGISTRY, available_fusions
from rgbtfuse.fusion.residual import ResidualOnRule, residual_options


def build_fusion(name: str, channels: int, **cfg: Any) -> nn.Module:
    """Build the fusion module registered as ``name`` for ``channels``-channel features."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown fusion {name!r}; available: {', '.join(available_fusions())}")
    cfg = dict(cfg)
    residual = cfg.pop("residual", None)
    try:
        module = _REGISTRY[name](channels, **cfg)
    except TypeError as exc:
        raise ConfigError(f"fusion {name!r}: bad options {cfg}: {exc}") from exc
    if residual is None:
        return module
    if not getattr(module, "trainable", False):
        raise ConfigError(f"fusion {name!r}: residual applies to trainable modules only ({name} has no parameters)")
    rule, form, rule_opts = residual_options(residual, name)
    return ResidualOnRule(channels, build_fusion(rule, channels, **rule_opts), module, form)


class MultiScaleFusion(nn.Module):
    """One fusion module per scale: ``forward([rgb_s...], [ir_s...]) -> [fused_s...]``.

    State-dict keys are ``<index>.<module keys>`` (an :class:`nn.ModuleList`), so a fusion
    checkpoint is independent of the tracker or network that hosts it.
    """

    def __init__(self, modules: Sequence[nn.Module]):
        super().__init__()
        self.scales = nn.ModuleList(modules)

    @classmethod
    def build(cls, name: str, channels: Sequence[int], **cfg: Any) -> MultiScaleFusion:
        """Same fusion type at every scale, one instance per channel count in ``channels``."""
        return cls([build_fusion(name, c, **cfg) for c in channels])

    def __len__(self) -> int:
        return len(self.scales)

    def forward(self, rgb: Sequence[torch.Tensor], ir: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(rgb) != len(self.scales) or len(ir) != len(self.scales):
            raise ValueError(f"expected {len(self.scales)} scales, got {len(rgb)} rgb and {len(ir)} ir maps")
        return [m(r, i) for m, r, i in zip(self.scales, rgb, ir)]
