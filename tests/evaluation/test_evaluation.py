"""rgbtfuse.evaluation on the real ground-truth files: the GT as a tracker, seeded perturbations
against the loop reference (tests/eval_reference.py), and one test per toolkit edge rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rgbtfuse.evaluation import evaluate, load_groundtruth, normalized_precision, precision, success
from rgbtfuse.evaluation.matlab import colon
from tests import eval_reference as ref

# scores are sums of fractions accumulated in a different order than the loop reference
TOL = 1e-12


def _write(folder: Path, name: str, boxes: np.ndarray, fmt: str = "%.10g") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savetxt(folder / f"{name}.txt", boxes, fmt=fmt, delimiter=",")


def _xywh(corners: np.ndarray) -> np.ndarray:
    return np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]])


def _corner8(b: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    return np.column_stack([x1, y1, x2, y1, x2, y2, x1, y2])


def _perturb(boxes: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    out = boxes + rng.normal(0, sigma, boxes.shape)
    out[:, 2:] = np.abs(out[:, 2:]) + 1
    out[rng.random(len(out)) < 0.02] = np.nan  # lost frames
    out[rng.random(len(out)) < 0.02, 2] = -3  # degenerate boxes
    return out


@pytest.fixture(scope="module")
def annotations():
    from tests.conftest import shared_path

    return shared_path("data/annotations")


def _lasher_names(annotations: Path) -> list[str]:
    # the shared toolkit copy lacks yellowskirt's file (245 listed, 244 present)
    return [n for n in (annotations / "lasher/lashertest.txt").read_text().split() if (annotations / f"lasher/lasher_gt/{n}.txt").is_file()]


# --- the ground truth as a tracker -------------------------------------------------------------
def test_gtot_ground_truth_as_tracker_scores_one(annotations, tmp_path):
    gt = load_groundtruth("gtot", annotations / "gtot")
    for name, corners in zip(gt.names, gt.boxes):
        _write(tmp_path / "gt", name, _corner8(_xywh(corners)), "%d")  # GTOT's corner result format
    ev = evaluate("gtot", annotations / "gtot", {"gt": tmp_path / "gt"})
    c = ev.trackers["gt"]
    assert len(ev.sequences) == 50 and c.curves["MPR"].score == 1.0
    assert c.curves["MSR"].values[0] == 1.0  # success at threshold 0


def test_rgbt234_ground_truth_as_tracker_scores_one(annotations, tmp_path):
    gt = load_groundtruth("rgbt234", annotations / "rgbt234")
    for name, corners in zip(gt.names, gt.boxes):
        _write(tmp_path / "gt", name, _xywh(corners), "%d")
    ev = evaluate("rgbt234", annotations / "rgbt234", {"gt": tmp_path / "gt"})
    c = ev.trackers["gt"].curves
    assert len(ev.sequences) == 234
    assert c["MPR"].score == c["PR"].score == 1.0 and c["MSR"].values[0] == c["SR"].values[0] == 1.0


def test_lasher_ground_truth_as_tracker(annotations, tmp_path):
    """PR = NPR = 1; success at 0 is 1 except on frames whose GT has a value <= 0 (toolkit: overlap -1)."""
    names = _lasher_names(annotations)
    gt = load_groundtruth("lasher", annotations / "lasher", names)
    for name, boxes in zip(gt.names, gt.boxes):
        _write(tmp_path / "gt", name, boxes, "%d")
    ev = evaluate("lasher", annotations / "lasher", {"gt": tmp_path / "gt"}, sequences=names)
    c = ev.trackers["gt"].curves
    assert len(ev.sequences) == 244 and c["PR"].score == 1.0 and c["NPR"].score == 1.0
    valid_fraction = [((b > 0).all(axis=1).sum()) / (len(b) + ref.EPS) for b in gt.boxes]
    assert abs(c["SR"].values[0] - np.mean(valid_fraction)) < TOL
    assert (np.array(valid_fraction) == 1).sum() < 244  # the rule is exercised: border and absent boxes exist


# --- seeded perturbations vs the loop reference ------------------------------------------------
def test_gtot_perturbed_equals_reference(annotations, tmp_path):
    rng = np.random.default_rng(11)
    gt = load_groundtruth("gtot", annotations / "gtot")
    results = []
    for name, corners in zip(gt.names, gt.boxes):
        boxes = np.round(_perturb(_xywh(corners), rng, 4), 1)
        _write(tmp_path / "t", name, _corner8(boxes))
        results.append(ref_round(boxes))
    scores = evaluate("gtot", annotations / "gtot", {"t": tmp_path / "t"}).trackers["t"].scores()
    mpr, msr = ref.gtot_scores(results, gt.boxes, gt.ir_boxes)
    assert abs(scores["MPR"] - mpr) < TOL and abs(scores["MSR"] - msr) < TOL
    assert 0.2 < scores["MPR"] < 0.95


def ref_round(boxes: np.ndarray) -> np.ndarray:
    """corner2rect.m's round([x1, y1, x2 - x1, y4 - y1]) of the corners written, halves away from zero."""
    x2, y2 = boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
    raw = np.column_stack([boxes[:, 0], boxes[:, 1], x2 - boxes[:, 0], y2 - boxes[:, 1]])
    return np.array([[math_round(v) for v in row] for row in raw])


