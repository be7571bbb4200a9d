"""Short RGB-T sequences made from aligned still pairs, for validation (``val.stills``).

Each pair's target is its salient pseudo-box (:func:`rgbtfuse.data.lmdb_cache.salient_box`, or the
random :func:`~rgbtfuse.data.lmdb_cache.pseudo_box`); a virtual camera then pans and zooms over the
still (a window of 70 % of the image side following a smooth seeded path around the target, zoom
0.85-1.2) with fresh sensor noise every frame, so the sequence has real-image statistics and an
exact box in every frame. Sequence ``k`` of the list gets failure ``FAILURES[k % 5]`` (none, RGB
night, IR crossover, RGB occlusion, IR washout; :mod:`rgbtfuse.data.degrade`, strength 1) from a
third of its frames on. Everything depends only on ``seed`` and the file names.

.. code-block:: yaml

    val:
      stills: {root: ../shared/data/fusion/flir40, pairs: [0, 19], frames: 40, seed: 0, pseudo: salient}

``pairs: [first, last]`` index the pairs sorted by file name (numerically when the names are
numbers). Never point this at the test sequence's frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rgbtfuse.data.degrade import DEGRADATIONS
from rgbtfuse.data.vot_writer import write_vot_metadata
from rgbtfuse.errors import ConfigError
from rgbtfuse.imageio import read_image, write_image

FAILURES: tuple[tuple[str, str] | None, ...] = (None, ("rgb", "night"), ("ir", "crossover"), ("rgb", "occlusion"), ("ir", "washout"))
_KNOWN = {"root", "pairs", "frames", "seed", "pseudo"}


def _smooth(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """A smooth path in ``[-amplitude, amplitude]`` starting at 0 (sum of three random sinusoids)."""
    t = np.arange(n) / max(n - 1, 1)
    freq, phase = rng.uniform(0.3, 1.5, 3), rng.uniform(0, 2 * np.pi, 3)
    path = sum(np.sin(2 * np.pi * f * t + p) - np.sin(p) for f, p in zip(freq, phase)) / 6
    return amplitude * np.clip(path, -1, 1)


def render_still_sequence(rgb: np.ndarray, ir: np.ndarray, box: list[float], frames: int, seed: int
                          ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """``frames`` views of the pair (uint8 BGR, IR gray) and the target box ``x, y, w, h`` in each."""
    if frames < 2:
        raise ConfigError(f"a still sequence needs at least 2 frames, got {frames}")
    rng = np.random.default_rng([seed, 11])
    height, width = ir.shape[:2]
    ow, oh = int(round(0.7 * width)), int(round(0.7 * height))
    bx, by, bw, bh = box
    centre = np.array([bx + bw / 2, by + bh / 2])
    dx, dy = _smooth(rng, frames, 0.2 * ow), _smooth(rng, frames, 0.2 * oh)
    zoom = 1.0 + _smooth(rng, frames, 0.18) + 0.02
    ir_gray = cv2.cvtColor(ir, cv2.COLOR_BGR2GRAY) if ir.ndim == 3 else ir
    out_rgb, out_ir, boxes = [], [], []
    for t in range(frames):
        z = float(np.clip(zoom[t], 0.85, 1.2))
        cx, cy = centre[0] + dx[t] / z, centre[1] + dy[t] / z  # window centre in the still
        matrix = np.array([[z, 0, ow / 2 - z * cx], [0, z, oh / 2 - z * cy]], np.float32)
        views = []
        for image in (rgb, ir_gray):
            view = cv2.warpAffine(image, matrix, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            noise = rng.normal(0, 2.0, view.shape)
            views.append(np.clip(view + noise, 0, 255).astype(np.uint8))
        out_rgb.append(views[0])
        out_ir.append(views[1])
        boxes.append([z * (bx - cx) + ow / 2, z * (by - cy) + oh / 2, z * bw, z * bh])
    return out_rgb, out_ir, np.array(boxes, np.float64)


def _pair_files(root: Path) -> list[tuple[Path, Path]]:
    ir_dir, vi_dir = root / "ir", root / "vi"
    if not ir_dir.is_dir() or not vi_dir.is_dir():
        raise ConfigError(f"{root}: expected ir/ and vi/ folders of aligned still pairs")
    names = sorted((p.name for p in ir_dir.iterdir() if (vi_dir / p.name).is_file()),
                   key=lambda n: (0, int(Path(n).stem), n) if Path(n).stem.isdigit() else (1, 0, n))
    return [(vi_dir / n, ir_dir / n) for n in names]


def still_sequences(spec: dict[str, Any], folder: Path, where: str = "val.stills") -> list[Path]:
    """Write (once; skipped when present) the sequences of ``spec`` into ``folder``; returns their paths."""
    from rgbtfuse.data.lmdb_cache import pseudo_box, salient_box

    spec = dict(spec)
    if unknown := sorted(set(spec) - _KNOWN):
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(_KNOWN)}")
    if "root" not in spec:
        raise ConfigError(f"{where}: give root: DIR (a folder of ir/ and vi/ aligned still pairs)")
    root = Path(spec["root"])
    files = _pair_files(root)
    first, last = spec.get("pairs", [0, len(files) - 1])
    if not 0 <= first <= last < len(files):
        raise ConfigError(f"{where}.pairs: [{first}, {last}] outside the {len(files)} pairs of {root}")
    frames, seed, pseudo = int(spec.get("frames", 40)), int(spec.get("seed", 0)), str(spec.get("pseudo", "salient"))
    if pseudo not in ("salient", "random"):
        raise ConfigError(f"{where}.pseudo: salient or random, got {pseudo!r}")
    out = []
    for k in range(first, last + 1):
        vi_path, ir_path = files[k]
        seq = folder / f"{root.name}_{Path(ir_path).stem}_s{seed}_{frames}_{pseudo}"
        out.append(seq)
        if (seq / "sequence").is_file():
            continue
        rgb, ir = read_image(vi_path, "bgr"), read_image(ir_path, "bgr")
        box = salient_box(root.name, str(vi_path), rgb, ir) if pseudo == "salient" else pseudo_box(root.name, str(vi_path), ir.shape[1], ir.shape[0])
        rgbs, irs, boxes = render_still_sequence(rgb, ir, box, frames, seed + k)
        failure = FAILURES[k % len(FAILURES)]
        start = frames // 3
        for t in range(frames):
            if failure is not None and t >= start:
                rng = np.random.default_rng([seed, k, t])
                if failure[0] == "rgb":
                    rgbs[t] = DEGRADATIONS[failure[1]](rgbs[t], rng, boxes[t], 1.0)
                else:
                    irs[t] = DEGRADATIONS[failure[1]](irs[t], rng, boxes[t], 1.0)
            write_image(seq / "color" / f"{t + 1:08d}.jpg", rgbs[t])
            write_image(seq / "ir" / f"{t + 1:08d}.jpg", irs[t])
        tags = {} if failure is None else {f"{failure[0]}_{failure[1]}": np.arange(frames) >= start}
        write_vot_metadata(seq, boxes, np.ones(frames, bool), (rgbs[0].shape[1], rgbs[0].shape[0]),
                           "color/%08d.jpg", "ir/%08d.jpg", tags=tags)
    return out
