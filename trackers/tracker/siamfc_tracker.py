"""SiamFC-style tracker for score-only heads: the best point of the score map moves the box.

The head gives no box regression, so the box keeps its initial size (the shared loop's size
update sees an unchanged size); the cosine window and the score come from
:class:`~rgbtfuse.trackers.tracker.base.SiameseTracker`.
"""

from __future__ import annotations

import numpy as np
import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.grids import make_points
from rgbtfuse.trackers.models.filterbank import build_filterbank
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.registry import register_tracker
from rgbtfuse.trackers.tracker.base import SiameseTracker, TrackConfig

#: the filter-bank demo tracker: stride-8 maps, 17×17 score map, box size kept (no regression)
FILTERBANK_TRACK_DEFAULTS = {
    "exemplar_size": 127,
    "instance_size": 255,
    "base_size": 0,
    "context_amount": 0.5,
    "stride": 8,
    "penalty_k": 0.0,
    "window_influence": 0.3,
    "lr": 0.0,
}


@register_tracker("filterbank", build_model=build_filterbank, track_defaults=FILTERBANK_TRACK_DEFAULTS)
class SiamFCTracker(SiameseTracker):
    """Tracks with a score-map-only Siamese model (``model.type: filterbank``)."""

    def __init__(self, model: SiameseRGBT, cfg: TrackConfig, device: torch.device | str = "cpu"):
        super().__init__(model, cfg, device)
        self.points = make_points(cfg.stride, cfg.score_size)

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        cls = outputs["cls"][0]
        n = cls.shape[1] * cls.shape[2]
        if n != self.points.shape[1]:
            raise ConfigError(
                f"the head outputs a {cls.shape[1]}x{cls.shape[2]} score map but the tracker expects "
                f"{self.cfg.score_size}x{self.cfg.score_size} (check track.stride/base_size)"
            )
        score = torch.softmax(cls.reshape(2, n), dim=0)[1].cpu().numpy()
        scale_z = self.cfg.exemplar_size / self._context_size()
        w, h = self.size * scale_z
        px, py = self.points
        return score, np.stack([px, py, np.full(n, w), np.full(n, h)])
