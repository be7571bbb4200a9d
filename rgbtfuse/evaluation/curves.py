"""Precision/success curves and scores: per sequence, and over a dataset as each toolkit averages.

``precision``, ``success`` and ``normalized_precision`` score one sequence (``boxes`` and ground
truth ``(N, 4)`` ``x, y, w, h``); :func:`frame_values` gives the per-frame errors/overlaps a metric
thresholds, :func:`dataset_curves` the dataset-level curve and score from many sequences at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rgbtfuse.errors import ConfigError
from rgbtfuse.evaluation.matlab import EPS
from rgbtfuse.evaluation.protocols import Protocol, corner_gt_errors, get_protocol, lasher_errors, xywh_to_corners

PRECISION_METRICS = ("MPR", "PR", "NPR")
SUCCESS_METRICS = ("MSR", "SR")


@dataclass(frozen=True)
class Curve:
    """A precision or success curve: ``values[k]`` at ``thresholds[k]``, and the reported ``score``."""

    metric: str
    thresholds: np.ndarray
    values: np.ndarray
    score: float


def thresholds(protocol: Protocol, metric: str) -> np.ndarray:
    """The threshold grid of ``metric`` under ``protocol``."""
    if metric == "NPR":
        return protocol.normalized_thresholds
    return protocol.precision_thresholds if metric in PRECISION_METRICS else protocol.success_thresholds


def frame_values(protocol: Protocol, metric: str, boxes: np.ndarray, gt: np.ndarray, gt_ir: np.ndarray | None = None) -> np.ndarray:
    """Per-frame centre error (precision metrics) or overlap (success metrics) as the toolkit computes it.

    ``gt``/``gt_ir`` are in the protocol's form: corners ``x1, y1, x2, y2`` when
    ``protocol.gt_corners`` (GTOT/RGBT234/VTUAV), else ``x, y, w, h``. ``boxes`` are ``x, y, w, h``.
    """
    if metric not in protocol.metrics:
        raise ConfigError(f"{protocol.name} reports {', '.join(protocol.metrics)}, not {metric}")
    return all_frame_values(protocol, boxes, gt, gt_ir, (metric,))[metric]


def all_frame_values(protocol: Protocol, boxes: np.ndarray, gt: np.ndarray, gt_ir: np.ndarray | None = None,
                     metrics: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """:func:`frame_values` of every metric in ``metrics`` (default: the protocol's), each error
    and overlap computed once."""
    metrics = protocol.metrics if metrics is None else metrics
    if protocol.lasher_rules:
        err, normalized, overlap = lasher_errors(boxes, gt)
        return {m: normalized if m == "NPR" else err if m in PRECISION_METRICS else overlap for m in metrics}
    err, overlap = corner_gt_errors(boxes, gt)
    both = [m for m in metrics if m in ("MPR", "MSR")]
    out = {m: err if m == "PR" else overlap for m in metrics if m not in both}
    if both:
        if gt_ir is None:
            raise ConfigError(f"{', '.join(both)} needs the infrared ground truth too")
        err_ir, overlap_ir = corner_gt_errors(boxes, gt_ir)
        # MATLAB's min/max skip NaN: a frame is scored by whichever ground truth gives a number
        out.update({m: np.fmin(err, err_ir) if m == "MPR" else np.fmax(overlap, overlap_ir) for m in both})
    return out


def counts(protocol: Protocol, metric: str, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``(S, T)`` frames per sequence passing each threshold; sequence ``s`` is ``values[starts[s]:starts[s+1]]``.

    Thresholds are ascending, so a frame passes a contiguous run of them: precision
    ``v <= t`` (GTOT ``v < t``) from the first such ``t`` on, success ``v > t`` up to the last;
    one histogram of those boundaries per sequence, accumulated, gives the counts (NaN passes none).
    """
    t = thresholds(protocol, metric)
    n_t = len(t)
    success = metric in SUCCESS_METRICS
    side = "right" if (protocol.precision_strict and not success) else "left"
    edge = np.searchsorted(t, values, side=side)  # precision: first passed index; success: number passed
    if success:
        edge[np.isnan(values)] = 0
    seq = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
    hist = np.bincount(seq * (n_t + 1) + edge, minlength=len(starts) * (n_t + 1)).reshape(len(starts), n_t + 1)
    below = np.cumsum(hist, axis=1)[:, :n_t]  # frames whose edge is <= k
    return below if not success else hist.sum(axis=1, keepdims=True) - below


def sequence_fractions(protocol: Protocol, hits: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Per-sequence curves: hits over frames (LasHeR divides by ``frames + eps``)."""
    denominator = frames + EPS if protocol.lasher_rules else frames
    return hits / denominator[:, None].astype(np.float64)


def area(protocol: Protocol, metric: str, curve: np.ndarray) -> np.ndarray:
    """Success score of curve(s) along the last axis: trapezoid area (GTOT) or the mean."""
    if protocol.success_trapezoid:
        x = thresholds(protocol, metric)
        return (np.diff(x) * (curve[..., 1:] + curve[..., :-1]) / 2).sum(axis=-1)
    return curve.mean(axis=-1)


def score_of(protocol: Protocol, metric: str, curve: np.ndarray) -> np.ndarray:
    """The reported number of curve(s): precision at the reported threshold, or the success area."""
    if metric in PRECISION_METRICS:
        return curve[..., protocol.precision_at]
    return area(protocol, metric, curve)


def dataset_curve(protocol: Protocol, metric: str, hits: np.ndarray, frames: np.ndarray) -> Curve:
    """Dataset curve and score from per-sequence hit counts ``(S, T)`` and frame counts ``(S,)``."""
    if protocol.pooled:
        curve = hits.sum(axis=0) / frames.sum()
    else:
        fractions = sequence_fractions(protocol, hits, frames)
        if protocol.lasher_rules:  # plot_draw_save.m: aa = aa(sum(aa, 2) > eps, :)
            fractions = fractions[fractions.sum(axis=1) > EPS]
        curve = fractions.mean(axis=0) if len(fractions) else np.zeros(hits.shape[1])
    return Curve(metric, thresholds(protocol, metric), curve, float(score_of(protocol, metric, curve)))


def _sequence_curve(protocol: str | Protocol, metric: str, boxes, gt, gt_ir=None) -> Curve:
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if len(boxes) != len(gt):
        raise ConfigError(f"{len(boxes)} result boxes for {len(gt)} ground-truth boxes")
    if gt_ir is not None:
        gt_ir = np.asarray(gt_ir, dtype=np.float64).reshape(-1, 4)
    if proto.gt_corners:
        gt = xywh_to_corners(gt)
        gt_ir = None if gt_ir is None else xywh_to_corners(gt_ir)
    values = frame_values(proto, metric, boxes, gt, gt_ir)
    hits = counts(proto, metric, values, np.array([0]))
    curve = sequence_fractions(proto, hits, np.array([len(values)]))[0]
    return Curve(metric, thresholds(proto, metric), curve, float(score_of(proto, metric, curve)))


def precision(boxes, gt, gt_ir=None, *, protocol: str | Protocol = "lasher") -> Curve:
    """Precision curve of one sequence (``MPR`` when ``gt_ir`` is given: best of both ground truths)."""
    return _sequence_curve(protocol, "MPR" if gt_ir is not None else "PR", boxes, gt, gt_ir)


def success(boxes, gt, gt_ir=None, *, protocol: str | Protocol = "lasher") -> Curve:
    """Success curve of one sequence (``MSR`` when ``gt_ir`` is given); ``score`` is its area."""
    return _sequence_curve(protocol, "MSR" if gt_ir is not None else "SR", boxes, gt, gt_ir)


def normalized_precision(boxes, gt, *, protocol: str | Protocol = "lasher") -> Curve:
    """Normalised precision curve of one sequence (LasHeR: centres divided by the ground-truth size)."""
    return _sequence_curve(protocol, "NPR", boxes, gt)
