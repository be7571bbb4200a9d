"""MATLAB arithmetic the RGB-T toolkits rely on, reproduced bit for bit.

* :func:`colon` — ``a:d:b``. MATLAB builds the vector symmetrically from both ends (C. Moler,
  "How the colon operator works", MATLAB Central, 2006), so e.g. element 18 of ``0:0.05:1`` is
  ``1 - 3*0.05 = 0.85`` while ``numpy.linspace(0, 1, 21)[17]`` is ``0.8500000000000001``. The
  toolkits compare overlaps with these thresholds using ``>``; with integer boxes an overlap can
  equal a threshold exactly, and then the last bit decides.
* :func:`round_half_away` — MATLAB's ``round`` (halves away from zero; numpy rounds halves to even).
* :func:`rect_overlap` — ``calcRectInt.m`` (OTB/GTOT/RGBT234/VTUAV) and ``calc_rect_int.m``
  (LaSOT/LasHeR): pixel-inclusive corners ``right = x + w - 1``, intersection
  ``max(0, min(right) - max(left) + 1)``, union ``wA*hA + wB*hB - intersection``, ``0/0 = NaN``.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)  # MATLAB's eps


def colon(a: float, d: float, b: float) -> np.ndarray:
    """MATLAB's ``a:d:b`` (``d > 0``), element for element."""
    tol = 2.0 * EPS * max(abs(a), abs(b))
    if a == np.floor(a) and d == 1:
        n = int(np.floor(b) - a)
    elif a == np.floor(a) and d == np.floor(d):
        q = np.floor(a / d)
        n = int(np.floor((b - (a - q * d)) / d) - q)
    else:
        n = int(round((b - a) / d))
        if a + n * d - b > tol:
            n -= 1
    c = a + n * d
    if c - b > -tol:
        c = b
    v = np.empty(n + 1)
    k = np.arange(n // 2 + 1)
    v[k] = a + k * d
    v[n - k] = c - k * d
    if n % 2 == 0:
        v[n // 2] = (a + c) / 2
    return v


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: to the nearest integer, halves away from zero (NaN stays NaN)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def rect_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise overlap of ``(N, 4)`` ``x, y, w, h`` boxes exactly as ``calcRectInt.m`` computes it."""
    right_a, top_a = a[:, 0] + a[:, 2] - 1, a[:, 1] + a[:, 3] - 1
    right_b, top_b = b[:, 0] + b[:, 2] - 1, b[:, 1] + b[:, 3] - 1
    iw = np.maximum(0, np.minimum(right_a, right_b) - np.maximum(a[:, 0], b[:, 0]) + 1)
    ih = np.maximum(0, np.minimum(top_a, top_b) - np.maximum(a[:, 1], b[:, 1]) + 1)
    inter = iw * ih
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)
