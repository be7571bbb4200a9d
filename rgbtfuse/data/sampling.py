"""Template/search pair sampling from crop caches, and the training Dataset.

Sampling follows pysot's ``TrkDataset``: each epoch visits every *unit* once in a shuffled order
(a unit is a video sequence, or one image of a static set such as VT821/VT1000 or a pair folder,
like pysot treats each COCO image as a video). A positive pair takes a template frame and a
search frame within ``frame_range`` frames of it from the same sequence (a static image pairs
with itself; the augmentation makes the two views differ); with probability ``neg`` the search
crop comes from another unit instead (a negative pair, DaSiamRPN).

Sample ``i`` of epoch ``e`` depends only on ``(seed, e * len + i)``, so training can resume
exactly at any step, with any number of DataLoader workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rgbtfuse.data.augment import GeometricAug, ModalityDropout, PhotometricAug, SensorFailure
from rgbtfuse.data.context_crop import target_in_crop
from rgbtfuse.data.lmdb_cache import CropCache
from rgbtfuse.errors import ConfigError

DROPPED = {None: 0, "rgb": 1, "ir": 2}  # value of the ``dropped`` output


@dataclass
class PairConfig:
    """Sampling and augmentation options (pysot's defaults for SiamRPN++ training)."""

    template_size: int = 127
    search_size: int = 255
    frame_range: int = 100  # max frame-number distance between template and search
    neg: float = 0.2  # probability of a negative pair
    pairs_per_epoch: int = 0  # 0: one pair per unit
    template: GeometricAug = field(default_factory=lambda: GeometricAug(shift=4, scale=0.05))
    search: GeometricAug = field(default_factory=lambda: GeometricAug(shift=64, scale=0.18))
    rgb: PhotometricAug = field(default_factory=lambda: PhotometricAug(color=1.0))
    ir: PhotometricAug = field(default_factory=PhotometricAug)
    dropout: ModalityDropout = field(default_factory=ModalityDropout)
    degrade: SensorFailure = field(default_factory=SensorFailure)


@dataclass(frozen=True)
class _Unit:
    cache: int
    seq: int
    frame: int | None  # one image of a static sequence; None: the whole video


class PairSampler:
    """Picks ``(template, search, neg)`` frame references from one or more crop caches."""

    def __init__(self, caches: list[CropCache], frame_range: int = 100, neg: float = 0.0):
        self.caches, self.frame_range, self.neg = caches, frame_range, neg
        self.frames: list[list[np.ndarray]] = []  # [cache][seq] → sorted cached frame numbers
        self.units: list[_Unit] = []
        for ci, cache in enumerate(caches):
            seq_frames = []
            for si, seq in enumerate(cache.index["sequences"]):
                frames = np.array(sorted(f[0] for f in seq["frames"]), dtype=np.int64)
                seq_frames.append(frames)
                if seq["static"]:
                    self.units += [_Unit(ci, si, int(f)) for f in frames]
                else:
                    self.units.append(_Unit(ci, si, None))
            self.frames.append(seq_frames)
        if not self.units:
            raise ConfigError("no cached frames to sample from")
        if neg > 0 and len(self.units) < 2:
            raise ConfigError("negative pairs need at least two sequences or images")

    def unit_order(self, round_: int, seed: int) -> np.ndarray:
        """The shuffled unit order of one pass over all units."""
        return np.random.default_rng([seed, round_, 1]).permutation(len(self.units))

    def _frame(self, unit: _Unit, rng: np.random.Generator) -> int:
        if unit.frame is not None:
            return unit.frame
        return int(rng.choice(self.frames[unit.cache][unit.seq]))

    def sample(self, unit_idx: int, rng: np.random.Generator) -> tuple[tuple, tuple, bool]:
        """``((cache, seq, template_frame), (cache, seq, search_frame), neg)``."""
        unit = self.units[unit_idx]
        t_frame = self._frame(unit, rng)
        neg = bool(self.neg) and self.neg > rng.random()
        if neg:
            other = int(rng.integers(len(self.units) - 1))
            other += other >= unit_idx  # any unit but this one
            o = self.units[other]
            return (unit.cache, unit.seq, t_frame), (o.cache, o.seq, self._frame(o, rng)), True
        if unit.frame is not None:
            return (unit.cache, unit.seq, t_frame), (unit.cache, unit.seq, t_frame), False
        frames = self.frames[unit.cache][unit.seq]
        near = frames[np.abs(frames - t_frame) <= self.frame_range]
        return (unit.cache, unit.seq, t_frame), (unit.cache, unit.seq, int(rng.choice(near))), False


class RGBTPairDataset(Dataset):
    """Training pairs ``{template_rgb, template_ir, search_rgb, search_ir, bbox, neg, dropped}``.

    Images are ``(3, S, S)`` float32 BGR in 0-255 (pysot's input; IR replicated to 3 channels),
    ``S`` = 127 for templates and 255 for searches; ``bbox`` is the search target's corners
    ``(x1, y1, x2, y2)`` in search-crop pixels (pysot's ``bbox``); ``neg`` is 1.0 for a negative
    pair; ``dropped`` is 0 (none), 1 (RGB) or 2 (IR) for modality dropout.
    """

    def __init__(self, caches: list[str | Path | CropCache], config: PairConfig | None = None, seed: int = 0):
        self.caches = [c if isinstance(c, CropCache) else CropCache(c) for c in caches]
        self.config = config or PairConfig()
        self.seed = seed
        self.epoch = 0
        self.sampler = PairSampler(self.caches, self.config.frame_range, self.config.neg)
        self._boxes = [
            {(si, f[0]): f[1:] for si, s in enumerate(c.index["sequences"]) for f in s["frames"]} for c in self.caches
        ]
        self._order_cache: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.config.pairs_per_epoch or len(self.sampler.units)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _unit(self, step: int) -> int:
        n = len(self.sampler.units)
        round_ = step // n
        if self._order_cache is None or self._order_cache[0] != round_:
            self._order_cache = (round_, self.sampler.unit_order(round_, self.seed))
        return int(self._order_cache[1][step % n])

    def _view(self, ref: tuple, geom: GeometricAug, size: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
        ci, si, frame = ref
        cache = self.caches[ci]
        rgb, ir = cache.pair(cache.index["sequences"][si]["name"], frame)
        _, _, w, h = self._boxes[ci][(si, frame)]
        box = target_in_crop(w, h, rgb.shape[0], cache.params.exemplar_size, cache.params.context)
        return geom([rgb, ir], box, size, rng)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        cfg = self.config
        step = self.epoch * len(self) + index
        rng = np.random.default_rng([self.seed, step])
        t_ref, s_ref, neg = self.sampler.sample(self._unit(step), rng)
        (t_rgb, t_ir), t_box = self._view(t_ref, cfg.template, cfg.template_size, rng)
        (s_rgb, s_ir), bbox = self._view(s_ref, cfg.search, cfg.search_size, rng)
        failure = cfg.degrade.draw(rng) if cfg.degrade.p else None
        if failure is not None:
            modality, kind, strength = failure
            if modality == "rgb":
                s_rgb = cfg.degrade.apply(s_rgb, kind, strength, bbox, rng)
                if cfg.degrade.template_too:
                    t_rgb = cfg.degrade.apply(t_rgb, kind, strength, t_box, rng)
            else:
                s_ir = cfg.degrade.apply(s_ir, kind, strength, bbox, rng)
                if cfg.degrade.template_too:
                    t_ir = cfg.degrade.apply(t_ir, kind, strength, t_box, rng)
        gray_rgb, gray_ir = cfg.rgb.draw_gray(rng), cfg.ir.draw_gray(rng)
        out = {
            "template_rgb": cfg.rgb(t_rgb, rng, gray_rgb),
            "template_ir": cfg.ir(t_ir, rng, gray_ir),
            "search_rgb": cfg.rgb(s_rgb, rng, gray_rgb),
            "search_ir": cfg.ir(s_ir, rng, gray_ir),
        }
        dropped = cfg.dropout.draw(rng)
        if dropped is not None:
            for part in ("search", "template") if cfg.dropout.template_too else ("search",):
                out[f"{part}_{dropped}"] = cfg.dropout.blank(out[f"{part}_{dropped}"], rng)
        sample = {k: torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1))) for k, v in out.items()}
        sample["bbox"] = torch.tensor(bbox, dtype=torch.float32)
        sample["neg"] = torch.tensor(float(neg))
        sample["dropped"] = torch.tensor(DROPPED[dropped])
        sample["degraded"] = torch.tensor(0 if failure is None else DROPPED[failure[0]])
        return sample
