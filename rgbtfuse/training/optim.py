"""Optimizer and learning-rate schedule from the ``optimizer:`` block of an experiment yaml."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError


@dataclass
class OptimConfig:
    """``name``: adam | adamw | sgd; ``schedule``: constant | cosine | log | step (per iteration)."""

    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "constant"
    end_lr: float | None = None  # cosine / log: final learning rate (default lr / 10)
    step_size: int = 1000  # step: decay every step_size iterations
    gamma: float = 0.1
    warmup_steps: int = 0

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> OptimConfig:
        return from_dict(cls, cfg, "train.optimizer", noun="options")


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.name!r} (adam, adamw, sgd)")


def lr_factor(step: int, total: int, cfg: OptimConfig) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total``."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    end = (cfg.end_lr if cfg.end_lr is not None else cfg.lr / 10) / cfg.lr
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps - 1)
    t = min(max(t, 0.0), 1.0)
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "log":  # pysot's LogScheduler: geometric from lr to end_lr
        return end**t
    if cfg.schedule == "step":
        return cfg.gamma ** (step // cfg.step_size)
    raise ConfigError(f"unknown schedule {cfg.schedule!r} (constant, cosine, log, step)")


def build_scheduler(optimizer: torch.optim.Optimizer, total: int, cfg: OptimConfig) -> torch.optim.lr_scheduler.LambdaLR:
    lr_factor(0, total, cfg)  # validates the schedule name up front
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, cfg))
