"""SiamRPN++ (pysot) as an RGB-T :class:`~rgbtfuse.trackers.models.siamese.SiameseRGBT`, built from a dict.

State-dict keys are pysot's (``backbone.*``, ``neck.*``, ``rpn_head.*``): the published model-zoo
checkpoints load as-is (458 keys for ``siamrpn_r50_l234_dwxcorr``, 450 for
``siamrpn_mobilev2_l234_dwxcorr``), plus ``fusion.*`` (none for training-free fusions) and
``backbone_ir.*`` with a separate IR backbone.

Model config schema (the ``model:`` section of an experiment yaml = pysot's ``config.yaml``
sections in lower case; :func:`pysot_config` converts a pysot file)::

    type: siamrpn            # (read by rgbtfuse.trackers.builder)
    backbone: {type: resnet50 | mobilenetv2, kwargs: {used_layers: [2, 3, 4], width_mult: 1.4}}
    adjust:   {adjust: true, type: AdjustAllLayer | AdjustLayer,
               kwargs: {in_channels: [512, 1024, 2048], out_channels: [256, 256, 256]}}
    rpn:      {type: MultiRPN, kwargs: {anchor_num: 5, in_channels: [256, 256, 256], weighted: true}}
              # or {type: DepthwiseRPN, kwargs: {anchor_num: 5, in_channels: 256, out_channels: 256}}
    anchor:   {stride: 8, ratios: [0.33, 0.5, 1, 2, 3], scales: [8], anchor_num: 5}

``anchor`` is kept on the model (:attr:`SiamRPNpp.anchor_cfg`) for the tracker's decoding; the
tracking constants (pysot's ``TRACK``) go in the experiment's top-level ``track:`` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.grids import AnchorConfig
from rgbtfuse.trackers.models.backbone.mobile_v2 import mobilenetv2
from rgbtfuse.trackers.models.backbone.resnet_atrous import resnet50
from rgbtfuse.trackers.models.fusion_config import FusionConfig
from rgbtfuse.trackers.models.head.rpn import DepthwiseRPN, MultiRPN
from rgbtfuse.trackers.models.neck.adjust import AdjustAllLayer, AdjustLayer
from rgbtfuse.trackers.models.siamese import SiameseRGBT

BACKBONES = {"resnet50": resnet50, "mobilenetv2": mobilenetv2}
NECKS = {"AdjustLayer": AdjustLayer, "AdjustAllLayer": AdjustAllLayer}
RPNS = {"DepthwiseRPN": DepthwiseRPN, "MultiRPN": MultiRPN}
_MODEL_KEYS = {"type", "meta_arc", "backbone", "adjust", "rpn", "anchor", "mask"}


class SiamRPNpp(SiameseRGBT):
    """SiamRPN++ with pysot's attribute names; the template side of the head runs once per target."""

    head_name = "rpn_head"
    #: anchors the head's outputs refer to (set by :func:`build_siamrpn`)
    anchor_cfg: AnchorConfig = AnchorConfig()

    def template(self, z_rgb: torch.Tensor | None, z_ir: torch.Tensor | None) -> None:
        super().template(z_rgb, z_ir)
        self.kernels = self._head_kernels(self.zf)

    def track(self, x_rgb: torch.Tensor | None, x_ir: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``{'cls': (B, 2A, 25, 25), 'loc': (B, 4A, 25, 25)}`` for ``(B, 3, 255, 255)`` search crops."""
        if self.zf is None:
            raise RuntimeError("template() must be called before track()")
        xf = self.features(x_rgb, x_ir)
        head = self.rpn_head
        cls, loc = head.correlate(self.kernels, xf if isinstance(head, MultiRPN) else xf[0])
        return {"cls": cls, "loc": loc}

    def _head_kernels(self, zf: list[torch.Tensor]) -> Any:
        return self.rpn_head.kernels(zf if isinstance(self.rpn_head, MultiRPN) else zf[0])


def _section(cfg: Mapping[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    sec = cfg.get(name)
    if not isinstance(sec, Mapping) or "type" not in sec:
        raise ConfigError(f"model config needs '{name}: {{type: ..., kwargs: {{...}}}}', got {sec!r}")
    kwargs = sec.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"model config '{name}.kwargs' must be a mapping, got {kwargs!r}")
    return sec["type"], dict(kwargs)


def _make(table: dict, kind: str, name: str, kwargs: dict[str, Any]) -> Any:
    if name not in table:
        raise ConfigError(f"unknown {kind} type {name!r}; available: {', '.join(sorted(table))}")
    try:
        return table[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{kind} {name!r}: bad kwargs {kwargs}: {exc}") from exc


def build_siamrpn(
    cfg: Mapping[str, Any],
    fusion: Any = None,
    fusion_position: str = "neck",
    share_backbone: bool = True,
    mode: str | None = None,
) -> SiamRPNpp:
    """Build :class:`SiamRPNpp` (random weights) from the schema in the module docstring.

    Args:
        cfg: the ``model:`` section (lower-case pysot keys).
        fusion: ``None`` (RGB/IR only); a built :class:`~rgbtfuse.fusion.MultiScaleFusion`; or the
            experiment's ``fusion:`` section (a mapping or its
            :class:`~rgbtfuse.trackers.models.fusion_config.FusionConfig`), built for the channels at its
            position (``neck``: the neck's outputs, ``backbone``: the used layers').
        fusion_position, share_backbone: used with a built ``MultiScaleFusion``.
        mode: ``rgb``, ``ir`` or ``fused``; default ``fused`` with a fusion, else ``rgb``.
    """
    unknown = sorted(set(cfg) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(f"model: unknown keys {unknown} for type siamrpn; known: {sorted(_MODEL_KEYS)}")
    mask = cfg.get("mask")
    if mask and (not isinstance(mask, Mapping) or mask.get("mask")):
        raise ConfigError("model.mask: SiamMask is not supported, only SiamRPN++ box heads")
    backbone = _make(BACKBONES, "backbone", *_section(cfg, "backbone"))
    neck = None
    adjust = cfg.get("adjust") or {}
    if adjust and adjust.get("adjust", True):
        neck = _make(NECKS, "adjust", *_section(cfg, "adjust"))
    head = _make(RPNS, "rpn", *_section(cfg, "rpn"))
    anchor = AnchorConfig.from_dict(dict(cfg.get("anchor") or {}))
    if isinstance(fusion, Mapping):
        fusion = FusionConfig.from_dict(dict(fusion))
    if isinstance(fusion, FusionConfig):
        fusion_position, share_backbone = fusion.position, fusion.share_backbone
        fusion = fusion.build(_fusion_channels(backbone, neck, fusion_position))
    if mode is None:
        mode = "fused" if fusion is not None else "rgb"
    model = SiamRPNpp(backbone, neck, head, fusion, fusion_position, share_backbone, mode)
    model.anchor_cfg = anchor
    return model


def _fusion_channels(backbone: Any, neck: Any, position: str) -> list[int]:
    if position == "backbone" or neck is None:
        return list(backbone.channels)
    return neck.out_channels if isinstance(neck, AdjustAllLayer) else [neck.downsample[0].out_channels]


def pysot_config(path: str | Path) -> dict[str, Any]:
    """A pysot ``experiments/*/config.yaml`` as an experiment dict ``{model: ..., track: ...}``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read pysot config ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: not a pysot config (expected a mapping)")
    # pysot's section and option names are upper case; backbone/neck/head kwargs are already python names
    sections = {str(k).lower(): ({str(o).lower(): v for o, v in sec.items()} if isinstance(sec, Mapping) else sec) for k, sec in raw.items()}
    track = dict(sections.pop("track", {}))
    if track.pop("type", "SiamRPNTracker") != "SiamRPNTracker":
        raise ConfigError(f"{path}: TRACK.TYPE must be SiamRPNTracker")
    model = {k: v for k, v in sections.items() if k in _MODEL_KEYS}
    return {"model": {"type": "siamrpn", **model}, "track": track}
