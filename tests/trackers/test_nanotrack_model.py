"""NanoTrack networks: published key layout, output shapes, weight loading, RGB-T plumbing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint
from rgbtfuse.errors import CheckpointError, ConfigError
from rgbtfuse.trackers.builder import build_model, load_experiment
from rgbtfuse.trackers.models.nanotrack import NanoTrack

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = {v: REPO / f"experiments/nanotrack_v{v}.yaml" for v in "123"}
OUTPUT_SIDE = {"1": 16, "2": 16, "3": 15}
CHANNELS = {"1": 48, "2": 48, "3": 96}


def _with_fusion(version: str, fusion: dict) -> dict:
    cfg = load_experiment(EXPERIMENTS[version])
    return {**cfg, "fusion": fusion}


@pytest.mark.parametrize("version", "123")
def test_keys_and_shapes_equal_published_checkpoint(shared, version):
    sd = extract_state_dict(read_checkpoint(shared(f"weights/nanotrack/pretrained/nanotrackv{version}.pth")))
    model = build_model(EXPERIMENTS[version])
    own = model.state_dict()
    assert sorted(own) == sorted(sd)
    assert all(own[k].shape == sd[k].shape for k in sd)


@pytest.mark.parametrize("version", "123")
def test_output_shapes(version):
    model = build_model(EXPERIMENTS[version])
    with torch.inference_mode():
        model.template(torch.rand(1, 3, 127, 127) * 255, None)
        assert model.zf[0].shape == (1, CHANNELS[version], 8, 8)
        out = model.track(torch.rand(1, 3, 255, 255) * 255, None)
    s = OUTPUT_SIDE[version]
    assert out["cls"].shape == (1, 2, s, s) and out["loc"].shape == (1, 4, s, s)
    assert (out["loc"] > 0).all()  # distances are exp() of the regression


def test_rgbt_model_loads_rgb_checkpoint_and_second_backbone(shared):
    weights = shared("weights/nanotrack/pretrained/nanotrackv2.pth")
    cfg = _with_fusion("2", {"name": "l1", "share_backbone": False})
    model = build_model(cfg, weights=weights)
    assert isinstance(model, NanoTrack) and model.mode == "fused"
    for (k, a), (k_ir, b) in zip(model.backbone.state_dict().items(), model.backbone_ir.state_dict().items(), strict=True):
        assert k == k_ir and torch.equal(a, b)
    assert any(k.startswith("backbone_ir.") for k in model.state_dict())


def test_fused_features_with_identical_inputs_equal_rgb_features():
    """mean/max/l1 of a map with itself is the map: fused == rgb-only for identical crops."""
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    for name in ("mean", "max", "l1"):
        for position in ("neck", "backbone"):
            model = build_model(_with_fusion("2", {"name": name, "position": position}))
            with torch.inference_mode():
                for crop in (z, x):
                    model.mode = "rgb"
                    ref = model.features(crop, None)[0]
                    model.mode = "fused"
                    out = model.features(crop, crop)[0]
                    assert ref.std() > 0
                    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_fused_ir_branch_matters():
    """Different IR input changes the fused features (the IR path is really used)."""
    model = build_model(_with_fusion("2", {"name": "add"}))
    x = torch.rand(1, 3, 255, 255) * 255
    with torch.inference_mode():
        a = model.features(x, x)[0]
        b = model.features(x, torch.zeros_like(x))[0]
    assert not torch.allclose(a, b)


def test_fusion_weights_roundtrip_and_errors(tmp_path):
    cfg = _with_fusion("2", {"name": "rfn_light"})
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.fusion.parameters():
            p.uniform_()
    sd = model.fusion.state_dict()
    torch.save(sd, tmp_path / "fusion.pth")
    torch.save({"fusion." + k: v for k, v in sd.items()}, tmp_path / "prefixed.pth")
    for name in ("fusion.pth", "prefixed.pth"):
        loaded = build_model(cfg, fusion_weights=tmp_path / name).fusion.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in sd.items())
    with pytest.raises(ConfigError, match="no fusion"):
        build_model(EXPERIMENTS["2"], fusion_weights=tmp_path / "fusion.pth")
    first = next(iter(sd))
    torch.save({k: v for k, v in sd.items() if k != first}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=first.replace(".", r"\.")):
        build_model(cfg, fusion_weights=tmp_path / "bad.pth")


def test_checkpoint_with_missing_and_foreign_keys_is_named(tmp_path):
    sd = build_model(EXPERIMENTS["2"]).state_dict()
    sd.pop("ban_head.cls_pred.0.bias")
    sd["ban_head.extra"] = torch.zeros(1)
    torch.save({"epoch": 1, "state_dict": sd}, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=r"ban_head\.cls_pred\.0\.bias.*ban_head\.extra"):
        build_model(EXPERIMENTS["2"], weights=tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="shape"):
        build_model(EXPERIMENTS["3"], weights=_save(tmp_path, build_model(EXPERIMENTS["2"])))


def _save(tmp_path, model) -> str:
    path = tmp_path / "model.pth"
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"model": {"type": "nanotrack", "head": {"type": "ban_v9"}}}, "ban_v9"),
        ({"model": {"type": "nanotrack", "backbone": {"type": "resnet"}}}, "resnet"),
        ({"model": {"type": "nanotrack", "anchors": 5}}, "anchors"),
        ({"model": {"type": "nano"}}, "nano"),
        ({"model": {"type": "nanotrack"}, "trak": {}}, "trak"),
        ({"model": {"backbone": "x"}}, "model.type"),
        ({"model": {"type": "nanotrack"}, "fusion": {"name": "nope"}}, "nope"),
        ({"model": {"type": "nanotrack"}, "fusion": {"name": "add", "position": "head"}}, "position"),
        ({"model": {"type": "nanotrack"}, "fusion": {"name": "l1", "radius": 2}}, "radius"),
    ],
)
def test_config_errors_name_the_key(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_model(cfg)


def test_fused_mode_needs_fusion():
    with pytest.raises(ConfigError, match="fusion"):
        build_model(EXPERIMENTS["2"], mode="fused")


def test_siamrpn_dispatch():
    """``type: siamrpn`` builds pysot's model when it is installed, else a clear ConfigError."""
    cfg = {"model": {"type": "siamrpn"}}
    try:
        import rgbtfuse.trackers.models.siamrpn  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="siamrpn"):
            build_model(cfg)
    else:
        experiments = sorted(REPO.glob("experiments/siamrpn_*.yaml"))
        if not experiments:
            pytest.skip("no siamrpn experiment yaml in experiments/")
        model = build_model(experiments[0])
        assert model.head_name == "rpn_head"


@pytest.mark.parametrize("name", ["add", "l1", "sca", "rfn", "llrr"])
def test_fused_experiment_yamls_parse(name):
    cfg = load_experiment(REPO / f"experiments/nanotrack_v2_{name}.yaml")
    assert cfg["fusion"]["name"] == name and cfg["model"]["head"]["type"] == "ban_v2"


@pytest.mark.parametrize("version", "123")
def test_inference_copy_matches_model(version):
    """BN folding + channels-last backbone: same outputs up to rounding, model left untouched."""
    from rgbtfuse.trackers.models.inference import inference_copy

    torch.manual_seed(0)
    model = build_model(_with_fusion(version, {"name": "l1", "share_backbone": False}))
    with torch.no_grad():  # non-trivial BN statistics, so that folding is really exercised
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    keys = list(model.state_dict())
    fast = inference_copy(model)
    assert list(model.state_dict()) == keys
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.backbone.modules())
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.inference_mode():
        for net in (model, fast):
            net.template(z, z.flip(-1))
        ref, out = model.track(x, x.flip(-2)), fast.track(x, x.flip(-2))
    for k in ref:
        assert ref[k].std() > 0
        torch.testing.assert_close(out[k], ref[k], rtol=1e-3, atol=1e-3)
