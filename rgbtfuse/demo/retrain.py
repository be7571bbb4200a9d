"""Reproduce the demo model's fusion weights: generate the training scenes, run train-fusion.

``rgbtfuse demo --retrain`` calls :func:`retrain`; it writes, under ``out``, the scenes
(``scenes/``), the resolved experiment yaml, the train-fusion run (``train/``: log.csv,
checkpoint.pth, fusion.pth), ``gate_fusion.pth`` (the shipped file's format) and ``manifest.json`` (command, seed, git revision, data recipe,
training metrics and :func:`evaluate`'s measurements of the result).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from rgbtfuse.atomic import atomic_write
from rgbtfuse.data.synthetic import write_vot_sequence
from rgbtfuse.demo import DEMO_SEED, MODEL_CONFIG, TRAIN_SEEDS, demo_scene

#: held-out scenes (neither training nor the demo's) for the manifest's evaluation
EVAL_SEEDS = (1, 2, 3, 4, 5)


def git_revision() -> str:
    """``git describe``-like revision of the source tree, or ``unknown`` outside a checkout."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=MODEL_CONFIG.parent, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=MODEL_CONFIG.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_training_scenes(folder: Path) -> list[dict[str, Any]]:
    """Render the training scenes (skips finished ones); returns their recipes."""
    recipes = []
    for seed in tqdm(TRAIN_SEEDS, desc="training scenes", unit="scene"):
        cfg = demo_scene(seed=seed)
        seq = folder / f"scene_{seed}"
        if not (seq / "scene.json").is_file():
            write_vot_sequence(cfg, seq)
        recipes.append(asdict(cfg))
    atomic_write(folder / "list.txt", lambda p: p.write_text("".join(f"scene_{s}\n" for s in TRAIN_SEEDS)))
    return recipes


def export_weights(fusion_pth: Path, out: Path) -> Path:
    """The trained gate as an RGB-T tracker checkpoint: ``fusion.*`` keys (the filter bank and
    the NCC head have none), so the file works as ``--weights`` (track, vot) and as
    ``--fusion-weights`` (the prefix is stripped)."""
    from rgbtfuse.atomic import atomic_torch_save
    from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint

    sd = extract_state_dict(read_checkpoint(fusion_pth), source=str(fusion_pth))
    return atomic_torch_save({f"fusion.{k}": v.clone() for k, v in sd.items()}, out)


def retrain(out: Path, steps: int | None = None, resume: bool = False) -> Path:
    """Train the demo fusion into ``out/gate_fusion.pth`` (via ``out/train/fusion.pth``);
    returns the manifest path."""
    from rgbtfuse.training.fusion_run import build_fusion_trainer

    out = Path(out)
    scenes = out / "scenes"
    recipes = write_training_scenes(scenes)
    cfg = yaml.safe_load(MODEL_CONFIG.read_text(encoding="utf-8"))
    cfg["data"]["sources"][0]["root"] = str(scenes)
    config_path = out / "model.yaml"
    atomic_write(config_path, lambda p: p.write_text(yaml.safe_dump(cfg, sort_keys=False)))
    # a reproduction starts over unless resumed: an earlier retrain in OUT is replaced (force)
    start = time.time()
    build_fusion_trainer(config_path, out=out / "train", steps=steps, device="cpu").run(resume=resume, force=not resume)
    minutes = (time.time() - start) / 60
    weights = export_weights(out / "train" / "fusion.pth", out / "gate_fusion.pth")
    log = (out / "train" / "log.csv").read_text().splitlines()
    manifest = {
        "command": "rgbtfuse demo --retrain" + (f" --steps {steps}" if steps else ""),
        "equivalent": f"generate scenes {TRAIN_SEEDS[0]}..{TRAIN_SEEDS[-1]} with rgbtfuse.data.synthetic, "
                      f"then rgbtfuse train-fusion --config {config_path.name}",
        "seed": cfg["train"]["seed"],
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "torch": __import__("torch").__version__,
        "config": cfg,
        "data_recipe": {"generator": "rgbtfuse.data.synthetic.write_vot_sequence", "scenes": recipes},
        "training": {"minutes": round(minutes, 1), "log_head": log[:2], "log_tail": log[-1:]},
        "weights": weights.name,
        "evaluation": evaluate(config_path, weights, out / "eval"),
    }
    path = out / "manifest.json"
    atomic_write(path, lambda p: p.write_text(json.dumps(manifest, indent=1)))
    return path


def evaluate(config: Path, fusion_weights: Path, folder: Path) -> dict[str, Any]:
    """Mean IoU per mode on the demo scene and on held-out scenes; ``fused_untrained`` is the
    same tracker with the gate at its initial weights (= the ``mean`` rule), to show what
    training adds."""
    import numpy as np

    from rgbtfuse.data import load_sequence
    from rgbtfuse.trackers.builder import build_tracker
    from rgbtfuse.tracking.scoring import track_and_score

    def scores(seed: int) -> dict[str, float]:
        seq = load_sequence(write_vot_sequence(demo_scene(seed=seed), folder / f"scene_{seed}"))
        trackers = {m: build_tracker(config, fusion_weights=fusion_weights, mode=m, device="cpu") for m in ("rgb", "ir", "fused")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the untrained gate is intended here
            trackers["fused_untrained"] = build_tracker(config, mode="fused", device="cpu")
        runs, _ = track_and_score(seq, trackers, progress=False)
        return {m: round(float(np.nanmean(r.iou)), 4) for m, r in runs.items()}

    held_out = {str(s): scores(s) for s in tqdm(EVAL_SEEDS, desc="held-out scenes", unit="scene")}
    modes = next(iter(held_out.values())).keys()
    return {
        "metric": "mean IoU over frames 1..N-1",
        "demo_scene": scores(DEMO_SEED),
        "held_out": held_out,
        "held_out_mean": {m: round(float(np.mean([v[m] for v in held_out.values()])), 4) for m in modes},
    }


def compare_weights(a: str | Path, b: str | Path) -> str:
    """One line: how far two fusion weight files are apart (max abs difference per tensor)."""

    from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint

    if not Path(b).is_file():
        return f"no shipped weights at {b} to compare with"
    sa = extract_state_dict(read_checkpoint(a), source=str(a))
    sb = extract_state_dict(read_checkpoint(b), source=str(b))
    if sa.keys() != sb.keys():
        return f"keys differ from the shipped {b}"
    diff = max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)
    same = "identical to" if diff == 0 else f"max abs difference {diff:.3g} from"
    return f"{same} the shipped {Path(b).name}"
