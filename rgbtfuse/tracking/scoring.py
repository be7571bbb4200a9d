"""Track one sequence in several modes side by side and score each on the ground truth.

Every frame is read once and handed to every tracker (:func:`rgbtfuse.tracking.track_modes`).
Scores use the annotated frames after the initialisation frame only, so sparse ground truth
(VTUAV's box every 10th frame) is handled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rgbtfuse.boxes import box_iou
from rgbtfuse.data import Sequence
from rgbtfuse.errors import RgbtfuseError
from rgbtfuse.tracking.frames import FrameReader
from rgbtfuse.tracking.loop import Tracker, TrackResult, annotated, track_modes


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


def track_and_score(
    seq: Sequence,
    trackers: dict[str, Tracker],
    on_frame: Callable[[int, np.ndarray | None, np.ndarray | None, dict[str, np.ndarray]], None] | None = None,
    progress: bool = True,
) -> tuple[dict[str, ModeRun], int]:
    """Run every tracker of ``{mode: tracker}`` over ``seq`` from its first annotated frame
    (:func:`rgbtfuse.tracking.track_modes`) and score every mode on the RGB ground truth of
    the annotated frames after it (sparse ground truth such as VTUAV's is handled)."""
    results = track_modes(trackers, seq, reader=FrameReader(seq), on_frame=on_frame, progress=progress)
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
