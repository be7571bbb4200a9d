"""Mode ``decision``: one backbone pass for three branches, per-branch proposals, decision rules."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.builder import build_tracker, load_experiment
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.base import TrackConfig
from rgbtfuse.trackers.tracker.decision import DecisionConfig, DecisionTracker, apce
from rgbtfuse.trackers.tracker.siamrpn_tracker import SiamRPNTracker
from tests.trackers.test_siamrpn_rgbt import INIT_BOX, frames, tiny_model

NANO = load_experiment("experiments/nanotrack_v2_l1.yaml")


def _siamrpn(mode: str, fusion: str = "l1", position: str = "neck") -> SiamRPNTracker:
    model = tiny_model({"name": fusion, "position": position})
    model.mode = mode
    return SiamRPNTracker(model, TrackConfig())


@pytest.mark.parametrize("position", ["neck", "backbone"])
def test_branch_features_equal_the_single_modes(position):
    """The three rows of one decision pass are the rgb, ir and fused features (same model)."""
    model = tiny_model({"name": "l1", "position": position})
    rgb, ir = (torch.rand(1, 3, 127, 127) * 255 for _ in range(2))
    with torch.no_grad():
        model.mode = "decision"
        stacked = model.features(rgb, ir)
        for i, mode in enumerate(BRANCHES):
            model.mode = mode
            for got, want in zip(stacked, model.features(rgb, ir)):
                torch.testing.assert_close(got[i : i + 1], want, rtol=1e-5, atol=1e-4)  # float rounding of batched convs


@pytest.mark.parametrize("fusion", ["l1", "max", "rfn", "llrr"])
def test_followed_branch_gives_that_modes_box(fusion):
    """From the same state, the decision output equals the box of the single-mode tracker it says it follows."""
    seq = frames(2)
    dec = DecisionTracker(_siamrpn("decision", fusion))
    dec.init(*seq[0], INIT_BOX)
    out = dec.track(*seq[1])
    assert out["valid"] and out["branch"] in BRANCHES
    assert all(np.isfinite(out[f"q_{b}"]) for b in BRANCHES)
    single = copy.deepcopy(dec.base)
    single.model.mode = out["branch"]
    single.init(*seq[0], INIT_BOX)
    np.testing.assert_allclose(out["bbox"], single.track(*seq[1])["bbox"], atol=1e-2)  # batched-conv rounding


def test_follow_rule_prefers_fused_within_the_margin():
    dec = DecisionTracker(_siamrpn("decision"), DecisionConfig(margin=0.5))
    assert dec._follow({"rgb": 0.6, "ir": 0.2, "fused": 0.5}) == "fused"
    assert dec._follow({"rgb": 0.8, "ir": 0.2, "fused": 0.5}) == "rgb"
    assert dec._follow({"rgb": 0.1, "ir": 0.2}) == "ir"
    assert dec._follow({}) is None


def test_dfat_rule_merges_logits_and_falls_back(monkeypatch):
    seq = frames(3)
    dec = DecisionTracker(_siamrpn("decision"), DecisionConfig(rule="dfat"))
    dec.init(*seq[0], INIT_BOX)
    out = dec.track(*seq[1])
    assert out["branch"] in ("dfat", "rgb", "ir") and out["valid"]
    # make the ir head hopeless (no positive position): DFAT follows rgb alone
    real = dec.base.model.track

    def ir_negative(x_rgb, x_ir):
        o = real(x_rgb, x_ir)
        cls = o["cls"].clone()
        a = cls.shape[1] // 2
        cls[1, :a], cls[1, a:] = 10.0, -10.0  # background logits win everywhere in branch 1 (ir)
        return {"cls": cls, "loc": o["loc"]}

    monkeypatch.setattr(dec.base.model, "track", ir_negative)
    assert dec.track(*seq[2])["branch"] == "rgb"


def test_apce_of_a_single_peak_and_a_flat_map():
    peak = np.zeros(100)
    peak[3] = 1.0
    assert apce(peak) == pytest.approx(100.0)  # 1 / (1/100)
    assert apce(np.full(10, 0.3)) == 0.0


def test_nanotrack_decision_builds_and_tracks():
    tracker = build_tracker(NANO, mode="decision", device="cpu")
    assert isinstance(tracker, DecisionTracker) and tracker.mode == "decision"
    rgb = np.random.RandomState(0).randint(0, 255, (200, 240, 3)).astype(np.uint8)
    tracker.init(rgb, rgb, (100.0, 80.0, 30.0, 30.0))
    assert tracker.track(rgb, rgb)["valid"]


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="decision.rule"):
        build_tracker({**NANO, "decision": {"rule": "vote"}}, mode="decision", device="cpu")
    with pytest.raises(ConfigError, match="unknown keys"):
        DecisionConfig.from_dict({"qualty": "peak"})
    with pytest.raises(ConfigError, match="needs a fusion module"):
        build_tracker({k: v for k, v in NANO.items() if k != "fusion"}, mode="decision", device="cpu")
    with pytest.raises(ConfigError, match="needs the ir frame"):
        t = build_tracker(NANO, mode="decision", device="cpu")
        t.init(np.zeros((64, 64, 3), np.uint8), None, (10.0, 10.0, 20.0, 20.0))
