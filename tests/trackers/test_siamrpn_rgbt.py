"""SiamRPN++ as an RGB-T tracker: fusion modes, config handling, non-finite outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import available_fusions, build_fusion
from rgbtfuse.trackers.models.siamrpn import SiamRPNpp, build_siamrpn, pysot_config
from rgbtfuse.trackers.tracker.base import TrackConfig
from rgbtfuse.trackers.tracker.siamrpn_tracker import SiamRPNTracker

# pysot's mobilev2_l234 layout at a tiny width (fast); 127/255 crops as in pysot
TINY = {
    "backbone": {"type": "mobilenetv2", "kwargs": {"used_layers": [3, 5, 7], "width_mult": 0.35}},
    "adjust": {"adjust": True, "type": "AdjustAllLayer", "kwargs": {"in_channels": [11, 33, 112], "out_channels": [16, 16, 16]}},
    "rpn": {"type": "MultiRPN", "kwargs": {"anchor_num": 5, "in_channels": [16, 16, 16], "weighted": True}},
    "anchor": {"stride": 8, "ratios": [0.33, 0.5, 1, 2, 3], "scales": [8], "anchor_num": 5},
}


def tiny_model(fusion=None, seed: int = 0, **kwargs) -> SiamRPNpp:
    torch.manual_seed(seed)
    model = build_siamrpn(TINY, fusion=fusion, **kwargs)
    with torch.no_grad():  # random BN statistics so every layer matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.init_ir_backbone_from_rgb()
    return model.eval()


def frames(n: int = 4, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """A bright square moving right on noise; IR is a different (thermal-like) rendering."""
    rng = np.random.RandomState(seed)
    out = []
    for i in range(n):
        rgb = rng.randint(0, 120, (120, 160, 3)).astype(np.uint8)
        ir = rng.randint(0, 60, (120, 160, 3)).astype(np.uint8)
        rgb[40:70, 50 + 3 * i : 80 + 3 * i] = (30, 200, 240)
        ir[40:70, 50 + 3 * i : 80 + 3 * i] = 230
        out.append((rgb, ir))
    return out


INIT_BOX = (50.0, 40.0, 30.0, 30.0)


def fusion_names() -> list[str]:
    """One registered name per fusion class (aliases such as add/sum tested once)."""
    first: dict[type, str] = {}
    for name in available_fusions():
        first.setdefault(type(build_fusion(name, 8)), name)
    return sorted(first.values())


def run(tracker: SiamRPNTracker, seq) -> list[dict]:
    tracker.init(*seq[0], INIT_BOX)
    return [tracker.track(*f) for f in seq[1:]]


# every fusion on the neck outputs (256-channel levels); on the backbone outputs (levels with
# different channel counts) a training-free and a trainable one
CASES = [(name, "neck") for name in fusion_names()] + [(n, "backbone") for n in ("add", "rfn") if n in available_fusions()]


@pytest.mark.parametrize("name,position", CASES)
def test_fused_tracking_runs_with_every_fusion(name, position):
    model = tiny_model({"name": name, "position": position})
    assert model.mode == "fused" and model.fusion_position == position
    results = run(SiamRPNTracker(model, TrackConfig()), frames(3))
    for r in results:
        assert r["valid"] and np.isfinite(r["bbox"]).all() and r["bbox"][2] >= 10 and r["bbox"][3] >= 10


@pytest.mark.parametrize("share_backbone", [True, False])
def test_fusing_identical_modalities_with_mean_equals_rgb_mode(share_backbone):
    """mean(f, f) = f: the batched shared-backbone path (or the copied IR backbone) changes nothing."""
    model = tiny_model({"name": "mean", "share_backbone": share_backbone})
    assert (model.backbone_ir is None) == share_backbone
    z = torch.rand(1, 3, 127, 127) * 255
    x = torch.rand(1, 3, 255, 255) * 255
    with torch.inference_mode():
        model.template(z, z)
        fused = model.track(x, x)
        model.mode = "rgb"
        model.template(z, None)
        rgb = model.track(x, None)
    for key in ("cls", "loc"):
        torch.testing.assert_close(fused[key], rgb[key], rtol=1e-5, atol=1e-5)


def test_modes_use_their_modality():
    seq = frames()
    model = tiny_model({"name": "add"})
    fused = run(SiamRPNTracker(model, TrackConfig()), seq)
    model.mode = "ir"
    ir = run(SiamRPNTracker(model, TrackConfig()), [(None, f[1]) for f in seq])
    model.mode = "rgb"
    rgb = run(SiamRPNTracker(model, TrackConfig()), [(f[0], None) for f in seq])
    assert rgb[-1]["bbox"] != ir[-1]["bbox"] and fused[-1]["bbox"] != rgb[-1]["bbox"]
    with pytest.raises(ConfigError, match="needs the ir frame"):
        SiamRPNTracker(tiny_model({"name": "add"}), TrackConfig()).init(seq[0][0], None, INIT_BOX)


def test_state_dict_adds_only_fusion_and_ir_backbone_keys():
    rgb_keys = set(tiny_model().state_dict())
    fused = tiny_model({"name": "mean", "share_backbone": False})
    extra = set(fused.state_dict()) - rgb_keys
    assert extra and all(k.startswith(("fusion.", "backbone_ir.")) for k in extra)
    assert rgb_keys <= set(fused.state_dict())


def test_non_finite_outputs_keep_the_last_box(monkeypatch):
    model = tiny_model({"name": "l1"})
    tracker = SiamRPNTracker(model, TrackConfig())
    seq = frames(5)
    tracker.init(*seq[0], INIT_BOX)
    first = tracker.track(*seq[1])
    real_track = model.track

    def broken(x_rgb, x_ir):
        out = real_track(x_rgb, x_ir)
        return {"cls": out["cls"], "loc": out["loc"].clone().fill_(float("nan"))}

    monkeypatch.setattr(model, "track", broken)
    bad = tracker.track(*seq[2])
    assert not bad["valid"] and bad["bbox"] == first["bbox"]
    monkeypatch.setattr(model, "track", lambda a, b: {k: v.clone().fill_(float("inf")) for k, v in real_track(a, b).items()})
    assert tracker.track(*seq[3])["bbox"] == first["bbox"]
    monkeypatch.setattr(model, "track", real_track)
    good = tracker.track(*seq[4])
    assert good["valid"] and np.isfinite(good["bbox"]).all()


def test_outputs_decoding_to_nan_keep_the_last_box(monkeypatch):
    """Finite logits/deltas whose boxes underflow to zero size (0/0 in the ratio penalty)."""
    model = tiny_model({"name": "add"})
    tracker = SiamRPNTracker(model, TrackConfig())
    seq = frames(3)
    tracker.init(*seq[0], INIT_BOX)
    first = tracker.track(*seq[1])
    real_track = model.track

    def zero_size(x_rgb, x_ir):
        out = real_track(x_rgb, x_ir)
        loc = out["loc"].clone()
        loc[:, 10:] = -200.0  # dw, dh blocks: exp(-200) == 0 in float32
        return {"cls": out["cls"], "loc": loc}

    monkeypatch.setattr(model, "track", zero_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = tracker.track(*seq[2])
    assert not bad["valid"] and bad["bbox"] == first["bbox"]


def test_config_errors_name_the_problem():
    with pytest.raises(ConfigError, match="unknown backbone type 'resnet18'.*mobilenetv2, resnet50"):
        build_siamrpn({**TINY, "backbone": {"type": "resnet18"}})
    with pytest.raises(ConfigError, match="rpn 'MultiRPN': bad kwargs"):
        build_siamrpn({**TINY, "rpn": {"type": "MultiRPN", "kwargs": {"anchors": 5}}})
    with pytest.raises(ConfigError, match="unknown keys \\['neck'\\]"):
        build_siamrpn({**TINY, "neck": {}})
    with pytest.raises(ConfigError, match="SiamMask"):
        build_siamrpn({**TINY, "mask": {"mask": True}})
    with pytest.raises(ConfigError, match="anchor_num 3"):
        build_siamrpn({**TINY, "anchor": {"anchor_num": 3}})
    with pytest.raises(ConfigError, match="unknown fusion 'nope'"):
        build_siamrpn(TINY, fusion={"name": "nope"})


def test_pysot_config_yaml_converts(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "META_ARC: x\nBACKBONE:\n  TYPE: mobilenetv2\n  KWARGS:\n    used_layers: [3, 5, 7]\n    width_mult: 0.35\n"
        "ADJUST:\n  ADJUST: true\n  TYPE: AdjustAllLayer\n  KWARGS:\n    in_channels: [11, 33, 112]\n    out_channels: [16, 16, 16]\n"
        "RPN:\n  TYPE: MultiRPN\n  KWARGS:\n    anchor_num: 5\n    in_channels: [16, 16, 16]\n    weighted: False\n"
        "MASK:\n  MASK: False\nANCHOR:\n  STRIDE: 8\n  RATIOS: [0.33, 0.5, 1, 2, 3]\n  SCALES: [8]\n  ANCHOR_NUM: 5\n"
        "TRACK:\n  TYPE: SiamRPNTracker\n  PENALTY_K: 0.04\n  WINDOW_INFLUENCE: 0.4\n  LR: 0.5\n"
    )
    exp = pysot_config(path)
    assert exp["model"]["type"] == "siamrpn" and exp["track"] == {"penalty_k": 0.04, "window_influence": 0.4, "lr": 0.5}
    model = build_siamrpn({k: v for k, v in exp["model"].items() if k != "type"})
    assert not model.rpn_head.weighted and model.anchor_cfg.anchor_num == 5
    TrackConfig.from_dict(exp["track"])
