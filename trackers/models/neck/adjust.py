"""NanoTrack's ``AdjustLayer`` parameters (``neck.downsample.{0,1}``).

The published NanoTrack checkpoints carry a 1×1 conv + BN "adjust" neck, but the authors'
model never applies it (their ``template``/``track`` feed backbone features straight to the
head). It is kept so that the checkpoints load with their exact keys, and so that a trained
RGB-T checkpoint stays loadable by the authors' code; :class:`~trackers.models.nanotrack.NanoTrack`
does not call it.
"""

from __future__ import annotations

from torch import nn


class AdjustLayer(nn.Module):
    """Holder of the published ``downsample`` conv + BN (``in_channels`` → ``out_channels``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
