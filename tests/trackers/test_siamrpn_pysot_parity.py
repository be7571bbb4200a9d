"""SiamRPN++ against pysot's own code (expected numbers in tests/fixtures/pysot_parity.json).

The json was produced by running STVIR/pysot (``ModelBuilder``, ``SiamRPNTracker``, CPU) with
the seeded weights/inputs of :mod:`pysot_seeded`; see docs/siamrpn.md.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from pysot_seeded import seeded_image, seeded_state_dict

from rgbtfuse.checkpoint import load_checkpoint
from rgbtfuse.errors import CheckpointError
from rgbtfuse.fusion import available_fusions
from rgbtfuse.trackers.grids import anchor_grid
from rgbtfuse.trackers.models.siamrpn import build_siamrpn
from rgbtfuse.trackers.tracker.base import TrackConfig
from rgbtfuse.trackers.tracker.crop import get_subwindow, to_tensor
from rgbtfuse.trackers.tracker.siamrpn_tracker import SiamRPNTracker

REPO = Path(__file__).resolve().parents[2]
EXPECTED = json.loads((REPO / "tests/fixtures/pysot_parity.json").read_text())
CONFIGS = {"siamrpn_r50_l234_dwxcorr": "r50_l234", "siamrpn_mobilev2_l234_dwxcorr": "mobilev2_l234"}
KEY_COUNTS = {"siamrpn_r50_l234_dwxcorr": 458, "siamrpn_mobilev2_l234_dwxcorr": 450}


def experiment(name: str, fusion: str = "add") -> dict:
    return yaml.safe_load((REPO / f"experiments/siamrpn_{CONFIGS[name]}_{fusion}.yaml").read_text())


def rgb_model(name: str):
    model_cfg = {k: v for k, v in experiment(name)["model"].items() if k != "type"}
    return build_siamrpn(model_cfg).eval()


def seeded_tensors(name: str) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in seeded_state_dict(EXPECTED[name]["keys"]).items()}


def pysot_model(name: str, tmp_path: Path, wrapped: bool):
    """Our RGB model with the seeded weights, loaded from a file like a model-zoo checkpoint."""
    sd = seeded_tensors(name)
    path = tmp_path / "model.pth"
    torch.save({"epoch": 20, "state_dict": {f"module.{k}": v for k, v in sd.items()}} if wrapped else sd, path)
    model = rgb_model(name)
    load_checkpoint(model, path, strict=True)
    return model


@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_keys_and_shapes_are_pysots(name):
    ours = {k: list(v.shape) for k, v in rgb_model(name).state_dict().items()}
    assert len(EXPECTED[name]["keys"]) == KEY_COUNTS[name]
    assert sorted(ours) == sorted(EXPECTED[name]["keys"])
    assert ours == EXPECTED[name]["keys"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_experiment_yamls_carry_pysots_hyper_parameters(name):
    pysot = EXPECTED[name]["config"]
    for fusion in ("add", "l1", "sca", "rfn", "llrr"):
        exp = experiment(name, fusion)
        assert exp["model"] == experiment(name)["model"]
        assert {k.upper(): v for k, v in exp["track"].items()} == pysot["TRACK"]
        assert {k.upper(): v for k, v in exp["model"]["anchor"].items()} == pysot["ANCHOR"]
        assert exp["fusion"]["name"] == fusion


@pytest.mark.parametrize("fusion", ["add", "l1", "sca", "rfn", "llrr"])
def test_experiment_yamls_build_fused_models(fusion):
    exp = experiment("siamrpn_mobilev2_l234_dwxcorr", fusion)
    if exp["fusion"]["name"] not in available_fusions():
        pytest.skip(f"fusion {exp['fusion']['name']!r} is not registered in this checkout")
    model = build_siamrpn({k: v for k, v in exp["model"].items() if k != "type"}, fusion=exp["fusion"])
    assert model.mode == "fused" and [m.channels for m in model.fusion.scales] == [256, 256, 256]


def test_checkpoint_with_a_missing_key_is_rejected_by_name(tmp_path):
    name = "siamrpn_mobilev2_l234_dwxcorr"
    sd = seeded_tensors(name)
    del sd["rpn_head.rpn3.loc.head.3.bias"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="rpn_head.rpn3.loc.head.3.bias"):
        load_checkpoint(rgb_model(name), tmp_path / "bad.pth", strict=True)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cls_loc_equal_pysots(name, tmp_path):
    model = pysot_model(name, tmp_path, wrapped=name.startswith("siamrpn_r50"))
    z = torch.from_numpy(seeded_image((1, 3, 127, 127), 1))
    x = torch.from_numpy(seeded_image((1, 3, 255, 255), 2))
    with torch.inference_mode():
        model.template(z, None)
        out = model.track(x, None)
    for key in ("cls", "loc"):
        exp = EXPECTED[name][key]
        got = out[key].double().numpy()
        assert list(got.shape) == exp["shape"]
        sample = got.reshape(-1)[:: exp["step"]]
        np.testing.assert_allclose(sample, exp["sample"], rtol=1e-4, atol=1e-6 * np.abs(exp["sample"]).max())
        np.testing.assert_allclose(got.mean(axis=(0, 2, 3)), exp["channel_mean"], rtol=1e-4, atol=1e-6)
        assert np.abs(got).sum() == pytest.approx(exp["abs_sum"], rel=1e-5)


def test_anchors_equal_pysots():
    cfg = TrackConfig()
    model = rgb_model("siamrpn_r50_l234_dwxcorr")
    grid = anchor_grid(model.anchor_cfg, cfg.score_size)
    exp = EXPECTED["siamrpn_r50_l234_dwxcorr"]
    assert list(grid.shape) == exp["anchors_shape"] and grid.dtype == np.float32
    assert hashlib.sha256(grid.tobytes()).hexdigest() == exp["anchors_sha256"]


def test_crops_equal_pysots():
    img = seeded_image((480, 640, 3), 3).astype(np.uint8)
    avg = np.mean(img, axis=(0, 1))
    for case in EXPECTED["siamrpn_r50_l234_dwxcorr"]["crops"]:
        patch = get_subwindow(img, np.array(case["pos"]), case["model_sz"], case["original_sz"], avg)
        digest = hashlib.sha256(to_tensor(patch).numpy().tobytes()).hexdigest()
        assert digest == case["sha256"], case


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_tracked_boxes_equal_pysots(name, tmp_path, shared):
    """RGB mode on vtuav_bus1 (R50: 4 frames, MobileNetV2: 20): boxes within 1e-3 px of pysot's."""
    exp = EXPECTED[name]["sequence"]
    root = shared(exp["root"])
    model = pysot_model(name, tmp_path, wrapped=False)
    model.mode = "rgb"
    tracker = SiamRPNTracker(model, TrackConfig.from_dict(experiment(name)["track"]))
    frames = [cv2.imread(str(root / "rgb" / f"{i:06d}.jpg")) for i in range(exp["frames"] + 1)]
    tracker.init(frames[0], None, exp["init"])
    boxes, scores = [], []
    for frame in frames[1:]:
        out = tracker.track(frame, None)
        assert out["valid"]
        boxes.append(out["bbox"])
        scores.append(out["best_score"])
    np.testing.assert_allclose(boxes, exp["boxes"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(scores, exp["scores"], rtol=0, atol=1e-5)
