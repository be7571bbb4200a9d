"""NanoTracker: parity with the authors' tracker on real frames, fused modes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rgbtfuse.boxes import box_iou
from rgbtfuse.data import load_sequence
from rgbtfuse.errors import InitBoxError
from rgbtfuse.imageio import read_image
from rgbtfuse.trackers.builder import build_tracker, load_experiment
from rgbtfuse.trackers.grids import make_points
from rgbtfuse.trackers.tracker.crop import get_subwindow

REPO = Path(__file__).resolve().parents[2]
AUTHORS = json.loads((REPO / "tests/fixtures/nanotrack_bus1_authors.json").read_text())
TRAINING_FREE = [{"name": n} for n in ("add", "l1", "max", "mean", "nuclear")] + [
    {"name": "sca", "pooling": p} for p in ("avg", "max", "nuclear")
]


def _experiment(version: str) -> Path:
    return REPO / f"experiments/nanotrack_v{version}.yaml"


def _run(tracker, seq, frames: range, init_box, use_rgb=True, use_ir=False, ir_from_rgb=False) -> np.ndarray:
    boxes = []
    for i in frames:
        rgb = read_image(seq.rgb_frames[i], "bgr") if use_rgb or ir_from_rgb else None
        ir = rgb if ir_from_rgb else (read_image(seq.ir_frames[i]) if use_ir else None)
        if i == frames[0]:
            tracker.init(rgb if use_rgb else None, ir, init_box)
            boxes.append(list(init_box))
        else:
            out = tracker.track(rgb if use_rgb else None, ir)
            assert out["valid"]
            boxes.append(out["bbox"])
    return np.asarray(boxes)


def test_points_grid():
    p = make_points(16, 16)
    assert p.shape == (2, 256) and p.dtype == np.float32
    assert p[0, 0] == -128 and p[0, 15] == 112 and p[1, 16] == -112
    p15 = make_points(16, 15)
    assert p15[0, 7] == 0 and p15[0, 0] == -112 and p15[0, 14] == 112


@pytest.mark.slow
@pytest.mark.parametrize("version", "123")
def test_reproduces_authors_tracker_on_bus1(shared, version):
    """Every box within 0.5 px of the authors' PyTorch tracker (boxes committed in tests/data)."""
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    weights = shared(f"weights/nanotrack/pretrained/nanotrackv{version}.pth")
    tracker = build_tracker(_experiment(version), weights=weights, device="cpu")
    ours = _run(tracker, seq, range(len(seq)), tuple(AUTHORS["init"]))
    ref = np.asarray(AUTHORS[f"v{version}"])
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 0.5
    if version == "2":  # the issue author's measurement of the authors' tracker
        annotated = np.flatnonzero(seq.valid)[1:]
        assert box_iou(ours[annotated], seq.boxes[annotated]).mean() == pytest.approx(0.880, abs=0.0015)


@pytest.mark.slow
@pytest.mark.parametrize("fusion", TRAINING_FREE, ids=lambda f: "-".join(map(str, f.values())))
def test_fused_runs_on_bus1(shared, fusion):
    """Fused RGB+IR tracking with each training-free fusion: valid, finite, on target."""
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    cfg = {**load_experiment(_experiment("2")), "fusion": fusion}
    tracker = build_tracker(cfg, weights=shared("weights/nanotrack/pretrained/nanotrackv2.pth"), device="cpu")
    assert tracker.model.mode == "fused"
    frames = range(0, 31)
    boxes = _run(tracker, seq, frames, tuple(seq.boxes[0]), use_ir=True)
    assert np.isfinite(boxes).all()
    annotated = [10, 20, 30]
    if fusion == {"name": "sca", "pooling": "avg"}:
        # NestFuse's ratio weights p_rgb / (p_rgb + p_ir) of *average* activations blow up on
        # NanoTrack's signed (BN, no activation) backbone output: documented, not asserted
        return
    # untrained fusion may track worse than RGB alone, but must stay on the bus
    assert (box_iou(boxes[annotated], seq.boxes[annotated]) > 0.3).all()


@pytest.mark.parametrize("name", ["rfn", "rfn_light"])
def test_trainable_fusion_runs_with_random_init(name):
    """Trainable fusions (no published tracking weights) run end to end; boxes stay finite."""
    cfg = {**load_experiment(_experiment("2")), "fusion": {"name": name}}
    with pytest.warns(UserWarning, match="random initial weights"):
        tracker = build_tracker(cfg, device="cpu")
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    ir = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    tracker.init(rgb, ir, (60, 40, 30, 20))
    for _ in range(3):
        out = tracker.track(rgb, ir)
        assert np.isfinite(out["bbox"]).all()


@pytest.mark.slow
def test_fused_mean_of_identical_frames_equals_rgb_tracking(shared):
    """mean(φ, φ) = φ: fused tracking on (RGB, RGB) gives the RGB-only boxes."""
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    cfg = {**load_experiment(_experiment("2")), "fusion": {"name": "mean", "share_backbone": False}}
    frames = range(0, 21)
    rgb_only = _run(build_tracker(cfg, weights=weights, mode="rgb", device="cpu"), seq, frames, tuple(seq.boxes[0]))
    fused = _run(build_tracker(cfg, weights=weights, device="cpu"), seq, frames, tuple(seq.boxes[0]), ir_from_rgb=True)
    np.testing.assert_allclose(fused, rgb_only, atol=1e-3)
    ir_tracker = build_tracker(cfg, weights=weights, mode="ir", device="cpu")
    ir_only = _run(ir_tracker, seq, frames, tuple(seq.boxes[0]), use_rgb=False, ir_from_rgb=True)
    np.testing.assert_allclose(ir_only, rgb_only, atol=1e-3)


def test_gray_ir_crop_equals_crop_of_replicated_frame():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (90, 120), dtype=np.uint8)
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    for pos, size in (((60.0, 45.0), 50.0), ((5.0, 80.0), 70.0), ((110.0, 3.0), 131.0)):
        a = get_subwindow(gray, pos, 63, size, np.mean(gray))
        b = get_subwindow(bgr, pos, 63, size, np.mean(bgr, axis=(0, 1)))
        assert a.shape == (63, 63, 3)
        np.testing.assert_array_equal(a, b)


def _random_tracker(mode="rgb"):
    torch.manual_seed(0)
    return build_tracker(_experiment("2"), mode=mode, device="cpu")


def test_non_finite_output_keeps_last_box():
    tracker = _random_tracker()
    frame = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    tracker.init(frame, None, (60, 40, 30, 20))
    before = tracker.track(frame, None)
    assert before["valid"] and np.isfinite(before["bbox"]).all()
    with torch.no_grad():
        tracker.model.ban_head.bbox_pred[0].weight.fill_(float("nan"))
    out = tracker.track(frame, None)
    assert out["valid"] is False
    assert out["bbox"] == before["bbox"]
    with torch.no_grad():
        tracker.model.ban_head.bbox_pred[0].weight.zero_()
        tracker.model.ban_head.bbox_pred[0].bias.fill_(1e4)  # exp() overflows to inf
    out = tracker.track(frame, None)
    assert out["valid"] is False and out["bbox"] == before["bbox"]


@pytest.mark.parametrize("box", [(10, 10, 0, 5), (10, 10, 5, -1), (500, 10, 20, 20), (-40, 10, 20, 20), (float("nan"), 1, 2, 3)])
def test_bad_init_box(box):
    tracker = _random_tracker()
    frame = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(InitBoxError):
        tracker.init(frame, None, box)
