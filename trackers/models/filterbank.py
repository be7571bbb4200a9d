"""A training-free Siamese tracker: a fixed analytic filter bank and normalised cross-correlation.

The demo model (``rgbtfuse demo``) needs nothing from outside the package: its features are
analytic (no learned weights) and only the fusion module is trained, by ``rgbtfuse
train-fusion`` on generated scenes. See docs/demo.md for why (measured against training a
NanoTrack from scratch).

Backbone (:class:`FilterBank`), on raw 0–255 BGR crops ``(B, 3, H, W)`` (IR replicated to 3
channels), every map average-pooled over ``stride``×``stride`` cells:

* intensity (gray / 255, Gaussian-smoothed) — the thermal signature in IR;
* oriented edge energy: ``|∂_θ G_σ * gray|`` for 4 orientations at 2 scales — texture/shape
  (scaled by σ so both scales have comparable ranges);
* centre-surround (difference of Gaussians), rectified ON and OFF — blobs;
* colour opponents ``R−G``, ``B−(R+G)/2``, rectified ± — zero for IR.

Head (:class:`NCCHead`): per-channel normalised (template std) zero-mean cross-correlation of
the template map with every window of the search map, divided by the window norm (NCC ∈
[−1, 1]), as foreground logits ``gain·NCC``; SiamFC's score map. It has no box regression: the
tracker (:class:`~rgbtfuse.trackers.tracker.siamfc_tracker.SiamFCTracker`) keeps the initial box size.

.. code-block:: yaml

    model:
      type: filterbank
      backbone: {stride: 8, sigmas: [2.0, 4.0], orientations: 4}
      head: {gain: 8.0}
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.models.fusion_config import FusionConfig
from rgbtfuse.trackers.models.siamese import SiameseRGBT

_MODEL_KEYS = {"type", "backbone", "head"}


def _gauss_1d(sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D Gaussian (unit sum) and its derivative (``Σ x·g'(x) = −1``), radius ``⌈3σ⌉``."""
    r = math.ceil(3 * sigma)
    x = torch.arange(-r, r + 1.0)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    d = -x * g / sigma**2
    return g, d / -(x * d).sum()


