"""The ``rgbtfuse`` command: one subcommand per job.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``;
modules are imported only when their command runs, so ``rgbtfuse --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from rgbtfuse import __version__
from rgbtfuse.errors import ConfigError, RgbtfuseError
from rgbtfuse.runtime import DEFAULT_THREADS, retain_freed_memory, set_threads

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "track a generated RGB-T scene where one sensor fails, in rgb, ir and fused modes (video, plot, table)"),
    "fuse": ("fuse", "fuse infrared/visible image pairs with NestFuse, RFN-Nest, LRRNet or DIDFuse"),
    "weights": ("weights", "list, verify and download the published checkpoints"),
    "metrics": ("metrics", "score fused images with the fusion papers' metrics and write a report"),
    "prepare": ("prepare", "crop a dataset's annotated frames (RGB and IR) into an LMDB training cache"),
    "track": ("track", "track one target through an RGB-T sequence (rgb, ir or fused)"),
    "train-fusion": ("train_fusion", "train a tracker's fusion module with the tracker frozen"),
    "train-quality": ("train_quality", "train the quality network (AFAT-style QPN) of mode decision with the tracker frozen"),
    "train-image-fusion": ("train_image_fusion", "train an image-fusion network (NestFuse/RFN-Nest, LRRNet, DIDFuse) from an experiment yaml"),
    "vot": ("vot", "VOT toolkit workspaces (init) and evaluations with an EAO/A/R table (run)"),
    "convert": ("convert", "convert RGB-T datasets to VOT sequence folders"),
    "test": ("test", "track every sequence of a benchmark into toolkit-format result files (resumable, --workers, --shard)"),
    "eval": ("eval", "score tracker results on GTOT, RGBT234, LasHeR, VTUAV exactly as their MATLAB toolkits (PR/NPR/SR, MPR/MSR)"),
    "degrade": ("degrade", "write a copy of a sequence with one sensor failing (night, crossover, occlusion, ...)"),
    "export": ("export", "export a tracker (template and search branches) to ONNX for onnxruntime / cv2.TrackerNano"),
}


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` of a command that computes; :func:`main` applies it before the command runs."""
    parser.add_argument(
        "--threads", type=int, default=None,
        help=f"torch CPU threads (default: {DEFAULT_THREADS}, the fastest on a machine busy with other jobs)",
    )


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    """``--trust-checkpoint`` of a command that loads checkpoints (see rgbtfuse.checkpoint)."""
    parser.add_argument(
        "--trust-checkpoint", action="store_true",
        help="DANGEROUS: unpickle checkpoints fully, which runs any code they contain; only for files you "
        "trust that need Python objects beyond tensors and numbers",
    )


def parse_named_folders(items: list[str], option: str, what: str) -> dict[str, Path]:
    """``NAME=DIR`` or ``DIR`` (named after the folder) → ``{name: folder}``; names must be unique."""
    folders: dict[str, Path] = {}
    for item in items:
        name, sep, folder = item.partition("=")
        path = Path(folder if sep else item)
        name = name if sep else path.name
        if name in folders:
            raise ConfigError(f"{option}: {what} name {name!r} given twice (use NAME=DIR)")
        folders[name] = path
    return folders


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgbtfuse", description="RGB-T tracking and image fusion with feature-level fusion.")
    parser.add_argument("--version", action="version", version=f"rgbtfuse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        parser = _build_parser()
        parser.parse_args(argv or ["--help"])
        return 2
    name = argv[0]
    module = importlib.import_module(f"rgbtfuse.cli.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"rgbtfuse {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    retain_freed_memory()
    try:
        if "threads" in vars(args):
            set_threads(args.threads)
        if "trust_checkpoint" in vars(args):
            from rgbtfuse.checkpoint import trust_checkpoints  # imports torch: only for commands that load checkpoints

            scope: contextlib.AbstractContextManager = trust_checkpoints(bool(args.trust_checkpoint))
        else:
            scope = contextlib.nullcontext()
        with scope:
            return int(module.run(args) or 0)
    except RgbtfuseError as exc:
        print(f"rgbtfuse {name}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
