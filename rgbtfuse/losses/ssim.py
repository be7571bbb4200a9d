"""SSIM on feature maps (pytorch-msssim), with a window that fits small tracker features."""

from __future__ import annotations

import torch
from pytorch_msssim import ssim


def fitting_window(h: int, w: int, win_size: int = 11) -> int:
    """Largest odd window <= ``win_size`` that fits an ``h × w`` map (at least 1)."""
    size = min(win_size, h, w)
    return max(1, size if size % 2 == 1 else size - 1)


def feature_ssim(x: torch.Tensor, y: torch.Tensor, win_size: int = 11, data_range: float | None = None) -> torch.Tensor:
    """Mean SSIM of ``(B, C, H, W)`` feature maps ``x`` against ``y``.

    Features have no fixed range: unless given, ``data_range`` is the (detached) value range of
    ``y``, the target. The Gaussian window (σ = 1.5) shrinks to fit maps smaller than ``win_size``
    (tracker template features are 7×7 or 8×8).
    """
    if data_range is None:
        data_range = float((y.detach().amax() - y.detach().amin()).clamp_min(1e-6))
    win = fitting_window(x.shape[-2], x.shape[-1], win_size)
    return ssim(x, y, data_range=data_range, win_size=win, size_average=True)
