"""Still pairs made into short validation sequences (`val.stills`, rgbtfuse.data.still_sequences)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbtfuse.data import load_sequence
from rgbtfuse.data.still_sequences import render_still_sequence, still_sequences
from rgbtfuse.errors import ConfigError
from rgbtfuse.training.validation import ValConfig


def _pair(seed: int, box=(180, 90, 40, 50)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ir = cv2.GaussianBlur(rng.normal(80, 10, (240, 320)).astype(np.float32), (0, 0), 3)
    x, y, w, h = box
    ir[y : y + h, x : x + w] = 230
    ir = np.clip(ir, 0, 255).astype(np.uint8)
    rgb = cv2.cvtColor(255 - ir, cv2.COLOR_GRAY2BGR)
    return rgb, cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR)


def test_rendered_box_follows_the_object():
    rgb, ir = _pair(0)
    rgbs, irs, boxes = render_still_sequence(rgb, ir, [180, 90, 40, 50], 12, seed=3)
    assert len(rgbs) == len(irs) == len(boxes) == 12
    assert irs[0].ndim == 2 and rgbs[0].shape[2] == 3
    assert np.ptp(boxes[:, 0]) > 2  # the camera moves
    for view, (x, y, w, h) in zip(irs, boxes):
        ys, xs = np.nonzero(view > 180)
        found = np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], float)
        np.testing.assert_allclose(found, [x, y, w, h], atol=2.5)
    again = render_still_sequence(rgb, ir, [180, 90, 40, 50], 12, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(irs, again[1]))


def test_still_sequences_written_once_with_failures(tmp_path: Path):
    root = tmp_path / "pairs"
    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True)
    for i in range(3):
        rgb, ir = _pair(i)
        cv2.imwrite(str(root / "ir" / f"{i + 1}.png"), ir)
        cv2.imwrite(str(root / "vi" / f"{i + 1}.png"), rgb)
    spec = {"root": str(root), "pairs": [0, 2], "frames": 9, "seed": 5}
    paths = still_sequences(spec, tmp_path / "out")
    assert [p.name for p in paths] == [f"pairs_{i}_s5_9_salient" for i in (1, 2, 3)]
    seqs = [load_sequence(p) for p in paths]
    assert all(len(s) == 9 and s.valid.all() for s in seqs)
    # salient pseudo-box: the object, not a random region
    x, y, w, h = seqs[0].boxes[0]
    assert w < 80 and h < 90
    assert (paths[1] / "rgb_night.tag").is_file() and (paths[2] / "ir_crossover.tag").is_file()
    assert not list(paths[0].glob("*.tag"))
    night = cv2.imread(str(seqs[1].rgb_frames[8]))
    assert night.mean() < cv2.imread(str(seqs[1].rgb_frames[0])).mean() - 20
    mtime = (paths[0] / "sequence").stat().st_mtime_ns
    still_sequences(spec, tmp_path / "out")
    assert (paths[0] / "sequence").stat().st_mtime_ns == mtime
    with pytest.raises(ConfigError, match="outside"):
        still_sequences({**spec, "pairs": [0, 3]}, tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown keys"):
        still_sequences({**spec, "frame": 3}, tmp_path / "out")


def test_val_config_accepts_stills_alone():
    cfg = ValConfig.from_dict({"stills": {"root": "x"}})
    assert cfg.stills == {"root": "x"} and cfg.modes == ("fused",)
    with pytest.raises(ConfigError, match="stills"):
        ValConfig.from_dict({"every": 5})
