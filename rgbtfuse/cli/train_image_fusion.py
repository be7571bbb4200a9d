"""``rgbtfuse train-image-fusion``: train NestFuse/RFN-Nest, LRRNet or DIDFuse from an experiment yaml."""

from __future__ import annotations

import argparse
import json

from rgbtfuse.cli import add_threads_argument, add_trust_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml (see experiments/*.yaml)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    parser.add_argument("--force", action="store_true", help="replace a run already in OUT (its checkpoint and log)")
    parser.add_argument("--export", action="store_true", help="only write the published weight files of OUT/checkpoint.pth")
    parser.add_argument("--steps", type=int, help="override the number of steps (e.g. a short test run)")
    parser.add_argument("--out", help="override the yaml's output folder")
    add_threads_argument(parser)
    add_trust_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.training import distributed as D
    from rgbtfuse.training.image_fusion import build_trainer, export_checkpoint, load_config

    trainer = build_trainer(load_config(args.config), steps=args.steps, out=args.out)
    if args.export:
        files = export_checkpoint(trainer)
        print(json.dumps({"step": trainer.step, "files": [str(f) for f in files]}))
        return 0
    try:
        history = trainer.run(resume=args.resume, force=getattr(args, "force", False))
    finally:
        D.cleanup()
    if trainer.rank == 0 and history:
        final = trainer.out_dir / "export" / "final"
        print(json.dumps({"steps": trainer.step, "first_loss": history[0]["loss"], "last_loss": history[-1]["loss"], "export": str(final)}))
    return 0
