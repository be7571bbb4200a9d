"""pysot's SiamRPNTracker decoding on top of the shared :class:`SiameseTracker` loop."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.grids import AnchorConfig, anchor_grid
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.models.siamrpn import build_siamrpn
from rgbtfuse.trackers.registry import register_tracker
from rgbtfuse.trackers.tracker.base import SiameseTracker, TrackConfig


# pysot's TRACK defaults are TrackConfig's own
@register_tracker("siamrpn", build_model=build_siamrpn)
class SiamRPNTracker(SiameseTracker):
    """Anchor-based decoding: foreground softmax per anchor, deltas → boxes with pysot's anchors."""

    def __init__(self, model: SiameseRGBT, cfg: TrackConfig, device: torch.device | str = "cpu", anchor: AnchorConfig | None = None):
        """``anchor`` defaults to the model's :attr:`~rgbtfuse.trackers.models.siamrpn.SiamRPNpp.anchor_cfg`."""
        anchor = anchor or getattr(model, "anchor_cfg", None) or AnchorConfig(stride=cfg.stride)
        if anchor.stride != cfg.stride:
            raise ConfigError(f"anchor stride {anchor.stride} != track stride {cfg.stride}")
        super().__init__(model, cfg, device)
        self.anchor_cfg = anchor
        self.anchors = anchor_grid(anchor, cfg.score_size)  # (A·S·S, 4) cx, cy, w, h float32

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """``cls (1, 2A, S, S)`` → foreground probability ``(A·S·S,)``; ``loc (1, 4A, S, S)`` →
        boxes ``(4, A·S·S)`` ``cx, cy, w, h`` (float32, as pysot)."""
        cls = outputs["cls"].permute(1, 2, 3, 0).reshape(2, -1).permute(1, 0)
        score = F.softmax(cls, dim=1)[:, 1].cpu().numpy()
        delta = outputs["loc"].permute(1, 2, 3, 0).reshape(4, -1).cpu().numpy().copy()
        a = self.anchors
        delta[0] = delta[0] * a[:, 2] + a[:, 0]
        delta[1] = delta[1] * a[:, 3] + a[:, 1]
        delta[2] = np.exp(delta[2]) * a[:, 2]
        delta[3] = np.exp(delta[3]) * a[:, 3]
        return score, delta
