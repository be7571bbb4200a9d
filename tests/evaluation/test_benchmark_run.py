"""``rgbtfuse test``: toolkit result files, workers = one process, shards, SIGKILL + resume, failures."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rgbtfuse.benchmark import parse_shard, result_lines, shard_names
from rgbtfuse.cli import main
from rgbtfuse.data.synthetic import SceneConfig, write_vot_sequence
from rgbtfuse.data.vot_writer import write_list
from rgbtfuse.errors import ConfigError
from rgbtfuse.evaluation.results import read_result
from tests.conftest import REPO_ROOT

V2_L1 = str(REPO_ROOT / "experiments/nanotrack_v2_l1.yaml")
NAMES = [f"scene{i}" for i in range(5)]


@pytest.fixture(scope="module")
def vot_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vot")
    for i, name in enumerate(NAMES):
        write_vot_sequence(SceneConfig(seed=i, frames=40, width=160, height=128), root / name, name)
    write_list(root, NAMES)
    return root


def _test(*args: str) -> int:
    return main(["test", *args])


def _args(weights: str, root: Path, out: Path, dataset: str = "vot", config: str = V2_L1) -> list[str]:
    return ["--config", config, "--weights", weights, "--mode", "fused", "--dataset", dataset, "--root", str(root), "--out", str(out)]


def _same_files(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        for rel in (f"{name}.txt", f"scores/{name}.txt"):
            assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


@pytest.fixture(scope="module")
def single(vot_root, random_weights, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "r"
    assert _test(*_args(random_weights, vot_root, out)) == 0
    return out


def test_outputs_in_toolkit_format(single, vot_root):
    for name in NAMES:
        boxes = np.loadtxt(single / f"{name}.txt", delimiter=",")
        gt = np.loadtxt(vot_root / name / "groundtruth.txt", delimiter=",")
        assert boxes.shape == (40, 4) and np.isfinite(boxes).all()
        np.testing.assert_allclose(boxes[0], gt[0], atol=1e-4)  # first line: the init box
        assert len((single / "times" / f"{name}.txt").read_text().split()) == 40
        assert len((single / "scores" / f"{name}.txt").read_text().split()) == 40


def test_two_workers_equal_one(single, vot_root, random_weights, tmp_path):
    assert _test(*_args(random_weights, vot_root, tmp_path / "r"), "--workers", "2") == 0
    _same_files(single, tmp_path / "r", NAMES)


def test_shards_together_equal_the_unsharded_run(single, vot_root, random_weights, tmp_path):
    out = tmp_path / "r"
    assert _test(*_args(random_weights, vot_root, out), "--shard", "0/2") == 0
    assert sorted(p.stem for p in out.glob("*.txt")) == NAMES[0::2]
    assert _test(*_args(random_weights, vot_root, out), "--shard", "1/2") == 0
    _same_files(single, out, NAMES)


def test_sigkill_then_restart_completes_with_the_same_files(single, vot_root, random_weights, tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "rgbtfuse", "test", *_args(random_weights, vot_root, out)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("scene*.txt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.stem for p in out.glob("scene*.txt"))
    assert 1 <= len(done) < len(NAMES)  # killed mid-run
    assert _test(*_args(random_weights, vot_root, out)) == 0
    _same_files(single, out, NAMES)
    assert not list(out.rglob("*.tmp*"))


def test_failures_are_summarised_and_the_rest_is_written(vot_root, random_weights, tmp_path, capsys):
    import shutil

    root = tmp_path / "vot"
    shutil.copytree(vot_root, root)
    next((root / "scene1" / "ir").iterdir()).unlink()
    assert _test(*_args(random_weights, root, tmp_path / "r")) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "failed scene1:" in out and "frame" in out
    assert sorted(p.stem for p in (tmp_path / "r").glob("*.txt")) == [n for n in NAMES if n != "scene1"]


def test_bus1_vtuav_workers_and_eval(shared, tmp_path, capsys):
    seq = shared("data/rgbt/vtuav_bus1")
    weights = str(shared("weights/nanotrack/pretrained/nanotrackv2.pth"))
    config = str(REPO_ROOT / "experiments/nanotrack_v2.yaml")
    base = ["--config", config, "--weights", weights, "--mode", "rgb", "--dataset", "vtuav", "--root", str(seq)]
    assert _test(*base, "--out", str(tmp_path / "one"), "--eval") == 0
    assert _test(*base, "--out", str(tmp_path / "two"), "--workers", "2") == 0
    _same_files(tmp_path / "one", tmp_path / "two", ["vtuav_bus1"])
    boxes = np.loadtxt(tmp_path / "one" / "vtuav_bus1.txt", delimiter=",")
    assert boxes.shape == (101, 4)
    np.testing.assert_allclose(boxes[0], (585, 94, 66, 83))
    report = (tmp_path / "one" / "eval" / "scores.md").read_text()
    assert "MPR" in report and "scores: MPR" in capsys.readouterr().out


def test_gtot_and_rgbt234_results_are_corner_lines_the_toolkits_read(tmp_path):
    boxes = np.array([[10.4, 20.6, 30.0, 40.5], [np.nan] * 4])
    for dataset in ("gtot", "rgbt234"):
        (tmp_path / "r.txt").write_text(result_lines(dataset, boxes))
        assert len((tmp_path / "r.txt").read_text().split("\n")[0].split()) == 8
        back = read_result(tmp_path / "r.txt")
        np.testing.assert_array_equal(back[0], [10, 21, 30, 41])  # corner2rect's rounding of x2 - x1, y3 - y1
        assert np.isnan(back[1]).all()
    assert result_lines("lasher", boxes[:1]) == "10.4000,20.6000,30.0000,40.5000\n"


def test_shard_parsing():
    assert parse_shard("1/4") == (1, 4) and parse_shard(None, {"RANK": "2", "WORLD_SIZE": "3"}) == (2, 3)
    assert parse_shard(None, {}) == (0, 1)
    for bad in ("4/4", "x/2", "1"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    names = [str(i) for i in range(7)]
    assert sorted(shard_names(names, (0, 3)) + shard_names(names, (1, 3)) + shard_names(names, (2, 3))) == sorted(names)
