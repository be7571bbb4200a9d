"""``rgbtfuse prepare``: crop a dataset's annotated frames (both modalities) into an LMDB cache."""

from __future__ import annotations

import argparse
import json

from rgbtfuse.data.datasets import available_datasets
from rgbtfuse.data.lmdb_cache import CropParams, build_cache, verify_cache
from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=available_datasets(), help="dataset layout of --root")
    parser.add_argument("--root", help="dataset root (a folder of sequences, or one sequence)")
    parser.add_argument("--out", required=True, help="output folder (crops.lmdb/ + index.json)")
    parser.add_argument("--list", dest="list_file", help="sequence list file (default: the dataset's own, if present)")
    parser.add_argument("--workers", type=int, default=0, help="crop in N processes (default: in this process)")
    parser.add_argument("--codec", choices=("raw", "jpeg"), default="raw", help="raw: fastest reads; jpeg: ~10x smaller")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th annotated frame")
    parser.add_argument("--instance-size", type=int, default=511, help="crop side in pixels (pysot: 511)")
    parser.add_argument("--exemplar-size", type=int, default=127, help="template size the context is measured for")
    parser.add_argument("--context", type=float, default=0.5, help="context amount around the target")
    parser.add_argument("--verify", action="store_true", help="only check an existing --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.verify:
        report = verify_cache(args.out, progress=not args.quiet)
    else:
        if not args.dataset or not args.root:
            raise ConfigError("--dataset and --root are required (unless --verify)")
        params = CropParams(args.instance_size, args.exemplar_size, args.context, args.codec, every=args.every)
        index = build_cache(args.dataset, args.root, args.out, params, args.workers, args.list_file, progress=not args.quiet)
        report = {"sequences": len(index["sequences"]), "frames": sum(len(s["frames"]) for s in index["sequences"])}
    print(json.dumps({"out": str(args.out), **report}))
    return 0
