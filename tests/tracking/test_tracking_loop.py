"""The library's tracking loop: partial results on a bad frame or Ctrl-C, skipped frames,
no temporary left behind, one loop for several trackers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from test_track_cli import V2_L1, make_vtuav

from rgbtfuse.atomic import atomic_path
from rgbtfuse.cli import main
from rgbtfuse.data import load_sequence
from rgbtfuse.trackers.builder import build_tracker
from rgbtfuse.tracking import track_modes, track_sequence


def _track(tmp_path: Path, weights: str, seq: Path, *extra: str) -> int:
    return main(["track", "--config", V2_L1, "--weights", weights, "--sequence", str(seq), "--out", str(tmp_path / "o"), "--device", "cpu", *extra])


def _summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "o" / "summary.json").read_text())


def _box_rows(tmp_path: Path) -> np.ndarray:
    return np.loadtxt(tmp_path / "o" / "boxes.txt", delimiter=",")


def test_corrupt_frame_keeps_the_frames_before_it(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=12)
    (seq / "rgb" / "000007.png").write_bytes(b"broken")
    assert _track(tmp_path, random_weights, seq) == 1
    err = capsys.readouterr().err
    assert "rgb/000007.png" in err and "partial results" in err
    summary = _summary(tmp_path)
    assert summary["complete"] is False and summary["frames_done"] == 7 and "000007.png" in summary["error"]
    rows = _box_rows(tmp_path)
    assert np.isfinite(rows[:7]).all() and np.isnan(rows[7:]).all()


def test_skip_flags_bad_frames_and_tracks_on(tmp_path, random_weights, capsys):
    seq = make_vtuav(tmp_path / "seq", n=12)
    (seq / "ir" / "000004.png").write_bytes(b"broken")
    (seq / "rgb" / "000009.png").write_bytes(b"")
    video = tmp_path / "v.mp4"
    assert _track(tmp_path, random_weights, seq, "--on-bad-frame", "skip", "--video", str(video)) == 0
    assert "skipped frames [4, 9]" in capsys.readouterr().out
    summary = _summary(tmp_path)
    assert summary["complete"] is True and summary["skipped_frames"] == [4, 9]
    rows = _box_rows(tmp_path)
    assert np.isfinite(rows).all()
    np.testing.assert_array_equal(rows[4], rows[3])  # the box is held over a skipped frame
    flags = [line.split(",")[7] for line in (tmp_path / "o" / "frames.csv").read_text().splitlines()[1:]]
    assert flags[4] == "0" and flags[9] == "0"
    assert video.is_file()


def test_ctrl_c_writes_partial_results_and_the_video(tmp_path, random_weights, capsys, monkeypatch):
    seq = make_vtuav(tmp_path / "seq", n=12)
    from rgbtfuse.trackers.tracker.nanotrack_tracker import NanoTracker

    real_track, calls = NanoTracker.track, []

    def interrupted(self, rgb, ir):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_track(self, rgb, ir)

    monkeypatch.setattr(NanoTracker, "track", interrupted)
    video = tmp_path / "v.mp4"
    assert _track(tmp_path, random_weights, seq, "--video", str(video)) == 130
    assert "interrupted" in capsys.readouterr().err
    summary = _summary(tmp_path)
    assert summary["complete"] is False and summary["frames_done"] == 5  # init + 4 tracked
    assert np.isfinite(_box_rows(tmp_path)[:5]).all()
    assert video.is_file() and not list(tmp_path.glob(".v.mp4.*"))


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now
    stale = tmp_path / f".v.mp4.{dead.pid}.abc.tmp.mp4"
    live = tmp_path / f".v.mp4.{os.getpid()}.def.tmp.mp4"  # another writer still running
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"x")
    with atomic_path(tmp_path / "v.mp4") as tmp:
        tmp.write_bytes(b"new")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "v.mp4").read_bytes() == b"new"


def test_several_trackers_in_one_loop_equal_separate_runs(tmp_path, random_weights):
    seq = load_sequence(make_vtuav(tmp_path / "seq", n=12))
    make = lambda mode: build_tracker(V2_L1, random_weights, mode=mode, device="cpu")  # noqa: E731
    together = track_modes({"rgb": make("rgb"), "fused": make("fused")}, seq, progress=False)
    for mode in ("rgb", "fused"):
        alone = track_sequence(make(mode), seq, progress=False)
        np.testing.assert_array_equal(together[mode].boxes, alone.boxes)
        assert alone.complete and alone.start == 0 and alone.frames_done == 12
