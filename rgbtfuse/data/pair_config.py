"""``data.pairs`` yaml block → :class:`rgbtfuse.data.sampling.PairConfig`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from rgbtfuse.config import from_dict
from rgbtfuse.data.augment import GeometricAug, ModalityDropout, PhotometricAug, SensorFailure
from rgbtfuse.data.sampling import PairConfig

_NESTED = {"template": GeometricAug, "search": GeometricAug, "rgb": PhotometricAug, "ir": PhotometricAug, "dropout": ModalityDropout, "degrade": SensorFailure}


def _build(cls: type, cfg: dict[str, Any], where: str) -> Any:
    return from_dict(cls, cfg, where, noun="options")


def pair_config_from_dict(cfg: dict[str, Any] | None) -> PairConfig:
    """Options override pysot's defaults; nested blocks (``search: {shift: 32}``) override per field."""
    cfg = dict(cfg or {})
    default = PairConfig()
    nested = {}
    for key, cls in _NESTED.items():
        if key in cfg:
            base = {f.name: getattr(getattr(default, key), f.name) for f in fields(cls)}
            nested[key] = _build(cls, {**base, **(cfg.pop(key) or {})}, f"data.pairs.{key}")
    return _build(PairConfig, {**cfg, **nested}, "data.pairs")
