"""Each benchmark's evaluation protocol, as its MATLAB toolkit computes it (see docs/benchmarks.md).

Per frame a protocol gives a centre error (pixels, or normalised by the ground-truth size) and an
overlap; :mod:`rgbtfuse.evaluation.curves` turns them into precision/success curves and scores.

* ``gtot`` — GTOT toolkit (``calcPlotErr.m`` + its plot script): per frame the smaller centre
  error and the larger overlap over the visible and the infrared ground truth; centres
  ``x + w/2``; precision ``err < t`` on ``0:0.5:25`` (reported at 5 px), success ``iou > t`` on
  ``0:0.02:1`` (trapezoid area); frame counts pooled over all sequences.
* ``rgbt234`` — RGBT234 toolkit (``calcPlotErr_TPR.m`` + plot script): the same per-frame
  min/max, precision ``err <= t`` on ``0:50`` (20 px), success ``iou > t`` on ``0:0.05:1``
  (mean of the curve); per-sequence fractions averaged over sequences.
* ``vtuav`` — VTUAV toolkit (``calcPlotErr_TPR.m``, ``plot_ST.m``): as ``rgbt234`` on every 10th
  frame (``results(1:10:end)``), against the sparse ``rgb.txt``/``ir.txt``.
* ``lasher`` — LasHeR toolkit (LaSOT-style ``eval_tracker.m``, ``calc_seq_err_robust.m``,
  ``plot_draw_save.m``): one ground truth; an invalid result box (NaN, ``w <= 0`` or ``h <= 0``)
  takes the previous box; frame 1 is replaced by the ground truth; centres ``x + (w - 1)/2``; a
  ground-truth box with any value ``<= 0`` gets error and overlap ``-1``; precision ``<=`` on
  ``0:50`` (20 px) and ``(0:50)/100`` normalised (0.20), success ``>`` on ``0:0.05:1``; fractions
  divide by ``frames + eps``; sequences whose whole curve sums to ``<= eps`` are left out of the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rgbtfuse.evaluation.matlab import colon, rect_overlap


@dataclass(frozen=True)
class Protocol:
    """How one benchmark's toolkit scores a tracker (every field is a toolkit rule)."""

    name: str
    metrics: tuple[str, ...]  # reported scores, e.g. ("MPR", "MSR", "PR", "SR")
    has_ir_gt: bool  # "M" metrics: best of the visible and infrared ground truth per frame
    gt_corners: bool  # ground truth held as x1, y1, x2, y2 (GTOT/RGBT234/VTUAV toolkits)
    centre_minus_one: bool  # centre x + (w - 1)/2 (LasHeR) instead of x + w/2
    precision_thresholds: np.ndarray
    precision_at: int  # index of the reported threshold
    precision_strict: bool  # err < t (GTOT) instead of err <= t
    success_thresholds: np.ndarray
    success_trapezoid: bool  # area by the trapezoid rule (GTOT) instead of the curve mean
    pooled: bool  # frame counts pooled over sequences (GTOT) instead of per-sequence means
    lasher_rules: bool = False  # hold invalid boxes, frame 1 = GT, GT <= 0 -> -1, eps, drop zero curves
    result_stride: int = 1  # evaluate every n-th result line (VTUAV: 10)
    normalized_thresholds: np.ndarray | None = None


PROTOCOLS: dict[str, Protocol] = {
    "gtot": Protocol(
        "gtot", ("MPR", "MSR"), True, True, False, colon(0, 0.5, 25), 10, True, colon(0, 0.02, 1), True, True,
    ),
    "rgbt234": Protocol(
        "rgbt234", ("MPR", "MSR", "PR", "SR"), True, True, False, colon(0, 1, 50), 20, False, colon(0, 0.05, 1), False, False,
    ),
    "vtuav": Protocol(
        "vtuav", ("MPR", "MSR", "PR", "SR"), True, True, False, colon(0, 1, 50), 20, False, colon(0, 0.05, 1), False, False,
        result_stride=10,
    ),
    "lasher": Protocol(
        "lasher", ("PR", "NPR", "SR"), False, False, True, colon(0, 1, 50), 20, False, colon(0, 0.05, 1), False, False,
        lasher_rules=True, normalized_thresholds=colon(0, 1, 50) / 100,
    ),
}


def get_protocol(name: str) -> Protocol:
    from rgbtfuse.errors import ConfigError

    if name not in PROTOCOLS:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def xywh_to_corners(gt: np.ndarray) -> np.ndarray:
    """``x, y, x + w, y + h``, as the RGBT234/VTUAV toolkits' ``load_groundtruth_txt_info.m`` reads ``x,y,w,h`` files."""
    return np.column_stack([gt[:, 0], gt[:, 1], gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3]])


def corner_gt_errors(boxes: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre error and overlap of ``x,y,w,h`` results against ``x1,y1,x2,y2`` ground truth (``calcPlotErr.m``)."""
    centre = np.column_stack([boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2])
    centre_gt = np.column_stack([(corners[:, 0] + corners[:, 2]) / 2, (corners[:, 1] + corners[:, 3]) / 2])
    rect = np.column_stack([corners[:, 0], corners[:, 1], corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1]])
    err = np.sqrt(((centre - centre_gt) ** 2).sum(axis=1))
    return err, rect_overlap(boxes, rect)


def hold_invalid(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """LasHeR: from frame 2 on, a NaN or non-positive-size box takes the previous (already held) box,
    unless the ground truth of that frame has a NaN."""
    n = len(boxes)
    bad = (np.isnan(boxes).any(axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)) & ~np.isnan(gt).any(axis=1)
    bad[:1] = False
    source = np.maximum.accumulate(np.where(bad, 0, np.arange(n)))
    return boxes[source]


def lasher_errors(boxes: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre error in pixels, centre error in ground-truth widths/heights, and overlap,
    ``calc_seq_err_robust.m``."""
    rect = hold_invalid(boxes, gt)
    rect[0] = gt[0]
    centre_gt = gt[:, :2] + (gt[:, 2:] - 1) / 2
    centre = rect[:, :2] + (rect[:, 2:] - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):  # w = 0 ground truth: those frames get -1 below
        err = np.sqrt(((centre - centre_gt) ** 2).sum(axis=1))
        normalized = np.sqrt(((centre / gt[:, 2:] - centre_gt / gt[:, 2:]) ** 2).sum(axis=1))
    valid = (gt > 0).all(axis=1)
    overlap = np.full(len(gt), -1.0)
    overlap[valid] = rect_overlap(rect[valid], gt[valid])
    err[~valid] = -1.0
    normalized[~valid] = -1.0
    return err, normalized, overlap
