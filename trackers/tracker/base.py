"""Siamese tracking loop shared by pysot's SiamRPNTracker and NanoTrack's tracker, for RGB-T.

Subclasses decode the head outputs (:meth:`decode`) into a score per position and a box
``(cx, cy, w, h)`` per position in crop coordinates relative to the crop centre; the scale/
ratio penalty, cosine window, size learning rate and clipping are pysot's, with the
hyper-parameters of :class:`TrackConfig` (from the experiment yaml).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError, InitBoxError
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.tracker.crop import get_subwindow, to_tensor

#: options that may be 0 (weights); sizes and strides must be positive
_MAY_BE_ZERO = {"base_size", "penalty_k", "window_influence", "context_amount", "lr"}


def _check_range(key: str, value: Any) -> None:
    """A ``track.<key>`` must not be negative, and sizes/strides must be positive (types are
    checked by :func:`rgbtfuse.config.from_dict`)."""
    if value is None:
        return
    if value < 0 or (value == 0 and key not in _MAY_BE_ZERO):
        raise ConfigError(f"track.{key} must be {'at least 0' if key in _MAY_BE_ZERO else 'positive'}, got {value!r}")


@dataclass
class TrackConfig:
    """Tracking hyper-parameters (pysot ``cfg.TRACK``), read from the experiment yaml."""

    exemplar_size: int = 127
    instance_size: int = 255
    base_size: int = 8
    context_amount: float = 0.5
    penalty_k: float = 0.04
    window_influence: float = 0.44
    lr: float = 0.4
    stride: int = 8
    #: score-map side when it is not ``(instance - exemplar) // stride + 1 + base_size``
    #: (NanoTrack v3's head outputs 15×15: its ``TRACK.OUTPUT_SIZE``)
    output_size: int | None = None

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> TrackConfig:
        out = from_dict(cls, cfg, "track")
        for key in cfg or {}:
            _check_range(key, getattr(out, key))
        return out

    @property
    def score_size(self) -> int:
        if self.output_size is not None:
            return self.output_size
        return (self.instance_size - self.exemplar_size) // self.stride + 1 + self.base_size


@dataclass
class Proposal:
    """One head's answer for a frame: the box it would carry on and its score map."""

    center: np.ndarray  # (2,) cx, cy in frame pixels (clipped)
    size: np.ndarray  # (2,) w, h in frame pixels (clipped)
    score: float  # foreground probability at the chosen position
    scores: np.ndarray  # (N,) foreground probability per position (and anchor)
    best: int  # chosen index into ``scores``

    def bbox(self) -> list[float]:
        """``[x, y, w, h]`` (0-based top-left)."""
        return [float(self.center[0] - self.size[0] / 2), float(self.center[1] - self.size[1] / 2), float(self.size[0]), float(self.size[1])]


