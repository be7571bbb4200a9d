"""Training a tracker's fusion module with the rest of the tracker frozen.

The loss is the sum, over template and search crops, of a feature-level loss of the fused
features (``rfn``: RFN-Nest Eq. 6–7; ``lrrnet``: LRRNet Eq. 15) and, optionally, the tracking
loss of the frozen head on the fused features (``tracking_weight`` > 0): point targets for
NanoTrack-style heads, pysot's anchor targets (cls + 1.2·loc) for SiamRPN++, and optionally
(``reliability``) a hinge on the weight a gate gives a sensor whose crop has a simulated failure
(:mod:`rgbtfuse.losses.reliability`).

.. code-block:: yaml

    train:
      weights: path/to/nanotrackv2.pth      # the published tracker (frozen)
      loss: {name: rfn, alpha: 700, w_vi: 3, w_ir: 6, w1: [1]}
      tracking_weight: 0.0                  # > 0: add the head's tracking loss (needs boxes)
      reliability: {weight: 16, margin: 0.2}  # optional, gate-based modules: failed sensor's weight below 0.2
      steps: 500
      batch_size: 8
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion.gate import modality_gate
from rgbtfuse.losses import lrrnet_tracking_loss, rfn_tracking_loss
from rgbtfuse.losses.feature import rule_regulariser
from rgbtfuse.losses.reliability import failed_modality_penalty
from rgbtfuse.losses.tracking import anchor_targets, point_targets, point_tracking_loss, rpn_tracking_loss

#: ``train.loss.name`` → feature loss. ``rfn``/``rfn_paper`` and ``lrrnet``/``lrrnet_paper`` are the
#: papers' recipes; ``rule`` is the regulariser of the tracking-loss recipe (see docs/train_fusion.md).
FEATURE_LOSSES = {
    "rfn": rfn_tracking_loss,
    "rfn_paper": rfn_tracking_loss,
    "lrrnet": lrrnet_tracking_loss,
    "lrrnet_paper": lrrnet_tracking_loss,
    "rule": rule_regulariser,
}


class FusionLoss:
    """``loss_fn(batch) -> (loss, logs)`` for :class:`rgbtfuse.training.Trainer`.

    ``model`` is a :class:`rgbtfuse.trackers.models.siamese.SiameseRGBT` whose non-fusion parameters are
    frozen; its backbone/neck run without autograd, only the fusion module builds a graph.
    """

    def __init__(
        self,
        model: Any,
        loss: dict[str, Any],
        tracking_weight: float = 0.0,
        track_cfg: Any = None,
        tracking: dict[str, float] | None = None,
        reliability: dict[str, float] | None = None,
    ):
        loss = dict(loss)
        name = loss.pop("name", None)
        if name not in FEATURE_LOSSES:
            raise ConfigError(f"train.loss.name must be one of {sorted(FEATURE_LOSSES)}, got {name!r}")
        # ``samples: healthy`` (rule only): regularise only pairs without a simulated sensor failure
        # (``degraded``/``dropped`` of the batch are 0), so the pull towards the rule never opposes
        # down-weighting a failed sensor
        self.samples = loss.pop("samples", "all")
        if self.samples not in ("all", "healthy") or (self.samples == "healthy" and name != "rule"):
            raise ConfigError(f"train.loss.samples must be all or healthy (healthy only with name: rule), got {self.samples!r}")
        self.model = model
        self.feature_loss = FEATURE_LOSSES[name]
        self.options = loss
        self.tracking_weight = tracking_weight
        self.track_cfg = track_cfg
        tracking = dict(tracking or {})
        if unknown := sorted(set(tracking) - {"cls", "loc"}):
            raise ConfigError(f"train.tracking: unknown keys {unknown}; known: cls, loc")
        self.cls_weight = float(tracking.get("cls", 1.0))
        self.loc_weight = float(tracking.get("loc", 1.0 if getattr(model, "anchor_cfg", None) is None else 1.2))
        if tracking_weight > 0 and track_cfg is None:
            raise ConfigError("train.tracking_weight > 0 needs the experiment's track: settings")
        self.reliability = _reliability_options(reliability, model.fusion)
        self.gates = [modality_gate(m) for m in model.fusion.scales] if self.reliability is not None else []

    def _fused(self, rgb: torch.Tensor, ir: torch.Tensor) -> tuple[list, list, list]:
        with torch.no_grad():
            f_rgb, f_ir = self.model.fusion_inputs(rgb, ir)
        return self.model.fusion(f_rgb, f_ir), f_rgb, f_ir

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        z = self._fused(batch["template_rgb"], batch["template_ir"])
        x = self._fused(batch["search_rgb"], batch["search_ir"])
        options = dict(self.options)
        if self.samples == "healthy":
            options["mask"] = (batch["degraded"] == 0) & (batch["dropped"] == 0)
        loss_z, logs_z = self.feature_loss(*z, **options)
        loss_x, logs_x = self.feature_loss(*x, **options)
        total = loss_z + loss_x
        logs = {f"template_{k}": v for k, v in logs_z.items() if k != "loss"}
        logs.update({f"search_{k}": v for k, v in logs_x.items() if k != "loss"})
        if self.tracking_weight > 0:
            track_loss, track_logs = self._tracking_loss(z[0], x[0], batch)
            total = total + self.tracking_weight * track_loss
            logs.update({f"track_{k}": v for k, v in track_logs.items()})
        if self.reliability is not None:
            # the gates' weights again (a small MLP on channel statistics), for the failed pairs' hinge
            weights = [g.weights(r, i) for g, r, i in zip(self.gates, x[1], x[2])]
            failed = torch.where(batch["degraded"] > 0, batch["degraded"], batch["dropped"])
            rel_loss, rel_logs = failed_modality_penalty(weights, failed, **self.reliability)
            total = total + rel_loss
            logs.update({f"reliability_{k}": v for k, v in rel_logs.items()})
        logs["loss"] = total.item()
        return total, logs

    def _tracking_loss(self, zf: list, xf: list, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.model.head_forward(self.model.head_input(zf), self.model.head_input(xf))
        cfg = self.track_cfg
        size = out["cls"].shape[-1]
        # seeded from the batch content so that a resumed run draws the same label subsets
        seed = int(batch["bbox"].double().sum().item() * 1000) % (2**31)
        rng = np.random.default_rng(seed)
        boxes, negs = batch["bbox"].cpu().numpy(), (batch["neg"].cpu().numpy() > 0.5)
        device = out["cls"].device
        anchor_cfg = getattr(self.model, "anchor_cfg", None)
        if anchor_cfg is None:  # point head (NanoTrack, SiamBAN-style)
            labels = [point_targets(b, size, cfg.stride, cfg.instance_size, rng, negative=n) for b, n in zip(boxes, negs)]
            label_cls, label_loc = (torch.from_numpy(np.stack(x)).to(device) for x in zip(*labels))
            return point_tracking_loss(out["cls"], out["loc"], label_cls, label_loc, self.cls_weight, self.loc_weight)
        from rgbtfuse.trackers.grids import anchor_grid

        grid = anchor_grid(anchor_cfg, size)
        labels = [anchor_targets(b, grid, size, anchor_cfg.stride, cfg.instance_size, rng, negative=n) for b, n in zip(boxes, negs)]
        label_cls, label_loc, label_w = (torch.from_numpy(np.stack(x)).to(device) for x in zip(*labels))
        return rpn_tracking_loss(out["cls"], out["loc"], label_cls, label_loc, label_w, self.cls_weight, self.loc_weight)


def _reliability_options(spec: dict[str, Any] | None, fusion: Any) -> dict[str, float] | None:
    """``train.reliability: {weight, margin}`` → options of :func:`failed_modality_penalty`, or None."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ConfigError(f"train.reliability must be a mapping {{weight, margin}}, got {spec!r}")
    if unknown := sorted(set(spec) - {"weight", "margin"}):
        raise ConfigError(f"train.reliability: unknown keys {unknown}; known: margin, weight")
    options = {"weight": float(spec.get("weight", 1.0)), "margin": float(spec.get("margin", 0.2))}
    if options["weight"] <= 0 or not 0 <= options["margin"] < 1:
        raise ConfigError(f"train.reliability: weight must be > 0 and margin in [0, 1), got {options}")
    if any(modality_gate(m) is None for m in fusion.scales):
        raise ConfigError("train.reliability needs modality weights: fusion name gate, or residual: {rule: gate}")
    return options
