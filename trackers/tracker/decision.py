"""Decision-level fusion (mode ``decision``): rgb, ir and fused heads propose, a rule decides.

One batched backbone pass gives the rgb and ir features; the fusion module merges them; the
head runs once on the three branches stacked in the batch (template kept per branch). Each
branch's score map is decoded by the wrapped tracker's own decoder and pysot's penalty/window
rule into a proposal; the decision rule picks the output, and the state carried to the next
frame is the chosen proposal's box (every branch searches around it on the next frame).

Rules (``decision.rule`` in the experiment yaml, formulas and sources in docs/failure_aware.md):

* ``quality`` (rgbtfuse): follow the fused branch unless a single-modality branch's quality is
  higher than the fused one by the factor ``1 + margin``; quality is training-free
  (:func:`branch_quality`), exponentially smoothed over frames (reset at init), or, with
  ``quality: qpn`` and ``quality_weights: FILE``, the IoU each branch's box is predicted to have
  by a trained AFAT-style quality network (:mod:`rgbtfuse.trackers.models.quality`, LSTM state reset at
  init; trained by ``rgbtfuse train-quality``).
* ``dfat``: DFAT's released rule over the rgb and ir heads — classification logits averaged,
  ``cls = 0.5 (w_ir cls_ir + w_rgb cls_rgb) / (w_ir + w_rgb)`` with ``w = 0.5``, box outputs
  averaged ``loc = 0.5 loc_ir + 0.5 loc_rgb``, and a fall-back to one modality when the other
  has no positive position (foreground probability above 0.5 nowhere).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rgbtfuse.boxes import box_iou
from rgbtfuse.config import from_dict
from rgbtfuse.errors import CheckpointError, ConfigError, RgbtfuseError
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.base import Proposal, SiameseTracker
from rgbtfuse.trackers.tracker.evidence import EVIDENCE_VERSION, EvidenceBuilder, apce

RULES = ("quality", "dfat")
#: training-free qualities, and ``qpn`` (a trained quality network, needs ``quality_weights``)
QUALITIES = ("peak", "apce", "peak_apce", "qpn")
#: training-free quality used where a QPN is asked for but a training-free one is needed
#: (the baseline ``rgbtfuse train-quality`` compares with, the data it collects)
DEFAULT_FREE_QUALITY = "peak_apce"


@dataclass
class DecisionConfig:
    """``decision:`` section of an experiment yaml."""

    rule: str = "quality"
    quality: str = "peak_apce"
    #: a single-modality branch replaces the fused one when its quality exceeds ``(1 + margin)·q_fused``
    margin: float = 0.0
    #: weight of the previous frame's quality in the running quality (0: this frame only)
    smooth: float = 0.0
    #: multiply each branch's quality by the mean IoU of its box with the other branches' boxes
    consensus: bool = False
    #: ``quality: qpn``: the weights of ``rgbtfuse train-quality``: a file, or a bundled name (``rgbtfuse weights list``)
    quality_weights: str | None = None

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> DecisionConfig:
        out = from_dict(cls, cfg, "decision")
        if out.rule not in RULES:
            raise ConfigError(f"decision.rule {out.rule!r}: expected one of {RULES}")
        if out.quality not in QUALITIES:
            raise ConfigError(f"decision.quality {out.quality!r}: expected one of {QUALITIES}")
        if out.margin < 0 or not 0 <= out.smooth < 1:
            raise ConfigError(f"decision.margin must be >= 0 and decision.smooth in [0, 1), got {out.margin}, {out.smooth}")
        if (out.quality == "qpn") != (out.quality_weights is not None):
            raise ConfigError(
                "decision.quality: qpn needs decision.quality_weights (a qpn.pth of rgbtfuse train-quality), and "
                f"quality_weights needs quality: qpn; got quality {out.quality!r}, quality_weights {out.quality_weights!r}"
            )
        if out.quality == "qpn" and out.rule != "quality":
            raise ConfigError(f"decision.quality: qpn works with rule: quality, not {out.rule!r}")
        return out

    def training_free(self) -> DecisionConfig:
        """The same settings with a training-free quality (``peak_apce`` in place of ``qpn``)."""
        if self.quality != "qpn":
            return self
        return dataclasses.replace(self, quality=DEFAULT_FREE_QUALITY, quality_weights=None)

    @property
    def source(self) -> str:
        """What the quality is, for outputs and summaries: ``qpn FILE`` or ``training-free NAME``."""
        if self.quality == "qpn":
            return f"qpn {self.quality_weights}"
        return f"training-free {self.quality}" + (" + consensus" if self.consensus else "")


def branch_quality(proposal: Proposal, kind: str) -> float:
    """Training-free quality of one branch's proposal: ``peak`` (foreground probability at the
    chosen position), ``apce`` (sharpness of the map, normalised by the map size), or their
    product ``peak_apce``."""
    if kind == "peak":
        return proposal.score
    sharp = apce(proposal.scores) / proposal.scores.size
    return sharp if kind == "apce" else proposal.score * sharp


class DecisionTracker:
    """Wraps a Siamese tracker whose model is in mode ``decision`` (see the module docstring).

    ``track`` returns ``{'bbox', 'best_score', 'valid', 'branch', 'quality', 'q_rgb', 'q_ir',
    'q_fused'}``: the followed branch (``dfat`` for DFAT's merged head) and its quality, and each
    branch's quality (NaN where a head gave no finite answer). With ``quality: qpn`` the
    qualities are the network's predicted IoUs.
    """

    mode = "decision"

    def __init__(self, base: SiameseTracker, cfg: DecisionConfig | None = None):
        if base.model.mode != "decision":
            raise ConfigError(f"the decision tracker needs its model in mode 'decision', not {base.model.mode!r}")
        self.base = base
        self.cfg = cfg or DecisionConfig()
        self.quality: dict[str, float] = {}
        #: branch followed on the last frame (None before the first tracked frame)
        self.branch: str | None = None
        self.evidence = EvidenceBuilder(base.cfg.score_size)
        self.qpn, self.qpn_state = (self._load_qpn(self.cfg.quality_weights) if self.cfg.quality == "qpn" else None), None

    def _load_qpn(self, weights: str) -> torch.nn.Module:
        from rgbtfuse.trackers.models.quality import load_qpn
        from rgbtfuse.weights import resolve_weights

        try:
            path = resolve_weights(weights)  # a file, or a bundled name (rgbtfuse weights list)
        except RgbtfuseError as exc:
            raise ConfigError(f"decision.quality_weights: {exc}") from None
        net, meta = load_qpn(str(path))
        if meta.get("evidence_version") != EVIDENCE_VERSION:
            raise CheckpointError(f"{path}: trained on evidence version {meta.get('evidence_version')}, this code makes version {EVIDENCE_VERSION}; retrain it")
        trained, here = meta.get("score_size"), self.base.cfg.score_size
        if trained != here:
            raise CheckpointError(f"{path}: trained for {trained}x{trained} score maps, this tracker makes {here}x{here}")
        trained_for = meta.get("model_class")
        if trained_for and trained_for != type(self.base.model).__name__:
            warnings.warn(f"{path}: QPN trained on a {trained_for} tracker, used with {type(self.base.model).__name__}", stacklevel=3)
        return net.to(self.base.device)

    @property
    def quality_source(self) -> str:
        """``qpn FILE`` or ``training-free NAME`` (said in outputs and summaries)."""
        return self.cfg.source

    @property
    def model(self) -> torch.nn.Module:
        return self.base.model

    def init(self, rgb: np.ndarray | None, ir: np.ndarray | None, bbox: tuple[float, float, float, float]) -> None:
        """Template of every branch from one backbone pass; the running qualities restart."""
        self.base.init(rgb, ir, bbox)
        self.quality, self.branch = {}, None
        self.evidence.reset()
        self.qpn_state = None  # the LSTM starts afresh on every sequence

    def branch_proposals(
        self, rgb: np.ndarray | None, ir: np.ndarray | None
    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Proposal | None], float, tuple[int, ...]]:
        """Head outputs and proposal per branch for this frame, without changing the state."""
        outputs, scale_z, shape = self.base.search(rgb, ir)
        per_branch = {b: {k: v[i : i + 1] for k, v in outputs.items()} for i, b in enumerate(BRANCHES)}
        proposals = {b: self.base.propose(*self.base.decode(o), scale_z, shape) for b, o in per_branch.items()}
        return per_branch, proposals, scale_z, shape

    @torch.inference_mode()
    def track(self, rgb: np.ndarray | None, ir: np.ndarray | None) -> dict[str, Any]:
        per_branch, proposals, scale_z, shape = self.branch_proposals(rgb, ir)
        q = self._predicted(proposals) if self.qpn is not None else self._qualities(proposals)
        if self.cfg.rule == "dfat":
            branch, chosen = self._dfat(per_branch, proposals, scale_z, shape)
        else:
            branch = self._follow(q)
            chosen = proposals[branch] if branch is not None else None
        self.branch = branch
        out: dict[str, Any] = {f"q_{b}": q.get(b, float("nan")) for b in BRANCHES}
        if chosen is None:
            return {"bbox": self.base._bbox(), "best_score": float("nan"), "valid": False, "branch": None, "quality": float("nan"), **out}
        self.base.commit(chosen)
        quality = q.get(branch, chosen.score)
        return {"bbox": chosen.bbox(), "best_score": chosen.score, "valid": True, "branch": branch, "quality": quality, **out}

    def _predicted(self, proposals: dict[str, Proposal | None]) -> dict[str, float]:
        """The QPN's predicted IoU per branch with a finite proposal (one LSTM step)."""
        maps, scalars = self.evidence.frame(proposals, self.base.center_pos, self.base.size)
        dev = self.base.device
        iou, self.qpn_state = self.qpn(torch.from_numpy(maps)[None, None].to(dev), torch.from_numpy(scalars)[None, None].to(dev), self.qpn_state)
        pred = iou[0, 0].cpu().numpy()
        self.quality = {b: float(pred[i]) for i, b in enumerate(BRANCHES) if proposals[b] is not None}
        return self.quality

    def _qualities(self, proposals: dict[str, Proposal | None]) -> dict[str, float]:
        """Running quality per branch with a finite proposal (smoothed with the previous frame's)."""
        out = {}
        for b, p in proposals.items():
            if p is None:
                continue
            raw = branch_quality(p, self.cfg.quality)
            if self.cfg.consensus:
                others = [float(box_iou(np.array([p.bbox()]), np.array([o.bbox()]))[0]) for c, o in proposals.items() if c != b and o is not None]
                raw *= float(np.mean(others)) if others else 1.0
            prev = self.quality.get(b)
            out[b] = raw if prev is None else self.cfg.smooth * prev + (1 - self.cfg.smooth) * raw
        self.quality = out
        return out

    def _follow(self, q: dict[str, float]) -> str | None:
        """The fused branch unless a single-modality branch beats it by the margin."""
        if not q:
            return None
        single = max((b for b in ("rgb", "ir") if b in q), key=q.__getitem__, default=None)
        if "fused" not in q:
            return single
        if single is not None and q[single] > (1 + self.cfg.margin) * q["fused"]:
            return single
        return "fused"

    def _dfat(
        self, per_branch: dict[str, dict[str, torch.Tensor]], proposals: dict[str, Proposal | None], scale_z: float, shape: tuple[int, ...]
    ) -> tuple[str | None, Proposal | None]:
        """DFAT's released rule: merge the rgb and ir head outputs, or fall back to one modality."""
        positive = {b: p is not None and float(p.scores.max()) > 0.5 for b, p in proposals.items() if b != "fused"}
        if positive["rgb"] != positive["ir"]:
            branch = "rgb" if positive["rgb"] else "ir"
            return branch, proposals[branch]
        w_rgb = w_ir = 0.5
        rgb, ir = per_branch["rgb"], per_branch["ir"]
        merged = {"cls": 0.5 * (w_ir * ir["cls"] + w_rgb * rgb["cls"]) / (w_ir + w_rgb), "loc": 0.5 * ir["loc"] + 0.5 * rgb["loc"]}
        return "dfat", self.base.propose(*self.base.decode(merged), scale_z, shape)
