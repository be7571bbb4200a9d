"""Tracking one target through a sequence: the one loop every runner uses.

``rgbtfuse track``, the demo, the benchmark runner and the VOT tools all call
:func:`track_sequence` / :func:`track_modes`; :func:`run_sequence` adds the output files.
A tracker is anything with ``mode``, ``init(rgb, ir, box)`` and ``track(rgb, ir) -> dict``
(``'bbox'``, ``'best_score'``, ``'valid'``; further keys are kept per frame in ``extras``).
"""

from rgbtfuse.tracking.frames import FrameReader
from rgbtfuse.tracking.loop import TrackResult, annotated, initial_box, track_modes, track_sequence
from rgbtfuse.tracking.video import COLOURS, VideoSink, draw_frame, open_video
from rgbtfuse.tracking.writers import run_sequence, summarize_result, write_boxes, write_results

__all__ = [
    "COLOURS",
    "FrameReader",
    "TrackResult",
    "VideoSink",
    "annotated",
    "draw_frame",
    "initial_box",
    "open_video",
    "run_sequence",
    "summarize_result",
    "track_modes",
    "track_sequence",
    "write_boxes",
    "write_results",
]
