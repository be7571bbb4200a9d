"""An independent, frame-by-frame loop implementation of the toolkits' formulas (the tests' reference).

Written from the MATLAB sources (calcPlotErr*.m, calcRectInt.m, corner2rect.m, the GTOT/RGBT234
plot scripts; LasHeR's eval_tracker.m, calc_seq_err_robust.m, plot_draw_save.m), one scalar at a
time, sharing no code with ``rgbtfuse.evaluation``.
"""

from __future__ import annotations

import math

EPS = 2.220446049250313e-16


def grid(a: float, d: float, b: float) -> list[float]:
    """MATLAB's a:d:b for the grids used here: a + k*d in the first half, b - (n-k)*d in the second."""
    n = int(round((b - a) / d))
    out = []
    for k in range(n + 1):
        if 2 * k == n:
            out.append((a + b) / 2)
        elif 2 * k < n:
            out.append(a + k * d)
        else:
            out.append(b - (n - k) * d)
    return out


def overlap(r, g) -> float:
    iw = max(0.0, min(r[0] + r[2] - 1, g[0] + g[2] - 1) - max(r[0], g[0]) + 1)
    ih = max(0.0, min(r[1] + r[3] - 1, g[1] + g[3] - 1) - max(r[1], g[1]) + 1)
    inter = iw * ih
    union = r[2] * r[3] + g[2] * g[3] - inter
    if union == 0:
        return math.nan
    return inter / union


def corner_frame(r, corners):
    """(centre error, overlap) of x,y,w,h result r against x1,y1,x2,y2 ground truth."""
    x1, y1, x2, y2 = corners
    ce = math.hypot(r[0] + r[2] / 2 - (x1 + x2) / 2, r[1] + r[3] / 2 - (y1 + y2) / 2)
    return ce, overlap(r, (x1, y1, x2 - x1, y2 - y1))


def _nanmin(a, b):
    return b if math.isnan(a) else a if math.isnan(b) else min(a, b)


def _nanmax(a, b):
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


def two_gt_sequence(result, gt_v, gt_i, best: bool):
    """Per-frame (error, overlap); ``best``: min error / max overlap over both ground truths."""
    out = []
    for r, v, i in zip(result, gt_v, gt_i):
        ev, ov = corner_frame(r, v)
        if best:
            ei, oi = corner_frame(r, i)
            out.append((_nanmin(ev, ei), _nanmax(ov, oi)))
        else:
            out.append((ev, ov))
    return out


def gtot_scores(results, gts_v, gts_i):
    """MPR (5 px, err < t) and MSR (trapezoid over 0:0.02:1), frames pooled."""
    px, sx = grid(0, 0.5, 25), grid(0, 0.02, 1)
    p_hits, s_hits, total = [0] * len(px), [0] * len(sx), 0
    for res, v, i in zip(results, gts_v, gts_i):
        for e, o in two_gt_sequence(res, v, i, True):
            total += 1
            for k, t in enumerate(px):
                p_hits[k] += e < t
            for k, t in enumerate(sx):
                s_hits[k] += o > t
    curve = [h / total for h in s_hits]
    auc = sum((sx[k + 1] - sx[k]) * (curve[k] + curve[k + 1]) / 2 for k in range(len(sx) - 1))
    return p_hits[10] / total, auc


def rgbt234_scores(results, gts_v, gts_i, best: bool):
    """(M)PR at 20 px (err <= t) and (M)SR (mean over 0:0.05:1), averaged over sequences."""
    px, sx = grid(0, 1, 50), grid(0, 0.05, 1)
    pr, sr = 0.0, 0.0
    for res, v, i in zip(results, gts_v, gts_i):
        frames = two_gt_sequence(res, v, i, best)
        pr += sum(e <= px[20] for e, _ in frames) / len(frames)
        sr += sum(sum(o > t for _, o in frames) / len(frames) for t in sx) / len(sx)
    return pr / len(results), sr / len(results)


def lasher_sequence(result, gt, normalized: bool):
    rect = [list(r) for r in result]
    for k in range(1, len(rect)):
        r = rect[k]
        if (any(math.isnan(v) for v in r) or r[2] <= 0 or r[3] <= 0) and not any(math.isnan(v) for v in gt[k]):
            rect[k] = list(rect[k - 1])
    rect[0] = list(gt[0])
    out = []
    for r, g in zip(rect, gt):
        if not all(v > 0 for v in g):
            out.append((-1.0, -1.0))
            continue
        cx, cy = r[0] + (r[2] - 1) / 2, r[1] + (r[3] - 1) / 2
        gx, gy = g[0] + (g[2] - 1) / 2, g[1] + (g[3] - 1) / 2
        if normalized:
            cx, cy, gx, gy = cx / g[2], cy / g[3], gx / g[2], gy / g[3]
        out.append((math.sqrt((cx - gx) ** 2 + (cy - gy) ** 2), overlap(r, g)))
    return out


def lasher_scores(results, gts):
    """PR (20 px), NPR (0.20), SR (mean over 0:0.05:1); all-zero sequence curves dropped."""
    px, nx, sx = grid(0, 1, 50), [t / 100 for t in grid(0, 1, 50)], grid(0, 0.05, 1)

    def mean_curve(curves):
        kept = [c for c in curves if sum(c) > EPS]
        return [sum(c[k] for c in kept) / len(kept) for k in range(len(kept[0]))]

    pr, npr, sr = [], [], []
    for res, g in zip(results, gts):
        n = len(g) + EPS
        plain, norm = lasher_sequence(res, g, False), lasher_sequence(res, g, True)
        pr.append([sum(e <= t for e, _ in plain) / n for t in px])
        npr.append([sum(e <= t for e, _ in norm) / n for t in nx])
        sr.append([sum(o > t for _, o in plain) / n for t in sx])
    s = mean_curve(sr)
    return mean_curve(pr)[20], mean_curve(npr)[20], sum(s) / len(s)
