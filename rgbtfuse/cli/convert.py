"""``rgbtfuse convert``: RGB-T datasets to VOT sequence folders for the VOT toolkit."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

SOURCES = ("gtot", "rgbt234", "lasher", "vtuav", "pairs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", choices=SOURCES, required=True, help="layout of SRC")
    parser.add_argument("--to", dest="target", choices=("vot",), default="vot", help="output format")
    parser.add_argument("src", type=Path, help="one sequence folder, or a dataset folder of sequence folders")
    parser.add_argument("dst", type=Path, help="VOT dataset folder (sequence folders + list.txt)")
    parser.add_argument("--anchor-every", type=int, default=50,
                        help="frames between multistart anchors (use ~20 for sequences under 100 frames)")
    parser.add_argument("--link", action="store_true", help="symlink frames instead of copying them")


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.data.vot_writer import convert_to_vot

    written = convert_to_vot(args.src, args.dst, args.source, args.anchor_every, args.link,
                             progress=lambda roots: tqdm(roots, desc="convert", unit="seq", disable=len(roots) < 2))
    print(f"{len(written)} sequence(s) written to {args.dst} (list.txt updated)")
    return 0
