"""Tracker types and fusion modules are found by name: a new one is a registered class plus a yaml
(docs/architecture.md, "Adding things")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import available_fusions, build_fusion
from rgbtfuse.fusion.base import FusionModule, register_fusion
from rgbtfuse.trackers.builder import build_tracker, track_config, tracker_type
from rgbtfuse.trackers.models.nanotrack import build_nanotrack
from rgbtfuse.trackers.registry import register_tracker, registered_names
from rgbtfuse.trackers.tracker.nanotrack_tracker import NanoTracker
from tests.conftest import REPO_ROOT


def test_builtin_types_are_registered_with_their_defaults():
    assert tracker_type("nanotrack").tracker is NanoTracker
    assert {"nanotrack", "siamrpn", "filterbank"} <= set(registered_names())
    cfg = yaml.safe_load((REPO_ROOT / "experiments/nanotrack_v2.yaml").read_text())
    assert track_config(cfg).stride == 16  # NanoTrack's default, not TrackConfig's (pysot's 8)
    with pytest.raises(ConfigError, match="unknown model.type 'nanotrak'; available: .*nanotrack"):
        tracker_type("nanotrak")


@pytest.fixture
def scratch_registries():
    """Names registered by a test are removed afterwards (the registries are process-wide)."""
    from rgbtfuse.fusion import base
    from rgbtfuse.trackers import registry

    before = (set(base._REGISTRY), set(registry._TYPES))
    yield
    for table, names in ((base._REGISTRY, before[0]), (registry._TYPES, before[1])):
        for name in set(table) - names:
            del table[name]


def test_a_new_tracker_type_and_fusion_module_work_from_a_yaml(random_weights, scratch_registries):
    @register_fusion("test_weighted_rgb")
    class WeightedRGB(FusionModule):
        def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
            return 0.75 * rgb + 0.25 * ir

    @register_tracker("test_nanotrack_wide", build_model=build_nanotrack,
                      track_defaults={"stride": 16, "base_size": 7, "window_influence": 0.2})
    class WideWindowNanoTracker(NanoTracker):
        pass

    cfg = yaml.safe_load((REPO_ROOT / "experiments/nanotrack_v2.yaml").read_text())
    cfg["model"]["type"] = "test_nanotrack_wide"
    cfg["fusion"] = {"name": "test_weighted_rgb"}
    (cfg.get("track") or {}).pop("window_influence", None)  # the type's default applies where the yaml is silent
    tracker = build_tracker(cfg, random_weights, mode="fused", device="cpu")
    assert isinstance(tracker, WideWindowNanoTracker) and tracker.cfg.window_influence == 0.2
    assert "test_weighted_rgb" in available_fusions()
    rgb, ir = torch.rand(1, 4, 5, 5), torch.rand(1, 4, 5, 5)
    torch.testing.assert_close(build_fusion("test_weighted_rgb", 4)(rgb, ir), 0.75 * rgb + 0.25 * ir)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    tracker.init(frame, frame, (60, 40, 30, 24))
    assert tracker.track(frame, frame)["valid"]
    with pytest.raises(ConfigError, match="already registered"):
        register_tracker("test_nanotrack_wide", build_model=build_nanotrack)(NanoTracker)