def _separable(img: torch.Tensor, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
    """``img (B, 1, H, W)`` filtered by ``col ⊗ row`` (replicate borders)."""
    r = row.numel() // 2
    out = F.conv2d(F.pad(img, [r, r, 0, 0], mode="replicate"), row.view(1, 1, 1, -1))
    return F.conv2d(F.pad(out, [0, 0, r, r], mode="replicate"), col.view(1, 1, -1, 1))


class FilterBank(nn.Module):
    """Fixed filter bank ``(B, 3, H, W)`` 0–255 BGR → ``(B, C, H/stride, W/stride)``.

    Filtering runs at half resolution with separable Gaussians; oriented derivatives are
    steered from the x/y derivatives (``∂_θ = cos θ ∂_x + sin θ ∂_y``).
    ``C = 1 + orientations·len(sigmas) + 2 + 4`` (15 with the defaults). No parameters.
    ``sigmas`` are in full-resolution pixels.
    """

    def __init__(self, stride: int = 8, sigmas: tuple[float, ...] = (2.0, 4.0), orientations: int = 4):
        super().__init__()
        if stride % 2 or stride < 2:
            raise ConfigError(f"filterbank stride must be even, got {stride}")
        self.stride = stride
        self.sigmas = tuple(float(s) / 2 for s in sigmas)  # half resolution
        self.angles = [math.pi * k / orientations for k in range(orientations)]
        self.out_channels = 1 + orientations * len(sigmas) + 2 + 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 2) / 255.0
        b, g, r = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        gray = (b + g + r) / 3
        g_fine, _ = _gauss_1d(0.75)
        g_coarse, _ = _gauss_1d(2.0)
        fine = _separable(gray, g_fine, g_fine)
        maps = [fine]
        for s in self.sigmas:
            gs, ds = _gauss_1d(s)
            gx, gy = _separable(gray, ds, gs), _separable(gray, gs, ds)
            maps += [(4 * s) * (math.cos(a) * gx + math.sin(a) * gy).abs() for a in self.angles]
        dog = 4 * (fine - _separable(gray, g_coarse, g_coarse))
        opp = torch.cat([r - g, b - (r + g) / 2], 1)
        maps += [F.relu(dog), F.relu(-dog), F.relu(opp), F.relu(-opp)]
        return F.avg_pool2d(torch.cat(maps, 1), self.stride // 2)


def ncc_map(z: torch.Tensor, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero-mean normalised cross-correlation of template ``z`` ``(B, C, h, w)`` with every
    ``h×w`` window of ``x`` ``(B, C, H, W)`` → ``(B, 1, H−h+1, W−w+1)`` in [−1, 1].

    Each channel is scaled by the template's std of that channel first, so every channel
    counts about equally whatever its range."""
    bsz, c, h, w = z.shape
    std = z.flatten(2).std(dim=2).clamp_min(eps)[:, :, None, None]
    z = z / std
    x = x / std
    zc = z - z.mean(dim=(2, 3), keepdim=True)
    num = F.conv2d(x.reshape(1, bsz * c, *x.shape[2:]), zc, groups=bsz).reshape(bsz, 1, x.shape[2] - h + 1, -1)
    n = h * w
    mean = F.avg_pool2d(x, (h, w), stride=1)
    sq = F.avg_pool2d(x * x, (h, w), stride=1)
    var = (n * (sq - mean * mean)).sum(1, keepdim=True).clamp_min(eps)
    return num / (var.sqrt() * zc.flatten(1).norm(dim=1)[:, None, None, None].clamp_min(eps))


class NCCHead(nn.Module):
    """``(z, x)`` → ``cls (B, 2, S, S)`` background/foreground logits ``(0, gain·NCC)`` and
    ``loc (B, 4, S, S)``: a constant square of half side ``prior`` crop pixels (no regression;
    present so point-head training losses apply unchanged)."""

    def __init__(self, gain: float = 8.0, prior: float = 32.0):
        super().__init__()
        self.gain = gain
        self.prior = prior

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ncc = ncc_map(z, x)
        cls = torch.cat([torch.zeros_like(ncc), self.gain * ncc], 1)
        loc = torch.full((ncc.shape[0], 4, *ncc.shape[2:]), self.prior, dtype=ncc.dtype, device=ncc.device)
        return cls, loc


class FilterBankSiamese(SiameseRGBT):
    """Siamese RGB-T tracker on :class:`FilterBank` features with an :class:`NCCHead`."""

    head_name = "ncc_head"


def build_filterbank(cfg: dict[str, Any], fusion: dict[str, Any] | FusionConfig | None = None, mode: str = "rgb") -> FilterBankSiamese:
    """Build the filter-bank tracker from the ``model:`` (and ``fusion:``) section."""
    unknown = sorted(set(cfg) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(f"model: unknown keys {unknown} for type filterbank; known: {sorted(_MODEL_KEYS)}")
    try:
        backbone = FilterBank(**{k: tuple(v) if isinstance(v, list) else v for k, v in (cfg.get("backbone") or {}).items()})
        head = NCCHead(**(cfg.get("head") or {}))
    except TypeError as exc:
        raise ConfigError(f"model: bad filterbank backbone/head options: {exc}") from exc
    fusion_cfg = fusion if isinstance(fusion, FusionConfig) or fusion is None else FusionConfig.from_dict(fusion)
    if fusion_cfg is None:
        return FilterBankSiamese(backbone, None, head, mode=mode)
    return FilterBankSiamese(
        backbone, None, head, fusion=fusion_cfg.build([backbone.out_channels]),
        fusion_position=fusion_cfg.position, share_backbone=True, mode=mode,
    )
