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
from rgbtfuse.trackers.builder import build_model

REPO = Path(__file__).resolve().parents[2]


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
@pytest.mark.parametrize("recipe", ["rfn_paper", "rfn_light_track", "gate_track_salient", "rfn_gate_track_salient",
                                    "llrr_gate_gain_track_salient", "gate_reliability_track_salient"])
def test_kill_and_resume_gives_the_same_losses(tmp_path, shared, recipe):
    if recipe == "rfn_paper":
        cfg = _config(tmp_path, shared, "rfn", {"name": "rfn", "w1": [1.0]}, steps=8)
    else:  # the tracking-loss recipes: residual on l1 / gate, head loss, sensor-failure augmentation
        cfg = _recipe_config(tmp_path, shared, recipe, steps=8, val=False)
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


def _recipe_config(tmp_path: Path, shared, recipe: str, steps: int, val: bool = True) -> Path:
    """``experiments/nanotrack_v2_<recipe>.yaml`` made small: fewer scenes, steps and batch; its
    loss, optimiser, failures and the FLIR source's crop options (salient targets) are kept."""
    cfg = yaml.safe_load((REPO / f"experiments/nanotrack_v2_{recipe}.yaml").read_text())
    cfg["train"].update(weights=str(shared("weights/nanotrack/pretrained/nanotrackv2.pth")), steps=steps, batch_size=4,
                        checkpoint_every=2, log_every=1)
    crop = {"crop": cfg["data"]["sources"][0]["crop"]} if "crop" in cfg["data"]["sources"][0] else {}
    cfg["data"] = {
        "synthetic": {"seeds": [2000, 2003], "frames": 60, "crop": {"instance_size": 383, "codec": "jpeg", "every": 2}},
        "sources": [{"dataset": "pairs", "root": str(shared("data/fusion/flir_train180")), **crop}],
        "cache_dir": str(tmp_path.parent / "recipe_cache"),
        "pairs": cfg["data"]["pairs"],
    }
    if val:
        cfg["val"] = {"every": steps, "modes": ["fused"], "synthetic": {"seeds": [500, 501], "frames": 60}}
    else:
        cfg.pop("val", None)
    path = tmp_path / f"{recipe}_recipe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["rfn_light_track", "gate_track", "gate_track_salient", "llrr_track_salient",
                                    "rfn_gate_track_salient", "llrr_gate_gain_track_salient",
                                    "gate_reliability_track_salient"])
def test_recipe_touches_only_fusion(tmp_path, shared, recipe):
    cfg = _recipe_config(tmp_path, shared, recipe, steps=6, val=False)
    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    before = build_model(cfg, weights=weights).state_dict()
    straight = tmp_path / "straight"
    assert main(["train-fusion", "--config", str(cfg), "--out", str(straight), "--device", "cpu"]) == 0
    trained = build_model(cfg, weights=weights, fusion_weights=straight / "fusion.pth").state_dict()
    changed = [k for k in before if not torch.equal(before[k], trained[k])]
    assert changed and all(k.startswith("fusion.") for k in changed)
    for k, v in before.items():
        if not k.startswith("fusion."):
            assert torch.equal(v, trained[k]), k