def math_round(v: float) -> float:
    if v != v:
        return v
    return float(int(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def test_rgbt234_perturbed_equals_reference(annotations, tmp_path):
    rng = np.random.default_rng(12)
    names = load_groundtruth("rgbt234", annotations / "rgbt234").names[:40]
    gt = load_groundtruth("rgbt234", annotations / "rgbt234", names)
    results = []
    for name, corners in zip(gt.names, gt.boxes):
        boxes = _perturb(_xywh(corners), rng, 8)
        _write(tmp_path / "t", name, boxes, "%.17g")
        results.append(boxes)
    scores = evaluate("rgbt234", annotations / "rgbt234", {"t": tmp_path / "t"}, sequences=names).trackers["t"].scores()
    mpr, msr = ref.rgbt234_scores(results, gt.boxes, gt.ir_boxes, best=True)
    pr, sr = ref.rgbt234_scores(results, gt.boxes, gt.ir_boxes, best=False)
    for key, value in (("MPR", mpr), ("MSR", msr), ("PR", pr), ("SR", sr)):
        assert abs(scores[key] - value) < TOL, key
    assert scores["MPR"] > scores["PR"]


def test_lasher_perturbed_equals_reference(annotations, tmp_path):
    rng = np.random.default_rng(13)
    names = _lasher_names(annotations)[:30]
    gt = load_groundtruth("lasher", annotations / "lasher", names)
    results = []
    for name, boxes in zip(gt.names, gt.boxes):
        noisy = np.round(_perturb(np.nan_to_num(boxes), rng, 10))
        _write(tmp_path / "t", name, noisy, "%.17g")
        results.append(noisy)
    scores = evaluate("lasher", annotations / "lasher", {"t": tmp_path / "t"}, sequences=names).trackers["t"].scores()
    pr, npr, sr = ref.lasher_scores(results, gt.boxes)
    assert abs(scores["PR"] - pr) < TOL and abs(scores["NPR"] - npr) < TOL and abs(scores["SR"] - sr) < TOL


# --- edge rules, one each -----------------------------------------------------------------------
def test_threshold_grid_is_matlab_colon():
    """0:0.05:1 is built from both ends: its 14th value is 1 - 7*0.05 = 0.6499999999999999, so an
    overlap of exactly 13/20 passes 'iou > t' there (numpy.linspace's 0.65 would fail it)."""
    t = colon(0, 0.05, 1)
    assert t[13] == 0.6499999999999999 and np.linspace(0, 1, 21)[13] == 0.65
    assert len(colon(0, 0.02, 1)) == 51 and colon(0, 0.02, 1)[29] == 0.5800000000000001
    # a 1 x 13 box inside a 1 x 20 ground truth: overlap 13/20 == 0.65 exactly
    curve = success([[0, 0, 1, 13]], [[0, 0, 1, 20]], protocol="rgbt234")
    assert curve.values[13] == 1.0 and curve.values[14] == 0.0


def test_corner_results_round_half_away_from_zero(tmp_path):
    from rgbtfuse.evaluation.results import read_result

    path = tmp_path / "r.txt"
    path.write_text("10.5 20.5 30.5 20.5 30.5 41 10.5 41\n-2.5 0 0 0 0 3 -2.5 3\n")
    boxes = read_result(path)
    np.testing.assert_array_equal(boxes, [[11, 21, 20, 21], [-3, 0, 3, 3]])  # numpy's round would give 10, 20, -2


def test_gtot_precision_is_strict_rgbt234_inclusive():
    gt = [[0, 0, 10, 10]]
    at5 = [[5, 0, 10, 10]]  # centre error exactly 5 px
    assert precision(at5, gt, gt, protocol="gtot").values[10] == 0.0  # err < 5
    assert precision(at5, gt, gt, protocol="gtot").values[11] == 1.0
    at20 = [[20, 0, 10, 10]]
    assert precision(at20, gt, gt, protocol="rgbt234").values[20] == 1.0  # err <= 20


def test_gtot_pools_frames_rgbt234_averages_sequences(tmp_path):
    root = tmp_path / "gt"
    for name, n in (("long", 9), ("short", 1)):
        (root / name).mkdir(parents=True)
        for f in ("groundTruth_v.txt", "groundTruth_i.txt"):
            (root / name / f).write_text("0 0 10 10\n" * n)
        _write(tmp_path / "t", name, _corner8(np.tile([[0, 0, 10, 10]] if name == "long" else [[50, 50, 10, 10]], (n, 1))), "%d")
    ev = evaluate("gtot", root, {"t": tmp_path / "t"})
    assert ev.trackers["t"].curves["MPR"].score == 0.9  # 9 of 10 frames, not the mean of 1 and 0


def test_best_of_two_ground_truths_skips_nan():
    """MATLAB's min/max ignore NaN: a frame without a usable visible GT is scored by the infrared one."""
    v = [[np.nan, np.nan, np.nan, np.nan]]
    i = [[0, 0, 10, 10]]
    assert precision([[0, 0, 10, 10]], v, i, protocol="rgbt234").values[0] == 1.0
    assert success([[0, 0, 10, 10]], v, i, protocol="rgbt234").values[0] == 1.0
    assert precision([[0, 0, 10, 10]], v, protocol="rgbt234").values[-1] == 0.0  # PR: visible only


def test_lasher_invalid_result_takes_previous_box():
    gt = [[10, 10, 10, 10]] * 3
    res = [[10, 10, 10, 10], [10, 10, 10, 10], [np.nan, 0, 0, 0]]
    assert success(res, gt).values[0] == pytest.approx(1.0, abs=1e-15)
    res = [[10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 0, 10]]
    assert success(res, gt).values[0] == pytest.approx(1.0, abs=1e-15)
    assert success(res, gt, protocol="rgbt234").values[0] == pytest.approx(2 / 3)  # RGBT234: no such rule


def test_lasher_first_frame_is_the_ground_truth():
    gt = [[10, 10, 10, 10]] * 2
    far = [[200, 200, 10, 10]] * 2
    assert precision(far, gt).values[0] == pytest.approx(0.5)  # frame 1 counts as a hit
    assert precision(far, gt, protocol="rgbt234").values[-1] == 0.0


def test_lasher_ground_truth_with_a_nonpositive_value_is_minus_one():
    gt = [[5, 5, 10, 10], [0, 5, 10, 10], [0, 0, 0, 0]]  # x = 0 counts too (rect_anno > 0)
    res = [[5, 5, 10, 10], [300, 300, 10, 10], [300, 300, 10, 10]]
    assert precision(res, gt).values[0] == pytest.approx(1.0)  # -1 <= every threshold
    assert normalized_precision(res, gt).values[0] == pytest.approx(1.0)
    assert success(res, gt).values[0] == pytest.approx(1 / 3)  # -1 > 0 is false


def test_lasher_divides_by_frames_plus_eps():
    assert precision([[1, 1, 5, 5]], [[1, 1, 5, 5]]).values[0] == 1 / (1 + ref.EPS) < 1.0


def test_lasher_drops_sequences_whose_curve_is_all_zero(tmp_path):
    gt_dir = tmp_path / "lasher" / "lasher_gt"
    gt_dir.mkdir(parents=True)
    (gt_dir / "a.txt").write_text("5,5,10,10\n5,5,10,10\n")
    (gt_dir / "b.txt").write_text("0,5,10,10\n5,5,10,10\n")  # frame 1's GT is on the border: overlap -1
    (tmp_path / "lasher" / "lashertest.txt").write_text("a\nb\n")
    _write(tmp_path / "t", "a", np.array([[5, 5, 10, 10], [5, 5, 10, 10]]), "%d")
    _write(tmp_path / "t", "b", np.array([[0, 5, 10, 10], [300, 300, 10, 10]]), "%d")
    sr = evaluate("lasher", tmp_path / "lasher", {"t": tmp_path / "t"}).trackers["t"].curves["SR"]
    assert sr.values[0] == pytest.approx(1.0)  # b's all-zero curve left out: the mean is a's alone


def test_vtuav_scores_every_tenth_result_line(tmp_path):
    seq = tmp_path / "bus"
    seq.mkdir()
    (seq / "rgb.txt").write_text("0 0 10 10\n100 0 10 10\n")
    (seq / "ir.txt").write_text("0 0 10 10\n100 0 10 10\n")
    boxes = np.tile([[300.0, 300, 10, 10]], (15, 1))
    boxes[0], boxes[10] = (0, 0, 10, 10), (100, 0, 10, 10)
    _write(tmp_path / "t", "bus", boxes)
    assert evaluate("vtuav", seq, {"t": tmp_path / "t"}).trackers["t"].curves["MPR"].score == 1.0
