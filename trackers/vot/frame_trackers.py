"""Trackers the TraX server can run, all on image *paths* per channel.

* :class:`SiameseFrameTracker` wraps a tracker built from an experiment yaml
  (``rgbtfuse.trackers.builder.build_tracker``);
* :class:`OracleTracker` answers with the sequence's own ground truth and
  :class:`StaticTracker` never moves: reference points that validate the evaluation pipeline
  (an oracle must score A = 1, EAO = 1; a static tracker must score lower).

VOT channel names are ``color`` and ``ir``; frames arrive as file paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from rgbtfuse.errors import AnnotationError, ConfigError
from rgbtfuse.trackers.vot.regions import Box, parse_vot_region

CHANNELS_BY_MODE = {"fused": ("color", "ir"), "decision": ("color", "ir"), "rgb": ("color",), "ir": ("ir",)}


class FrameTracker(Protocol):
    """What the TraX server drives: one target, re-initialisable any number of times."""

    name: str
    channels: tuple[str, ...]

    def init(self, frames: dict[str, Path], box: Box) -> None: ...

    def track(self, frames: dict[str, Path]) -> tuple[Box | None, float]:
        """``(box or None for "no target", confidence)`` for the next frame."""
        ...


class StaticTracker:
    """Reports the initialisation box on every frame, with confidence 1."""

    name = "static"

    def __init__(self, channels: tuple[str, ...] = ("color", "ir")):
        self.channels = channels
        self.box: Box | None = None

    def init(self, frames: dict[str, Path], box: Box) -> None:
        self.box = box

    def track(self, frames: dict[str, Path]) -> tuple[Box | None, float]:
        return self.box, 1.0


class OracleTracker:
    """Reports the ground truth of the frame it is shown (read from the VOT sequence folder).

    The frame index is the position of the image in its channel folder, so forward and
    backward (reversed) runs both work; ``groundtruth.txt`` is the folder's parent's.
    Frames without ground truth get "no target", exactly what VOT expects there.
    """

    name = "oracle"

    def __init__(self, channels: tuple[str, ...] = ("color", "ir")):
        self.channels = channels
        self._cache: dict[Path, tuple[dict[str, int], list[Box | None]]] = {}

    def _sequence(self, frame: Path) -> tuple[dict[str, int], list[Box | None]]:
        folder = frame.parent
        if folder not in self._cache:
            gt = folder.parent / "groundtruth.txt"
            if not gt.is_file():
                raise AnnotationError(gt, None, "the oracle tracker needs the sequence's ground truth")
            boxes = []
            for lineno, line in enumerate(gt.read_text().splitlines(), 1):
                try:
                    boxes.append(parse_vot_region(line.strip()))
                except ValueError as exc:
                    raise AnnotationError(gt, lineno, str(exc)) from None
            index = {p.name: i for i, p in enumerate(sorted(f for f in folder.iterdir() if f.is_file()))}
            self._cache[folder] = (index, boxes)
        return self._cache[folder]

    def _truth(self, frames: dict[str, Path]) -> Box | None:
        frame = Path(next(iter(frames.values())))
        index, boxes = self._sequence(frame)
        i = index.get(frame.name)
        return boxes[i] if i is not None and i < len(boxes) else None

    def init(self, frames: dict[str, Path], box: Box) -> None:
        self._truth(frames)  # fails early when the ground truth cannot be found

    def track(self, frames: dict[str, Path]) -> tuple[Box | None, float]:
        return self._truth(frames), 1.0


class SiameseFrameTracker:
    """A :class:`~rgbtfuse.trackers.tracker.base.SiameseTracker` on VOT frame paths (BGR uint8 per channel)."""

    def __init__(self, tracker, name: str):
        self.tracker = tracker
        self.name = name
        mode = tracker.model.mode
        if mode not in CHANNELS_BY_MODE:
            raise ConfigError(f"tracker mode {mode!r} has no VOT channels; expected one of {sorted(CHANNELS_BY_MODE)}")
        self.channels = CHANNELS_BY_MODE[mode]

    def _images(self, frames: dict[str, Path]) -> tuple[np.ndarray | None, np.ndarray | None]:
        from rgbtfuse.imageio import check_same_size, read_image  # OpenCV only for trackers that look at pixels

        rgb = read_image(frames["color"], "bgr") if "color" in frames else None
        ir = read_image(frames["ir"], "bgr") if "ir" in frames else None
        if rgb is not None and ir is not None:  # the fused tracker crops both at one box
            check_same_size(frames["color"], rgb, frames["ir"], ir, "the RGB and IR frames must be registered")
        return rgb, ir

    def init(self, frames: dict[str, Path], box: Box) -> None:
        self.tracker.init(*self._images(frames), box)

    def track(self, frames: dict[str, Path]) -> tuple[Box | None, float]:
        out = self.tracker.track(*self._images(frames))
        # mode decision reports the followed branch's quality as the confidence
        score = float(out.get("quality", out["best_score"])) if out.get("valid", True) else 0.0
        return tuple(out["bbox"]), score


BUILTIN = {"oracle": OracleTracker, "static": StaticTracker}


def load_experiment_tracker(config: str | Path, weights: str | None = None, fusion_weights: str | None = None,
                            mode: str | None = None, device: str = "auto") -> SiameseFrameTracker:
    """Build the tracker of an experiment yaml once (model loading is the expensive part)."""
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"{path}: experiment yaml not found")
    from rgbtfuse.trackers.builder import build_tracker  # torch and the model zoo only when needed

    tracker = build_tracker(path, weights=weights, fusion_weights=fusion_weights, mode=mode, device=device)
    return SiameseFrameTracker(tracker, name=path.stem)


def load_onnx_tracker(model: str | Path, mode: str | None = None, device: str = "auto") -> SiameseFrameTracker:
    """The tracker of an exported model folder (``rgbtfuse export``), run by onnxruntime."""
    from rgbtfuse.trackers.deploy.runtime import build_onnx_tracker

    path = Path(model)
    return SiameseFrameTracker(build_onnx_tracker(path, mode=mode, device=device), name=path.name)
