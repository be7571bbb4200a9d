"""Parsing of ground-truth text files, with ``file:line`` in every error."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rgbtfuse.boxes import box_validity
from rgbtfuse.errors import AnnotationError

_SEP = re.compile(r"[,\s]+")


def read_numeric_rows(path: str | Path, ncols: int | tuple[int, ...]) -> list[list[float]]:
    """Rows of numbers separated by commas/whitespace; each must have one of ``ncols`` values."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "ground-truth file not found")
    allowed = (ncols,) if isinstance(ncols, int) else ncols
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        tokens = [t for t in _SEP.split(text) if t]
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise AnnotationError(path, lineno, f"not a list of numbers: {text!r}") from None
        if len(values) not in allowed:
            raise AnnotationError(path, lineno, f"expected {' or '.join(map(str, allowed))} values, got {len(values)}")
        rows.append(values)
    return rows


def xywh_rows(path: str | Path) -> np.ndarray:
    """``(N, 4)`` boxes from a file of ``x y w h`` lines (commas or spaces)."""
    rows = read_numeric_rows(path, 4)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def corner_rows(path: str | Path) -> np.ndarray:
    """``(N, 4)`` ``x y w h`` boxes from ``x1 y1 x2 y2`` lines, with ``w = x2 - x1``.

    GTOT's own ``init.txt`` is exactly this conversion of ``groundTruth_v.txt`` (all 50
    sequences) and GTOT's original toolkit uses it, so no ``+1`` is added.
    """
    rows = np.asarray(read_numeric_rows(path, 4), dtype=np.float64).reshape(-1, 4)
    return np.column_stack([rows[:, :2], rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]])


def region_rows(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """VOT regions: ``x,y,w,h`` rectangles or ``x1,y1,...,x4,y4`` polygons per line.

    Returns ``(boxes (N, 4), polygons (N, 8) or None)``; a polygon's box is its axis-aligned
    bounding box (min/max of the corners); rectangle rows have NaN polygons.
    """
    rows = read_numeric_rows(path, (4, 8))
    boxes = np.full((len(rows), 4), np.nan)
    polygons = np.full((len(rows), 8), np.nan)
    for i, row in enumerate(rows):
        if len(row) == 4:
            boxes[i] = row
        else:
            xs, ys = np.asarray(row[0::2]), np.asarray(row[1::2])
            polygons[i] = row
            boxes[i] = (xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
    return boxes, (polygons if np.isfinite(polygons).any() else None)


def with_validity(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes, valid)`` with invalid rows (e.g. LasHeR's ``0,0,0,0`` for an absent target) set to NaN."""
    valid = box_validity(boxes)
    boxes = boxes.copy()
    boxes[~valid] = np.nan
    return boxes, valid
