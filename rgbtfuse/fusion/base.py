"""The one fusion interface: a per-scale module ``forward(rgb, ir) -> fused``.

Every fusion module takes two ``(B, C, H, W)`` feature maps of the same shape — the visible
(RGB) and the infrared feature — and returns the fused ``(B, C, H, W)`` map. Modules are
registered by name and built from yaml with :func:`build_fusion`; :class:`MultiScaleFusion`
holds one module per scale (a tracker's backbone levels, an encoder's scales).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import ConfigError

_REGISTRY: dict[str, type[nn.Module]] = {}


class FusionModule(nn.Module):
    """Base class: subclasses implement ``forward(rgb, ir) -> fused`` on ``(B, C, H, W)``."""

    #: whether the module has parameters to train (training-free baselines don't)
    trainable: bool = False

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def register_fusion(*names: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator registering a fusion module under one or more names."""

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        for name in names:
            if name in _REGISTRY and _REGISTRY[name] is not cls:
                raise ValueError(f"fusion name {name!r} already registered by {_REGISTRY[name].__name__}")
            _REGISTRY[name] = cls
        return cls

    return deco


def available_fusions() -> list[str]:
    """Names accepted by :func:`build_fusion`."""
    return sorted(_REGISTRY)


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
    from rgbtfuse.fusion.residual import ResidualOnRule, residual_options

    if not getattr(module, "trainable", False):
        raise ConfigError(f"fusion {name!r}: residual applies to trainable modules only ({name} has no parameters)")
    rule, rule_opts = residual_options(residual, name)
    return ResidualOnRule(channels, build_fusion(rule, channels, **rule_opts), module)


class MultiScaleFusion(nn.Module):
    """One fusion module per scale: ``forward([rgb_s...], [ir_s...]) -> [fused_s...]``.

    State-dict keys are ``<index>.<module keys>`` (an :class:`nn.ModuleList`), so a fusion
    checkpoint is independent of the tracker or network that hosts it.
    """

    def __init__(self, modules: Sequence[nn.Module]):
        super().__init__()
        self.scales = nn.ModuleList(modules)

    @classmethod
    def build(cls, name: str, channels: Sequence[int], **cfg: Any) -> "MultiScaleFusion":
        """Same fusion type at every scale, one instance per channel count in ``channels``."""
        return cls([build_fusion(name, c, **cfg) for c in channels])

    def __len__(self) -> int:
        return len(self.scales)

    def forward(self, rgb: Sequence[torch.Tensor], ir: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(rgb) != len(self.scales) or len(ir) != len(self.scales):
            raise ValueError(f"expected {len(self.scales)} scales, got {len(rgb)} rgb and {len(ir)} ir maps")
        return [m(r, i) for m, r, i in zip(self.scales, rgb, ir)]
