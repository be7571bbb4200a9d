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
    fusion: {name: llrr, residual: {rule: gate, prior: l1, form: gain}}   # a bounded per-feature gain

With ``rule: gate`` the base is itself trainable (:class:`~rgbtfuse.fusion.gate.ModalityGateFusion`,
its last layer zero, so with ``prior: l1`` the untrained module is still the ``l1`` rule): the gate
re-weights a failing sensor as a whole, the residual corrects what a convex mix of the two inputs
cannot express, and both train together.

``form: gain`` makes the correction a bounded gain instead of an added feature:
``fused = base ⊙ (1 + s ⊙ tanh(net(φ_rgb, φ_ir)))``. The module can then only scale each fused
feature by at most ``1 ± |s|`` — it cannot put features where the base has none (an occluder's or a
washed-out sensor's texture passed through an unnormalised linear decoder) — and is still exactly
the base when untrained.

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
#: how the correction enters: added (``base + s·net``) or as a bounded gain (``base·(1 + s·tanh(net))``)
FORMS = ("add", "gain")


class ResidualOnRule(FusionModule):
    """``rule(rgb, ir) + res_scale · net(rgb, ir)`` (``form: add``) or
    ``rule(rgb, ir) · (1 + res_scale · tanh(net(rgb, ir)))`` (``form: gain``);
    ``res_scale`` ``(1, C, 1, 1)`` starts at zero."""

    trainable = True

    def __init__(self, channels: int, rule: nn.Module, net: nn.Module, form: str = "add"):
        super().__init__(channels)
        if form not in FORMS:
            raise ConfigError(f"residual form must be one of {FORMS}, got {form!r}")
        self.rule = rule
        self.net = net
        self.form = form
        self.res_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        base = self.rule(rgb, ir)
        if self.form == "gain":
            return base + base * self.res_scale * torch.tanh(self.net(rgb, ir))
        return base + self.res_scale * self.net(rgb, ir)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, form={self.form}"


def residual_options(spec: Any, name: str) -> tuple[str, str, dict[str, Any]]:
    """``residual:`` yaml value (``l1``, ``mean`` or ``{rule: l1, form: add, ...rule options}``) →
    ``(rule, form, rule options)``."""
    if isinstance(spec, str):
        rule, opts = spec, {}
    elif isinstance(spec, dict) and "rule" in spec:
        opts = dict(spec)
        rule = opts.pop("rule")
    else:
        raise ConfigError(f"fusion {name!r}: residual must be one of {RULES} or {{rule: NAME, ...}}, got {spec!r}")
    if rule not in RULES:
        raise ConfigError(f"fusion {name!r}: residual rule must be one of {RULES}, got {rule!r}")
    form = opts.pop("form", "add")
    if form not in FORMS:
        raise ConfigError(f"fusion {name!r}: residual form must be one of {FORMS}, got {form!r}")
    return rule, form, opts
