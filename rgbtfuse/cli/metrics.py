"""``rgbtfuse metrics``: score fused-image folders with the fusion papers' metrics and write a report."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rgbtfuse.cli import parse_named_folders
from rgbtfuse.errors import ConfigError

# metrics whose optional dependency (extra "metrics") is missing are left out of the default set
_NEEDS = {"fmi_w": "pywt", "vif": "pyrtools", "vif_li": "pyrtools"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rgbtfuse.metrics import METRICS

    parser.add_argument("--fused", nargs="+", required=True, metavar="[NAME=]DIR",
                        help="folders of fused images, one per method, named like the source pairs")
    parser.add_argument("--rgb", "--vis", dest="rgb", required=True, type=Path,
                        help="folder of visible source images (--vis: the same)")
    parser.add_argument("--ir", required=True, type=Path, help="folder of infrared source images")
    parser.add_argument("--metrics", nargs="+", metavar="NAME",
                        help=f"metrics to compute (default: all available). Known: {', '.join(METRICS)}")
    parser.add_argument("--out", required=True, type=Path, help="report folder")
    parser.add_argument("--grid", nargs="*", metavar="IMAGE", default=None,
                        help="image names (file stems) to show in grid.png (default: the first 3 pairs)")
    parser.add_argument("--workers", type=int, default=1, help="processes evaluating pairs in parallel (0 = all CPUs)")


def _parse_fused(items: list[str]) -> dict[str, Path]:
    methods = parse_named_folders(items, "--fused", "method")
    for name, path in methods.items():
        if not path.is_dir():
            raise ConfigError(f"--fused {name}: {path} is not a folder")
    return methods


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rgbtfuse.metrics import METRICS
    from rgbtfuse.metrics.evaluate import evaluate
    from rgbtfuse.metrics.report import markdown_table, write_report

    fused = _parse_fused(args.fused)
    if args.metrics:
        unknown = [m for m in args.metrics if m not in METRICS]
        if unknown:
            raise ConfigError(f"--metrics: unknown {', '.join(unknown)}; known: {', '.join(METRICS)}")
        names = list(dict.fromkeys(args.metrics))
    else:
        names = [m for m in METRICS if importlib.util.find_spec(_NEEDS.get(m, "numpy")) is not None]
        skipped = [m for m in METRICS if m not in names]
        if skipped:
            print(f"rgbtfuse metrics: skipping {', '.join(skipped)} (pip install 'rgbtfuse[metrics]')", file=sys.stderr)

    def progress(it, total):
        return tqdm(it, total=total, desc="metrics", unit="pair")

    ev = evaluate(fused, args.ir, args.rgb, names, workers=args.workers, progress=progress)
    grid = ev.images[:3] if args.grid is None else args.grid
    written = write_report(ev, args.out, args.ir, args.rgb, fused, grid)
    print(markdown_table(ev))
    print(f"wrote {len(written)} files to {args.out} (per_image.csv, mean.md, metrics.json, bars/, grid.png)")
    return 0
