"""``rgbtfuse eval``: score tracker result folders on GTOT, RGBT234, LasHeR or VTUAV as their MATLAB toolkits do."""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.cli import parse_named_folders
from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rgbtfuse.evaluation import PROTOCOLS

    parser.add_argument("--dataset", required=True, choices=sorted(PROTOCOLS), help="benchmark whose toolkit protocol to follow")
    parser.add_argument("--annotations", required=True, type=Path,
                        help="dataset folder (real layout) or the toolkit's ground-truth copy")
    parser.add_argument("--results", nargs="+", required=True, metavar="[NAME=]DIR",
                        help="one folder of <seq>.txt (or <prefix>_<seq>.txt) files per tracker")
    parser.add_argument("--out", required=True, type=Path, help="report folder")
    parser.add_argument("--attributes", action="store_true", help="per-attribute table and radar plots")
    parser.add_argument("--allow-missing", action="store_true",
                        help="leave out (for every tracker) sequences some tracker has no result for, and list them")


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.evaluation import evaluate
    from rgbtfuse.evaluation.report import write_report

    ev = evaluate(args.dataset, args.annotations, parse_named_folders(args.results, "--results", "tracker"), allow_missing=args.allow_missing)
    if args.attributes and not ev.attributes:
        raise ConfigError(f"--attributes: no attribute files found under {args.annotations} for {args.dataset} "
                          "(RGBT234: attr_txt/<ATTR>.txt; LasHeR: AttriSeqsTxt/<seq>.txt)")
    write_report(ev, args.out, attributes=args.attributes)
    print((args.out / "scores.md").read_text(), end="")
    for tracker, seqs in ev.missing.items():
        print(f"left out for {tracker} (no result file): {', '.join(seqs)}")
    print(f"report in {args.out}")
    return 0
