"""Synthetic RGB-T scenes with exact ground truth and scripted sensor failures.

A scene is a camera panning over a cluttered world in which a textured, warm target moves on a
smooth path. Failures are scripted per frame interval:

* ``night``       — RGB in low light: gain ≪ 1 plus sensor noise;
* ``overexposure``— RGB saturated: gain ≫ 1, clipped;
* ``crossover``   — IR thermal crossover: the target's temperature fades to the background's;
* ``occlusion``   — an occluder covers part of the target in both modalities;
* ``distractor``  — a second object with the target's thermal signature (but another colour)
  passes close to the target.

:func:`write_vot_sequence` stores a scene in the VOT RGB-T layout (``color/``, ``ir/``,
``groundtruth.txt``, ``sequence``) plus per-frame ``<failure>.tag`` files, so it runs through
``rgbtfuse track`` and ``rgbtfuse vot`` like a real sequence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.data.sequence import Sequence
from rgbtfuse.data.vot_writer import anchor_frames

FAILURES = ("night", "overexposure", "crossover", "occlusion", "distractor")


@dataclass
class Failure:
    kind: str  # one of FAILURES
    start: int  # first frame (inclusive)
    end: int  # last frame (exclusive)


@dataclass
class SceneConfig:
    """Everything that defines a scene; the same config and seed give the same pixels."""

    seed: int = 0
    frames: int = 120
    width: int = 320
    height: int = 240
    target_size: tuple[int, int] = (36, 28)  # w, h at scale 1
    target_speed: float = 2.5  # px / frame in the world
    camera_speed: float = 1.0  # px / frame pan
    noise_sigma: float = 4.0  # everyday sensor noise (both modalities)
    failures: list[Failure] = field(default_factory=list)
    fps: int = 30

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def default_failures(frames: int) -> list[Failure]:
    """A schedule that makes each single modality fail at least once, never both at once."""

    def at(a: float, b: float) -> tuple[int, int]:
        return int(a * frames), int(b * frames)

    return [
        Failure("night", *at(0.15, 0.40)),
        Failure("distractor", *at(0.20, 0.38)),
        Failure("crossover", *at(0.50, 0.72)),
        Failure("occlusion", *at(0.78, 0.84)),
        Failure("overexposure", *at(0.86, 0.98)),
    ]


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int, channels: int = 1) -> np.ndarray:
    """Band-limited noise in [0, 1]: random values on a coarse grid, bicubically upsampled."""
    coarse = rng.random((max(2, h // scale), max(2, w // scale), channels)).astype(np.float32)
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(up.reshape(h, w, channels), 0, 1)


def _smooth_path(rng: np.random.Generator, n: int, speed: float, start: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``(n, 2)`` positions of a smooth random walk with roughly constant speed, kept in bounds."""
    heading = rng.uniform(0, 2 * np.pi)
    turn = np.convolve(rng.normal(0, 0.12, n + 20), np.ones(10) / 10, mode="same")[:n]
    pos = np.empty((n, 2))
    p = start.astype(np.float64).copy()
    for t in range(n):
        heading += turn[t]
        step = speed * np.array([np.cos(heading), np.sin(heading)])
        nxt = p + step
        for d in range(2):  # bounce off the bounds
            if not bounds[d, 0] <= nxt[d] <= bounds[d, 1]:
                heading = np.pi - heading if d == 0 else -heading
                step = speed * np.array([np.cos(heading), np.sin(heading)])
                nxt = p + step
        p = np.clip(nxt, bounds[:, 0], bounds[:, 1])
        pos[t] = p
    return pos


