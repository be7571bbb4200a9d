"""Optimizer and learning-rate schedule from the ``optimizer:`` block of an experiment yaml."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError


@dataclass
class OptimConfig:
    """``name``: adam | adamw | sgd; ``schedule``: constant | cosine | log | step (per iteration).

    ``lr_mult`` maps a parameter-name component to a learning-rate multiplier (pysot's per-layer
    ``LAYERS_LR``, mmcv's ``paramwise_cfg.custom_keys``): ``{net: 0.3}`` trains every parameter with a
    ``net`` component in its dotted name (``scales.0.net.decoder.conv_ReL.conv2d.weight``) at
    ``0.3 · lr``; a parameter matched by several keys takes the first key's multiplier.
    """

    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "constant"
    end_lr: float | None = None  # cosine / log: final learning rate (default lr / 10)
    step_size: int = 1000  # step: decay every step_size iterations
    gamma: float = 0.1
    warmup_steps: int = 0
    lr_mult: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> OptimConfig:
        return from_dict(cls, cfg, "train.optimizer", noun="options")


def param_groups(named_params: Iterable[tuple[str, torch.nn.Parameter]], cfg: OptimConfig) -> list[dict[str, Any]]:
    """Parameter groups of ``cfg.lr_mult``: one per multiplier in use (``lr_mult`` 1 for the rest), in a fixed order.

    >>> from torch import nn
    >>> net = nn.ModuleDict({"rule": nn.Linear(2, 2), "net": nn.Linear(2, 2)})
    >>> [(len(g["params"]), g["lr"]) for g in param_groups(net.named_parameters(), OptimConfig(lr=1.0, lr_mult={"net": 0.5}))]
    [(2, 1.0), (2, 0.5)]
    """
    for key, mult in cfg.lr_mult.items():
        if not isinstance(mult, (int, float)) or isinstance(mult, bool) or mult <= 0:
            raise ConfigError(f"train.optimizer.lr_mult.{key}: must be a number > 0, got {mult!r}")
    named = list(named_params)
    unmatched = [key for key in cfg.lr_mult if not any(key in name.split(".") for name, _ in named)]
    if unmatched:
        raise ConfigError(
            f"train.optimizer.lr_mult: no trainable parameter has a name component {unmatched} "
            f"(names look like {named[0][0]!r})"
        )
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, param in named:
        parts = name.split(".")
        mult = next((float(m) for key, m in cfg.lr_mult.items() if key in parts), 1.0)
        groups.setdefault(mult, []).append(param)
    return [{"params": ps, "lr": cfg.lr * mult} for mult, ps in groups.items()]


def build_optimizer(named_params: Iterable[tuple[str, torch.nn.Parameter]], cfg: OptimConfig) -> torch.optim.Optimizer:
    """The optimizer of ``cfg`` over ``(name, parameter)`` pairs, grouped by :func:`param_groups`."""
    params = param_groups(named_params, cfg)
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
