"""Annotated MP4s: RGB | IR side by side with the boxes of each tracker and the ground truth."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.atomic import atomic_path
from rgbtfuse.errors import ConfigError

# BGR colours per mode; ground truth is white; other names get OTHER
COLOURS = {"rgb": (0, 140, 255), "ir": (255, 200, 0), "fused": (60, 220, 60), "decision": (200, 80, 255), "gt": (255, 255, 255)}
OTHER = (0, 220, 220)
#: longest side of a video panel; big frames (VTUAV's 1920×1080) are shrunk to it
PANEL_MAX = 640


def _box(img: np.ndarray, box: np.ndarray | None, colour: tuple[int, int, int], scale: float, thick: int) -> None:
    if box is None or not np.isfinite(box).all():
        return
    x, y, w, h = (float(v) * scale for v in box)
    cv2.rectangle(img, (round(x), round(y)), (round(x + w), round(y + h)), colour, thick, cv2.LINE_AA)


def draw_frame(
    rgb: np.ndarray | None,
    ir: np.ndarray | None,
    boxes: dict[str, np.ndarray],
    gt: np.ndarray | None,
    index: int,
    notes: list[str] | tuple[str, ...] = (),
    bar: bool = True,
    panel_max: int | None = PANEL_MAX,
) -> np.ndarray:
    """``(H', W', 3)`` BGR: the available panels (RGB | IR), shrunk to ``panel_max`` if given, a
    box per tracker (and the ground truth) on each, and on top a bar with the frame number, the
    legend and ``notes`` (e.g. the failures active at this frame) — or, with ``bar=False``, just
    the frame number written into the frame (full-size frames, the size of the input)."""
    panels = []
    for img in (rgb, ir):
        if img is None:
            continue
        scale = 1.0 if panel_max is None else min(1.0, panel_max / max(img.shape[:2]))
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img.copy()
        _box(img, gt, COLOURS["gt"], scale, 1)
        for name, box in boxes.items():
            _box(img, box, COLOURS.get(name, OTHER), scale, 2)
        panels.append(img)
    frame = np.hstack(panels)
    if not bar:
        cv2.putText(frame, str(index), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 255, 255), 2)
        return frame
    top = np.zeros((22, frame.shape[1], 3), np.uint8)
    x = 6
    for label, colour in [(f"#{index}", (255, 255, 255))] + [(m, COLOURS.get(m, OTHER)) for m in boxes] + [("gt", COLOURS["gt"])]:
        cv2.putText(top, label, (x, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
        x += 12 + 9 * len(label)
    if notes:
        cv2.putText(top, ", ".join(notes), (x + 10, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (80, 80, 255), 1, cv2.LINE_AA)
    return np.vstack([top, frame])


class VideoSink:
    """Frames appended to an MP4 that appears at ``path`` only when closed (atomic); the
    writer opens on the first frame, so its size follows the frames."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self._tmp: Path | None = None
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            assert self._tmp is not None, "VideoSink.write outside open_video()"
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, frame.shape[1::-1])
            if not self._writer.isOpened():
                raise ConfigError(f"{self.path}: OpenCV cannot write an mp4v video here")
        self._writer.write(frame)
        self.frames += 1

    def _release(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


@contextlib.contextmanager
def open_video(path: str | Path, fps: float) -> Iterator[VideoSink]:
    """``with open_video(p, fps) as sink: sink.write(frame)`` — the temporary file is removed on
    every exit path that raises; frames written before a stopped run are kept."""
    sink = VideoSink(Path(path), fps)
    with atomic_path(path) as tmp:
        sink._tmp = tmp
        try:
            yield sink
        finally:
            sink._release()
    if sink.frames == 0:  # nothing tracked: no empty video
        sink.path.unlink(missing_ok=True)
