"""Seconds per training step of each image-fusion recipe at its paper's image size and batch.

Runs a few steps of every recipe on ``../shared/data/fusion/flir_train180`` on this machine,
takes the median compute time of the timed steps (the Trainer's ``time`` column: forward,
backward, optimizer; data loading excluded — it overlaps with compute when workers are used),
and converts it to time per epoch of the paper's training set. LRRNet uses a randomly
initialised VGG-16 when the ImageNet file is absent: the cost is the same. Prints JSON.

    python benchmarks/image_fusion_train_speed.py [--steps 4] [--only didfuse lrrnet]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.losses.vgg import default_vgg16_path  # noqa: E402
from rgbtfuse.training.image_fusion import build_trainer  # noqa: E402

FLIR = REPO.parent / "shared" / "data" / "fusion" / "flir_train180"

# recipe -> (data options, batch, optimizer, paper training-set size, model/loss options)
PAPER = {
    "nest_autoencoder": ({"size": 256, "geometry": "resize"}, 4, {"lr": 1e-4}, 80000, {}),
    "rfn_nest_stage2": ({"size": 256, "geometry": "resize"}, 4, {"lr": 1e-4}, 80000, {}),
    "lrrnet": ({"size": 128, "geometry": "resize", "interpolation": "linear"}, 8, {"lr": 1e-5}, 20000, {}),
    "didfuse": ({"size": 128, "geometry": "center_crop"}, 24, {"lr": 1e-3}, 180, {}),
}


def time_recipe(name: str, steps: int, work: Path) -> dict:
    data, batch, optim, n_train, _ = PAPER[name]
    cfg = {"recipe": name, "out": str(work / name), "device": "cpu", "data": {"root": str(FLIR), **data},
           "train": {"batch_size": batch, "checkpoint_every": 10**6, "log_every": 1, "tensorboard": False}, "optimizer": optim}
    if name == "rfn_nest_stage2":
        from image_fusion.nestfuse import NestFuse

        torch.save(NestFuse().state_dict(), work / "ae.model")
        cfg["model"] = {"autoencoder": str(work / "ae.model")}
    if name == "lrrnet":
        cfg["loss"] = {"vgg_weights": "imagenet" if default_vgg16_path().is_file() else "random"}
    history = build_trainer(cfg, steps=steps + 1).run()
    per_step = statistics.median(h["time"] for h in history[1:])  # step 1 warms up
    steps_per_epoch = -(-n_train // batch)
    return {"recipe": name, "size": data["size"], "batch": batch, "s_per_step": round(per_step, 3),
            "paper_train_images": n_train, "steps_per_epoch": steps_per_epoch,
            "hours_per_epoch": round(per_step * steps_per_epoch / 3600, 2), "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per recipe (after one warm-up step)")
    parser.add_argument("--only", nargs="+", choices=sorted(PAPER), default=sorted(PAPER))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps([time_recipe(name, args.steps, Path(tmp)) for name in args.only], indent=1))


if __name__ == "__main__":
    main()
