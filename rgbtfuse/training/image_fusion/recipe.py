"""What a training recipe provides to the Trainer, and the registry of recipes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from rgbtfuse.errors import ConfigError
from rgbtfuse.training.image_fusion.data import DataConfig
from rgbtfuse.training.trainer import LossFn


@dataclass
class Recipe:
    """One paper's training stage.

    ``trained``: the image-fusion network (its frozen parts have ``requires_grad=False``; the
    Trainer optimises the rest and checkpoints the whole state dict). ``export(folder, epoch)``
    writes the weights in the published file format and returns the files, which
    ``create_model(model_name, weights=...)`` and ``rgbtfuse fuse --weights`` load as they are.
    """

    trained: nn.Module
    loss_fn: LossFn
    dataset: Dataset
    export: Callable[[Path, int], list[Path]]  # (folder, completed epochs)
    model_name: str


RecipeBuilder = Callable[[DataConfig, dict[str, Any], dict[str, Any], torch.device], Recipe]
_RECIPES: dict[str, RecipeBuilder] = {}


def register_recipe(name: str) -> Callable[[RecipeBuilder], RecipeBuilder]:
    """Register ``builder(data_cfg, model_cfg, loss_cfg, device) -> Recipe`` under ``name``."""

    def deco(fn: RecipeBuilder) -> RecipeBuilder:
        _RECIPES[name] = fn
        return fn

    return deco


def available_recipes() -> list[str]:
    return sorted(_RECIPES)


def build_recipe(name: str, data: DataConfig, model: dict[str, Any], loss: dict[str, Any], device: torch.device) -> Recipe:
    if name not in _RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; available: {', '.join(available_recipes())}")
    return _RECIPES[name](data, dict(model), dict(loss), device)


def take_options(section: str, cfg: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``cfg``; unknown keys raise a ConfigError naming the section."""
    if unknown := sorted(set(cfg) - set(defaults)):
        raise ConfigError(f"unknown {section} options {unknown}; known: {sorted(defaults)}")
    return {**defaults, **cfg}
