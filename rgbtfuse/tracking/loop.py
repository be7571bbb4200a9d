"""The tracking loop: initialise on one frame, track every later frame, keep what happened.

A failure on the way (a corrupt frame, bad tracker settings, Ctrl-C) does not lose the frames
already tracked: the loop stops, and the :class:`TrackResult` says where and why
(``complete=False``, ``error``); with ``on_bad_frame="skip"`` unreadable frames are flagged and
passed over instead (the tracker keeps its state, the previous box is repeated).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from rgbtfuse.boxes import box_validity
from rgbtfuse.data import Sequence
from rgbtfuse.errors import ConfigError, ImageReadError, MissingFrameError, RgbtfuseError, SizeMismatchError
from rgbtfuse.tracking.frames import FrameReader

BAD_FRAME = ("error", "skip")
INTERRUPTED = "interrupted (Ctrl-C)"  # TrackResult.error of a run stopped by the user
# what a frame reader raises for one bad frame (skippable), as opposed to a broken setup
FRAME_ERRORS = (ImageReadError, MissingFrameError, SizeMismatchError)


class Tracker(Protocol):
    mode: str

    def init(self, rgb: np.ndarray | None, ir: np.ndarray | None, box: tuple[float, float, float, float]) -> None: ...

    def track(self, rgb: np.ndarray | None, ir: np.ndarray | None) -> dict[str, Any]: ...


@dataclass
class TrackResult:
    """One tracker's run over one sequence; arrays have one row per frame of the sequence."""

    mode: str
    boxes: np.ndarray  # (N, 4) x, y, w, h; NaN where not tracked (before start, after a stop)
    scores: np.ndarray  # (N,) best score; 1 on the init frame
    valid: np.ndarray  # (N,) bool: the tracker's own validity flag (False on skipped frames)
    ms: np.ndarray  # (N,) tracker milliseconds per frame (init + track, no reading/drawing)
    start: int  # init frame
    frames_done: int = 0  # frames handled from ``start`` on (tracked or skipped)
    error: str | None = None  # why the run stopped early
    skipped: list[int] = field(default_factory=list)  # unreadable frames passed over
    extras: dict[str, list[Any]] = field(default_factory=dict)  # further per-frame outputs (frame-aligned, None where absent)

    @property
    def complete(self) -> bool:
        return self.error is None and self.start + self.frames_done == len(self.boxes)

    @property
    def seconds(self) -> float:
        return float(np.nansum(self.ms)) / 1000


def annotated(gt: np.ndarray, start: int) -> np.ndarray:
    """``(N,)`` bool: frames after ``start`` with a valid ground-truth box — the frames a run is scored on."""
    return box_validity(gt) & (np.arange(len(gt)) > start)


def initial_box(gt: np.ndarray, where: str) -> tuple[int, tuple[float, float, float, float]]:
    """First annotated frame of ``gt`` and its box; ``where`` names the sequence in the error."""
    valid = box_validity(gt)
    if not valid.any():
        raise ConfigError(f"{where}: no ground-truth box to initialise from; pass --init x,y,w,h")
    start = int(np.flatnonzero(valid)[0])
    return start, tuple(float(v) for v in gt[start])  # type: ignore[return-value]


def track_modes(
    trackers: dict[str, Tracker],
    seq: Sequence,
    init_box: tuple[float, float, float, float] | None = None,
    start: int | None = None,
    gt: np.ndarray | None = None,
    reader: FrameReader | None = None,
    on_bad_frame: str = "error",
    on_frame: Callable[[int, np.ndarray | None, np.ndarray | None, dict[str, np.ndarray]], None] | None = None,
    progress: bool = True,
) -> dict[str, TrackResult]:
    """Run every tracker of ``{name: tracker}`` over ``seq``, reading each frame once.

    Initialised on ``init_box`` at ``start`` (default 0), or on the first box of ``gt`` (default
    ``seq.boxes``). ``on_frame(i, rgb, ir, {name: box})`` is called after each tracked frame
    (video writing). Errors and Ctrl-C stop the loop and are recorded in every result.
    """
    if on_bad_frame not in BAD_FRAME:
        raise ConfigError(f"on_bad_frame {on_bad_frame!r}: expected one of {', '.join(BAD_FRAME)}")
    if init_box is None:
        start, init_box = initial_box(seq.boxes if gt is None else gt, str(seq.root))
    start = 0 if start is None else start
    if not 0 <= start < len(seq):
        raise ConfigError(f"{seq.root}: start frame {start} outside the sequence's {len(seq)} frames")
    read = reader or FrameReader(seq)
    n = len(seq)
    runs = {
        name: TrackResult(getattr(t, "mode", name), np.full((n, 4), np.nan), np.full(n, np.nan), np.zeros(n, bool), np.full(n, np.nan), start)
        for name, t in trackers.items()
    }
    error: str | None = None
    skipped: list[int] = []
    try:
        for i in tqdm(range(start, n), desc=f"{seq.name} [{', '.join(trackers)}]", unit="frame", disable=not progress):
            try:
                rgb, ir = read(i)
            except FRAME_ERRORS:
                if on_bad_frame == "error" or i == start:
                    raise
                skipped.append(i)
                for run in runs.values():
                    run.boxes[i] = run.boxes[i - 1]
                    run.frames_done += 1
                continue
            for name, tracker in trackers.items():
                run = runs[name]
                t0 = time.perf_counter()
                if i == start:
                    tracker.init(rgb, ir, init_box)
                    out: dict[str, Any] = {"bbox": list(init_box), "best_score": 1.0, "valid": True}
                else:
                    out = tracker.track(rgb, ir)
                run.ms[i] = (time.perf_counter() - t0) * 1000
                run.boxes[i], run.scores[i], run.valid[i] = out["bbox"], out["best_score"], out["valid"]
                for key, value in out.items():
                    if key not in ("bbox", "best_score", "valid"):
                        run.extras.setdefault(key, [None] * n)[i] = value
                run.frames_done += 1
            if on_frame is not None:
                on_frame(i, rgb, ir, {name: r.boxes[i] for name, r in runs.items()})
    except RgbtfuseError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        error = INTERRUPTED
    for run in runs.values():
        run.error, run.skipped = error, list(skipped)
    return runs


def track_sequence(tracker: Tracker, seq: Sequence, **kwargs: Any) -> TrackResult:
    """:func:`track_modes` for one tracker; scored (and, without ``init_box``, initialised) on
    the IR ground truth in ``ir`` mode when the sequence has one."""
    if kwargs.get("gt") is None and tracker.mode == "ir" and seq.ir_boxes is not None:
        kwargs["gt"] = seq.ir_boxes
    return track_modes({tracker.mode: tracker}, seq, **kwargs)[tracker.mode]
