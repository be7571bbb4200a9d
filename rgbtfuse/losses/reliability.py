"""Failure-aware supervision of a fusion module's modality weights.

With per-modality sensor failures simulated on the training crops (``data.pairs.degrade``), the
batch says which sensor failed on each pair (``degraded``: 0 none, 1 RGB, 2 IR). The frozen head's
tracking loss alone teaches a gate to down-weight a failed sensor only weakly: on the FLIR pairs
with salient (warm-blob) targets an IR failure costs the IR-only head little, so the gradient that
would move the weight is small. This loss states the physical prior directly — a failed sensor
should get at most ``margin`` of the fused feature:

``L = weight · mean_{failed pairs} max(0, w̄_failed − margin)²``

where ``w̄_failed`` is the mean (over scales, channels and pixels) of the fusion weight given to
the failed modality. Pairs without a failure do not count, so the head's loss alone sets the mix
of two working sensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def failed_modality_penalty(
    weights: Sequence[tuple[torch.Tensor, torch.Tensor]],
    failed: torch.Tensor,
    margin: float = 0.2,
    weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Hinge on the weight a fusion module gives a failed sensor.

    Args:
        weights: per scale ``(w_rgb, w_ir)``, each ``(B, C, H, W)`` or ``(B, C, 1, 1)``, summing to one.
        failed: ``(B,)`` integer, 0 no failure, 1 RGB failed, 2 IR failed.
        margin: weight the failed sensor may keep without penalty.
        weight: factor of the loss.

    Returns:
        ``(loss, logs)``; ``logs['failed_weight']`` is the mean weight of the failed sensors
        (NaN when no pair of the batch has a failure, and the loss is then zero).

    >>> w = [(torch.full((2, 4, 3, 3), 0.7), torch.full((2, 4, 3, 3), 0.3))]
    >>> loss, logs = failed_modality_penalty(w, torch.tensor([0, 1]), margin=0.2)
    >>> round(loss.item(), 4), round(logs["failed_weight"], 4)
    (0.25, 0.7)
    """
    failed = failed.long()
    mask = failed > 0
    if not bool(mask.any()):
        return weights[0][0].new_zeros(()), {"loss": 0.0, "failed_weight": float("nan")}
    per_scale = [torch.stack([w_rgb.mean(dim=(1, 2, 3)), w_ir.mean(dim=(1, 2, 3))], 1) for w_rgb, w_ir in weights]
    w = torch.stack(per_scale, 0).mean(0)  # (B, 2)
    w_failed = w[mask, failed[mask] - 1]
    total = weight * torch.relu(w_failed - margin).square().mean()
    return total, {"loss": total.item(), "failed_weight": w_failed.mean().item()}
