"""Reading a tracker's result folder as the toolkits read it.

A sequence's file is ``<seq>.txt``, else ``<prefix>_<seq>.txt`` (the toolkits' own folders name
them ``<Tracker>_<seq>.txt``; the shortest prefix wins when several match). A line holds
``x, y, w, h`` (used as they are) or GTOT/RGBT234's eight corner values
``x1 y1 x2 y1 x2 y2 x1 y2``, converted like ``corner2rect.m``: ``round([x1, y1, x2 - x1, y4 - y1])``
with MATLAB's rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgbtfuse.errors import ResultFileError
from rgbtfuse.evaluation.matlab import round_half_away
from rgbtfuse.evaluation.textrows import read_rows


def find_result_files(folder: Path, names: list[str]) -> dict[str, Path]:
    """Result file of each sequence found in ``folder`` (absent sequences are left out)."""
    if not folder.is_dir():
        raise ResultFileError(f"{folder}: result folder not found")
    files = {p.name: p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file()}
    found = {}
    for name in names:
        exact = files.get(f"{name}.txt")
        if exact is not None:
            found[name] = exact
            continue
        suffix = f"_{name}.txt"
        candidates = sorted((f for f in files if f.endswith(suffix)), key=len)
        if candidates:
            found[name] = files[candidates[0]]
    return found


def read_result(path: Path) -> np.ndarray:
    """``(N, 4)`` ``x, y, w, h`` boxes of a result file (4-value or 8-value corner lines)."""
    rows = read_rows(path, (4, 8), ResultFileError, "result file")
    if rows.shape[1] == 8:
        rows = round_half_away(np.column_stack([rows[:, 0], rows[:, 1], rows[:, 2] - rows[:, 0], rows[:, 5] - rows[:, 1]]))
    return rows


def check_length(path: Path, boxes: np.ndarray, gt_file: Path, gt_rows: int, stride: int) -> np.ndarray:
    """The rows evaluated (every ``stride``-th); a file whose length does not fit the ground truth is an error."""
    low, high = (gt_rows - 1) * stride + 1, gt_rows * stride
    if not low <= len(boxes) <= high:
        expected = str(gt_rows) if stride == 1 else f"{low}-{high} (a box every {stride}th frame in {gt_file.name})"
        raise ResultFileError(f"{path}: {len(boxes)} lines but the ground truth {gt_file} has {gt_rows} (expected {expected})")
    return boxes[::stride]
