"""timm-style registry of image-fusion networks: ``create_model(name, weights=path)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from rgbtfuse.errors import ConfigError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory ``fn(**kwargs) -> nn.Module`` under ``name``."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _MODELS[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, weights: str | Path | None = None, strict: bool = True, **kwargs: Any) -> nn.Module:
    """Build model ``name`` and, if given, load ``weights`` (published key format, strict by default).

    A model with weights spread over several files (DIDFuse's encoder and decoder) accepts the
    folder holding them. The model is returned in eval mode.
    """
    if name not in _MODELS:
        raise ConfigError(f"unknown image-fusion model {name!r}; available: {', '.join(list_models())}")
    model = _MODELS[name](**kwargs)
    if weights is not None:
        model.load_weights(weights, strict=strict)
    return model.eval()
