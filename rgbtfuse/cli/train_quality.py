"""``rgbtfuse train-quality``: train the QPN of mode decision with the tracker frozen."""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.cli import add_threads_argument, add_trust_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml with model/fusion/track/decision and a quality: section")
    parser.add_argument("--out", help="output folder (default: runs/<config name>)")
    parser.add_argument("--weights", help="tracker checkpoint (e.g. nanotrackv2.pth; none for the filter-bank demo model)")
    parser.add_argument("--fusion-weights", help="weights of a trainable fusion module (frozen, like the tracker)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    parser.add_argument("--force", action="store_true", help="replace a run already in OUT (its checkpoint and log)")
    parser.add_argument("--steps", type=int, help="override quality.train.steps")
    parser.add_argument("--device", default="cpu", help="device of the frozen tracker's rollouts: auto | cpu | cuda[:N]")
    add_threads_argument(parser)
    add_trust_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.training.quality import metrics_table, train_quality

    out = Path(args.out or Path("runs") / Path(args.config).stem)
    summary = train_quality(args.config, out, args.weights, args.fusion_weights, args.resume, args.force, args.device, args.steps)
    print(f"QPN: {summary['qpn']} ({summary['rollouts']} rollouts, {summary['steps']} steps, loss {summary['loss_first']} -> {summary['loss_last']})")
    print("use it with  decision: {quality: qpn, quality_weights: " + summary["qpn"] + "}")
    if "eval" in summary:
        print(f"training-free baseline: {summary['eval']['training_free_quality']}")
        print(metrics_table(summary["eval"]))
    return 0
