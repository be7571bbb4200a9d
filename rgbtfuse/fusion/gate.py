"""A learned modality gate: per-channel RGB/IR weights predicted from each input's statistics.

``w = softmax_k(MLP([log(μ_rgb), log(σ_rgb), log(μ_ir), log(σ_ir)]))`` per channel, where
``μ_k, σ_k`` are the spatial mean and standard deviation of every channel of ``φ_k``;
``fused = w_rgb·φ_rgb + w_ir·φ_ir``. A failing sensor changes its features' statistics (a dark,
noisy or saturated RGB frame, a thermally flat IR frame), which the gate learns to down-weight —
the reliability weighting of many RGB-T trackers (e.g. MANet's/DAFNet's modality weights) in
its smallest form. The last layer starts at zero, so an untrained gate is the ``mean`` rule.

``prior: l1`` multiplies the gate into the ``l1`` rule's per-pixel weights instead:
``w_k(c, x, y) = softmax_k(log p_k(x, y) + logit_k(c))`` with ``p_k`` the ``l1`` weights (3×3 box),
so the weights still sum to one and an untrained gate is the ``l1`` rule (up to float rounding).
"""

from __future__ import annotations

import torch
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion.base import FusionModule, register_fusion
from rgbtfuse.fusion.functional import l1_activity, weights_from_activity


@register_fusion("gate")
class ModalityGateFusion(FusionModule):
    """Global per-channel modality weights from feature statistics.

    Args:
        channels: feature channels C.
        hidden: width of the MLP's hidden layer.
        eps: added before the logarithm of the statistics.

    Shape: ``rgb, ir: (B, C, H, W)`` → ``(B, C, H, W)``. Parameters: ``4C·hidden + hidden +
    hidden·2C + 2C``.
    """

    trainable = True

    def __init__(self, channels: int, hidden: int = 32, eps: float = 1e-3, prior: str = "mean"):
        super().__init__(channels)
        if prior not in ("mean", "l1"):
            raise ConfigError(f"gate prior must be mean or l1, got {prior!r}")
        self.eps = eps
        self.prior = prior
        self.mlp = nn.Sequential(nn.Linear(4 * channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def weights(self, rgb: torch.Tensor, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w_rgb, w_ir)`` summing to 1: ``(B, C, 1, 1)`` each, ``(B, C, H, W)`` with ``prior: l1``."""
        stats = [s for f in (rgb, ir) for s in (f.abs().mean(dim=(2, 3)), f.std(dim=(2, 3)))]
        logits = self.mlp(torch.log(torch.cat(stats, 1) + self.eps)).view(rgb.shape[0], 2, self.channels, 1, 1)
        if self.prior == "l1":
            p_rgb, p_ir = weights_from_activity(l1_activity(rgb, 1), l1_activity(ir, 1))
            log_prior = torch.log(torch.stack([p_rgb, p_ir], 1).clamp_min(1e-12))  # (B, 2, 1, H, W)
            logits = logits + log_prior
        w = torch.softmax(logits, dim=1)
        return w[:, 0], w[:, 1]

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        w_rgb, w_ir = self.weights(rgb, ir)
        return w_rgb * rgb + w_ir * ir


def modality_gate(module: nn.Module) -> ModalityGateFusion | None:
    """The learned gate that sets ``module``'s modality weights: the module itself, or the base of a
    residual module on a gate (``residual: {rule: gate}``); None for modules without one."""
    for candidate in (module, getattr(module, "rule", None)):
        if isinstance(candidate, ModalityGateFusion):
            return candidate
    return None
