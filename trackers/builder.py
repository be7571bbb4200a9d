"""Model + tracker from an experiment yaml.

.. code-block:: yaml

    model:                  # network; type selects the registered tracker type (rgbtfuse.trackers.registry)
      type: nanotrack       # nanotrack | siamrpn | filterbank, or a type registered by the user
      ...                   # type-specific keys (see trackers/models/nanotrack.py, siamrpn.py)
    fusion:                 # optional; without it only modes rgb and ir exist
      name: l1
      position: neck        # neck | backbone
      share_backbone: true
      window: 1             # options of the fusion module
    track:                  # TrackConfig fields (penalty_k, window_influence, lr, stride, ...)
      penalty_k: 0.15
    decision:               # optional; options of mode decision (trackers/tracker/decision.py)
      rule: quality         # quality | dfat
      quality: peak_apce    # peak | apce | peak_apce (training-free) | qpn (with quality_weights: FILE)
    quality:                # optional; rgbtfuse train-quality (rgbtfuse/training/quality.py)

Top-level sections ``train``, ``data``, ``name`` and ``description`` are left to other commands.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import warnings
from pathlib import Path
from typing import Any

import torch
import yaml

from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.models.fusion_config import FusionConfig
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.models.weights import load_tracker_weights
from rgbtfuse.trackers.registry import TrackerType, registered_names, registered_tracker
from rgbtfuse.trackers.tracker.base import SiameseTracker, TrackConfig
from rgbtfuse.trackers.tracker.decision import DecisionConfig, DecisionTracker

_SECTIONS = {"model", "fusion", "track", "decision", "quality", "train", "data", "val", "name", "description"}
#: the package whose modules define the built-in tracker types (each registers itself)
_BUILTIN_TYPES = "rgbtfuse.trackers.tracker"


def tracker_type(name: str) -> TrackerType:
    """The tracker type registered as ``model.type: name`` (built-in types are found on first use)."""
    _load_builtin_types()
    return registered_tracker(name)


@functools.cache
def _load_builtin_types() -> None:
    package = importlib.import_module(_BUILTIN_TYPES)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{_BUILTIN_TYPES}.{module.name}")


def track_config(cfg: dict[str, Any]) -> TrackConfig:
    """The experiment's ``track:`` section over its tracker type's defaults."""
    track = cfg.get("track") or {}
    if not isinstance(track, dict):
        raise ConfigError(f"track: expected a mapping, got {track!r}")
    return TrackConfig.from_dict({**tracker_type(cfg["model"]["type"]).track_defaults, **track})


def load_experiment(cfg: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Read (or check) an experiment config; errors name the file and the offending key."""
    source = "experiment config"
    if not isinstance(cfg, dict):
        path = Path(cfg)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"{path}: experiment yaml not found")
        try:
            cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid yaml: {exc}") from exc
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise ConfigError(f"{source}: expected a mapping with a 'model:' section")
    unknown = sorted(set(cfg) - _SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {unknown}; known: {sorted(_SECTIONS)}")
    if "type" not in cfg["model"]:
        _load_builtin_types()
        raise ConfigError(f"{source}: model.type is missing ({' | '.join(registered_names())})")
    return cfg


def _default_mode(fusion: FusionConfig | None, mode: str | None, decision: bool = False) -> str:
    if mode:
        return mode
    return "rgb" if fusion is None else "decision" if decision else "fused"


def build_model(
    cfg: dict[str, Any] | str | Path,
    weights: str | Path | None = None,
    fusion_weights: str | Path | None = None,
    mode: str | None = None,
) -> SiameseRGBT:
    """Network of the experiment, with weights loaded; ``mode`` defaults to ``decision`` when the
    experiment has fusion and decision sections, ``fused`` with a fusion section only, else ``rgb``."""
    return _build_model(load_experiment(cfg), weights, fusion_weights, mode)[0]


def _build_model(
    cfg: dict[str, Any], weights: str | Path | None, fusion_weights: str | Path | None, mode: str | None
) -> tuple[SiameseRGBT, bool]:
    """``(model, whether fusion parameters were loaded)``."""
    fusion = FusionConfig.from_dict(cfg.get("fusion"))
    model_cfg = {k: v for k, v in cfg["model"].items() if k != "type"}
    mode = _default_mode(fusion, mode, "decision" in cfg)
    model = tracker_type(cfg["model"]["type"]).build_model(model_cfg, fusion=fusion, mode=mode)
    fusion_loaded = load_tracker_weights(model, weights, fusion_weights)
    return model.eval(), fusion_loaded


def build_tracker(
    cfg: dict[str, Any] | str | Path,
    weights: str | Path | None = None,
    fusion_weights: str | Path | None = None,
    mode: str | None = None,
    device: str | torch.device = "auto",
) -> SiameseTracker | DecisionTracker:
    """Tracker (model on ``device``, eval mode) for an experiment yaml or dict; mode ``decision``
    wraps it in a :class:`~rgbtfuse.trackers.tracker.decision.DecisionTracker` (``decision:`` section)."""
    cfg = load_experiment(cfg)
    model, fusion_loaded = _build_model(cfg, weights, fusion_weights, mode)
    if model.fusion is not None and not fusion_loaded and any(p.numel() for p in model.fusion.parameters()):
        warnings.warn(
            f"fusion {cfg['fusion']['name']!r} has trainable parameters but no fusion weights were loaded "
            "(pass fusion_weights / --fusion-weights): it tracks with its random initial weights",
            stacklevel=2,
        )
    dev = resolve_device(device)
    decision = DecisionConfig.from_dict(cfg.get("decision"))
    base = tracker_type(cfg["model"]["type"]).tracker(model.to(dev), track_config(cfg), dev)
    return DecisionTracker(base, decision) if model.mode == "decision" else base
