"""Strict dataclass-from-mapping for the sections of an experiment yaml.

Every config class of the package (``track:``, ``decision:``, ``train:``, ``optimizer:``, ...)
is a dataclass read by :func:`from_dict`: unknown keys and values of the wrong type are
errors that name the section and the key, so a typo in a yaml fails at load and not as a
numpy error at frame 2.

>>> from dataclasses import dataclass
>>> @dataclass
... class Window:
...     size: int = 3
...     weights: tuple[float, ...] = (1.0,)
>>> from_dict(Window, {"size": 5, "weights": [0.5, 0.5]}, "fusion")
Window(size=5, weights=(0.5, 0.5))
>>> from_dict(Window, {"sise": 5}, "fusion")
Traceback (most recent call last):
...
rgbtfuse.errors.ConfigError: fusion: unknown keys ['sise']; known: ['size', 'weights']
>>> from_dict(Window, {"size": "5"}, "fusion")
Traceback (most recent call last):
...
rgbtfuse.errors.ConfigError: fusion.size must be an integer, got '5'
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from rgbtfuse.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], cfg: Mapping[str, Any] | None, section: str, noun: str = "keys") -> T:
    """``cls(**cfg)`` after checking ``cfg`` against ``cls``'s fields and their annotations.

    ``None`` or an empty mapping gives the defaults. Lists are accepted for ``tuple`` fields
    (yaml has no tuples) and converted; integers are accepted for ``float`` fields; ``bool`` is
    never a number. Fields annotated ``Any`` (or with types this helper does not know) are
    passed through for the class's own ``__post_init__`` checks. ``noun`` words the
    unknown-key error (``"unknown {noun} [...]"``).
    """
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{section}: expected a mapping, got {cfg!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    if unknown := sorted(set(cfg) - set(known)):
        raise ConfigError(f"{section}: unknown {noun} {unknown}; known: {sorted(known)}")
    values = {key: _check(value, hints.get(key, Any), f"{section}.{key}") for key, value in cfg.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from exc


def _check(value: Any, hint: Any, where: str) -> Any:
    """``value`` (converted where the yaml cannot say it: list → tuple) if it fits ``hint``."""
    origin = typing.get_origin(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _check(value, option, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else ConfigError(f"{where}: {value!r} does not fit {_name(hint)}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if origin in (tuple, list) or hint in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where} must have {len(args)} entries, got {value!r}")
            items = [_check(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            item = args[0] if args else Any
            items = [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    return value


def _name(hint: Any) -> str:
    return str(hint).replace("typing.", "")
