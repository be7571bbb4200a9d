"""Track one sequence in the ``rgb``, ``ir`` and ``fused`` modes side by side and score them.

Every frame is read once and handed to the three trackers; the annotated video is written on
the fly. Scores use the annotated frames after the initialisation frame only (sparse ground
truth such as VTUAV's every-10th-frame boxes is handled).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rgbtfuse.data import Sequence
from rgbtfuse.errors import ConfigError, SizeMismatchError
from rgbtfuse.imageio import read_image
from trackers.tracker.base import SiameseTracker

MODES = ("rgb", "ir", "fused")


@dataclass
class ModeRun:
    """Result of one mode on one sequence."""

    mode: str
    boxes: np.ndarray  # (N, 4) x, y, w, h; NaN before the start frame
    scores: np.ndarray  # (N,) best score per frame
    seconds: float = 0.0  # tracker time (init + track), excluding frame reading and drawing
    iou: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) NaN where not scored


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4)`` x,y,w,h boxes, row by row (0 for empty unions)."""
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def scored_frames(seq: Sequence, start: int) -> np.ndarray:
    """``(N,)`` bool: annotated frames after ``start``."""
    gt = seq.boxes
    ok = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    return ok & (np.arange(len(seq)) > start)


def read_pair(seq: Sequence, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``i``: BGR uint8 and IR (gray or 3-channel) uint8 of the same size."""
    rgb = read_image(seq.rgb_frames[i], "bgr")
    ir = read_image(seq.ir_frames[i], "unchanged")
    if rgb.shape[:2] != ir.shape[:2]:
        raise SizeMismatchError(seq.rgb_frames[i], rgb.shape, seq.ir_frames[i], ir.shape, "the demo needs registered RGB/IR frames")
    return rgb, ir


def track_modes(
    seq: Sequence,
    trackers: dict[str, SiameseTracker],
    on_frame=None,
    progress: bool = True,
) -> tuple[dict[str, ModeRun], int]:
    """Run every tracker of ``{mode: tracker}`` over ``seq`` from its first annotated frame.

    ``on_frame(i, rgb, ir, {mode: box})`` is called after each frame (video writing). Returns
    the runs (with IoU filled in) and the start frame.
    """
    valid = np.isfinite(seq.boxes).all(axis=1) & (seq.boxes[:, 2] > 0) & (seq.boxes[:, 3] > 0)
    if not valid.any():
        raise ConfigError(f"{seq.root}: no ground-truth box to initialise the trackers from")
    start = int(np.flatnonzero(valid)[0])
    init_box = tuple(float(v) for v in seq.boxes[start])
    n = len(seq)
    runs = {m: ModeRun(m, np.full((n, 4), np.nan), np.full(n, np.nan)) for m in trackers}
    for i in tqdm(range(start, n), desc=f"{seq.name} [{', '.join(trackers)}]", unit="frame", disable=not progress):
        rgb, ir = read_pair(seq, i)
        for mode, tracker in trackers.items():
            t0 = time.perf_counter()
            if i == start:
                tracker.init(rgb, ir, init_box)
                box, score = init_box, 1.0
            else:
                out = tracker.track(rgb, ir)
                box, score = out["bbox"], out["best_score"]
            runs[mode].seconds += time.perf_counter() - t0
            runs[mode].boxes[i], runs[mode].scores[i] = box, score
        if on_frame is not None:
            on_frame(i, rgb, ir, {m: r.boxes[i] for m, r in runs.items()})
    scored = scored_frames(seq, start)
    for run in runs.values():
        run.iou = np.full(n, np.nan)
        run.iou[scored] = box_iou(run.boxes[scored], seq.boxes[scored])
    return runs, start


def failure_intervals(seq: Sequence) -> dict[str, list[tuple[int, int]]]:
    """``{tag: [(start, end), ...]}`` (end exclusive) from the sequence's per-frame tags of the
    synthetic failure kinds (generated scenes; real VOT sequences may carry other tags)."""
    from rgbtfuse.data.synthetic import FAILURES

    out: dict[str, list[tuple[int, int]]] = {}
    for name, values in seq.attributes.items():
        if name not in FAILURES:
            continue
        flags = np.asarray(values).astype(bool)
        edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
        out[name] = list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
    return out


def default_video_path(out: Path) -> Path:
    return out / "demo.mp4"


def open_video(path: Path, frame: np.ndarray, fps: float) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
    if not writer.isOpened():
        raise ConfigError(f"{path}: OpenCV cannot write an mp4v video here")
    return writer
