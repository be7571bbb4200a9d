"""A tracking sequence as every reader returns it, and the reader registry.

Boxes are ``(x, y, w, h)`` float64, 0-based pixel coordinates; frames without a (valid)
annotation have ``valid[i] == False`` and NaN boxes. A ``static`` sequence holds unrelated still
image pairs (salient-object sets, fusion pair folders) rather than a video. Readers for each dataset layout register
themselves with :func:`register_reader`; :func:`load_sequence` picks one by layout name or by
detection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgbtfuse.errors import DatasetLayoutError, MissingFrameError


@dataclass
class Sequence:
    """Aligned RGB/IR frame paths with ground truth of one sequence."""

    name: str
    root: Path
    rgb_frames: list[Path]
    ir_frames: list[Path]
    boxes: np.ndarray  # (N, 4) x, y, w, h; NaN where there is no annotation
    valid: np.ndarray  # (N,) bool: frame has a box with w > 0 and h > 0
    layout: str
    ir_boxes: np.ndarray | None = None  # separate IR ground truth (GTOT, RGBT234, LasHeR)
    fps: float | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    static: bool = False  # frames are independent still images (VT821/VT1000, pair folders)

    def __len__(self) -> int:
        return len(self.rgb_frames)

    def __post_init__(self) -> None:
        n = len(self.rgb_frames)
        if len(self.ir_frames) != n:
            raise DatasetLayoutError(f"{self.root}: {n} RGB frames but {len(self.ir_frames)} IR frames")
        if self.boxes.shape != (n, 4) or self.valid.shape != (n,):
            raise DatasetLayoutError(
                f"{self.root}: ground truth has {len(self.boxes)} rows for {n} frames"
            )

    def first_valid(self) -> int:
        """Index of the first annotated frame (the initialisation frame)."""
        idx = np.flatnonzero(self.valid)
        if idx.size == 0:
            raise DatasetLayoutError(f"{self.root}: no valid ground-truth box in the sequence")
        return int(idx[0])

    def check_frames(self) -> None:
        """Raise :class:`MissingFrameError` naming the first frame absent in either modality."""
        for rgb, ir in zip(self.rgb_frames, self.ir_frames):
            for p in (rgb, ir):
                if not p.is_file():
                    raise MissingFrameError(f"{p}: frame missing")


Reader = Callable[[Path], Sequence]
Detector = Callable[[Path], bool]
_READERS: dict[str, tuple[Reader, Detector]] = {}


def register_reader(name: str, detect: Detector) -> Callable[[Reader], Reader]:
    """Register ``reader(root) -> Sequence`` for layout ``name``; ``detect(root)`` recognises it."""

    def deco(fn: Reader) -> Reader:
        _READERS[name] = (fn, detect)
        return fn

    return deco


def available_layouts() -> list[str]:
    return sorted(_READERS)


def detect_layout(root: str | Path) -> str:
    """Name of the first registered layout that recognises ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a folder")
    for name, (_, detect) in _READERS.items():
        if detect(root):
            return name
    raise DatasetLayoutError(
        f"{root}: unknown sequence layout; expected one of: "
        "VOT-RGBT (color/ ir/ groundtruth.txt), RGBT234/LasHeR (visible/ infrared/ visible.txt or init.txt), "
        "GTOT (v/ i/ groundTruth_v.txt), VTUAV (rgb/ ir/ rgb.txt), VT821/VT1000 (RGB/ T/ GT/), "
        "aligned pairs (ir/ vi/)"
    )


def load_sequence(root: str | Path, layout: str | None = None) -> Sequence:
    """Read the sequence folder ``root`` with the reader for ``layout`` (detected if None)."""
    root = Path(root)
    name = layout or detect_layout(root)
    if name not in _READERS:
        raise DatasetLayoutError(f"unknown layout {name!r}; available: {', '.join(available_layouts())}")
    return _READERS[name][0](root)
