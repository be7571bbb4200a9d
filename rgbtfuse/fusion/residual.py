"""A trainable fusion module as a zero-initialised correction of a training-free rule.

``fused = rule(φ_rgb, φ_ir) + s ⊙ net(φ_rgb, φ_ir)`` with ``s`` one learnable scale per channel,
initialised to zero (ReZero-style): an untrained module *is* the rule (``l1`` or ``mean``), whose
per-pixel weights sum to one, so the frozen head starts from features of the distribution it was
trained on and training can only move away from that where the head's loss asks for it. The first
optimiser step moves ``s`` only (``net``'s gradient is ``s`` times something); from then on both
train. Enabled for any trainable module with the ``residual`` option:

.. code-block:: yaml

    fusion: {name: rfn, residual: l1}          # or residual: {rule: l1, window: 1}, residual: mean
    fusion: {name: rfn, residual: {rule: gate, prior: l1}}   # a learned modality gate as the base

With ``rule: gate`` the base is itself trainable (:class:`~rgbtfuse.fusion.gate.ModalityGateFusion`,
its last layer zero, so with ``prior: l1`` the untrained module is still the ``l1`` rule): the gate
re-weights a failing sensor as a whole, the residual corrects what a convex mix of the two inputs
cannot express, and both train together.

State-dict keys: ``net.<the module's own keys>``, ``res_scale`` ``(1, C, 1, 1)`` and, with a
trainable base, ``rule.<the gate's keys>``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion.base import FusionModule

#: rules a residual module may start from: training-free ones, or the learned gate (starts as its prior)
RULES = ("l1", "mean", "gate")


class ResidualOnRule(FusionModule):
    """``rule(rgb, ir) + res_scale · net(rgb, ir)``; ``res_scale`` ``(1, C, 1, 1)`` starts at zero."""

    trainable = True

    def __init__(self, channels: int, rule: nn.Module, net: nn.Module):
        super().__init__(channels)
        self.rule = rule
        self.net = net
        self.res_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.rule(rgb, ir) + self.res_scale * self.net(rgb, ir)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def residual_options(spec: Any, name: str) -> tuple[str, dict[str, Any]]:
    """``residual:`` yaml value (``l1``, ``mean`` or ``{rule: l1, ...rule options}``) → ``(rule, options)``."""
    if isinstance(spec, str):
        rule, opts = spec, {}
    elif isinstance(spec, dict) and "rule" in spec:
        opts = dict(spec)
        rule = opts.pop("rule")
    else:
        raise ConfigError(f"fusion {name!r}: residual must be one of {RULES} or {{rule: NAME, ...}}, got {spec!r}")
    if rule not in RULES:
        raise ConfigError(f"fusion {name!r}: residual rule must be one of {RULES}, got {rule!r}")
    return rule, opts
