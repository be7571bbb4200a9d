"""NanoTrack's tracker: anchor-free decoding of the BAN head on a grid of points.

Everything else (crops, scale/ratio penalty, cosine window, size learning rate, clipping) is
the shared Siamese loop of :class:`~rgbtfuse.trackers.tracker.base.SiameseTracker`, with NanoTrack's
hyper-parameters (stride 16, its penalty/window/lr) from the experiment yaml.
"""

from __future__ import annotations

import numpy as np
import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.grids import make_points
from rgbtfuse.trackers.models.inference import inference_copy
from rgbtfuse.trackers.models.nanotrack import build_nanotrack
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.registry import register_tracker
from rgbtfuse.trackers.tracker.base import SiameseTracker, TrackConfig

#: NanoTrack's tracking constants (its configv2.yaml); the experiment's ``track:`` section overrides them
NANOTRACK_TRACK_DEFAULTS = {
    "exemplar_size": 127,
    "instance_size": 255,
    "base_size": 7,
    "context_amount": 0.5,
    "stride": 16,
    "penalty_k": 0.150,
    "window_influence": 0.490,
    "lr": 0.385,
}


@register_tracker("nanotrack", build_model=build_nanotrack, track_defaults=NANOTRACK_TRACK_DEFAULTS)
class NanoTracker(SiameseTracker):
    """Tracks with a NanoTrack model (RGB, IR or fused).

    With ``optimize`` (default) the tracker runs :func:`~rgbtfuse.trackers.models.inference.inference_copy`
    of ``model`` (BN folded, channels-last backbone), made once here: later changes to ``model``'s
    weights do not reach :attr:`model`; build a new tracker after changing them.
    """

    def __init__(self, model: SiameseRGBT, cfg: TrackConfig, device: torch.device | str = "cpu", optimize: bool = True):
        super().__init__(inference_copy(model) if optimize else model, cfg, device)
        self.points = make_points(cfg.stride, cfg.score_size)

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """Foreground probability per point and ``(cx, cy, w, h)`` boxes from the point distances."""
        cls, loc = outputs["cls"][0], outputs["loc"][0]
        n = cls.shape[1] * cls.shape[2]
        if n != self.points.shape[1]:
            raise ConfigError(
                f"the head outputs a {cls.shape[1]}x{cls.shape[2]} score map but the tracker expects "
                f"{self.cfg.score_size}x{self.cfg.score_size} (set track.output_size)"
            )
        score = torch.softmax(cls.reshape(2, n), dim=0)[1].cpu().numpy()
        left, top, right, bottom = loc.reshape(4, n).cpu().numpy()
        px, py = self.points
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite boxes are flagged by the loop
            x1, y1, x2, y2 = px - left, py - top, px + right, py + bottom
            return score, np.stack([(x1 + x2) * 0.5, (y1 + y2) * 0.5, x2 - x1, y2 - y1])
