"""Per-frame evidence of the three decision branches, as the quality network sees it.

The same :class:`EvidenceBuilder` runs inside :class:`~rgbtfuse.trackers.tracker.decision.DecisionTracker`
(online, QPN quality) and in ``rgbtfuse train-quality`` (collecting training data from the
frozen tracker), so the network is trained on exactly what it gets at tracking time.
"""

from __future__ import annotations

import numpy as np

from rgbtfuse.boxes import box_iou
from rgbtfuse.trackers.models.quality import N_SCALARS
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.base import Proposal

#: the scalar cues per branch, in their order in ``scalars[..., k]``
SCALAR_NAMES = ("peak", "max", "apce", "agreement", "shift", "log_scale", "valid")
#: bumped whenever the evidence changes meaning (a QPN trained on another version is refused)
EVIDENCE_VERSION = 1
assert len(SCALAR_NAMES) == N_SCALARS


def score_map(scores: np.ndarray, size: int) -> np.ndarray:
    """``(S, S)`` map from a branch's ``(N,)`` scores (``N = A·S²``; the max over anchors)."""
    return scores.reshape(-1, size, size).max(axis=0)


def apce(scores: np.ndarray) -> float:
    """Average peak-to-correlation energy ``(max - min)² / mean((s - min)²)`` of a score map."""
    lo = float(scores.min())
    energy = float(np.mean((scores - lo) ** 2))
    return (float(scores.max()) - lo) ** 2 / energy if energy > 0 else 0.0


class EvidenceBuilder:
    """``frame(proposals, center, size) -> (maps (3, 2, S, S), scalars (3, K))`` per frame.

    ``center``/``size`` are the tracker state *before* the frame (where every branch searched).
    Keeps the previous frame's maps; :meth:`reset` at ``init``.
    """

    def __init__(self, size: int):
        self.size = size
        self.prev: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        self.prev = {}

    def frame(self, proposals: dict[str, Proposal | None], center: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.size
        maps = np.zeros((len(BRANCHES), 2, s, s), np.float32)
        scalars = np.zeros((len(BRANCHES), N_SCALARS), np.float32)
        boxes = {b: np.array([p.bbox()]) for b, p in proposals.items() if p is not None}
        scale = float(np.sqrt(max(size[0] * size[1], 1.0)))
        for i, b in enumerate(BRANCHES):
            p = proposals.get(b)
            if p is None:
                self.prev.pop(b, None)
                continue
            cur = score_map(p.scores, s)
            peak = np.unravel_index(int(np.argmax(cur)), cur.shape)
            # AFAT's shift: the peak to index (0, 0); the previous map moves with it, so a
            # peak that jumped between frames shows up away from the origin
            shift = (-int(peak[0]), -int(peak[1]))
            maps[i, 0] = np.roll(cur, shift, axis=(0, 1))
            maps[i, 1] = np.roll(self.prev.get(b, cur), shift, axis=(0, 1))
            self.prev[b] = cur
            others = [float(box_iou(boxes[b], o)[0]) for c, o in boxes.items() if c != b]
            shift_px = float(np.hypot(*(p.center - center))) / scale
            log_scale = float(np.log(max(p.size[0] * p.size[1], 1.0) / max(size[0] * size[1], 1.0)))
            scalars[i] = (
                p.score,
                float(cur.max()),
                apce(cur) / cur.size,
                float(np.mean(others)) if others else 1.0,
                min(shift_px, 5.0),  # clipped: a lost branch's jump size carries no more information
                float(np.clip(log_scale, -2.0, 2.0)),
                1.0,
            )
        return maps, scalars
