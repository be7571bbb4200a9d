"""Stateless fusion operators on ``(B, C, H, W)`` feature maps, shared by the modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weights_from_activity(a1: torch.Tensor, a2: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``w1 = a1 / (a1 + a2 + eps)``, ``w2 = a2 / (a1 + a2 + eps)``.

    With ``eps == 0`` a zero total gives equal weights 0.5 instead of NaN.
    """
    total = a1 + a2 + eps
    if eps == 0.0:
        zero = total == 0
        total = torch.where(zero, torch.ones_like(total), total)
        w1 = torch.where(zero, torch.full_like(a1, 0.5), a1 / total)
        w2 = torch.where(zero, torch.full_like(a2, 0.5), a2 / total)
        return w1, w2
    return a1 / total, a2 / total


def l1_activity(x: torch.Tensor, window: int = 0) -> torch.Tensor:
    """Channel-wise l1 norm ``sum_c |x|`` → ``(B, 1, H, W)``, optionally box-averaged.

    ``window`` is the radius r of the ``(2r+1)²`` averaging box (DenseFuse/DIDFuse use r = 1);
    borders are zero-padded and divided by the full box size, as a zero-padded conv does.
    """
    act = x.abs().sum(dim=1, keepdim=True)
    if window > 0:
        k = 2 * window + 1
        act = F.avg_pool2d(act, k, stride=1, padding=window, count_include_pad=True)
    return act


def nuclear_norm_per_channel(x: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
    """Nuclear norm (sum of singular values) of every ``H × W`` channel map → ``(B, C, 1, 1)``.

    One batched SVD over all ``B·C`` maps. ``offset`` is added to the maps first (NestFuse adds
    its ε = 1e-5 before the SVD). Computed in float64 for stability, returned in ``x.dtype``.
    """
    b, c = x.shape[:2]
    s = torch.linalg.svdvals((x.double() + offset).reshape(b * c, *x.shape[2:]))
    return s.sum(dim=-1).reshape(b, c, 1, 1).to(x.dtype)


def channel_pool(x: torch.Tensor, mode: str, nuclear_offset: float = 0.0) -> torch.Tensor:
    """Global pooling of each channel → ``(B, C, 1, 1)``: ``avg``, ``max`` or ``nuclear``."""
    if mode == "avg":
        return x.mean(dim=(2, 3), keepdim=True)
    if mode == "max":
        return x.amax(dim=(2, 3), keepdim=True)
    if mode == "nuclear":
        return nuclear_norm_per_channel(x, nuclear_offset)
    raise ValueError(f"unknown channel pooling {mode!r} (avg, max, nuclear)")
