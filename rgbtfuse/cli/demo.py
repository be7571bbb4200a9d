"""``rgbtfuse demo``: fused RGB-T tracking surviving a failing sensor, out of the box (:func:`rgbtfuse.demo.run.run_demo`)."""

from __future__ import annotations

import argparse

from rgbtfuse.cli import add_threads_argument, add_trust_argument
from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--config", help="experiment yaml with a fusion: section (default: the embedded demo model)")
    parser.add_argument("--weights", help="tracker checkpoint for --config (e.g. nanotrackv2.pth)")
    parser.add_argument("--fusion-weights", help="weights of a trainable fusion module (rfn, gate, ...)")
    parser.add_argument("--sequence", help="RGB-T sequence folder (default: generate the demo scene)")
    parser.add_argument("--frames", type=int, default=120, help="generated scene: number of frames")
    parser.add_argument("--size", default="320x240", help="generated scene: WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=None, help="generated scene: seed (default: the demo seed, 0)")
    parser.add_argument("--retrain", action="store_true", help="first reproduce the demo model's fusion weights (OUT/retrain), then use them")
    parser.add_argument("--steps", type=int, help="with --retrain: override the number of training steps")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    add_threads_argument(parser)
    add_trust_argument(parser)


def _scene_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if w < 96 or h < 96:
        raise ConfigError(f"--size {text!r}: the scene must be at least 96x96")
    return w, h


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.demo.run import run_demo

    result = run_demo(args.out, args.config, args.weights, args.fusion_weights, args.sequence, args.frames,
                      _scene_size(args.size), args.seed, args.retrain, args.steps, args.device, log=print)
    print(result.markdown)
    md, js = result.summary_files
    print(f"video:   {result.video}\nplot:    {result.plot}\nsummary: {md} / {js}")
    return 0
