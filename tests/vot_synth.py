"""Synthetic RGB-T sequences for the VOT tests: a textured target moving over a textured background."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.data.sequence import Sequence


def make_sequence(root: Path, name: str, frames: int = 60, seed: int = 0, size: tuple[int, int] = (160, 120)) -> Sequence:
    """Write ``root/name/{rgb,ir}/NNNN.png`` and return the in-memory :class:`Sequence` (dense boxes)."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (7, 7), 0)
    target = rng.integers(0, 255, (18, 24, 3), dtype=np.uint8)
    target[::4] = 255
    th, tw = target.shape[:2]
    rgb_dir, ir_dir = root / name / "rgb", root / name / "ir"
    rgb_dir.mkdir(parents=True)
    ir_dir.mkdir(parents=True)
    boxes = np.zeros((frames, 4))
    rgb_paths, ir_paths = [], []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        x = int(10 + (width - tw - 20) * t)
        y = int(10 + (height - th - 20) * (0.5 + 0.4 * np.sin(2 * np.pi * t + seed)))
        rgb = background.copy()
        rgb[y:y + th, x:x + tw] = target
        ir = cv2.cvtColor(255 - rgb, cv2.COLOR_BGR2GRAY)
        ir[y:y + th, x:x + tw] = 230
        rgb_paths.append(rgb_dir / f"{i:04d}.png")
        ir_paths.append(ir_dir / f"{i:04d}.png")
        cv2.imwrite(str(rgb_paths[-1]), rgb)
        cv2.imwrite(str(ir_paths[-1]), ir)
        boxes[i] = (x, y, tw, th)
    return Sequence(name, root / name, rgb_paths, ir_paths, boxes, np.ones(frames, bool), "synthetic", fps=30)
