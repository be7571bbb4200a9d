"""``rgbtfuse fuse``: fuse one infrared/visible pair, or two folders paired by file name.

Every pair is checked (files readable, sizes equal unless ``--resize``) and the weights are loaded
before anything is written. Fused images go to a hidden staging folder inside ``--out`` and are moved
into place only when all pairs are done, so a failed run leaves ``--out`` as it was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from rgbtfuse.cli import add_threads_argument, add_trust_argument
from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError, ImageSizeError
from rgbtfuse.imageio import check_output_apart, check_same_size, pair_folders, read_image, write_image

#: every network pads each layer by reflection, which needs 2 pixels per side (NestFuse/RFN-Nest need 16)
MIN_SIDE = 2
# models whose published weights are several files (a folder or the files in order)
MULTI_FILE_MODELS = ("rfn_nest", "didfuse")
# keyword each model's factory takes for its per-scale fusion rule (None: the model has a single one)
STRATEGY_KWARG: dict[str, str | None] = {"nestfuse": "strategy", "rfn_nest": "fusion", "didfuse": "fusion", "lrrnet": None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from image_fusion import list_models

    parser.add_argument("--model", required=True, choices=list_models())
    parser.add_argument(
        "--weights", required=True, nargs="+", type=Path, metavar="PATH",
        help="checkpoint file, or the folder holding a model's published files (DIDFuse: encoder + decoder; "
        "RFN-Nest: auto-encoder + RFN), or those files listed one after the other",
    )
    parser.add_argument("--ir", required=True, type=Path, help="infrared image, or folder of them")
    parser.add_argument("--vis", required=True, type=Path, help="visible image (gray or colour), or folder of them")
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
    from image_fusion import create_model
    from image_fusion.color import fuse_images

    pairs = _pairs(args.ir, args.vis)
    kinds = [_check_pair(ir, vis, args.resize) for ir, vis in pairs]  # every pair, before any work
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} exists and is not a folder")
    check_output_apart(args.out, {"--ir": args.ir, "--vis": args.vis})
    device = resolve_device(args.device)
    if len(args.weights) > 1 and args.model not in MULTI_FILE_MODELS:
        raise ConfigError(f"--weights: {args.model} takes one checkpoint file, got {len(args.weights)} paths")
    weights: Any = args.weights[0] if len(args.weights) == 1 else list(args.weights)
    model = create_model(args.model, weights=weights, **_strategy_kwargs(args.model, args.strategy)).to(device)

    start = time.perf_counter()
    created_out = not args.out.exists()
    args.out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rgbtfuse-fuse-", dir=args.out))
    written: list[Path] = []
    try:
        for ir_path, vis_path in tqdm(pairs, desc=f"fuse {args.model}", unit="pair", disable=args.no_progress):
            ir, vis = _load_pair(ir_path, vis_path, args.resize)
            write_image(staging / _output_name(vis_path), fuse_images(model, ir, vis))
        for _, vis_path in pairs:
            name = _output_name(vis_path)
            os.replace(staging / name, args.out / name)
            written.append(args.out / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_out and not any(args.out.iterdir()):
            args.out.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    _summary(args, device, written, kinds, time.perf_counter() - start)
    return 0


def _pairs(ir: Path, vis: Path) -> list[tuple[Path, Path]]:
    if ir.is_dir() and vis.is_dir():
        return pair_folders(ir, vis)
    if ir.is_dir() or vis.is_dir():
        raise ConfigError(f"--ir {ir} and --vis {vis} must both be image files or both be folders")
    return [(ir, vis)]


def _strategy_kwargs(model: str, strategy: str | None) -> dict[str, str]:
    if strategy is None:
        return {}
    kwarg = STRATEGY_KWARG.get(model, "strategy")
    if kwarg is None:
        raise ConfigError(f"--strategy: {model} has a single, learned fusion; omit --strategy")
    from rgbtfuse.fusion import available_fusions

    if strategy not in available_fusions():
        raise ConfigError(f"--strategy {strategy!r} is not a registered fusion; available: {', '.join(available_fusions())}")
    return {kwarg: strategy}


def _check_pair(ir_path: Path, vis_path: Path, resize: bool) -> str:
    """Read both images (errors name the file); returns the output kind ``colour``/``gray`` (``+resized``)."""
    from image_fusion.color import is_gray

    ir, vis = read_image(ir_path), read_image(vis_path)
    for path, img in ((ir_path, ir), (vis_path, vis)):
        if min(img.shape[:2]) < MIN_SIDE:
            raise ImageSizeError(f"{path}: {img.shape[1]}x{img.shape[0]} pixels; fusion needs at least {MIN_SIDE}x{MIN_SIDE}")
    if not resize:
        check_same_size(ir_path, ir, vis_path, vis, hint="use --resize to resize the infrared image to the visible size")
    kind = "gray" if is_gray(vis) else "colour"
    return kind + ("+resized" if ir.shape[:2] != vis.shape[:2] else "")


def _load_pair(ir_path: Path, vis_path: Path, resize: bool) -> tuple[np.ndarray, np.ndarray]:
    ir, vis = read_image(ir_path), read_image(vis_path)
    if resize and ir.shape[:2] != vis.shape[:2]:
        h, w = vis.shape[:2]
        shrink = h <= ir.shape[0] and w <= ir.shape[1]
        ir = cv2.resize(ir, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return ir, vis


def _output_name(vis_path: Path) -> str:
    return vis_path.stem + ".png"


def _summary(args: argparse.Namespace, device: Any, written: list[Path], kinds: list[str], seconds: float) -> None:
    n = len(written)
    strategy = f" ({args.strategy})" if args.strategy else ""
    colour = sum(k.startswith("colour") for k in kinds)
    resized = sum(k.endswith("+resized") for k in kinds)
    print(
        f"fused {n} pair{'s' * (n != 1)} with {args.model}{strategy} on {device} in {seconds:.1f} s "
        f"({1000 * seconds / max(n, 1):.0f} ms/pair): {colour} colour, {n - colour} gray"
        f"{f', {resized} infrared resized' if resized else ''} -> {args.out}",
        file=sys.stdout,
    )
    for path in written if n <= 5 else [written[0], Path("..."), written[-1]]:
        print(f"  {path}")
