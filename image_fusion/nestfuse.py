"""NestFuse (Li, Wu, Durrani, IEEE TIM 2020): nest auto-encoder + spatial/channel attention fusion.

>>> import numpy as np
>>> from rgbtfuse.image_fusion import create_model
>>> net = create_model("nestfuse", strategy="attention_avg")  # weights="nestfuse_1e2.model": the published ones
>>> vis, ir = np.full((32, 40), 120, np.uint8), np.full((32, 40), 60, np.uint8)
>>> net.fuse_arrays(vis, ir).shape
(32, 40)

The fusion at each of the four scales is the registered ``rgbtfuse.fusion`` module named by
``strategy`` (NestFuse's ``attention_avg`` / ``attention_max`` / ``attention_nuclear``, or any
other parameter-free fusion such as ``l1`` or ``mean``). The published test code calls it with
(infrared, visible); SCA is symmetric, so the order does not matter.
"""

from __future__ import annotations

from typing import Any

import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import MultiScaleFusion
from rgbtfuse.image_fusion.nest import NEST_CHANNELS, NestAutoEncoderNet
from rgbtfuse.image_fusion.registry import register_model


class NestFuse(NestAutoEncoderNet):
    """NestFuse with a training-free per-scale fusion (state dict = the published auto-encoder's).

    Args:
        strategy: registered fusion name used at every scale (default NestFuse's ``attention_avg``).
        deepsupervision: ``True`` for the ``nestfuse_1e2_deep_super.model`` checkpoint.
        authors_split: fuse images > 512 px in four overlapping parts, as the authors' test code.
        **fusion_cfg: options of the fusion module (e.g. ``pooling`` for ``sca``).
    """

    def __init__(
        self, strategy: str = "attention_avg", deepsupervision: bool = False, authors_split: bool = False, **fusion_cfg: Any
    ):
        super().__init__(NEST_CHANNELS, deepsupervision, minmax_eps=0.0, authors_split=authors_split)
        self.strategy = strategy
        self.fusion = MultiScaleFusion.build(strategy, NEST_CHANNELS, **fusion_cfg)
        if any(len(m.state_dict()) for m in self.fusion.scales):
            raise ConfigError(f"nestfuse: strategy {strategy!r} has parameters; NestFuse takes training-free fusions")

    def fuse_features(self, rgb: list[torch.Tensor], ir: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fusion(rgb, ir)


@register_model("nestfuse")
def nestfuse(
    strategy: str = "attention_avg", deepsupervision: bool = False, authors_split: bool = False, **fusion_cfg: Any
) -> NestFuse:
    """NestFuse; published weights: ``nestfuse_1e2.model`` (``deepsupervision=False``)."""
    return NestFuse(strategy, deepsupervision, authors_split, **fusion_cfg)
