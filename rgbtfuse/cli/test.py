"""``rgbtfuse test``: run a tracker over a whole benchmark into toolkit-format result files (resumable, workers, shards)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rgbtfuse.benchmark import DATASETS
    from rgbtfuse.trackers.models.siamese import MODES

    parser.add_argument("--config", help="experiment yaml (model:, fusion:, track:); backend pytorch")
    parser.add_argument("--weights", help="tracker checkpoint; backend pytorch")
    parser.add_argument("--backend", choices=("pytorch", "onnxruntime"), default="pytorch",
                        help="pytorch (--config/--weights) or onnxruntime (--model: a folder written by rgbtfuse export)")
    parser.add_argument("--model", help="exported model folder (rgbtfuse export --out); backend onnxruntime")
    parser.add_argument("--fusion-weights", help="fusion module weights")
    parser.add_argument("--mode", choices=MODES, help="default: fused if the experiment has fusion:, else rgb")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="dataset layout of --root")
    parser.add_argument("--root", required=True, type=Path, help="dataset folder")
    parser.add_argument("--split", help="split sub-folder where the dataset has one (LasHeR: test -> testingset)")
    parser.add_argument("--list", dest="list_file", help="sequence list file (default: the dataset's own)")
    parser.add_argument("--out", required=True, type=Path, help="result folder (results/NAME)")
    parser.add_argument("--workers", type=int, default=1, help="tracking processes on this machine")
    parser.add_argument("--shard", help="I/N: this machine's share of the sequences (default: RANK/WORLD_SIZE if set)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda (one GPU per worker) | cuda:N | auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker")
    parser.add_argument("--eval", action="store_true", help="score the results afterwards (report in OUT/eval)")


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.benchmark import parse_shard, run_dataset
    from rgbtfuse.errors import ConfigError

    if args.backend == "onnxruntime":
        if not args.model or args.config or args.weights or args.fusion_weights:
            raise ConfigError("--backend onnxruntime takes --model DIR (the export holds config and weights), not --config/--weights")
        config, weights = args.model, ""
    else:
        if args.model or not (args.config and args.weights):
            raise ConfigError("--backend pytorch takes --config and --weights (--model is for --backend onnxruntime)")
        config, weights = args.config, args.weights
    summary = run_dataset(
        config, weights, args.dataset, args.root, args.out, fusion_weights=args.fusion_weights, mode=args.mode,
        split=args.split, list_file=args.list_file, workers=args.workers, shard=parse_shard(args.shard),
        device=args.device, threads=args.threads, evaluate=args.eval, backend=args.backend,
    )
    rate = summary.frames / summary.seconds if summary.seconds else 0.0
    print(f"{len(summary.tracked)} sequences tracked ({summary.frames} frames, {rate:.1f} frames/s), "
          f"{len(summary.skipped)} already done, {len(summary.failed)} failed, of {summary.total}; results in {args.out}")
    for name, error in summary.failed.items():
        print(f"  failed {name}: {error}")
    if summary.scores is not None:
        print("scores: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.scores.items()) + f" (report in {args.out / 'eval'})")
    return 1 if summary.failed else 0
