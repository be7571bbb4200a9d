"""``train.optimizer``: per-submodule learning-rate multipliers (``lr_mult``) and the schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.training.optim import OptimConfig, build_optimizer, build_scheduler, lr_factor


def _module() -> nn.Module:
    torch.manual_seed(0)
    return nn.ModuleDict({"rule": nn.Linear(3, 3), "net": nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))})


def test_lr_mult_scales_the_update_of_matched_parameters():
    """Plain SGD: a step moves each parameter by ``lr · mult · grad``; same grads, so update ratios are exact."""
    model = _module()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = build_optimizer(model.named_parameters(), OptimConfig(name="sgd", lr=0.1, momentum=0.0, lr_mult={"net": 0.25}))
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    for name, p in model.named_parameters():
        want = 0.1 * (0.25 if name.startswith("net.") else 1.0)
        torch.testing.assert_close(before[name] - p.detach(), torch.full_like(p, want), rtol=1e-6, atol=0)


def test_schedule_keeps_the_ratio_between_groups():
    model = _module()
    cfg = OptimConfig(lr=3e-3, schedule="cosine", warmup_steps=5, lr_mult={"net": 0.1})
    opt = build_optimizer(model.named_parameters(), cfg)
    sched = build_scheduler(opt, 50, cfg)
    for step in range(1, 50):
        opt.step()
        sched.step()
        base, scaled = (g["lr"] for g in opt.param_groups)
        assert base == pytest.approx(3e-3 * lr_factor(step, 50, cfg), rel=1e-12)  # float products only
        assert scaled == pytest.approx(0.1 * base, rel=1e-12)


def test_lr_mult_matches_whole_name_components_only():
    """``net`` matches ``scales.0.net.weight``, not ``subnet.weight``; a key that matches nothing is an error."""
    model = nn.ModuleDict({"subnet": nn.Linear(2, 2), "net": nn.Linear(2, 2)})
    opt = build_optimizer(model.named_parameters(), OptimConfig(lr=1.0, lr_mult={"net": 0.5}))
    assert [(len(g["params"]), g["lr"]) for g in opt.param_groups] == [(2, 1.0), (2, 0.5)]
    with pytest.raises(ConfigError, match=r"lr_mult: no trainable parameter has a name component \['decoder'\]"):
        build_optimizer(model.named_parameters(), OptimConfig(lr_mult={"decoder": 0.5}))


@pytest.mark.parametrize("bad", [0, -1.0, "fast", True])
def test_lr_mult_must_be_a_positive_number(bad):
    with pytest.raises(ConfigError, match=r"train\.optimizer\.lr_mult\.net: must be a number > 0"):
        build_optimizer(_module().named_parameters(), OptimConfig(lr_mult={"net": bad}))
