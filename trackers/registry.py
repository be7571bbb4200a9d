"""Tracker types by name: ``model.type`` of an experiment yaml → model builder, tracker class, defaults.

A tracker type registers itself where its tracker class is defined (as timm's models do)::

    @register_tracker("nanotrack", build_model=build_nanotrack, track_defaults=NANOTRACK_TRACK_DEFAULTS)
    class NanoTracker(SiameseTracker): ...

:func:`rgbtfuse.trackers.builder.build_tracker` finds every type of the :mod:`rgbtfuse.trackers.tracker` package;
types defined elsewhere are available once their module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rgbtfuse.errors import ConfigError


@dataclass(frozen=True)
class TrackerType:
    """What ``model.type: NAME`` builds."""

    name: str
    #: ``build_model(model_cfg, fusion=FusionConfig | None, mode=str) -> SiameseRGBT``
    build_model: Callable[..., Any]
    #: ``tracker(model, TrackConfig, device)`` → a :class:`~rgbtfuse.trackers.tracker.base.SiameseTracker`
    tracker: type
    #: the type's tracking constants; the experiment's ``track:`` section overrides them
    track_defaults: Mapping[str, Any] = field(default_factory=dict)


_TYPES: dict[str, TrackerType] = {}


def register_tracker(name: str, *, build_model: Callable[..., Any], track_defaults: Mapping[str, Any] | None = None) -> Callable[[type], type]:
    """Class decorator: register the decorated tracker class as ``model.type: name``."""

    def register(tracker: type) -> type:
        if name in _TYPES and _TYPES[name].tracker is not tracker:
            raise ConfigError(f"tracker type {name!r} is already registered by {_TYPES[name].tracker.__qualname__}")
        _TYPES[name] = TrackerType(name, build_model, tracker, MappingProxyType(dict(track_defaults or {})))
        return tracker

    return register


def registered_tracker(name: str) -> TrackerType:
    """The registered type ``name``; :class:`ConfigError` listing the known ones otherwise."""
    if name not in _TYPES:
        raise ConfigError(f"unknown model.type {name!r}; available: {', '.join(sorted(_TYPES))}")
    return _TYPES[name]


def registered_names() -> list[str]:
    return sorted(_TYPES)
