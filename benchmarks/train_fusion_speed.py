"""Training steps per second of each fusion recipe for NanoTrack v2 (tracker frozen), on CPU.

For every ``experiments/nanotrack_v2_<module>_track[_salient].yaml`` (and the paper-loss ``rfn``/``llrr``
yamls for comparison) one optimiser step = fused template and search features of a batch of
crop pairs (the frozen backbone without autograd), the recipe's loss (frozen head's tracking
loss + the l1 regulariser, or the paper's feature loss) and an Adam step. The batch is fixed
random crops (data loading is excluded: see benchmarks/data_speed.py). Median of the timed steps,
wall and process CPU time. Prints JSON.

    python benchmarks/train_fusion_speed.py [--threads 2] [--batch 8] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.trackers.builder import build_model, load_experiment, track_config  # noqa: E402
from rgbtfuse.training.fusion import FusionLoss  # noqa: E402

WEIGHTS = REPO.parent / "shared" / "weights" / "nanotrack" / "pretrained" / "nanotrackv2.pth"
RECIPES = {
    "rfn_track": "nanotrack_v2_rfn_track.yaml",
    "rfn_light_track": "nanotrack_v2_rfn_light_track.yaml",
    "llrr_track": "nanotrack_v2_llrr_track.yaml",
    "gate_track": "nanotrack_v2_gate_track.yaml",
    # the shipped recipes (issue #16): same steps, salient FLIR targets (data only) and their own loss weights
    "rfn_track_salient": "nanotrack_v2_rfn_track_salient.yaml",
    "llrr_track_salient": "nanotrack_v2_llrr_track_salient.yaml",
    "gate_track_salient": "nanotrack_v2_gate_track_salient.yaml",
    "rfn_gate_track_salient": "nanotrack_v2_rfn_gate_track_salient.yaml",
    "rfn_light_gate_track_salient": "nanotrack_v2_rfn_light_gate_track_salient.yaml",
    "llrr_gate_gain_track_salient": "nanotrack_v2_llrr_gate_gain_track_salient.yaml",
    "gate_reliability_track_salient": "nanotrack_v2_gate_reliability_track_salient.yaml",
    "rfn_paper": "nanotrack_v2_rfn.yaml",
    "llrr_paper": "nanotrack_v2_llrr.yaml",
}


def _batch(b: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    crop = lambda s: torch.rand(b, 3, s, s, generator=gen) * 255  # noqa: E731
    centre = torch.tensor([127.0 - 30, 127.0 - 20, 127.0 + 30, 127.0 + 20])
    return {"template_rgb": crop(127), "template_ir": crop(127), "search_rgb": crop(255), "search_ir": crop(255),
            # a simulated failure on two pairs in three (the recipes' p 0.8), so the reliability hinge has work
            "bbox": centre.repeat(b, 1), "neg": torch.zeros(b), "degraded": torch.arange(b) % 3,
            "dropped": torch.zeros(b, dtype=torch.long)}


def measure(name: str, yaml_name: str, batch: int, steps: int, warmup: int = 1) -> dict:
    cfg = load_experiment(REPO / "experiments" / yaml_name)
    train = cfg.get("train") or {}
    torch.manual_seed(0)
    model = build_model(cfg, weights=WEIGHTS if WEIGHTS.is_file() else None, mode="fused")
    model.freeze_all_but_fusion()
    model.train()
    track_cfg = track_config(cfg)
    loss_fn = FusionLoss(model, train.get("loss", {"name": "rfn"}), float(train.get("tracking_weight", 0.0)), track_cfg,
                         train.get("tracking"), train.get("reliability"))
    params = [p for p in model.fusion.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    data = _batch(batch, torch.Generator().manual_seed(0))
    wall, cpu = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss, _ = loss_fn(data)
        loss.backward()
        opt.step()
        if i >= warmup:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    w = statistics.median(wall)
    return {"recipe": name, "config": f"experiments/{yaml_name}", "batch": batch,
            "fusion_params": sum(p.numel() for p in params),
            "seconds_per_step": round(w, 4), "steps_per_second": round(1 / w, 3),
            "cpu_seconds_per_step": round(statistics.median(cpu), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--only", nargs="*", choices=sorted(RECIPES))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [measure(n, y, args.batch, args.steps) for n, y in RECIPES.items() if not args.only or n in args.only]
    print(json.dumps({"threads": args.threads, "torch": torch.__version__, "tracker_weights": WEIGHTS.is_file(),
                      "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
