"""Tracking losses of the (frozen or trained) Siamese head, for datasets with boxes.

Point-based heads (NanoTrack, SiamBAN): a search-crop point is positive inside the ellipse of
semi-axes ``w/4, h/4`` around the target centre and negative outside the ellipse ``w/2, h/2``;
at most ``pos_num`` positives and ``total_num − pos_num`` negatives are sampled; the class loss is
the mean of the positive and negative cross-entropies, the box loss is the linear IoU loss
``1 − IoU`` of the ``(l, t, r, b)`` distances on positives (NanoTrack's training code).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def point_grid(stride: int, size: int, center: float) -> np.ndarray:
    """``(2, size, size)`` x/y pixel coordinates of the score-map points in the search crop."""
    origin = center - (size // 2) * stride
    coords = origin + stride * np.arange(size, dtype=np.float32)
    xs, ys = np.meshgrid(coords, coords)
    return np.stack([xs, ys]).astype(np.float32)


def _subsample(idx: tuple[np.ndarray, ...], keep: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n = idx[0].shape[0]
    if n <= keep:
        return idx
    pick = rng.permutation(n)[:keep]
    return tuple(i[pick] for i in idx)


def point_targets(
    box: np.ndarray,
    size: int,
    stride: int,
    search_size: int,
    rng: np.random.Generator,
    negative: bool = False,
    pos_num: int = 16,
    total_num: int = 64,
    neg_num: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels for one search crop with target ``box`` = ``(x1, y1, x2, y2)`` in crop pixels.

    Returns ``cls`` ``(size, size)`` int64 (1 positive, 0 negative, −1 ignored) and ``delta``
    ``(4, size, size)`` float32 distances ``(l, t, r, b)`` from each point to the box sides. A
    ``negative`` pair (template and search of different objects) labels points near the box
    centre negative and nothing positive.
    """
    points = point_grid(stride, size, search_size // 2)
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    cls = -np.ones((size, size), np.int64)
    delta = np.stack([points[0] - x1, points[1] - y1, x2 - points[0], y2 - points[1]]).astype(np.float32)
    ellipse = lambda k: np.square(cx - points[0]) / np.square(w / k) + np.square(cy - points[1]) / np.square(h / k)  # noqa: E731
    if negative:
        cls[_subsample(np.where(ellipse(4) < 1), neg_num, rng)] = 0
        return cls, np.zeros_like(delta)
    pos = _subsample(np.where(ellipse(4) < 1), pos_num, rng)
    neg = _subsample(np.where(ellipse(2) > 1), total_num - pos_num, rng)
    cls[pos] = 1
    cls[neg] = 0
    return cls, delta


def linear_iou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean ``1 − IoU`` of ``(N, 4)`` ``(l, t, r, b)`` distance boxes (with NanoTrack's +1 smoothing)."""
    pl, pt, pr, pb = pred.unbind(1)
    tl, tt, tr, tb = target.unbind(1)
    pred_area = (pl + pr) * (pt + pb)
    target_area = (tl + tr) * (tt + tb)
    inter = (torch.min(pl, tl) + torch.min(pr, tr)) * (torch.min(pt, tt) + torch.min(pb, tb))
    union = pred_area + target_area - inter
    return (1 - (inter + 1.0) / (union + 1.0)).mean()


def select_cross_entropy(logp: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean of the positive and the negative NLL over ``(N, 2)`` log-probs; ``labels`` −1 ignored."""
    zero = logp.new_zeros(())
    pos, neg = labels == 1, labels == 0
    loss_pos = F.nll_loss(logp[pos], labels[pos]) if pos.any() else zero
    loss_neg = F.nll_loss(logp[neg], labels[neg]) if neg.any() else zero
    return 0.5 * loss_pos + 0.5 * loss_neg


def point_tracking_loss(
    cls: torch.Tensor,
    loc: torch.Tensor,
    label_cls: torch.Tensor,
    label_loc: torch.Tensor,
    cls_weight: float = 1.0,
    loc_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``cls_weight·CE + loc_weight·IoU`` for head outputs ``cls (B, 2, H, W)``, ``loc (B, 4, H, W)``.

    ``label_cls (B, H, W)`` in {−1, 0, 1}, ``label_loc (B, 4, H, W)``.
    """
    labels = label_cls.reshape(-1)
    cls_loss = select_cross_entropy(F.log_softmax(cls.permute(0, 2, 3, 1).reshape(-1, 2), dim=1), labels)
    pos = labels == 1
    if pos.any():
        pred = loc.permute(0, 2, 3, 1).reshape(-1, 4)[pos]
        target = label_loc.permute(0, 2, 3, 1).reshape(-1, 4)[pos]
        loc_loss = linear_iou_loss(pred, target)
    else:
        loc_loss = cls.new_zeros(())
    total = cls_weight * cls_loss + loc_weight * loc_loss
    return total, {"loss": total.item(), "cls": cls_loss.item(), "loc": loc_loss.item()}


def _iou_corners(boxes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """IoU of ``(..., 4)`` corner boxes with one target box (pysot's ``IoU``, no +1)."""
    x1 = np.maximum(boxes[..., 0], target[0])
    y1 = np.maximum(boxes[..., 1], target[1])
    x2 = np.minimum(boxes[..., 2], target[2])
    y2 = np.minimum(boxes[..., 3], target[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    t_area = (target[2] - target[0]) * (target[3] - target[1])
    return inter / (area + t_area - inter)


def anchor_targets(
    box: np.ndarray,
    anchors_cxcywh: np.ndarray,
    size: int,
    stride: int,
    search_size: int,
    rng: np.random.Generator,
    negative: bool = False,
    thr_high: float = 0.6,
    thr_low: float = 0.3,
    pos_num: int = 16,
    total_num: int = 64,
    neg_num: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pysot's ``AnchorTarget`` for one search crop with target corners ``box`` (crop pixels).

    ``anchors_cxcywh``: ``(A·size·size, 4)`` anchors relative to the crop centre (anchor-major
    order, :func:`rgbtfuse.trackers.grids.anchor_grid`). Returns ``cls (A, S, S)`` in {−1, 0, 1},
    ``delta (4, A, S, S)`` (``(tcx−cx)/w, (tcy−cy)/h, log(tw/w), log(th/h)``) and
    ``delta_weight (A, S, S)`` (``1/#pos`` on positives).
    """
    a = anchors_cxcywh.shape[0] // (size * size)
    anc = anchors_cxcywh.reshape(a, size, size, 4).astype(np.float64)
    cx, cy, w, h = anc[..., 0] + search_size // 2, anc[..., 1] + search_size // 2, anc[..., 2], anc[..., 3]
    cls = -np.ones((a, size, size), np.int64)
    delta = np.zeros((4, a, size, size), np.float32)
    weight = np.zeros((a, size, size), np.float32)
    x1, y1, x2, y2 = (float(v) for v in box)
    tcx, tcy, tw, th = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    if negative:
        c = size // 2
        cls[:, c - 3 : c + 4, c - 3 : c + 4] = 0
        gx = c + int(np.ceil((tcx - search_size // 2) / stride + 0.5))
        gy = c + int(np.ceil((tcy - search_size // 2) / stride + 0.5))
        cls[:, max(0, gy - 3) : min(size, gy + 4), max(0, gx - 3) : min(size, gx + 4)] = 0
        keep = _subsample(np.where(cls == 0), neg_num, rng)
        cls[:] = -1
        cls[keep] = 0
        return cls, delta, weight
    delta[:] = np.stack([(tcx - cx) / w, (tcy - cy) / h, np.log(tw / w), np.log(th / h)])
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    overlap = _iou_corners(corners, np.array([x1, y1, x2, y2]))
    pos = _subsample(np.where(overlap > thr_high), pos_num, rng)
    neg = _subsample(np.where(overlap < thr_low), total_num - pos_num, rng)
    cls[pos] = 1
    weight[pos] = 1.0 / (pos[0].shape[0] + 1e-6)
    cls[neg] = 0
    return cls, delta, weight


def rpn_tracking_loss(
    cls: torch.Tensor,
    loc: torch.Tensor,
    label_cls: torch.Tensor,
    label_loc: torch.Tensor,
    label_weight: torch.Tensor,
    cls_weight: float = 1.0,
    loc_weight: float = 1.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """pysot's SiamRPN++ loss: ``cls_weight·CE + loc_weight·weighted L1``.

    ``cls (B, 2A, S, S)`` (channel ``k·A + a``: class k of anchor a), ``loc (B, 4A, S, S)``,
    ``label_cls (B, A, S, S)``, ``label_loc (B, 4, A, S, S)``, ``label_weight (B, A, S, S)``.
    """
    b, c2, h, w = cls.shape
    a = c2 // 2
    logp = F.log_softmax(cls.view(b, 2, a, h, w).permute(0, 2, 3, 4, 1).reshape(-1, 2), dim=1)
    cls_loss = select_cross_entropy(logp, label_cls.reshape(-1))
    diff = (loc.view(b, 4, a, h, w) - label_loc).abs().sum(dim=1)
    loc_loss = (diff * label_weight).sum() / b
    total = cls_weight * cls_loss + loc_weight * loc_loss
    return total, {"loss": total.item(), "cls": cls_loss.item(), "loc": loc_loss.item()}
