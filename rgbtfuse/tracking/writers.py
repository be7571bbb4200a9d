"""Result files of a tracked sequence, and :func:`run_sequence` (track + write) for the commands.

``boxes.txt`` (``x,y,w,h`` per frame, 0-based; NaN where not tracked), ``frames.csv`` (box,
score, valid flag, tracker ms per tracked frame), ``summary.json`` (mean IoU on the annotated
frames after the start, speed, and whether the run is complete — a stopped run is written too,
marked ``"complete": false`` with its error).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.boxes import box_iou
from rgbtfuse.data import Sequence
from rgbtfuse.tracking.frames import FrameReader
from rgbtfuse.tracking.loop import Tracker, TrackResult, annotated, track_sequence
from rgbtfuse.tracking.video import draw_frame, open_video


def write_boxes(path: str | Path, boxes: np.ndarray) -> Path:
    """``x,y,w,h`` per line with 4 decimals, written atomically."""
    lines = "".join(",".join(f"{v:.4f}" for v in b) + "\n" for b in boxes)
    return atomic_write(path, lambda tmp: tmp.write_text(lines))


def summarize_result(seq: Sequence, res: TrackResult, gt: np.ndarray) -> dict[str, Any]:
    scored = annotated(gt, res.start) & np.isfinite(res.boxes).all(axis=1)
    iou = box_iou(res.boxes[scored], gt[scored])
    tracked = res.ms[res.start + 1 :]
    tracked = tracked[np.isfinite(tracked)]
    return {
        "sequence": str(seq.root),
        "mode": res.mode,
        "start_frame": res.start,
        "frames": int(len(seq) - res.start),
        "frames_done": res.frames_done,
        "complete": res.complete,
        "error": res.error,
        "skipped_frames": res.skipped,
        "mean_iou": float(iou.mean()) if iou.size else None,
        "iou_frames": int(iou.size),
        "ms_per_frame": float(np.mean(tracked)) if tracked.size else float(np.nan_to_num(res.ms[res.start])),
        "invalid_frames": int((~res.valid[res.start : res.start + res.frames_done]).sum()),
    }


def write_results(out: str | Path, seq: Sequence, res: TrackResult, gt: np.ndarray | None = None) -> dict[str, Any]:
    """Write ``boxes.txt``, ``frames.csv`` and ``summary.json`` into ``out``; returns the summary."""
    out = Path(out)
    gt = seq.boxes if gt is None else gt
    write_boxes(out / "boxes.txt", res.boxes)
    done = range(res.start, res.start + res.frames_done)

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["frame", "name", "x", "y", "w", "h", "score", "valid", "ms"])
            for i in done:
                w.writerow([i, seq.rgb_frames[i].name, *(f"{v:.4f}" for v in res.boxes[i]), f"{res.scores[i]:.6f}", int(res.valid[i]), f"{res.ms[i]:.3f}"])

    atomic_write(out / "frames.csv", write_csv)
    summary = summarize_result(seq, res, gt)
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2) + "\n"))
    return summary


def run_sequence(
    tracker: Tracker,
    seq: Sequence,
    out: str | Path,
    video: str | Path | None = None,
    init_box: tuple[float, float, float, float] | None = None,
    align: str = "none",
    on_bad_frame: str = "error",
    progress: bool = True,
) -> tuple[TrackResult, dict[str, Any]]:
    """Track ``seq`` from ``init_box`` on frame 0 (default: the first ground-truth box) and
    write the result files (and an annotated MP4) — also for a run that stopped early."""
    gt = seq.ir_boxes if tracker.mode == "ir" and seq.ir_boxes is not None else seq.boxes
    reader = FrameReader(seq, tracker.mode != "ir" or video is not None, tracker.mode != "rgb" or video is not None, align)
    kwargs: dict[str, Any] = dict(init_box=init_box, start=0 if init_box is not None else None, gt=gt, reader=reader,
                                  on_bad_frame=on_bad_frame, progress=progress)
    Path(out).mkdir(parents=True, exist_ok=True)
    if video is None:
        res = track_sequence(tracker, seq, **kwargs)
    else:
        with open_video(video, seq.fps or 30.0) as sink:
            def draw(i: int, rgb: np.ndarray | None, ir: np.ndarray | None, boxes: dict[str, np.ndarray]) -> None:
                sink.write(draw_frame(rgb, ir, boxes, gt[i], i, bar=False, panel_max=None))

            res = track_sequence(tracker, seq, **kwargs, on_frame=draw)
    return res, write_results(out, seq, res, gt)
