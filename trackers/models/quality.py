"""AFAT-style quality prediction network (QPN): score-map encoder + LSTM across frames.

AFAT (Xu et al., arXiv 2005.13708) predicts how reliable the current tracking result is from
the score maps of the current and previous frames with convolutional and LSTM modules; its
layer sizes, targets and loss are not published. This is rgbtfuse's version for mode
``decision`` (choices in docs/failure_aware.md):

* input per frame and branch (rgb, ir, fused): the branch's score map and its previous-frame
  map, both circularly shifted so that the current peak sits at index ``(0, 0)`` (as AFAT does
  before its QPN), ``(2, S, S)``; plus :data:`N_SCALARS` scalar cues of
  :mod:`rgbtfuse.trackers.tracker.evidence` (peak, APCE, cross-branch agreement, motion) and the
  log training-free qualities derived from them (:func:`derived_cues`);
* per branch, with weights shared by the three branches (a branch one-hot says which is which):
  a conv encoder of the maps (circular padding: the shifted map has no border), the code joined
  with the scalar cues, an LSTM over frames (state reset at ``init``), a linear layer and a
  sigmoid: the predicted IoU of that branch's box with the target. Sharing keeps the network
  small (a few thousand weights): trained on a few dozen generated sequences, a joint
  three-branch network memorised its training scenes instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import CheckpointError, ConfigError

#: number of scalar cues per branch (trackers/tracker/evidence.py: SCALAR_NAMES)
N_SCALARS = 7
#: cues the network derives from them (:func:`derived_cues`)
N_DERIVED = 4
N_BRANCHES = 3
_PEAK, _APCE, _AGREEMENT = 0, 2, 3


def derived_cues(scalars: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 4)`` from ``(..., 3, K)`` scalar cues: log(peak·APCE) and log(peak·APCE·agreement)
    — the training-free qualities, which are products a small network hardly forms from a few
    dozen sequences — and each relative to the best branch of the frame (≤ 0), all divided by 5
    (log-qualities span about −14…0)."""
    q = scalars[..., _PEAK] * scalars[..., _APCE]
    logs = torch.stack([torch.log(q + 1e-6), torch.log(q * scalars[..., _AGREEMENT] + 1e-6)], -1) / 5
    return torch.cat([logs, logs - logs.max(dim=-2, keepdim=True).values], -1)

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass
class QualityNetConfig:
    """Sizes of :class:`QualityNet` (``quality.net`` in the experiment yaml)."""

    channels: int = 4  # conv channels of the map encoder
    embed: int = 8  # map code size
    hidden: int = 16  # LSTM hidden size (per branch)
    pool: int = 4  # encoder output grid (adaptive pooling: any score-map size)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> QualityNetConfig:
        cfg = dict(cfg or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(cfg) - known):
            raise ConfigError(f"quality.net: unknown keys {unknown}; known: {sorted(known)}")
        out = cls(**cfg)
        for key, value in asdict(out).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"quality.net.{key} must be a positive integer, got {value!r}")
        return out


class QualityNet(nn.Module):
    """``forward(maps, scalars, state) -> (iou, state)``.

    ``maps``: ``(B, T, 3, 2, S, S)`` peak-shifted current/previous score maps per branch;
    ``scalars``: ``(B, T, 3, K)``; ``state``: the LSTM's ``(h, c)``, each ``(1, 3B, hidden)``
    (one stream per branch), or None (zeros: a fresh sequence). Returns ``iou`` ``(B, T, 3)``
    in ``[0, 1]``.
    """

    def __init__(self, cfg: QualityNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or QualityNetConfig()
        c = cfg.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(2, c, 3, padding=1, padding_mode="circular"),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, padding_mode="circular"),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(cfg.pool),
            nn.Flatten(),
            nn.Linear(2 * c * cfg.pool * cfg.pool, cfg.embed),
            nn.ReLU(inplace=True),
        )
        cues = N_SCALARS + N_DERIVED
        self.lstm = nn.LSTM(cfg.embed + cues + N_BRANCHES, cfg.hidden, batch_first=True)
        self.out = nn.Linear(cfg.hidden + cues, 1)
        self.register_buffer("branch_id", torch.eye(N_BRANCHES), persistent=False)

    def forward(self, maps: torch.Tensor, scalars: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        b, t, nb, two, s1, s2 = maps.shape
        if nb != N_BRANCHES or two != 2 or scalars.shape != (b, t, nb, N_SCALARS):
            raise ValueError(f"QualityNet: maps {tuple(maps.shape)} / scalars {tuple(scalars.shape)} do not match (B, T, 3, 2, S, S) / (B, T, 3, {N_SCALARS})")
        code = self.encoder(maps.reshape(b * t * nb, 2, s1, s2)).reshape(b, t, nb, -1)
        scalars = torch.cat([scalars, derived_cues(scalars)], -1)
        ident = self.branch_id.expand(b, t, nb, nb)
        x = torch.cat([code, scalars, ident], -1).transpose(1, 2).reshape(b * nb, t, -1)  # one stream per branch
        y, state = self.lstm(x, state)
        # the scalar cues also skip the LSTM: this frame's agreement/peak matter directly
        y = torch.cat([y, scalars.transpose(1, 2).reshape(b * nb, t, -1)], -1)
        iou = torch.sigmoid(self.out(y)).reshape(b, nb, t).transpose(1, 2)
        return iou, state


def qpn_file(net: QualityNet, meta: dict[str, Any]) -> dict[str, Any]:
    """What a QPN weights file holds: the state_dict, the net sizes and ``meta`` (tracker,
    evidence version, score-map size, training data) — tensors, numbers and strings only."""
    return {"format": "rgbtfuse-qpn", "state_dict": net.state_dict(), "net": asdict(net.cfg), "meta": meta}


def load_qpn(path: str) -> tuple[QualityNet, dict[str, Any]]:
    """``(net in eval mode, meta)`` from a file written by ``rgbtfuse train-quality``."""
    from rgbtfuse.checkpoint import read_checkpoint

    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != "rgbtfuse-qpn":
        raise CheckpointError(f"{path}: not a quality-network file of rgbtfuse train-quality (qpn.pth)")
    net = QualityNet(QualityNetConfig.from_dict(state["net"]))
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the network they describe ({exc})") from exc
    return net.eval(), dict(state.get("meta") or {})
