"""``rgbtfuse fuse``: fuse one infrared/visible pair, or two folders paired by file name."""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.cli import add_threads_argument, add_trust_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rgbtfuse.image_fusion import list_models

    parser.add_argument("--model", required=True, choices=list_models())
    parser.add_argument(
        "--weights", required=True, nargs="+", type=Path, metavar="PATH",
        help="checkpoint file, or the folder holding a model's published files (DIDFuse: encoder + decoder; "
        "RFN-Nest: auto-encoder + RFN), or those files listed one after the other",
    )
    parser.add_argument("--rgb", "--vis", dest="rgb", required=True, type=Path,
                        help="visible image (gray or colour), or folder of them (--vis: the same)")
    parser.add_argument("--ir", required=True, type=Path, help="infrared image, or folder of them")
    parser.add_argument("--out", required=True, type=Path, help="output folder; results are <name>.png")
    parser.add_argument(
        "--strategy", help="fusion rule of models that have several (nestfuse: attention_avg|attention_max|"
        "attention_nuclear; didfuse: sum|average|l1; any registered rgbtfuse.fusion name)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    parser.add_argument("--resize", action="store_true", help="resize infrared images to the visible size when they differ")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_argument(parser)
    add_trust_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.folder_fusion import fuse_folders

    weights = args.weights[0] if len(args.weights) == 1 else list(args.weights)
    report = fuse_folders(args.model, weights, args.rgb, args.ir, args.out, rule=args.strategy, device=args.device,
                          resize=args.resize, progress=not args.no_progress)
    n, seconds = len(report.written), report.seconds
    colour = sum(k.startswith("colour") for k in report.kinds)
    resized = sum(k.endswith("+resized") for k in report.kinds)
    strategy = f" ({args.strategy})" if args.strategy else ""
    print(f"fused {n} pair{'s' * (n != 1)} with {args.model}{strategy} on {report.device} in {seconds:.1f} s "
          f"({1000 * seconds / max(n, 1):.0f} ms/pair): {colour} colour, {n - colour} gray"
          f"{f', {resized} infrared resized' if resized else ''} -> {args.out}")
    for path in report.written if n <= 5 else [report.written[0], Path("..."), report.written[-1]]:
        print(f"  {path}")
    return 0
