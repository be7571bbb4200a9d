"""NanoTrack (v1/v2/v3) as an RGB-T Siamese model.

State-dict keys are those of the published checkpoints (``backbone.features.*``,
``neck.downsample.*``, ``ban_head.*``) plus ``fusion.*`` / ``backbone_ir.*`` for RGB-T.

The authors' model never applies its neck (backbone features go straight to the head), so
NanoTrack has a single feature scale and both fusion positions (``neck``, ``backbone``) fuse
the backbone output: ``(B, 48, 8, 8)`` template and ``(B, 48, 16, 16)`` search maps (96
channels for v3).

.. code-block:: yaml

    model:
      type: nanotrack
      backbone: {type: mobilenetv3_small}             # mobilenetv3_small_v3 for v3
      neck: {in_channels: 64, out_channels: 64}       # published, unused (96 for v3)
      head: {type: ban_v2, in_channels: 48}           # ban_v1 | ban_v2 | ban_v3 (+ options)
"""

from __future__ import annotations

from typing import Any

import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.models.backbone.mobilenet_v3 import MobileNetV3Small
from rgbtfuse.trackers.models.fusion_config import FusionConfig
from rgbtfuse.trackers.models.head.ban import build_ban_head
from rgbtfuse.trackers.models.neck.adjust import AdjustLayer
from rgbtfuse.trackers.models.siamese import SiameseRGBT

_MODEL_KEYS = {"type", "backbone", "neck", "head"}


class NanoTrack(SiameseRGBT):
    """NanoTrack network; the head is published as ``ban_head``."""

    head_name = "ban_head"

    def _neck(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        # the published neck (pysot's AdjustLayer: same keys) is never applied, as in the authors' model
        return feats


def _section(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key, {})
    if isinstance(value, str):
        return {"type": value}
    if not isinstance(value, dict):
        raise ConfigError(f"model.{key}: expected a mapping, got {value!r}")
    return dict(value)


def build_nanotrack(cfg: dict[str, Any], fusion: dict[str, Any] | FusionConfig | None = None, mode: str | None = None) -> NanoTrack:
    """Build NanoTrack from the ``model:`` section (and ``fusion:`` section) of an experiment yaml.

    ``mode`` defaults to ``fused`` with a fusion section, else ``rgb``.
    Weights are random; load a published checkpoint with
    :func:`rgbtfuse.trackers.models.weights.load_tracker_weights`.
    """
    unknown = sorted(set(cfg) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(f"model: unknown keys {unknown} for type nanotrack; known: {sorted(_MODEL_KEYS)}")
    backbone_cfg, neck_cfg, head_cfg = _section(cfg, "backbone"), _section(cfg, "neck"), _section(cfg, "head")
    try:
        backbone = MobileNetV3Small(backbone_cfg.pop("type", "mobilenetv3_small"), **backbone_cfg)
        neck = AdjustLayer(**{"in_channels": backbone.out_channels, "out_channels": backbone.out_channels, **neck_cfg})
    except TypeError as exc:
        raise ConfigError(f"model: bad backbone/neck options: {exc}") from exc
    head = build_ban_head(head_cfg.pop("type", "ban_v2"), **head_cfg)
    fusion_cfg = fusion if isinstance(fusion, FusionConfig) or fusion is None else FusionConfig.from_dict(fusion)
    if fusion_cfg is None:
        return NanoTrack(backbone, neck, head, mode=mode or "rgb")
    return NanoTrack(
        backbone,
        neck,
        head,
        fusion=fusion_cfg.build([backbone.out_channels]),
        fusion_position=fusion_cfg.position,
        share_backbone=fusion_cfg.share_backbone,
        mode=mode or "fused",
    )
