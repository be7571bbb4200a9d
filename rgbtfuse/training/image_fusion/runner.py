"""Experiment yaml → recipe + Trainer; periodic and final export of the published weight files.

```yaml
recipe: rfn_nest_stage2          # see available_recipes()
out: runs/rfn_nest_stage2        # checkpoint.pth, log.csv, tensorboard/, export/
device: auto
data: {root: ..., size: 256, geometry: resize}
model: {...}                     # recipe options
loss: {...}                      # recipe options (the papers' values are the defaults)
train: {epochs: 2, batch_size: 4, seed: 0, checkpoint_every: 500, export_every: 0}
optimizer: {name: adam, lr: 1.0e-4}
```
``train.epochs`` (optional) sets ``steps = round(epochs · N / batch_size)`` for N training
images; ``export_every`` writes ``export/step_<n>/`` with every such checkpoint (0: only
``export/final/`` at the end). Relative paths are relative to the working directory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import yaml

from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError
from rgbtfuse.training import distributed as D
from rgbtfuse.training.image_fusion.data import DataConfig
from rgbtfuse.training.image_fusion.recipe import Recipe, build_recipe
from rgbtfuse.training.optim import OptimConfig
from rgbtfuse.training.trainer import LoopConfig, Trainer

TOP_LEVEL = {"recipe", "out", "device", "data", "model", "loss", "train", "optimizer"}


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: experiment file not found")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid yaml: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if unknown := sorted(set(cfg) - TOP_LEVEL):
        raise ConfigError(f"{path}: unknown top-level keys {unknown}; known: {sorted(TOP_LEVEL)}")
    for key in ("recipe", "out"):
        if not cfg.get(key):
            raise ConfigError(f"{path}: '{key}' is required")
    return cfg


class ExportingTrainer(Trainer):
    """Trainer that also writes the published weight files every ``export_every`` steps."""

    def __init__(self, *args: Any, recipe: Recipe, export_every: int = 0, **kwargs: Any):
        super().__init__(*args, export=lambda out: self.export_to(Path(out) / "export" / "final"), **kwargs)
        self.recipe = recipe
        self.export_every = export_every

    @property
    def epoch(self) -> int:
        """Completed passes over the training set (the ``epoch`` some published files record)."""
        return self.step * self.loop.batch_size // len(self.dataset)

    def export_to(self, folder: Path) -> list[Path]:
        return self.recipe.export(folder, self.epoch)

    def save_checkpoint(self) -> None:
        super().save_checkpoint()
        if self.export_every and self.step % self.export_every == 0 and D.is_main():
            self.export_to(self.out_dir / "export" / f"step_{self.step}")


def build_trainer(cfg: dict[str, Any], steps: int | None = None, out: str | Path | None = None) -> ExportingTrainer:
    """Recipe and Trainer for an experiment config (``steps`` / ``out`` override the yaml)."""
    device = resolve_device(cfg.get("device", "auto"))
    data = DataConfig.from_dict(cfg.get("data"))
    train = dict(cfg.get("train") or {})
    epochs = train.pop("epochs", None)
    export_every = int(train.pop("export_every", 0))
    loop = LoopConfig.from_dict(train)
    torch.manual_seed(loop.seed)  # the initial weights are a function of the seed too
    recipe = build_recipe(cfg["recipe"], data, cfg.get("model") or {}, cfg.get("loss") or {}, device)
    if steps is not None:
        loop.steps = steps
    elif epochs is not None:
        loop.steps = max(1, math.ceil(float(epochs) * len(recipe.dataset) / loop.batch_size))
    return ExportingTrainer(
        recipe.trained,
        recipe.loss_fn,
        recipe.dataset,
        Path(out or cfg["out"]),
        loop,
        OptimConfig.from_dict(cfg.get("optimizer")),
        device,
        recipe=recipe,
        export_every=export_every,
        config_snapshot=cfg,
    )


def export_checkpoint(trainer: ExportingTrainer) -> list[Path]:
    """Write the published files of the run's last checkpoint to ``export/step_<n>/``."""
    trainer.load_checkpoint()
    return trainer.export_to(trainer.out_dir / "export" / f"step_{trainer.step}")
