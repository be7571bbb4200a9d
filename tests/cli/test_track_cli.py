"""``rgbtfuse track``: outputs, video, and every bad-input path on small synthetic sequences."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbtfuse.cli import main

REPO = Path(__file__).resolve().parents[2]
V2 = str(REPO / "experiments/nanotrack_v2.yaml")
V2_L1 = str(REPO / "experiments/nanotrack_v2_l1.yaml")


def _target_frames(n: int, size=(120, 160), ir_size=None, gray_ir=False):
    """A textured block moving right over a noisy background; IR is its inverted luminance."""
    rng = np.random.default_rng(0)
    h, w = size
    base = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    block = rng.integers(150, 256, (24, 30, 3), dtype=np.uint8)
    frames, boxes = [], []
    for i in range(n):
        x, y = 40 + 2 * i, 40 + i
        img = base.copy()
        img[y : y + 24, x : x + 30] = block
        ir = 255 - cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if ir_size is not None:
            ir = cv2.resize(ir, ir_size[::-1])
        frames.append((img, ir if gray_ir else cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR)))
        boxes.append((x, y, 30, 24))
    return frames, boxes


def make_vtuav(root: Path, n: int = 12, **kw) -> Path:
    frames, boxes = _target_frames(n, **kw)
    (root / "rgb").mkdir(parents=True)
    (root / "ir").mkdir()
    for i, (rgb, ir) in enumerate(frames):
        cv2.imwrite(str(root / "rgb" / f"{i:06d}.png"), rgb)
        cv2.imwrite(str(root / "ir" / f"{i:06d}.png"), ir)
    rows = [boxes[i] for i in range(0, n, 10)]
    (root / "rgb.txt").write_text("".join(" ".join(map(str, b)) + "\n" for b in rows))
    return root


def _track(*args: str) -> int:
    return main(["track", *args])


def test_outputs_and_video(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=12)
    out = tmp_path / "out"
    video = tmp_path / "v.mp4"
    rc = _track(
        "--config", V2_L1, "--weights", random_weights, "--sequence", str(seq), "--out", str(out),
        "--video", str(video), "--device", "cpu",
    )
    assert rc == 0
    boxes = np.loadtxt(out / "boxes.txt", delimiter=",")
    assert boxes.shape == (12, 4) and np.isfinite(boxes).all()
    np.testing.assert_allclose(boxes[0], (40, 40, 30, 24))
    with open(out / "frames.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["frame"]) for r in rows] == list(range(12))
    assert all(float(r["ms"]) > 0 for r in rows) and all(r["valid"] in ("0", "1") for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "fused" and summary["iou_frames"] == 1 and 0 <= summary["mean_iou"] <= 1
    assert "mean IoU" in capsys.readouterr().out
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320 and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 120
    cap.release()


def test_gray_ir_and_init_option(tmp_path, random_weights):
    seq = make_vtuav(tmp_path / "seq", n=5, gray_ir=True)
    out = tmp_path / "out"
    rc = _track(
        "--config", V2, "--weights", random_weights, "--sequence", str(seq), "--out", str(out),
        "--mode", "ir", "--init", "41,41,28,22",
    )
    assert rc == 0
    boxes = np.loadtxt(out / "boxes.txt", delimiter=",")
    np.testing.assert_allclose(boxes[0], (41, 41, 28, 22))


@pytest.mark.slow
def test_bus1_rgb_matches_authors_iou(shared, tmp_path, capsys):
    rc = _track(
        "--config", V2, "--weights", str(shared("weights/nanotrack/pretrained/nanotrackv2.pth")),
        "--sequence", str(shared("data/rgbt/vtuav_bus1")), "--mode", "rgb", "--out", str(tmp_path),
    )
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["iou_frames"] == 10 and summary["mean_iou"] == pytest.approx(0.880, abs=0.0015)
    ref = np.asarray(json.loads((REPO / "tests/fixtures/nanotrack_bus1_authors.json").read_text())["v2"])
    assert np.abs(np.loadtxt(tmp_path / "boxes.txt", delimiter=",") - ref).max() < 0.5


def test_size_mismatch_needs_align(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=3, ir_size=(96, 128))
    args = ["--config", V2_L1, "--weights", random_weights, "--sequence", str(seq), "--out", str(tmp_path / "o")]
    assert _track(*args) == 1
    err = capsys.readouterr().err
    assert "size mismatch" in err and "000000.png" in err and "--align resize" in err
    assert _track(*args, "--align", "resize") == 0


@pytest.mark.parametrize("modality", ["ir", "rgb"])
def test_missing_frame_is_named(tmp_path, random_weights, capsys, modality):
    seq = make_vtuav(tmp_path / "seq", n=12)
    (seq / modality / "000004.png").unlink()
    assert _track("--config", V2_L1, "--weights", random_weights, "--sequence", str(seq), "--out", str(tmp_path / "o")) == 1
    err = capsys.readouterr().err
    assert f"{modality}/000004.png" in err and "missing" in err


def test_corrupt_frame_is_named(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=4)
    (seq / "ir" / "000002.png").write_bytes(b"not a png")
    assert _track("--config", V2_L1, "--weights", random_weights, "--sequence", str(seq), "--out", str(tmp_path / "o")) == 1
    assert "ir/000002.png" in capsys.readouterr().err


@pytest.mark.parametrize(
    "init, match",
    [("500,10,20,20", "outside"), ("10,10,0,20", "empty"), ("1,2,3", "four numbers"), ("a,b,c,d", "four numbers")],
)
def test_bad_init(tmp_path, random_weights, capsys, init, match):
    seq = make_vtuav(tmp_path / "seq", n=3)
    rc = _track("--config", V2, "--weights", random_weights, "--sequence", str(seq), "--out", str(tmp_path / "o"), "--init", init)
    assert rc == 1
    assert match in capsys.readouterr().err


def test_fused_mode_without_fusion_section(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=3)
    assert _track("--config", V2, "--weights", random_weights, "--sequence", str(seq), "--out", str(tmp_path / "o"), "--mode", "fused") == 1
    assert "fusion" in capsys.readouterr().err
