"""Model + tracker from an experiment yaml.

.. code-block:: yaml

    model:                  # network; type selects the builder
      type: nanotrack       # nanotrack | siamrpn | filterbank
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

import warnings
from pathlib import Path
from typing import Any

import torch
import yaml

from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError
from trackers.models.fusion_config import FusionConfig
from trackers.models.siamese import SiameseRGBT
from trackers.models.weights import load_tracker_weights
from trackers.tracker.base import SiameseTracker, TrackConfig
from trackers.tracker.decision import DecisionConfig, DecisionTracker

_SECTIONS = {"model", "fusion", "track", "decision", "quality", "train", "data", "val", "name", "description"}

# NanoTrack's tracking constants (its configv2.yaml); the experiment's track: section overrides them
NANOTRACK_TRACK_DEFAULTS: dict[str, Any] = {
    "exemplar_size": 127,
    "instance_size": 255,
    "base_size": 7,
    "context_amount": 0.5,
    "stride": 16,
    "penalty_k": 0.150,
    "window_influence": 0.490,
    "lr": 0.385,
}

# the filter-bank demo tracker: stride-8 maps, 17×17 score map, box size kept (no regression)
FILTERBANK_TRACK_DEFAULTS: dict[str, Any] = {
    "exemplar_size": 127,
    "instance_size": 255,
    "base_size": 0,
    "context_amount": 0.5,
    "stride": 8,
    "penalty_k": 0.0,
    "window_influence": 0.3,
    "lr": 0.0,
}

TRACK_DEFAULTS: dict[str, dict[str, Any]] = {"nanotrack": NANOTRACK_TRACK_DEFAULTS, "filterbank": FILTERBANK_TRACK_DEFAULTS}


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
        raise ConfigError(f"{source}: model.type is missing (nanotrack | siamrpn | filterbank)")
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
    kind = cfg["model"]["type"]
    if kind == "nanotrack":
        from trackers.models.nanotrack import build_nanotrack

        model = build_nanotrack(model_cfg, fusion=fusion, mode=mode)
    elif kind == "filterbank":
        from trackers.models.filterbank import build_filterbank

        model = build_filterbank(model_cfg, fusion=fusion, mode=mode)
    elif kind == "siamrpn":
        try:
            from trackers.models.siamrpn import build_siamrpn
        except ImportError as exc:
            raise ConfigError(f"model.type siamrpn is not available in this installation ({exc})") from exc
        model = build_siamrpn(model_cfg, fusion=fusion, mode=mode)
    else:
        raise ConfigError(f"unknown model.type {kind!r}; available: nanotrack, siamrpn, filterbank")
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
    wraps it in a :class:`~trackers.tracker.decision.DecisionTracker` (``decision:`` section)."""
    cfg = load_experiment(cfg)
    model, fusion_loaded = _build_model(cfg, weights, fusion_weights, mode)
    if model.fusion is not None and not fusion_loaded and any(p.numel() for p in model.fusion.parameters()):
        warnings.warn(
            f"fusion {cfg['fusion']['name']!r} has trainable parameters but no fusion weights were loaded "
            "(pass fusion_weights / --fusion-weights): it tracks with its random initial weights",
            stacklevel=2,
        )
    dev = resolve_device(device)
    track_cfg = cfg.get("track") or {}
    if not isinstance(track_cfg, dict):
        raise ConfigError(f"track: expected a mapping, got {track_cfg!r}")
    decision = DecisionConfig.from_dict(cfg.get("decision"))
    base = _base_tracker(cfg["model"]["type"], model.to(dev), track_cfg, dev)
    return DecisionTracker(base, decision) if model.mode == "decision" else base


def _base_tracker(kind: str, model: SiameseRGBT, track_cfg: dict[str, Any], dev: torch.device) -> SiameseTracker:
    if kind == "nanotrack":
        from trackers.tracker.nanotrack_tracker import NanoTracker

        return NanoTracker(model, TrackConfig.from_dict({**NANOTRACK_TRACK_DEFAULTS, **track_cfg}), dev)
    if kind == "filterbank":
        from trackers.tracker.siamfc_tracker import SiamFCTracker

        return SiamFCTracker(model, TrackConfig.from_dict({**FILTERBANK_TRACK_DEFAULTS, **track_cfg}), dev)
    try:
        from trackers.tracker.siamrpn_tracker import SiamRPNTracker
    except ImportError as exc:
        raise ConfigError(f"model.type siamrpn is not available in this installation ({exc})") from exc
    return SiamRPNTracker(model, TrackConfig.from_dict(track_cfg), dev)
