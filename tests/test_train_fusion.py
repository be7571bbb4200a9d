"""train-fusion: NanoTrack v2 frozen, a fusion module trained on real aligned pairs."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rgbtfuse.cli import main
from trackers.models.builder import build_model

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, shared, fusion: str, loss: dict, steps: int = 6) -> Path:
    cfg = yaml.safe_load((REPO / f"experiments/nanotrack_v2_{fusion}.yaml").read_text())
    cfg["train"] = {
        "weights": str(shared("weights/nanotrack/pretrained/nanotrackv2.pth")),
        "loss": loss,
        "steps": steps,
        "batch_size": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "tensorboard": False,
        "optimizer": {"name": "adam", "lr": 1.0e-3},
    }
    cfg["data"] = {
        "sources": [{"dataset": "pairs", "root": str(shared("data/fusion/flir_train180"))}],
        "cache_dir": str(tmp_path.parent / "flir_cache"),
        "pairs": {"neg": 0.0},
    }
    path = tmp_path / f"{fusion}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _losses(out: Path) -> list[float]:
    return [float(r["loss"]) for r in csv.DictReader(open(out / "log.csv"))]


@pytest.mark.slow
@pytest.mark.parametrize("fusion,loss", [("rfn", {"name": "rfn", "w1": [1.0]}), ("llrr", {"name": "lrrnet"})])
def test_training_lowers_the_loss_and_touches_only_fusion(tmp_path, shared, fusion, loss):
    cfg = _config(tmp_path, shared, fusion, loss, steps=8)
    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    before = build_model(cfg, weights=weights).state_dict()
    assert main(["train-fusion", "--config", str(cfg), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    losses = _losses(tmp_path / "run")
    assert len(losses) == 8 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3

    trained = build_model(cfg, weights=weights, fusion_weights=tmp_path / "run" / "fusion.pth").state_dict()
    changed = [k for k in before if not torch.equal(before[k], trained[k])]
    assert changed and all(k.startswith("fusion.") for k in changed)
    # every non-fusion tensor, BN running statistics included, is bit-identical
    for k, v in before.items():
        if not k.startswith("fusion."):
            assert torch.equal(v, trained[k]), k


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_losses(tmp_path, shared):
    cfg = _config(tmp_path, shared, "rfn", {"name": "rfn", "w1": [1.0]}, steps=8)
    straight = tmp_path / "straight"
    assert main(["train-fusion", "--config", str(cfg), "--out", str(straight), "--device", "cpu"]) == 0

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rgbtfuse", "train-fusion", "--config", str(cfg), "--out", str(killed), "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (killed / "log.csv").is_file() and len(_losses(killed)) >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert main(["train-fusion", "--config", str(cfg), "--out", str(killed), "--resume", "--device", "cpu"]) == 0
    # bit-exact: every process (this one and the killed subprocess) runs with the CLI's fixed
    # default thread count, so every reduction sums in the same order
    assert _losses(killed) == _losses(straight)
    resumed, reference = torch.load(killed / "fusion.pth"), torch.load(straight / "fusion.pth")
    for key, value in reference.items():
        assert torch.equal(resumed[key], value), key
