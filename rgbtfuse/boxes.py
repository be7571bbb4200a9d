"""Axis-aligned ``x, y, w, h`` boxes (0-based top-left corner) as numpy rows.

>>> import numpy as np
>>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10]]))
array([0.33333333])
"""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4)`` x,y,w,h boxes, row by row (0 for empty unions)."""
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_validity(boxes: np.ndarray) -> np.ndarray:
    """A box is valid when it is finite with positive width and height."""
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
