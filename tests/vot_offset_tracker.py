"""A TraX test tracker for ``tests/vot/test_vot_sparse.py``: imperfect, deterministic, sometimes lost.

It reports the sequence's ground truth shifted by ``(dx(frame), DY)`` pixels, ``dx`` cycling through
2, 3, 4 every 10 frames (IoU 0.69, 0.64, 0.59 on the generated 24x18 target, so A is neither 0 nor 1
and depends on which frames are scored), keeps its last box on frames without ground truth (as a
real tracker keeps reporting something), and from frame ``--lost-from`` on reports a box far from
the target (IoU 0), which the VOT protocols must count as a failure.

``python tests/vot_offset_tracker.py --lost-from 40`` (the repository on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.trackers.vot.frame_trackers import OracleTracker
from rgbtfuse.trackers.vot.regions import Box
from rgbtfuse.trackers.vot.trax_server import serve

DY = 2
LOST_BOX: Box = (0.0, 0.0, 6.0, 6.0)  # the generated target stays at x, y >= 10


def dx(frame: int) -> int:
    return 2 + (frame // 10) % 3


class OffsetTracker(OracleTracker):
    """Ground truth + (:func:`dx`, DY); :data:`LOST_BOX` from frame ``lost_from`` on."""

    name = "offset"

    def __init__(self, lost_from: int):
        super().__init__()
        self.lost_from = lost_from
        self.last: Box | None = None

    def init(self, frames: dict[str, Path], box: Box) -> None:
        super().init(frames, box)
        self.last = box

    def track(self, frames: dict[str, Path]) -> tuple[Box | None, float]:
        frame = Path(next(iter(frames.values())))
        index, _ = self._sequence(frame)
        if index[frame.name] >= self.lost_from:
            return LOST_BOX, 1.0
        truth, _ = super().track(frames)
        if truth is not None:
            shift = dx(index[frame.name])
            self.last = (truth[0] + shift, truth[1] + DY, truth[2], truth[3])
        return self.last, 1.0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lost-from", type=int, required=True)
    serve(OffsetTracker(parser.parse_args().lost_from))
