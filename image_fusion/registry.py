"""timm-style registry of image-fusion networks: ``create_model(name, weights=path)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from rgbtfuse.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    """A registered network: its factory and what callers need to know to build it."""

    factory: Callable[..., nn.Module]
    #: the factory's keyword for its per-scale fusion rule; None: the network has a single, learned one
    rule_kwarg: str | None = "strategy"
    #: number of files the published weights come in (a folder holding them, or the files in order)
    weight_files: int = 1


_MODELS: dict[str, ModelInfo] = {}


def register_model(name: str, rule_kwarg: str | None = "strategy", weight_files: int = 1) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory ``fn(**kwargs) -> nn.Module`` under ``name``."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _MODELS[name] = ModelInfo(fn, rule_kwarg, weight_files)
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_info(name: str) -> ModelInfo:
    if name not in _MODELS:
        raise ConfigError(f"unknown image-fusion model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[name]


def create_model(name: str, weights: str | Path | list[Path] | None = None, strict: bool = True, rule: str | None = None, **kwargs: Any) -> nn.Module:
    """Build model ``name`` and, if given, load ``weights`` (published key format, strict by default).

    ``rule`` names the fusion rule of networks that have one per scale (any registered
    :mod:`rgbtfuse.fusion` name; passed as the network's own keyword, see :class:`ModelInfo`). A
    model with weights spread over several files (DIDFuse's encoder and decoder) accepts the
    folder holding them, or the list of files. The model is returned in eval mode.
    """
    info = model_info(name)
    if rule is not None:
        if info.rule_kwarg is None:
            raise ConfigError(f"{name} has a single, learned fusion; it takes no fusion rule")
        from rgbtfuse.fusion import available_fusions

        if rule not in available_fusions():
            raise ConfigError(f"fusion rule {rule!r} is not a registered fusion; available: {', '.join(available_fusions())}")
        kwargs[info.rule_kwarg] = rule
    if isinstance(weights, list) and len(weights) > info.weight_files:
        files = "one checkpoint file" if info.weight_files == 1 else f"{info.weight_files} checkpoint files"
        raise ConfigError(f"weights: {name} takes {files}, got {len(weights)} paths")
    model = info.factory(**kwargs)
    if weights is not None:
        model.load_weights(weights[0] if isinstance(weights, list) and len(weights) == 1 else weights, strict=strict)
    return model.eval()
