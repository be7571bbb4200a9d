"""The one fusion interface: a per-scale module ``forward(rgb, ir) -> fused``.

Every fusion module takes two ``(B, C, H, W)`` feature maps of the same shape — the visible
(RGB) and the infrared feature — and returns the fused ``(B, C, H, W)`` map. Modules are
registered by name (:func:`register_fusion`) and built from yaml with
:func:`rgbtfuse.fusion.build_fusion`; :class:`~rgbtfuse.fusion.MultiScaleFusion` holds one module
per scale (a tracker's backbone levels, an encoder's scales).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

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
