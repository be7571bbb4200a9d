"""Readers for the on-disk layouts of RGB-T tracking datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgbtfuse.data.annotations import box_validity, xywh_rows
from rgbtfuse.data.sequence import Sequence, register_reader
from rgbtfuse.errors import AnnotationError, DatasetLayoutError
from rgbtfuse.imageio import list_images, natural_key


def _frames(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetLayoutError(f"{folder}: expected a folder of frames")
    images, _ = list_images(folder)
    return sorted(images, key=lambda p: natural_key(p.name))


def _vtuav_ir_dir(root: Path) -> Path:
    return next((root / d for d in ("ir", "ir_gray") if (root / d).is_dir()), root / "ir")


def _is_vtuav(root: Path) -> bool:
    return (root / "rgb").is_dir() and _vtuav_ir_dir(root).is_dir()


@register_reader("vtuav", _is_vtuav)
def read_vtuav(root: Path, every: int = 10) -> Sequence:
    """VTUAV: ``rgb/``, ``ir/`` (or ``ir_gray/``), ``rgb.txt``/``ir.txt`` with one box every ``every`` frames."""
    rgb, ir = _frames(root / "rgb"), _frames(_vtuav_ir_dir(root))
    n = len(rgb)
    boxes = np.full((n, 4), np.nan)
    ir_boxes = np.full((n, 4), np.nan)
    for path, target in ((root / "rgb.txt", boxes), (root / "ir.txt", ir_boxes)):
        if not path.is_file():
            if target is ir_boxes:
                ir_boxes = None
                continue
            raise DatasetLayoutError(f"{root}: expected sparse ground truth {path.name}")
        rows = xywh_rows(path)
        frames = np.arange(len(rows)) * every
        if len(rows) and frames[-1] >= n:
            raise AnnotationError(path, len(rows), f"box for frame {frames[-1]} but only {n} frames")
        target[frames] = rows
    valid = box_validity(boxes)
    return Sequence(root.name, root, rgb, ir, boxes, valid, "vtuav", ir_boxes=ir_boxes)
