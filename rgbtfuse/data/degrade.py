"""Sensor failures applied to real frames: one modality degraded while the other stays clean.

Each degradation is a function ``fn(img, rng, box, strength) -> img`` on a uint8 frame (BGR or
gray), registered by name in :data:`DEGRADATIONS`; ``box`` is the target's ``(x, y, w, h)`` in
that frame (used by the occluder), ``strength`` in ``[0, 1]`` scales the effect. They model what
the RGB-T benchmarks' attributes describe:

- ``night``: low light — the signal scaled down, then shot and read noise (a dark, grainy frame);
- ``overexposure``: gain and offset that clip most of the frame to white;
- ``blur``: defocus / motion, a Gaussian of up to 8 px;
- ``crossover``: thermal crossover — the target as warm as its surroundings: local contrast is
  pulled towards a heavily blurred copy of the frame (structure vanishes, mean brightness stays);
- ``washout``: the IR camera's automatic gain saturates: the whole frame squeezed into a narrow
  bright band plus noise;
- ``occlusion``: an opaque textured occluder over most of the target box;
- ``dropout``: the sensor delivers no signal (flat gray and noise).

:func:`degrade_sequence` writes a degraded copy of any readable sequence in the VOT-RGBT layout
(``color/``, ``ir/``, ``groundtruth.txt`` with ``nan`` rows where the source has no box, one
``<modality>_<kind>.tag`` per degradation) — development and test material for "does the fused
tracker stay on target when one sensor fails". Randomness comes only from ``seed`` (one
generator per frame and degradation), so a variant is a function of its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.data.sequence import load_sequence
from rgbtfuse.data.vot_writer import write_vot_metadata
from rgbtfuse.errors import ConfigError
from rgbtfuse.imageio import read_image, write_image

Degradation = Callable[[np.ndarray, np.random.Generator, np.ndarray, float], np.ndarray]
DEGRADATIONS: dict[str, Degradation] = {}
MODALITIES = ("rgb", "ir")


def register_degradation(name: str) -> Callable[[Degradation], Degradation]:
    def deco(fn: Degradation) -> Degradation:
        DEGRADATIONS[name] = fn
        return fn

    return deco


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


@register_degradation("night")
def night(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    gain = 1.0 - 0.92 * strength  # 8 % of the light at full strength
    x = img.astype(np.float32) * np.float32(gain)
    shot = np.sqrt(np.maximum(x, 0.0)) * _noise(rng, img.shape, 0.8 * strength)  # photon noise grows with signal
    return _to_uint8(x + shot + _noise(rng, img.shape, 4.0 * strength) + 2.0)


@register_degradation("overexposure")
def overexposure(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    x = img.astype(np.float32) * np.float32(1 + 3 * strength) + np.float32(110 * strength)
    return _to_uint8(x + _noise(rng, img.shape, 2.0))


@register_degradation("blur")
def blur(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    sigma = max(8.0 * strength, 1e-3)
    return cv2.GaussianBlur(img, (0, 0), sigma)


@register_degradation("crossover")
def crossover(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    x = img.astype(np.float32)
    background = cv2.GaussianBlur(x, (0, 0), max(img.shape[:2]) / 25)
    keep = np.float32(1.0 - 0.9 * strength)  # 10 % of the local contrast left at full strength
    return _to_uint8(background + keep * (x - background) + _noise(rng, img.shape, 2.0 * strength))


@register_degradation("washout")
def washout(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    x = img.astype(np.float32)
    keep = np.float32(1.0 - 0.88 * strength)
    level = np.float32(x.mean() + (225 - x.mean()) * strength)
    return _to_uint8(level + keep * (x - x.mean()) + _noise(rng, img.shape, 3.0 * strength))


@register_degradation("occlusion")
def occlusion(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    if not np.isfinite(box).all():
        return img
    x, y, w, h = box
    cover = 0.4 + 0.5 * strength  # fraction of each side covered, centred on the target
    cx, cy = x + w / 2, y + h / 2
    x1, x2 = int(round(cx - cover * w / 2)), int(round(cx + cover * w / 2))
    y1, y2 = int(round(cy - cover * h / 2)), int(round(cy + cover * h / 2))
    x1, y1 = max(x1, 0), max(y1, 0)
    x2, y2 = min(x2, img.shape[1]), min(y2, img.shape[0])
    out = img.copy()
    if x2 <= x1 or y2 <= y1:
        return out
    patch_shape = (y2 - y1, x2 - x1) + img.shape[2:]
    texture = cv2.GaussianBlur(_noise(rng, patch_shape, 40.0), (0, 0), 2.0) + np.float32(rng.uniform(60, 160))
    out[y1:y2, x1:x2] = _to_uint8(texture)
    return out


@register_degradation("dropout")
def dropout(img: np.ndarray, rng: np.random.Generator, box: np.ndarray, strength: float = 1.0) -> np.ndarray:
    x = img.astype(np.float32)
    flat = np.float32(128.0)
    return _to_uint8((1 - strength) * x + strength * flat + _noise(rng, img.shape, 3.0))


def parse_degradation(spec: str) -> tuple[str, str]:
    """``'rgb:night'`` → ``('rgb', 'night')``, checked against the registry."""
    modality, sep, kind = spec.partition(":")
    if not sep or modality not in MODALITIES or kind not in DEGRADATIONS:
        raise ConfigError(
            f"degradation {spec!r}: expected MODALITY:KIND with MODALITY in {', '.join(MODALITIES)} "
            f"and KIND in {', '.join(sorted(DEGRADATIONS))}"
        )
    return modality, kind


def interpolated_boxes(boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(N, 4)``: ``boxes`` with the frames where ``valid`` is False linearly interpolated between
    the nearest annotated ones (held constant past the ends) — where to put an occluder."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        raise ConfigError("no annotated frame to place the degradations on")
    frames = np.arange(len(boxes))
    return np.stack([np.interp(frames, idx, boxes[idx, k]) for k in range(4)], axis=1)


def degrade_sequence(
    src: str | Path,
    dst: str | Path,
    degradations: list[str],
    start: int = 30,
    strength: float = 1.0,
    seed: int = 0,
    name: str | None = None,
) -> Path:
    """Write ``src`` with ``degradations`` (``'rgb:night'``, ``'ir:crossover'``, ...) applied from
    frame ``start`` on as the VOT-RGBT folder ``dst/<name>``; returns that folder."""
    specs = [parse_degradation(d) for d in degradations]
    if not 0.0 <= strength <= 1.0:
        raise ConfigError(f"strength must be in [0, 1], got {strength}")
    seq = load_sequence(src)
    if seq.static:
        raise ConfigError(f"{seq.root}: still image pairs ({seq.layout}), not a sequence to degrade")
    if not 0 <= start < len(seq):
        raise ConfigError(f"start frame {start} outside the sequence's {len(seq)} frames")
    seq.check_frames()
    folder = Path(dst) / (name or seq.name)
    if folder.resolve() == Path(seq.root).resolve():
        raise ConfigError(f"{folder}: the output folder is the input sequence")
    boxes = interpolated_boxes(seq.boxes, seq.valid)
    ir_valid = None if seq.ir_boxes is None else np.isfinite(seq.ir_boxes).all(axis=1) & (seq.ir_boxes[:, 2:] > 0).all(axis=1)
    ir_boxes = boxes if ir_valid is None or not ir_valid.any() else interpolated_boxes(seq.ir_boxes, ir_valid)
    for i in range(len(seq)):
        frames = {"rgb": read_image(seq.rgb_frames[i], "bgr"), "ir": read_image(seq.ir_frames[i], "unchanged")}
        if i >= start:
            for k, (modality, kind) in enumerate(specs):
                rng = np.random.default_rng([seed, i, k])
                box = boxes[i] if modality == "rgb" else ir_boxes[i]
                frames[modality] = DEGRADATIONS[kind](frames[modality], rng, box, strength)
        write_image(folder / "color" / f"{i + 1:08d}.jpg", frames["rgb"])
        write_image(folder / "ir" / f"{i + 1:08d}.jpg", frames["ir"])
    height, width = read_image(folder / "color" / "00000001.jpg").shape[:2]
    active = np.arange(len(seq)) >= start
    tags = {f"{m}_{k}": active for m, k in specs}
    write_vot_metadata(folder, seq.boxes, seq.valid, (width, height), "color/%08d.jpg", "ir/%08d.jpg", seq.fps, tags=tags)
    return folder
