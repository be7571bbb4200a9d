"""Region conversions between VOT (rectangles, polygons) and the tracker's ``(x, y, w, h)`` boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]


class RegionError(ValueError):
    """A region cannot be turned into a usable box (empty, non-finite, degenerate)."""


def checked_box(x: float, y: float, w: float, h: float) -> Box:
    """``(x, y, w, h)`` as floats; raises :class:`RegionError` unless finite with ``w, h > 0``."""
    box = (float(x), float(y), float(w), float(h))
    if not all(math.isfinite(v) for v in box):
        raise RegionError(f"region {box} is not finite")
    if box[2] <= 0 or box[3] <= 0:
        raise RegionError(f"region {box} is empty (width and height must be > 0)")
    return box


def polygon_to_box(points: Sequence[tuple[float, float]]) -> Box:
    """Axis-aligned box of a 4-corner polygon with pysot's convention.

    The box keeps the polygon's centre (mean of the corners) and area: the min/max extent is
    scaled by ``s = sqrt(A_polygon / A_extent)`` and ``+1`` is added to width and height, then
    the box is ``(cx - (w - 1) / 2, cy - (h - 1) / 2, w, h)`` (pysot ``get_axis_aligned_bbox``
    followed by its VOT test loop). Polygons that are not 4-point use their extent's area.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        raise RegionError(f"polygon with {len(pts)} points (need at least 3)")
    if not np.isfinite(pts).all():
        raise RegionError("polygon has non-finite coordinates")
    cx, cy = pts.mean(axis=0)
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    extent = (x2 - x1) * (y2 - y1)
    x, y = pts[:, 0], pts[:, 1]
    shoelace = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    if extent <= 0 or shoelace <= 0:  # a line or a point: pysot's +1 would make it a small box
        raise RegionError(f"polygon {pts.tolist()} has zero area")
    if len(pts) == 4:
        area = np.linalg.norm(pts[0] - pts[1]) * np.linalg.norm(pts[1] - pts[2])
    else:
        area = extent
    s = math.sqrt(area / extent)
    w = s * (x2 - x1) + 1
    h = s * (y2 - y1) + 1
    return checked_box(cx - (w - 1) / 2, cy - (h - 1) / 2, w, h)


def parse_vot_region(text: str) -> Box | None:
    """One line of a VOT ``groundtruth.txt``: a box, or None for an absent/unknown target.

    Accepts ``x,y,w,h`` rectangles and ``x1,y1,...`` polygons; NaN values, a single special
    code (``0``) and empty boxes mean "no target".
    """
    tokens = [t for t in text.replace("\t", ",").replace(" ", ",").split(",") if t]
    values = [float(t) for t in tokens]
    if len(values) <= 1 or any(math.isnan(v) for v in values):
        return None
    try:
        if len(values) == 4:
            return checked_box(*values)
        if len(values) % 2 == 0:
            return polygon_to_box(list(zip(values[0::2], values[1::2])))
    except RegionError:
        return None
    raise ValueError(f"not a VOT region: {text!r}")
