"""Track one sequence in the ``rgb``, ``ir`` and ``fused`` modes side by side and score them.

Every frame is read once and handed to the three trackers (the library's tracking loop); the
annotated video is written on the fly. Scores use the annotated frames after the
initialisation frame only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rgbtfuse.data import Sequence
from rgbtfuse.data.annotations import box_iou
from rgbtfuse.errors import RgbtfuseError
from rgbtfuse.tracking import FrameReader, TrackResult, annotated
from rgbtfuse.tracking import track_modes as track_all
from rgbtfuse.tracking.loop import Tracker


@dataclass
class ModeRun:
    """One mode's run on the demo sequence with its per-frame IoU."""

    result: TrackResult
    iou: np.ndarray  # (N,) IoU against the RGB ground truth; NaN where not scored

    @property
    def mode(self) -> str:
        return self.result.mode

    @property
    def boxes(self) -> np.ndarray:
        return self.result.boxes

    @property
    def scores(self) -> np.ndarray:
        return self.result.scores

    @property
    def seconds(self) -> float:
        return self.result.seconds


def track_modes(
    seq: Sequence,
    trackers: dict[str, Tracker],
    on_frame: Callable[[int, np.ndarray | None, np.ndarray | None, dict[str, np.ndarray]], None] | None = None,
    progress: bool = True,
) -> tuple[dict[str, ModeRun], int]:
    """Run every tracker of ``{mode: tracker}`` over ``seq`` from its first annotated frame
    (:func:`rgbtfuse.tracking.track_modes`) and score every mode on the RGB ground truth of
    the annotated frames after it (sparse ground truth such as VTUAV's is handled)."""
    results = track_all(trackers, seq, reader=FrameReader(seq), on_frame=on_frame, progress=progress)
    first = next(iter(results.values()))
    if first.error is not None:
        raise RgbtfuseError(f"{seq.root}: tracking stopped at frame {first.start + first.frames_done}: {first.error}")
    scored = annotated(seq.boxes, first.start)
    runs = {}
    for mode, res in results.items():
        iou = np.full(len(seq), np.nan)
        iou[scored] = box_iou(res.boxes[scored], seq.boxes[scored])
        runs[mode] = ModeRun(res, iou)
    return runs, first.start


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