class SceneRenderer:
    """Renders the frames of one :class:`SceneConfig`; :meth:`frames` yields ``(rgb, ir, box)``."""

    def __init__(self, cfg: SceneConfig):
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        w, h = cfg.width, cfg.height
        margin = int(cfg.camera_speed * cfg.frames) + 64
        self.world_w, self.world_h = w + 2 * margin, h + 2 * margin
        self.world_rgb, self.world_ir = self._world(rng)
        self.camera = _smooth_path(
            rng, cfg.frames, cfg.camera_speed, np.array([margin, margin], float),
            np.array([[0, 2 * margin], [0, 2 * margin]], float),
        )
        tw, th = cfg.target_size
        self.target_path = _smooth_path(
            rng, cfg.frames, cfg.target_speed, np.array([w / 2, h / 2]),
            np.array([[tw, w - tw], [th, h - th]], float),
        )
        self.target_scale = 1.0 + 0.15 * np.sin(np.linspace(0, 2 * np.pi * rng.uniform(0.5, 1.5), cfg.frames))
        self.target_rgb, self.target_ir, self.target_mask = self._sprite(rng, warm=0.92)
        self.distractor_rgb, _, self.distractor_mask = self._sprite(rng, warm=0.92)
        self.occluder_color = rng.uniform(40, 200, 3)
        self.noise_rng = np.random.default_rng(cfg.seed + 1)

    # --- content -------------------------------------------------------------------------------
    def _world(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.world_h, self.world_w
        rgb = 60 + 140 * _smooth_noise(rng, h, w, 48, 3)
        ir = 70 + 60 * _smooth_noise(rng, h, w, 64, 1)[:, :, 0]
        for _ in range(int(h * w / 2500)):  # clutter: rectangles and discs, some of them warm
            x, y = rng.integers(0, w), rng.integers(0, h)
            sx, sy = rng.integers(6, 40, 2)
            color = rng.uniform(20, 235, 3).tolist()
            temp = float(rng.choice([rng.uniform(60, 120), rng.uniform(150, 200)], p=[0.85, 0.15]))
            if rng.random() < 0.5:
                cv2.rectangle(rgb, (int(x), int(y)), (int(x + sx), int(y + sy)), color, -1)
                cv2.rectangle(ir, (int(x), int(y)), (int(x + sx), int(y + sy)), temp, -1)
            else:
                cv2.circle(rgb, (int(x), int(y)), int(sx // 2), color, -1)
                cv2.circle(ir, (int(x), int(y)), int(sx // 2), temp, -1)
        ir = cv2.GaussianBlur(ir, (0, 0), 1.5)  # thermal images are blurrier than visible ones
        return rgb.astype(np.float32), ir.astype(np.float32)

    def _sprite(self, rng: np.random.Generator, warm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target appearance at 4× resolution: colour texture, thermal pattern, soft alpha mask."""
        tw, th = self.cfg.target_size
        sw, sh = 4 * tw, 4 * th
        base = rng.uniform(30, 225, 3)
        stripes = (np.sin(np.linspace(0, rng.uniform(3, 7) * np.pi, sw))[None, :, None] > 0).astype(np.float32)
        tex = base + 60 * (stripes - 0.5) + 50 * (_smooth_noise(rng, sh, sw, 12, 3) - 0.5)
        mask = np.zeros((sh, sw), np.float32)
        cv2.ellipse(mask, (sw // 2, sh // 2), (sw // 2 - 2, sh // 2 - 2), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 2.0)
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        core = np.exp(-(((xx - sw / 2) / (0.35 * sw)) ** 2 + ((yy - sh / 2) / (0.35 * sh)) ** 2))
        thermal = 255 * warm * (0.75 + 0.25 * core) + 12 * (_smooth_noise(rng, sh, sw, 16)[:, :, 0] - 0.5)
        return np.clip(tex, 0, 255).astype(np.float32), thermal.astype(np.float32), mask

    # --- rendering -----------------------------------------------------------------------------
    def active(self, kind: str, t: int) -> float:
        """Strength 0..1 of failure ``kind`` at frame ``t`` (ramps over 4 frames at the edges)."""
        strength = 0.0
        for f in self.cfg.failures:
            if f.kind == kind and f.start <= t < f.end:
                ramp = min(t - f.start + 1, f.end - t, 4) / 4
                strength = max(strength, ramp)
        return strength

    def box(self, t: int) -> np.ndarray:
        """Exact ground-truth ``(x, y, w, h)`` of the target at frame ``t``."""
        tw, th = self.cfg.target_size
        s = self.target_scale[t]
        cx, cy = self.target_path[t]
        return np.array([cx - tw * s / 2, cy - th * s / 2, tw * s, th * s])

    def _paste(self, canvas: np.ndarray, sprite: np.ndarray, mask: np.ndarray, box: np.ndarray, alpha: float = 1.0) -> None:
        """Alpha-blend ``sprite`` into ``canvas`` at the float ``box`` (sub-pixel, via affine warp)."""
        x, y, w, h = box
        x0, y0 = int(np.floor(x)) - 1, int(np.floor(y)) - 1
        x1, y1 = int(np.ceil(x + w)) + 1, int(np.ceil(y + h)) + 1
        H, W = canvas.shape[:2]
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        sx, sy = w / sprite.shape[1], h / sprite.shape[0]
        m = np.array([[sx, 0, x - cx0], [0, sy, y - cy0]], np.float32)
        size = (cx1 - cx0, cy1 - cy0)
        warped = cv2.warpAffine(sprite, m, size, flags=cv2.INTER_AREA)
        a = alpha * cv2.warpAffine(mask, m, size, flags=cv2.INTER_LINEAR)
        region = canvas[cy0:cy1, cx0:cx1]
        if region.ndim == 3:
            a = a[:, :, None]
            warped = warped.reshape(region.shape)
        region[...] = region * (1 - a) + warped * a

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``t``: ``(rgb HxWx3 BGR uint8, ir HxW uint8, box)``."""
        cfg = self.cfg
        cx, cy = self.camera[t].astype(int)
        rgb = self.world_rgb[cy : cy + cfg.height, cx : cx + cfg.width].copy()
        ir = self.world_ir[cy : cy + cfg.height, cx : cx + cfg.width].copy()
        box = self.box(t)

        d = self.active("distractor", t)
        if d > 0:  # moves alongside the target, offset by about one target size
            off = np.array([1.3 * box[2] * np.cos(t / 7), 1.3 * box[3] * np.sin(t / 7)])
            dbox = box.copy()
            dbox[:2] += off
            self._paste(rgb, self.distractor_rgb, self.distractor_mask, dbox, d)
            self._paste(ir, self.target_ir, self.distractor_mask, dbox, d)

        self._paste(rgb, self.target_rgb, self.target_mask, box)
        cross = self.active("crossover", t)
        local_bg = float(np.median(ir[int(max(box[1], 0)) : int(box[1] + box[3]) + 1, int(max(box[0], 0)) : int(box[0] + box[2]) + 1])) if box[2] > 0 else 100.0
        thermal = self.target_ir * (1 - cross) + local_bg * cross
        self._paste(ir, thermal, self.target_mask, box)

        occ = self.active("occlusion", t)
        if occ > 0:  # a bar sliding over the target, covering up to ~60 % of it
            ox = box[0] + box[2] * (0.8 - 0.6 * occ)
            obox = np.array([ox, box[1] - 6, box[2] * 0.6, box[3] + 12])
            bar = np.ones((8, 8), np.float32)
            self._paste(rgb, np.broadcast_to(self.occluder_color, (8, 8, 3)).astype(np.float32), bar, obox)
            self._paste(ir, np.full((8, 8), 95.0, np.float32), bar, obox)

        noise = self.noise_rng.normal(0, 1, (cfg.height, cfg.width, 4)).astype(np.float32)
        night = self.active("night", t)
        gain = 1 - 0.85 * night
        rgb = rgb * gain + noise[:, :, :3] * (cfg.noise_sigma + 22 * night)
        over = self.active("overexposure", t)
        rgb = rgb * (1 + 3.0 * over) + 120 * over
        ir = ir + noise[:, :, 3] * cfg.noise_sigma * 0.7
        return np.clip(rgb, 0, 255).astype(np.uint8), np.clip(ir, 0, 255).astype(np.uint8), box

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for t in range(self.cfg.frames):
            yield self.render(t)


def write_vot_sequence(cfg: SceneConfig, out_dir: str | Path, name: str | None = None, anchor_every: int = 20) -> Path:
    """Render ``cfg`` into a VOT RGB-T sequence folder; returns its path.

    Written: ``color/%08d.jpg``, ``ir/%08d.png``, ``groundtruth.txt`` (``x,y,w,h`` per frame),
    ``sequence`` (VOT metadata: channels, fps, size, length), ``anchor.value`` (multistart
    anchors every ``anchor_every`` frames, as :mod:`rgbtfuse.data.vot_writer` writes them),
    ``<failure>.tag`` (1 where that failure is active), ``scene.json`` (the config, to
    regenerate it). With a ``list.txt`` next to it the folder is a VOT toolkit dataset.
    """
    out = Path(out_dir)
    (out / "color").mkdir(parents=True, exist_ok=True)
    (out / "ir").mkdir(parents=True, exist_ok=True)
    renderer = SceneRenderer(cfg)
    boxes = []
    tags = {k: [] for k in FAILURES}
    for t, (rgb, ir, box) in enumerate(renderer.frames()):
        cv2.imwrite(str(out / "color" / f"{t + 1:08d}.jpg"), rgb, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(out / "ir" / f"{t + 1:08d}.png"), ir)
        boxes.append(box)
        for k in FAILURES:
            tags[k].append(int(renderer.active(k, t) > 0))
    text = "".join(",".join(f"{v:.4f}" for v in b) + "\n" for b in boxes)
    atomic_write(out / "groundtruth.txt", lambda p: p.write_text(text))
    meta = (
        "channels.color=color/%08d.jpg\nchannels.ir=ir/%08d.png\nchannel.default=color\n"
        f"fps={cfg.fps}\nformat=default\nname={name or out.name}\n"
        f"width={cfg.width}\nheight={cfg.height}\nlength={cfg.frames}\n"
    )
    anchors = anchor_frames(np.ones(cfg.frames, bool), anchor_every)
    atomic_write(out / "anchor.value", lambda p: p.write_text("".join(f"{a:g}\n" for a in anchors)))
    atomic_write(out / "sequence", lambda p: p.write_text(meta))
    for k, values in tags.items():
        if any(values):
            atomic_write(out / f"{k}.tag", lambda p, v=values: p.write_text("".join(f"{x}\n" for x in v)))
    atomic_write(out / "scene.json", lambda p: p.write_text(cfg.to_json()))
    return out


def failure_intervals(seq: Sequence) -> dict[str, list[tuple[int, int]]]:
    """``{tag: [(start, end), ...]}`` (end exclusive) from the sequence's per-frame tags of the
    synthetic failure kinds (generated scenes; real VOT sequences may carry other tags)."""
    out: dict[str, list[tuple[int, int]]] = {}
    for name, values in seq.attributes.items():
        if name not in FAILURES:
            continue
        flags = np.asarray(values).astype(bool)
        edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
        out[name] = list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
    return out
