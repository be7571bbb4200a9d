"""``rgbtfuse degrade``: write a copy of an RGB-T sequence with one sensor failing (VOT-RGBT layout)."""

from __future__ import annotations

import argparse

from rgbtfuse.data.degrade import DEGRADATIONS, MODALITIES, degrade_sequence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequence", required=True, help="source sequence folder (any readable layout)")
    parser.add_argument("--out", required=True, help="folder to write the degraded sequence into")
    parser.add_argument(
        "--degrade", action="append", required=True, metavar="MODALITY:KIND",
        help=f"e.g. rgb:night, ir:crossover (repeatable); MODALITY in {', '.join(MODALITIES)}, KIND in {', '.join(sorted(DEGRADATIONS))}",
    )
    parser.add_argument("--start", type=int, default=30, help="first degraded frame (0-based)")
    parser.add_argument("--strength", type=float, default=1.0, help="0..1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="sequence folder name (default: the source's)")


def run(args: argparse.Namespace) -> int:
    folder = degrade_sequence(args.sequence, args.out, args.degrade, args.start, args.strength, args.seed, args.name)
    print(f"wrote {folder} ({', '.join(args.degrade)} from frame {args.start})")
    return 0
