"""Feature-level losses for training a fusion module inside a frozen tracker.

Both take per-scale lists of ``(B, C, H, W)`` features: fused, RGB and IR. ``||·||²_F`` is taken
as the mean of squares (as the authors' training code does with ``MSELoss``), so the weights do
not depend on feature-map size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rgbtfuse.fusion.baselines import L1NormFusion
from rgbtfuse.losses.ssim import feature_ssim


def gram_matrix(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, C, C)`` Gram matrix ``F Fᵀ / (C·H·W)`` (LRRNet's normalisation)."""
    b, c, h, w = x.shape
    f = x.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def feature_target_loss(
    fused: Sequence[torch.Tensor],
    rgb: Sequence[torch.Tensor],
    ir: Sequence[torch.Tensor],
    w_vi: float,
    w_ir: float,
    w1: Sequence[float],
) -> torch.Tensor:
    """RFN-Nest's ``L_feature`` (Eq. 6): ``Σ_m w1(m)·||Φ_f^m − (w_vi·Φ_vi^m + w_ir·Φ_ir^m)||²``."""
    if len(w1) < len(fused):
        raise ValueError(f"w1 has {len(w1)} weights for {len(fused)} scales")
    return sum(w * F.mse_loss(f, w_vi * r + w_ir * i) for w, f, r, i in zip(w1, fused, rgb, ir))


def rfn_tracking_loss(
    fused: Sequence[torch.Tensor],
    rgb: Sequence[torch.Tensor],
    ir: Sequence[torch.Tensor],
    alpha: float = 700.0,
    w_vi: float = 3.0,
    w_ir: float = 6.0,
    w1: Sequence[float] = (1.0, 10.0, 100.0, 1000.0),
    ssim_window: int = 11,
) -> tuple[torch.Tensor, dict[str, float]]:
    """RFN-Nest's tracking loss (Eq. 7 + Eq. 6): ``α·L_detail + L_feature``.

    ``L_detail = Σ_m 1 − SSIM(Φ_f^m, l1(Φ_rgb^m, Φ_ir^m))`` (l1: the l1-norm fusion rule, 3×3 box)
    and ``L_feature = Σ_m w1(m)·||Φ_f^m − (w_vi·Φ_rgb^m + w_ir·Φ_ir^m)||²``. ``w1`` gives one
    weight per scale (the paper's four values are for its four encoder scales; a tracker with
    three levels uses the first three unless the yaml says otherwise).
    """
    feature = feature_target_loss(fused, rgb, ir, w_vi, w_ir, w1)
    detail = fused[0].new_zeros(())
    l1_rule = L1NormFusion(0, window=1)
    for f, r, i in zip(fused, rgb, ir):
        with torch.no_grad():
            target = l1_rule(r, i)
        detail = detail + (1 - feature_ssim(f, target, ssim_window))
    total = alpha * detail + feature
    return total, {"loss": total.item(), "detail": detail.item(), "feature": feature.item()}


def lrrnet_tracking_loss(
    fused: Sequence[torch.Tensor],
    rgb: Sequence[torch.Tensor],
    ir: Sequence[torch.Tensor],
    gamma_s: float = 10.0,
    gamma_m: float = 2.0,
    gamma_d: float = 2000.0,
    ws_r: float = 3.0,
    wm_i: float = 2.0,
    wm_r: float = 1.0,
    wd_i: float = 2.0,
    wd_r: float = 1.0,
    levels: Sequence[int] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """LRRNet's tracking loss (Eq. 15) on shallow / middle / deep fused features.

    ``γs·||F¹_f − ws_r·F¹_r||² + γm·||F²_f − (wm_i·F²_i + wm_r·F²_r)||²
    + γd·||Gram(F³_f) − (wd_i·Gram(F³_i) + wd_r·Gram(F³_r))||²``.
    ``levels`` picks the scale used as shallow, middle and deep (default: first, middle, last —
    the three ResNet-50 outputs of the paper; a one-scale tracker uses its one map for all three).
    """
    n = len(fused)
    s, m, d = levels if levels is not None else (0, n // 2, n - 1)
    shallow = F.mse_loss(fused[s], ws_r * rgb[s])
    middle = F.mse_loss(fused[m], wm_i * ir[m] + wm_r * rgb[m])
    deep = F.mse_loss(gram_matrix(fused[d]), wd_i * gram_matrix(ir[d]) + wd_r * gram_matrix(rgb[d]))
    total = gamma_s * shallow + gamma_m * middle + gamma_d * deep
    logs = {"loss": total, "shallow": shallow, "middle": middle, "deep": deep}
    return total, {k: v.item() for k, v in logs.items()}


def rule_regulariser(
    fused: Sequence[torch.Tensor],
    rgb: Sequence[torch.Tensor],
    ir: Sequence[torch.Tensor],
    rule: str = "l1",
    weight: float = 1.0,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``weight · Σ_m ||Φ_f − rule(Φ_rgb, Φ_ir)||² / ||rule(Φ_rgb, Φ_ir)||²``: how far the fused
    features moved from the training-free rule, relative to the rule's own energy (scale-free).

    The regulariser of the tracking-loss recipe (the head's loss dominates, as in DFAT's
    ``train_RFN``): it keeps the fused features in the distribution the frozen head was trained on.
    ``rule``: ``l1`` (3×3 box) or ``mean``. ``mask`` ``(B,)`` bool: only these samples count
    (e.g. the pairs where both sensors work); none selected gives zero.
    """
    if rule not in ("l1", "mean"):
        raise ValueError(f"rule must be l1 or mean, got {rule!r}")
    l1_rule = L1NormFusion(0, window=1)
    drift = fused[0].new_zeros(())
    if mask is not None:
        if not bool(mask.any()):
            return drift, {"loss": 0.0, "drift": 0.0}
        fused, rgb, ir = ([t[mask] for t in ts] for ts in (fused, rgb, ir))
    for f, r, i in zip(fused, rgb, ir):
        with torch.no_grad():
            target = l1_rule(r, i) if rule == "l1" else (r + i) / 2
            energy = target.square().mean().clamp_min(1e-12)
        drift = drift + F.mse_loss(f, target) / energy
    total = weight * drift
    return total, {"loss": total.item(), "drift": drift.item()}
