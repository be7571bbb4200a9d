"""Parsing of ground-truth text files, with ``file:line`` in every error."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

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


def box_validity(boxes: np.ndarray) -> np.ndarray:
    """A box is valid when it is finite with positive width and height."""
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
