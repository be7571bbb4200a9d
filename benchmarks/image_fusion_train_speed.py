"""Seconds per training step of each image-fusion recipe at its paper's image size and batch.

Runs a few steps of every recipe on ``../shared/data/fusion/flir_train180`` on this machine,
takes the median wall and CPU time of the timed steps (data loading in the main process
included) and converts it to CPU time per epoch of the paper's training set. LRRNet uses a randomly
initialised VGG-16 when the ImageNet file is absent: the cost is the same. Prints JSON.

``--count`` instead runs one step of each recipe at 64×64 under ``FlopCounterMode`` with a hook
summing the bytes autograd saves for backward, and scales both to the paper's image size (every
op of these networks and losses is linear in the pixel count): FLOPs per step and activation
memory, to size a GPU.

    python benchmarks/image_fusion_train_speed.py [--steps 2] [--size 64] [--only didfuse lrrnet] [--count]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
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


def time_recipe(name: str, steps: int, work: Path, size: int | None = None) -> dict:
    """Wall and CPU seconds per step (after one warm-up step), optionally at a smaller ``size``.

    CPU seconds (all threads of this process) are what matter on a shared machine: on ``T`` free
    cores a step takes about ``cpu_s / T`` of wall time. Times at a smaller size are scaled to
    the paper's size by the pixel ratio (every op is linear in the pixel count).
    """
    data, batch, _, n_train, _ = PAPER[name]
    trainer = build_trainer(_config(name, work, size), steps=steps + 2)
    marks: list[tuple[float, float]] = []
    loss_fn = trainer.loss_fn

    def timed(batch_):
        marks.append((time.perf_counter(), time.process_time()))
        return loss_fn(batch_)

    trainer.loss_fn = timed
    trainer.run()
    # step k runs from mark k to mark k+1; the first step warms up, the last one has no end mark
    wall = statistics.median(b[0] - a[0] for a, b in zip(marks[1:], marks[2:]))
    cpu = statistics.median(b[1] - a[1] for a, b in zip(marks[1:], marks[2:]))
    scale = (data["size"] / (size or data["size"])) ** 2
    steps_per_epoch = -(-n_train // batch)
    return {"recipe": name, "size": data["size"], "measured_at": size or data["size"], "batch": batch,
            "wall_s_per_step": round(wall * scale, 2), "cpu_s_per_step": round(cpu * scale, 2),
            "paper_train_images": n_train, "steps_per_epoch": steps_per_epoch,
            "cpu_hours_per_epoch": round(cpu * scale * steps_per_epoch / 3600, 1), "threads": torch.get_num_threads()}


def _config(name: str, work: Path, size: int | None = None) -> dict:
    data, batch, optim, _, _ = PAPER[name]
    cfg = {"recipe": name, "out": str(work / name), "device": "cpu", "data": {"root": str(FLIR), **data},
           "train": {"batch_size": batch, "checkpoint_every": 10**6, "log_every": 1, "tensorboard": False}, "optimizer": optim}
    if size:
        cfg["data"]["size"] = size
    if name == "rfn_nest_stage2":
        from rgbtfuse.image_fusion.nestfuse import NestFuse

        torch.save(NestFuse().state_dict(), work / "ae.model")
        cfg["model"] = {"autoencoder": str(work / "ae.model")}
    if name == "lrrnet":
        cfg["loss"] = {"vgg_weights": "imagenet" if default_vgg16_path().is_file() else "random"}
    return cfg


def count_recipe(name: str, work: Path, size: int = 64) -> dict:
    from torch.utils.data import default_collate
    from torch.utils.flop_counter import FlopCounterMode

    data, batch, _, _, _ = PAPER[name]
    trainer = build_trainer(_config(name, work, size), steps=1)
    samples = default_collate([trainer.dataset[(i % len(trainer.dataset), i)] for i in range(batch)])
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _ = trainer.loss_fn(samples)
        loss.backward()
    scale = (data["size"] / size) ** 2
    return {"recipe": name, "size": data["size"], "batch": batch, "tflop_per_step": round(counter.get_total_flops() * scale / 1e12, 3),
            "saved_activations_gib": round(saved[0] * scale / 2**30, 2)}


def main() -> None:
    global FLIR
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per recipe (after one warm-up step)")
    parser.add_argument("--only", nargs="+", choices=sorted(PAPER), default=sorted(PAPER))
    parser.add_argument("--data", type=Path, default=FLIR, help="pair folder to train on (default: ../shared FLIR pairs)")
    parser.add_argument("--size", type=int, help="time at this image size and scale to the paper's (default: paper size)")
    parser.add_argument("--count", action="store_true", help="FLOPs and activation memory per step instead of timing")
    args = parser.parse_args()
    FLIR = args.data
    with tempfile.TemporaryDirectory() as tmp:
        run = count_recipe if args.count else lambda name, work: time_recipe(name, args.steps, work, args.size)
        for name in args.only:  # one JSON line per recipe, as soon as it is measured
            print(json.dumps(run(name, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