class SiameseTracker:
    """Tracks one target through aligned RGB/IR frames (either may be None for its single mode)."""

    def __init__(self, model: SiameseRGBT, cfg: TrackConfig, device: torch.device | str = "cpu"):
        self.model = model.eval()
        self.cfg = cfg
        self.device = torch.device(device)
        hanning = np.hanning(cfg.score_size)
        self.window = np.outer(hanning, hanning).flatten()
        self.center_pos = np.zeros(2)
        self.size = np.zeros(2)
        self.avg: dict[str, np.ndarray] = {}

    @property
    def mode(self) -> str:
        """``rgb``, ``ir`` or ``fused``: the model's mode."""
        return self.model.mode

    # subclasses -----------------------------------------------------------------------------
    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """``(score (N,), boxes (4, N))`` from head outputs; boxes are ``cx, cy, w, h`` in crop pixels."""
        raise NotImplementedError

    # helpers --------------------------------------------------------------------------------
    def _crops(self, frames: dict[str, np.ndarray | None], model_sz: int, original_sz: float) -> dict[str, torch.Tensor | None]:
        return {
            k: None if img is None else to_tensor(get_subwindow(img, self.center_pos, model_sz, original_sz, self.avg[k]), self.device)
            for k, img in frames.items()
        }

    def _frames(self, rgb: np.ndarray | None, ir: np.ndarray | None) -> dict[str, np.ndarray | None]:
        mode = self.model.mode
        both = mode in ("fused", "decision")
        frames = {"rgb": rgb if mode == "rgb" or both else None, "ir": ir if mode == "ir" or both else None}
        for k, img in frames.items():
            if img is None and (mode == k or both):
                raise ConfigError(f"mode {mode!r} needs the {k} frame")
        return frames

    def _context_size(self) -> float:
        w_z = self.size[0] + self.cfg.context_amount * np.sum(self.size)
        h_z = self.size[1] + self.cfg.context_amount * np.sum(self.size)
        return math.sqrt(w_z * h_z)

    # API ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def init(self, rgb: np.ndarray | None, ir: np.ndarray | None, bbox: tuple[float, float, float, float]) -> None:
        """Initialise on HWC uint8 frames with a 0-based ``(x, y, w, h)`` box."""
        frames = self._frames(rgb, ir)
        shape = next(img.shape for img in frames.values() if img is not None)
        x, y, w, h = map(float, bbox)
        if not all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
            raise InitBoxError(f"init box {bbox} is empty or not finite")
        if w < 1 or h < 1:  # a sub-pixel target has a sub-pixel template crop: nothing to track
            raise InitBoxError(f"init box {bbox} is smaller than one pixel ({w:g}x{h:g}); give a box of at least 1x1")
        if x + w <= 0 or y + h <= 0 or x >= shape[1] or y >= shape[0]:
            raise InitBoxError(f"init box {bbox} lies outside the {shape[1]}x{shape[0]} image")
        self.center_pos = np.array([x + (w - 1) / 2, y + (h - 1) / 2])
        self.size = np.array([w, h])
        self.avg = {k: np.mean(img, axis=(0, 1)) for k, img in frames.items() if img is not None}
        crops = self._crops(frames, self.cfg.exemplar_size, round(self._context_size()))
        self.model.template(crops["rgb"], crops["ir"])

    @torch.inference_mode()
    def track(self, rgb: np.ndarray | None, ir: np.ndarray | None) -> dict[str, Any]:
        """One frame: ``{'bbox': [x, y, w, h], 'best_score': float, 'valid': bool}``.

        A non-finite network output keeps the last box and returns ``valid=False``.
        """
        outputs, scale_z, shape = self.search(rgb, ir)
        proposal = self.propose(*self.decode(outputs), scale_z, shape)
        if proposal is None:
            return {"bbox": self._bbox(), "best_score": float("nan"), "valid": False}
        self.commit(proposal)
        return {"bbox": self._bbox(), "best_score": proposal.score, "valid": True}

    def search(self, rgb: np.ndarray | None, ir: np.ndarray | None) -> tuple[dict[str, torch.Tensor], float, tuple[int, ...]]:
        """Head outputs for the search crops around the current state, the crop scale and the frame shape."""
        frames = self._frames(rgb, ir)
        shape = next(img.shape for img in frames.values() if img is not None)
        s_z = self._context_size()
        scale_z = self.cfg.exemplar_size / s_z
        s_x = s_z * (self.cfg.instance_size / self.cfg.exemplar_size)
        crops = self._crops(frames, self.cfg.instance_size, round(s_x))
        return self.model.track(crops["rgb"], crops["ir"]), scale_z, shape

    def propose(self, score: np.ndarray, pred: np.ndarray, scale_z: float, shape: tuple[int, ...]) -> Proposal | None:
        """The box pysot's rule picks from decoded ``score (N,)`` / ``pred (4, N)``, without
        changing the state; None when the outputs (or the box) are not finite."""
        if not (np.isfinite(score).all() and np.isfinite(pred).all()):
            return None

        def change(r: np.ndarray) -> np.ndarray:
            return np.maximum(r, 1.0 / r)

        def sz(w: np.ndarray, h: np.ndarray) -> np.ndarray:
            pad = (w + h) * 0.5
            return np.sqrt((w + pad) * (h + pad))

        s_c = change(sz(pred[2], pred[3]) / sz(self.size[0] * scale_z, self.size[1] * scale_z))
        r_c = change((self.size[0] / self.size[1]) / (pred[2] / pred[3]))
        penalty = np.exp(-(r_c * s_c - 1) * self.cfg.penalty_k)
        pscore = penalty * score
        pscore = pscore * (1 - self.cfg.window_influence) + self.window_for(score.size) * self.cfg.window_influence
        best = int(np.argmax(pscore))
        bbox = pred[:, best] / scale_z
        lr = penalty[best] * score[best] * self.cfg.lr
        cx = bbox[0] + self.center_pos[0]
        cy = bbox[1] + self.center_pos[1]
        width = self.size[0] * (1 - lr) + bbox[2] * lr
        height = self.size[1] * (1 - lr) + bbox[3] * lr
        if not np.isfinite([cx, cy, width, height]).all():
            # finite outputs can still decode to NaN (e.g. zero-size boxes: 0/0 in the ratio
            # penalty); pysot's clip would silently turn that into a 10-px box
            return None
        # pysot's clip: centre inside the image, size between 10 px and the image size
        return Proposal(
            center=np.array([max(0.0, min(cx, shape[1])), max(0.0, min(cy, shape[0]))]),
            size=np.array([max(10.0, min(width, shape[1])), max(10.0, min(height, shape[0]))]),
            score=float(score[best]),
            scores=score,
            best=best,
        )

    def commit(self, proposal: Proposal) -> None:
        """Carry ``proposal``'s box to the next frame."""
        self.center_pos = proposal.center.copy()
        self.size = proposal.size.copy()

    def window_for(self, n: int) -> np.ndarray:
        """Cosine window tiled to ``n`` scores (one copy per anchor for anchor-based heads)."""
        return np.tile(self.window, n // self.window.size)

    def _bbox(self) -> list[float]:
        return [
            float(self.center_pos[0] - self.size[0] / 2),
            float(self.center_pos[1] - self.size[1] / 2),
            float(self.size[0]),
            float(self.size[1]),
        ]
