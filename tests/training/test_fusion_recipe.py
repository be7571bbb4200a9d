"""The tracking-loss fusion recipe: untrained modules equal the rule they start from, seeded
per-modality sensor failures, the bundled trained weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rgbtfuse.data.augment import SensorFailure
from rgbtfuse.data.pair_config import pair_config_from_dict
from rgbtfuse.errors import CheckpointError, ConfigError
from rgbtfuse.fusion import build_fusion
from rgbtfuse.weights import WEIGHTS, resolve_weights

REPO = Path(__file__).resolve().parents[2]
TRAINED = REPO / "rgbtfuse" / "trained"
#: module -> bundled weights of the salient-target recipes (issue #16)
SALIENT = {m: f"nanotrack_v2_{m}_track_salient" for m in ("rfn", "llrr", "gate", "rfn_gate", "rfn_light_gate", "llrr_gate_gain",
                                                          "gate_reliability")}


def _features(seed=0, c=48, hw=16):
    g = torch.Generator().manual_seed(seed)
    # ReLU-like maps of different scales per modality, as backbone features are
    rgb = torch.relu(torch.randn(2, c, hw, hw, generator=g)) * 3
    ir = torch.relu(torch.randn(2, c, hw, hw, generator=g))
    return rgb, ir


@pytest.mark.parametrize("name", ["rfn", "rfn_light", "llrr"])
@pytest.mark.parametrize("rule", ["l1", "mean"])
def test_untrained_residual_module_is_exactly_its_rule(name, rule):
    torch.manual_seed(1)
    rgb, ir = _features()
    module = build_fusion(name, 48, residual=rule)
    assert torch.equal(module(rgb, ir), build_fusion(rule, 48)(rgb, ir))
    # and it is not the rule once the scale has moved
    with torch.no_grad():
        module.res_scale.fill_(0.1)
    assert not torch.allclose(module(rgb, ir), build_fusion(rule, 48)(rgb, ir))


@pytest.mark.parametrize("name", ["rfn", "llrr"])
def test_gain_form_starts_as_its_rule_and_only_scales_the_base(name):
    torch.manual_seed(1)
    rgb, ir = _features(7)
    module = build_fusion(name, 48, residual={"rule": "l1", "form": "gain"})
    base = build_fusion("l1", 48)(rgb, ir)
    assert torch.equal(module(rgb, ir), base)
    with torch.no_grad():
        module.res_scale.fill_(0.5)
        module.net.apply(lambda m: m.weight.mul_(50) if isinstance(m, torch.nn.Conv2d) else None)  # a blown-up net
        out = module(rgb, ir)
    ratio = out[base != 0] / base[base != 0]
    # |tanh| <= 1, so the ratio lies in 1 ± 0.5, up to the rounding of one float32 product and division
    assert not torch.equal(out, base) and ratio.min() >= 0.5 - 1e-6 and ratio.max() <= 1.5 + 1e-6
    with pytest.raises(ConfigError, match="form"):
        build_fusion(name, 48, residual={"rule": "l1", "form": "product"})


def test_untrained_gate_is_its_prior():
    rgb, ir = _features(2)
    assert torch.equal(build_fusion("gate", 48)(rgb, ir), (rgb + ir) / 2)
    # softmax(log p) = p up to the rounding of exp/log (a few float32 ulps of values up to ~15)
    torch.testing.assert_close(build_fusion("gate", 48, prior="l1")(rgb, ir), build_fusion("l1", 48)(rgb, ir), rtol=1e-5, atol=1e-5)
    w_rgb, w_ir = build_fusion("gate", 48, prior="l1").weights(rgb, ir)
    torch.testing.assert_close(w_rgb + w_ir, torch.ones_like(w_rgb))


@pytest.mark.parametrize("name", ["rfn", "llrr"])
def test_residual_on_the_gate_starts_as_l1_and_trains_the_gate(name):
    torch.manual_seed(1)
    rgb, ir = _features(5)
    module = build_fusion(name, 48, residual={"rule": "gate", "prior": "l1"})
    # softmax(log p) = p up to the rounding of exp/log, as for the gate alone
    torch.testing.assert_close(module(rgb, ir), build_fusion("l1", 48)(rgb, ir), rtol=1e-5, atol=1e-5)
    assert {"rule.mlp.0.weight", "rule.mlp.2.weight", "res_scale"} <= set(module.state_dict())
    module(rgb, ir).square().mean().backward()
    assert module.rule.mlp[2].weight.grad.abs().sum() > 0  # the gate is trained with the residual
    assert module.res_scale.grad.abs().sum() > 0


def test_residual_options_are_checked():
    with pytest.raises(ConfigError, match="trainable modules only"):
        build_fusion("l1", 8, residual="l1")
    with pytest.raises(ConfigError, match="residual rule"):
        build_fusion("rfn", 8, residual="max")
    with pytest.raises(ConfigError, match="prior"):
        build_fusion("gate", 8, prior="nuclear")
    with pytest.raises(ConfigError, match="fusion 'llrr': residual form"):
        build_fusion("llrr", 8, residual={"rule": "gate", "form": "mul"})


def _crop(seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ir = np.repeat(rng.integers(0, 255, (64, 64, 1), dtype=np.uint8), 3, axis=2)
    return rgb, ir


@pytest.mark.parametrize("kind", ["night", "overexposure", "blur", "crossover", "washout", "occlusion", "dropout"])
def test_sensor_failure_is_seeded_and_keeps_thermal_gray(kind):
    rgb, ir = _crop()
    box = np.array([16.0, 16.0, 48.0, 48.0])
    a = SensorFailure.apply(ir, kind, 0.8, box, np.random.default_rng(5))
    b = SensorFailure.apply(ir, kind, 0.8, box, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == ir.shape and a.dtype == np.uint8
    assert np.array_equal(a[..., 0], a[..., 2])  # replicated thermal stays replicated
    assert not np.array_equal(a, ir)
    assert SensorFailure.apply(rgb, kind, 0.8, box, np.random.default_rng(5)).shape == rgb.shape


def test_sensor_failure_draws_and_options():
    fail = SensorFailure(p=1.0, rgb=("night",), ir=("crossover",), rgb_share=1.0)
    assert fail.draw(np.random.default_rng(0))[:2] == ("rgb", "night")
    assert SensorFailure(p=0.0).draw(np.random.default_rng(0)) is None
    draws = [SensorFailure(p=0.5).draw(np.random.default_rng(s)) for s in range(200)]
    hit = [d for d in draws if d is not None]
    assert 60 < len(hit) < 140 and {d[0] for d in hit} == {"rgb", "ir"}
    assert all(0.5 <= d[2] <= 1.0 for d in hit)
    with pytest.raises(ConfigError, match="unknown kinds"):
        pair_config_from_dict({"degrade": {"p": 0.5, "ir": ["night", "fog"]}})
    with pytest.raises(ConfigError, match="strength"):
        pair_config_from_dict({"degrade": {"p": 0.5, "strength": [0.8, 0.2]}})
    with pytest.raises(ConfigError, match="unknown options"):
        pair_config_from_dict({"degrade": {"prob": 0.5}})
    assert pair_config_from_dict({"degrade": {"p": 0.3}}).degrade.p == 0.3


def test_rule_regulariser_is_zero_at_the_rule_and_scale_free():
    from rgbtfuse.losses.feature import rule_regulariser

    rgb, ir = _features(3)
    l1 = build_fusion("l1", 48)(rgb, ir)
    assert rule_regulariser([l1], [rgb], [ir])[0].item() == 0.0
    moved = rule_regulariser([l1 * 1.1], [rgb], [ir])[0].item()
    assert moved == pytest.approx(rule_regulariser([l1 * 110], [rgb * 100], [ir * 100])[0].item(), rel=1e-4)


def test_rule_regulariser_mask_keeps_only_the_selected_samples():
    from rgbtfuse.losses.feature import rule_regulariser

    rgb, ir = _features(4)
    moved = build_fusion("l1", 48)(rgb, ir) * torch.tensor([1.0, 1.3]).view(2, 1, 1, 1)  # only sample 1 moved
    assert rule_regulariser([moved], [rgb], [ir], mask=torch.tensor([True, False]))[0].item() == 0.0
    assert rule_regulariser([moved], [rgb], [ir], mask=torch.tensor([False, True]))[0].item() == pytest.approx(
        rule_regulariser([moved[1:]], [rgb[1:]], [ir[1:]])[0].item(), rel=1e-6)  # same samples, same reduction order
    assert rule_regulariser([moved], [rgb], [ir], mask=torch.tensor([False, False]))[0].item() == 0.0


class _FusionOnly(torch.nn.Module):
    """What FusionLoss needs of a tracker when there is no tracking loss: the crops are the features."""

    def __init__(self):
        super().__init__()
        from rgbtfuse.fusion.build import MultiScaleFusion

        torch.manual_seed(0)
        self.fusion = MultiScaleFusion.build("rfn", [3], residual="l1")
        with torch.no_grad():
            self.fusion.scales[0].res_scale.fill_(0.5)

    def fusion_inputs(self, rgb, ir):
        return [rgb], [ir]


def test_healthy_regulariser_ignores_pairs_with_a_simulated_failure():
    from rgbtfuse.training.fusion import FusionLoss

    model = _FusionOnly()
    g = torch.Generator().manual_seed(3)
    batch = {f"{part}_{m}": torch.rand(3, 3, 12, 12, generator=g) for part in ("template", "search") for m in ("rgb", "ir")}
    batch.update(degraded=torch.tensor([0, 2, 0]), dropped=torch.tensor([0, 0, 1]))
    healthy = FusionLoss(model, {"name": "rule", "rule": "l1", "weight": 0.1, "samples": "healthy"})
    every = FusionLoss(model, {"name": "rule", "rule": "l1", "weight": 0.1})
    loss, _ = healthy(batch)
    changed = dict(batch)
    for key in ("search_ir", "template_ir"):  # blanking IR on the failed pairs changes nothing
        changed[key] = batch[key].clone()
        changed[key][1:] = 0.0
    assert healthy(changed)[0].item() == loss.item()
    # without the mask it does: the l1 target moves to RGB alone on those pairs (here by about 30 %)
    assert abs(every(changed)[0].item() / every(batch)[0].item() - 1) > 0.05
    with pytest.raises(ConfigError, match="samples"):
        FusionLoss(model, {"name": "rfn", "samples": "healthy"})
    with pytest.raises(ConfigError, match="samples"):
        FusionLoss(model, {"name": "rule", "samples": "clean"})


def test_reliability_hinge_reaches_only_the_failed_sensors_weight():
    from rgbtfuse.losses.reliability import failed_modality_penalty

    gate = build_fusion("gate", 8, prior="l1")
    with torch.no_grad():  # a gate that favours IR (RGB's features are 3x stronger, so l1 favours RGB)
        gate.mlp[2].bias[8:].fill_(1.5)
    rgb, ir = _features(5, c=8, hw=6)
    rgb, ir = rgb[:1].repeat(3, 1, 1, 1), ir[:1].repeat(3, 1, 1, 1)
    w_rgb, w_ir = gate.weights(rgb, ir)
    loss, logs = failed_modality_penalty([(w_rgb, w_ir)], torch.tensor([0, 2, 2]), margin=0.2, weight=4.0)
    # by hand: the two IR-failed pairs' mean IR weight above the margin, squared, times 4
    expected = 4.0 * (w_ir[1:].mean(dim=(1, 2, 3)) - 0.2).clamp_min(0).square().mean()
    torch.testing.assert_close(loss, expected, rtol=0, atol=0)
    assert logs["failed_weight"] > 0.5
    loss.backward()
    # the IR logits' bias is pushed down (gradient > 0), the RGB ones' up
    assert (gate.mlp[2].bias.grad[8:] > 0).all() and (gate.mlp[2].bias.grad[:8] < 0).all()
    # below the margin, or without a failed pair, nothing
    assert failed_modality_penalty([(w_rgb, w_ir)], torch.tensor([1, 1, 1]), margin=0.5)[0].item() == 0.0
    none, logs = failed_modality_penalty([(w_rgb, w_ir)], torch.zeros(3, dtype=torch.long))
    assert none.item() == 0.0 and np.isnan(logs["failed_weight"])


def test_reliability_option_needs_a_gate_and_valid_settings():
    from rgbtfuse.fusion.build import MultiScaleFusion
    from rgbtfuse.training.fusion import FusionLoss

    gated = _FusionOnly()
    gated.fusion = MultiScaleFusion.build("gate", [3], prior="l1")
    rule = {"name": "rule", "rule": "l1", "weight": 0.03}
    g = torch.Generator().manual_seed(4)
    batch = {f"{part}_{m}": torch.rand(2, 3, 10, 10, generator=g) for part in ("template", "search") for m in ("rgb", "ir")}
    batch.update(degraded=torch.tensor([0, 1]), dropped=torch.tensor([2, 0]))
    loss_fn = FusionLoss(gated, rule, reliability={"weight": 4.0, "margin": 0.0})
    loss, logs = loss_fn(batch)
    # both pairs count: a degraded search crop (RGB) and a dropped modality (IR); the untrained gate
    # is the l1 rule, whose weights are about one half, so the hinge is about 4 * 0.5**2
    assert 0.4 < logs["reliability_failed_weight"] < 0.6 and logs["reliability_loss"] > 0.5
    assert loss.item() == pytest.approx(FusionLoss(gated, rule)(batch)[0].item() + logs["reliability_loss"], rel=1e-6)
    with pytest.raises(ConfigError, match="modality weights"):
        FusionLoss(_FusionOnly(), rule, reliability={"weight": 1.0})
    for bad in ({"weight": 0.0}, {"margin": 1.0}, {"weigth": 1.0}, 4.0):
        with pytest.raises(ConfigError, match="reliability"):
            FusionLoss(gated, rule, reliability=bad)


def test_bundled_weights_are_listed_small_and_documented():
    # the fusion modules (the quality networks have their own manifest, tests/training/test_quality.py)
    names = [n for n, e in WEIGHTS.items() if e.bundled and e.page.endswith("trained/manifest.json")]
    assert sorted(names) == sorted([*(f"nanotrack_v2_{m}_track" for m in ("rfn", "rfn_light", "llrr", "gate")), *SALIENT.values()])
    manifest = json.loads((TRAINED / "manifest.json").read_text())
    for name in names:
        path = resolve_weights(name)
        assert path.is_file() and path.stat().st_size < 1_200_000
        entry = manifest["weights"][name]
        assert {"command", "seed", "git_revision", "data_recipe", "validation", "bus1"} <= set(entry)
    with pytest.raises(CheckpointError, match="file not found"):
        resolve_weights("no_such_weights")


@pytest.mark.parametrize("module,name", [*((m, f"nanotrack_v2_{m}_track") for m in ("rfn", "rfn_light", "llrr", "gate")),
                                         *SALIENT.items()])
def test_bundled_weights_load_by_name(module, name):
    from rgbtfuse.trackers.builder import build_model

    cfg = REPO / f"experiments/{name}.yaml"
    model = build_model(cfg, fusion_weights=name)
    scale = model.fusion.scales[0]
    trained = scale.mlp[2].weight if module.startswith("gate") else scale.res_scale
    assert trained.abs().max() > 0  # not the untrained (= l1) module


@pytest.mark.slow
def test_trained_modules_beat_the_untrained_ones_on_generated_scenes(tmp_path, shared):
    """The bundled modules (the recipe's output) against the same modules untrained (= the l1
    rule), on generated scenes neither training (seeds 2000-2015) nor validation (500-503) used,
    where each sensor fails in turn. Deterministic: no tolerance needed beyond the margin."""
    import warnings

    from rgbtfuse.data import load_sequence
    from rgbtfuse.trackers.builder import build_tracker
    from rgbtfuse.tracking.scoring import track_and_score
    from rgbtfuse.training.validation import synthetic_scenes

    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    seqs = [load_sequence(p) for p in synthetic_scenes({"seeds": [600, 602], "frames": 80}, tmp_path, "test")]

    def score(name, fusion_weights):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = REPO / f"experiments/{name}.yaml"
            tracker = build_tracker(cfg, weights=weights, fusion_weights=fusion_weights, mode="fused", device="cpu")
        return float(np.mean([np.nanmean(track_and_score(s, {"fused": tracker}, progress=False)[0]["fused"].iou) for s in seqs]))

    # left out: the random-box llrr (0.872 vs 0.880, see docs/train_fusion.md) and the salient
    # gate (0.878 vs 0.880: it learns real-image statistics and loses on generated scenes; the
    # still-sequence test below checks it), LLRR as a gain on the gate (0.8802 vs 0.8796: above, but by
    # too little to test; likewise checked below); the salient llrr (0.881), rfn on the gate (0.887),
    # rfn_light on the gate (0.896) and the failure-aware gate (0.886) are above
    names = [f"nanotrack_v2_{m}_track" for m in ("rfn", "rfn_light", "gate")] + [
        SALIENT[m] for m in ("rfn", "llrr", "rfn_gate", "rfn_light_gate", "gate_reliability")]
    results = {n: (score(n, None), score(n, n)) for n in names}
    # every untrained module is the l1 rule (the gate up to exp/log rounding, which can flip a box by a pixel)
    untrained = [u for u, _ in results.values()]
    assert max(untrained) - min(untrained) < 1e-3
    for module, (before, after) in results.items():
        assert after > before, (module, before, after)


@pytest.mark.slow
def test_salient_modules_beat_the_untrained_ones_on_held_out_still_sequences(tmp_path, shared):
    """The shipped salient-target modules against the untrained module (= the l1 rule) on real
    aligned pairs made into sequences with sensor failures: flir40 pairs 20-39, which neither
    training (flir_train180) nor model selection (flir40 pairs 0-19, path seed 0) saw.
    Deterministic; measured 0.717 untrained vs gate 0.753, rfn 0.740, llrr 0.733, rfn on the gate 0.777,
    rfn_light on the gate 0.769, LLRR as a gain on the gate 0.755, the failure-aware gate 0.733."""
    import warnings

    from rgbtfuse.data import load_sequence
    from rgbtfuse.data.still_sequences import still_sequences
    from rgbtfuse.trackers.builder import build_tracker
    from rgbtfuse.tracking.scoring import track_and_score

    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    spec = {"root": str(shared("data/fusion/flir40")), "pairs": [20, 39], "frames": 40, "seed": 1}
    seqs = [load_sequence(p) for p in still_sequences(spec, tmp_path / "stills")]

    def score(name, fusion_weights):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracker = build_tracker(REPO / f"experiments/{name}.yaml", weights=weights, fusion_weights=fusion_weights,
                                    mode="fused", device="cpu")
        return float(np.mean([np.nanmean(track_and_score(s, {"fused": tracker}, progress=False)[0]["fused"].iou) for s in seqs]))

    untrained = score(SALIENT["rfn"], None)  # every untrained module is the l1 rule (tested above)
    for name in SALIENT.values():
        assert score(name, name) > untrained + 0.01, name


#: SiamRPN++ recipe yamls: every recipe on MobileNetV2, the three shipped gate-based ones on ResNet-50 too
SIAMRPN_RECIPES = [
    *(f"siamrpn_mobilev2_l234_{r}" for r in ("rfn_track", "rfn_light_track", "llrr_track", "gate_track", "gate_track_salient",
                                            "rfn_gate_track_salient", "llrr_gate_gain_track_salient",
                                            "gate_reliability_track_salient")),
    *(f"siamrpn_r50_l234_{r}" for r in ("rfn_gate_track_salient", "llrr_gate_gain_track_salient", "gate_reliability_track_salient")),
]


@pytest.mark.parametrize("recipe", SIAMRPN_RECIPES)
def test_siamrpn_recipe_with_seeded_weights(recipe):
    """The SiamRPN++ recipe yamls build, start as the l1 tracker (three 256-channel
    scales), and one recipe step (pysot anchor loss + l1 regulariser) reaches only fusion."""
    from rgbtfuse.trackers.builder import build_model, load_experiment, track_config
    from rgbtfuse.training.fusion import FusionLoss

    cfg = load_experiment(REPO / f"experiments/{recipe}.yaml")
    torch.manual_seed(0)
    model = build_model(cfg, mode="fused")  # seeded random tracker weights
    model.freeze_all_but_fusion()
    model.train()
    g = torch.Generator().manual_seed(1)
    z, x = torch.rand(2, 3, 127, 127, generator=g) * 255, torch.rand(2, 3, 255, 255, generator=g) * 255
    f_rgb, f_ir = model.fusion_inputs(x, x.flip(-1))
    l1 = [build_fusion("l1", f.shape[1])(r, i) for f, r, i in zip(f_rgb, f_rgb, f_ir)]
    for fused, ref in zip(model.fusion(f_rgb, f_ir), l1):
        torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-5)
    track = track_config(cfg)
    loss_fn = FusionLoss(model, cfg["train"]["loss"], cfg["train"]["tracking_weight"], track, cfg["train"]["tracking"],
                         cfg["train"].get("reliability"))
    batch = {"template_rgb": z, "template_ir": z.flip(-1), "search_rgb": x, "search_ir": x.flip(-1),
             "bbox": torch.tensor([[100.0, 100.0, 160.0, 150.0]] * 2), "neg": torch.zeros(2),
             "degraded": torch.tensor([0, 2]), "dropped": torch.zeros(2, dtype=torch.long)}
    loss, logs = loss_fn(batch)
    loss.backward()
    assert torch.isfinite(loss) and logs["track_loss"] > 0
    if "reliability" in cfg["train"]:  # the untrained gate is l1 (IR weight about one half on the failed pair)
        assert logs["reliability_loss"] > 0
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("fusion."))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.fusion.parameters())
