"""``rgbtfuse train-fusion``: train a tracker's fusion module with the tracker frozen."""

from __future__ import annotations

import argparse

from rgbtfuse.cli import add_threads_argument, add_trust_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml with model/fusion/track/train/data sections")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    parser.add_argument("--force", action="store_true", help="replace a run already in OUT (its checkpoint and log)")
    parser.add_argument("--out", help="output folder (default: train.out, else runs/<config name>)")
    parser.add_argument("--weights", help="tracker checkpoint (overrides train.weights)")
    parser.add_argument("--steps", type=int, help="override train.steps")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    add_threads_argument(parser)
    add_trust_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.training.fusion_run import build_fusion_trainer

    training = build_fusion_trainer(args.config, out=args.out, weights=args.weights, steps=args.steps, device=args.device)
    result = training.run(resume=args.resume, force=args.force)
    if result.history:
        first, last = result.history[0], result.history[-1]
        print(f"trained {training.name} fusion: loss {first['loss']:.4g} -> {last['loss']:.4g} over steps "
              f"{first['step']}-{last['step']}")
    print(f"fusion weights: {result.fusion_weights} (use with rgbtfuse track --fusion-weights)")
    if result.validation is not None:
        print(result.validation)
    return 0
