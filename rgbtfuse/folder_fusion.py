"""Fuse one infrared/visible pair, or two folders paired by file name, with an image-fusion network.

Every pair is checked (files readable, sizes equal unless ``resize``) and the weights are loaded
before anything is written. Fused images go to a hidden staging folder inside ``out`` and are
moved into place only when all pairs are done, so a failed run leaves ``out`` as it was.

>>> report = fuse_folders("nestfuse", "nestfuse_1e2.model", "tno/vis", "tno/ir", "fused")  # doctest: +SKIP
>>> report.written[0]                                                                   # doctest: +SKIP
PosixPath('fused/01.png')
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError, ImageSizeError
from rgbtfuse.imageio import check_output_apart, check_same_size, pair_folders, read_image, write_image
from rgbtfuse.modality import visible_alias

#: every network pads each layer by reflection, which needs 2 pixels per side (NestFuse/RFN-Nest need 16)
MIN_SIDE = 2


@dataclass
class FuseReport:
    """What :func:`fuse_folders` wrote."""

    written: list[Path]
    #: per pair: ``colour`` or ``gray`` (the visible image's), ``+resized`` when the infrared was resized
    kinds: list[str]
    device: torch.device
    seconds: float


@visible_alias
def fuse_folders(
    model: str,
    weights: str | Path | list[Path],
    rgb: str | Path,
    ir: str | Path,
    out: str | Path,
    rule: str | None = None,
    device: str | torch.device = "auto",
    resize: bool = False,
    progress: bool = True,
) -> FuseReport:
    """Fuse ``rgb``/``ir`` (two image files, or two folders paired by name) into ``out/<rgb name>.png``.

    ``model`` is an :mod:`image_fusion` name, ``weights`` its published file(s), ``rule`` the
    per-scale fusion rule of networks that have one (:func:`rgbtfuse.image_fusion.create_model`).
    """
    from rgbtfuse.image_fusion import create_model
    from rgbtfuse.image_fusion.color import fuse_images

    rgb, ir, out = Path(rgb), Path(ir), Path(out)
    pairs = _pairs(rgb, ir)
    kinds = [_check_pair(rgb_path, ir_path, resize) for rgb_path, ir_path in pairs]  # every pair, before any work
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    check_output_apart(out, {"--rgb": rgb, "--ir": ir})
    dev = resolve_device(device)
    net = create_model(model, weights=weights, rule=rule).to(dev)

    start = time.perf_counter()
    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rgbtfuse-fuse-", dir=out))
    written: list[Path] = []
    try:
        for rgb_path, ir_path in tqdm(pairs, desc=f"fuse {model}", unit="pair", disable=not progress):
            rgb_img, ir_img = _load_pair(rgb_path, ir_path, resize)
            write_image(staging / _output_name(rgb_path), fuse_images(net, rgb_img, ir_img))
        for rgb_path, _ in pairs:
            name = _output_name(rgb_path)
            os.replace(staging / name, out / name)
            written.append(out / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_out and not any(out.iterdir()):
            out.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return FuseReport(written, kinds, dev, time.perf_counter() - start)


def _pairs(rgb: Path, ir: Path) -> list[tuple[Path, Path]]:
    """``[(rgb_path, ir_path), ...]``."""
    if ir.is_dir() and rgb.is_dir():
        return [(rgb_path, ir_path) for ir_path, rgb_path in pair_folders(ir, rgb)]
    if ir.is_dir() or rgb.is_dir():
        raise ConfigError(f"--rgb {rgb} and --ir {ir} must both be image files or both be folders")
    return [(rgb, ir)]


def _check_pair(rgb_path: Path, ir_path: Path, resize: bool) -> str:
    """Read both images (errors name the file); returns the output kind ``colour``/``gray`` (``+resized``)."""
    from rgbtfuse.image_fusion.color import is_gray

    rgb, ir = read_image(rgb_path), read_image(ir_path)
    for path, img in ((ir_path, ir), (rgb_path, rgb)):  # the infrared first: its size is the one --resize changes
        if min(img.shape[:2]) < MIN_SIDE:
            raise ImageSizeError(f"{path}: {img.shape[1]}x{img.shape[0]} pixels; fusion needs at least {MIN_SIDE}x{MIN_SIDE}")
    if not resize:
        check_same_size(ir_path, ir, rgb_path, rgb, hint="use --resize to resize the infrared image to the visible size")
    kind = "gray" if is_gray(rgb) else "colour"
    return kind + ("+resized" if ir.shape[:2] != rgb.shape[:2] else "")


def _load_pair(rgb_path: Path, ir_path: Path, resize: bool) -> tuple[np.ndarray, np.ndarray]:
    rgb, ir = read_image(rgb_path), read_image(ir_path)
    if resize and ir.shape[:2] != rgb.shape[:2]:
        h, w = rgb.shape[:2]
        shrink = h <= ir.shape[0] and w <= ir.shape[1]
        ir = cv2.resize(ir, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return rgb, ir


def _output_name(rgb_path: Path) -> str:
    return rgb_path.stem + ".png"
