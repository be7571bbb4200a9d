"""Mean IoU of modes rgb, ir, fused and of decision-rule variants on RGB-T sequences, as JSON.

How the training-free quality of mode ``decision`` was picked (docs/failure_aware.md). Every
sequence's frames are read once; each tracker runs from the first ground-truth box and is
scored on the annotated frames after it. Variants are ``decision:`` sections (JSON); the
followed branch per frame is reported as a string (r/i/f, d for DFAT's merged head).

    python benchmarks/decision_rules.py --config experiments/nanotrack_v2_l1.yaml \\
        --weights ../shared/weights/nanotrack/pretrained/nanotrackv2.pth \\
        --sequences ../shared/data/rgbt/vtuav_bus1,/tmp/deg/bus1_night \\
        --variants '{"peak": {"quality": "peak"}, "dfat": {"rule": "dfat"}}'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rgbtfuse.boxes import box_iou  # noqa: E402
from rgbtfuse.data import load_sequence  # noqa: E402
from rgbtfuse.trackers.builder import build_tracker, load_experiment  # noqa: E402
from rgbtfuse.tracking import FrameReader, annotated  # noqa: E402

LETTERS = {"rgb": "r", "ir": "i", "fused": "f", "dfat": "d", None: "-"}


def run(tracker, frames: list, gt: np.ndarray) -> tuple[float, str]:
    """Mean IoU on the annotated frames after frame 0, and the followed branches."""
    tracker.init(*frames[0], tuple(gt[0]))
    boxes = np.full((len(frames), 4), np.nan)
    boxes[0] = gt[0]
    branches = []
    for i in range(1, len(frames)):
        out = tracker.track(*frames[i])
        boxes[i] = out["bbox"]
        branches.append(LETTERS[out.get("branch")])
    scored = annotated(gt, 0)
    return float(np.mean(box_iou(boxes[scored], gt[scored]))), "".join(branches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--weights")
    parser.add_argument("--fusion-weights")
    parser.add_argument("--sequences", required=True, help="comma-separated sequence folders")
    parser.add_argument("--variants", default='{"default": {}}', help="JSON {name: decision section}")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_experiment(args.config)
    variants = json.loads(args.variants)
    report = {}
    for path in args.sequences.split(","):
        seq = load_sequence(path)
        read = FrameReader(seq)
        frames = [read(i) for i in range(len(seq))]
        row: dict = {}
        for mode in ("rgb", "ir", "fused"):
            row[mode] = round(run(build_tracker(cfg, args.weights, args.fusion_weights, mode=mode, device="cpu"), frames, seq.boxes)[0], 4)
        for name, section in variants.items():
            tracker = build_tracker({**cfg, "decision": section}, args.weights, args.fusion_weights, mode="decision", device="cpu")
            iou, branches = run(tracker, frames, seq.boxes)
            row[name] = {"mean_iou": round(iou, 4), "branches": branches}
        report[seq.name] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
