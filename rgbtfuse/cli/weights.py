"""``rgbtfuse weights list | verify PATH | download NAME --dir DIR``: the published checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.cli import add_trust_argument
from rgbtfuse.errors import WeightsError
from rgbtfuse.weights import WEIGHTS, describe, download, identify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the known published checkpoints and where to get them")
    verify = sub.add_parser("verify", help="identify a checkpoint file by its sha256, or failing that by its keys")
    verify.add_argument("path", type=Path)
    add_trust_argument(verify)
    verify.add_argument(
        "--model", help="also load the file into this image-fusion model (strict) and report every key that does not fit"
    )
    dl = sub.add_parser("download", help="download a checkpoint, check its sha256 (or key format), write it atomically")
    dl.add_argument("name", choices=sorted(WEIGHTS), metavar="NAME", help="a name from `rgbtfuse weights list`")
    dl.add_argument("--dir", type=Path, default=Path("weights"), help="destination folder (default: ./weights)")
    dl.add_argument("--force", action="store_true", help="replace an existing file that does not match")
    dl.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list()
    if args.action == "verify":
        return _verify(args.path, args.model)
    path = download(args.name, args.dir, progress=not args.no_progress, force=args.force)
    print(f"{args.name}: {path}")
    return 0


def _list() -> int:
    width = max(map(len, WEIGHTS))
    for name in sorted(WEIGHTS):
        e = WEIGHTS[name]
        sha = e.sha256[:12] if e.sha256 else "-" * 12
        source = f"bundled: {e.bundled_path} ({e.page})" if e.bundled else (e.url or f"manual: {e.page}")
        print(f"{name:<{width}}  {e.model:<28}  sha256 {sha}  {e.filename}\n{'':<{width}}  {source}")
    return 0


def _verify(path: Path, model: str | None) -> int:
    matches = identify(path)
    fitting = [m for m in matches if m.fits]
    if fitting:
        for m in fitting:
            print(f"{path}: {m.entry.name} (model {m.entry.model}) — {describe(m)}")
    elif matches:
        print(f"{path}: no registered checkpoint fits exactly; closest:")
        for m in matches[:3]:
            print(f"  {m.entry.name} (model {m.entry.model}): {describe(m)}")
    if model is not None:
        _load_into(path, model)
        print(f"{path}: loads into {model} (strict)")
    if not fitting:
        if not matches:
            raise WeightsError(f"{path}: not a registered checkpoint (no matching hash or characteristic keys)")
        return 1
    return 0


def _load_into(path: Path, model: str) -> None:
    # the model's own loader names every missing, unexpected and mis-shaped key in its CheckpointError
    from rgbtfuse.image_fusion import create_model

    create_model(model, weights=path, strict=True)
