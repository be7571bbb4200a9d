"""LRRNet and DIDFuse: published checkpoints load as-is and reproduce the authors' published outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rgbtfuse.checkpoint import read_checkpoint
from rgbtfuse.errors import CheckpointError
from rgbtfuse.fusion import build_fusion
from rgbtfuse.image_fusion import create_model, list_models
from rgbtfuse.image_fusion.didfuse import DECODER_FILE, ENCODER_FILE, DIDFuse
from rgbtfuse.image_fusion.lrrnet import LRRNet
from rgbtfuse.imageio import read_image

LRRNET_WEIGHTS = "weights/lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model"


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def assert_reproduces(out: np.ndarray, ref: np.ndarray, what: str) -> float:
    """Within one gray level and ≥ 99.9 % identical; returns the identical fraction."""
    assert out.shape == ref.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - ref.astype(int))
    same = float((diff == 0).mean())
    assert diff.max() <= 1 and same >= 0.999, f"{what}: max diff {diff.max()}, identical {same:.5f}"
    return same


def test_models_registered():
    assert {"lrrnet", "didfuse"} <= set(list_models())
    assert isinstance(create_model("lrrnet"), LRRNet) and isinstance(create_model("didfuse"), DIDFuse)


# --- checkpoints -------------------------------------------------------------------------------
def test_lrrnet_keys_and_shapes_are_the_published_ones(shared):
    published = read_checkpoint(shared(LRRNET_WEIGHTS))
    ours = LRRNet().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in published.items()}
    assert sum(v.numel() for v in published.values()) == 49_204


def test_didfuse_keys_and_shapes_are_the_published_ones(shared):
    model = DIDFuse()
    for part, name in ((model.encoder, ENCODER_FILE), (model.decoder, DECODER_FILE)):
        ckpt = read_checkpoint(shared("weights/didfuse") / name)
        assert ckpt["epoch"] == 120
        assert {k: tuple(v.shape) for k, v in part.state_dict().items()} == {
            k: tuple(v.shape) for k, v in ckpt["weight"].items()
        }


def test_wrong_keys_raise_checkpoint_error_naming_them(tmp_path):
    sd = LRRNet().state_dict()
    sd["decoder.conv_RL.conv2d.weight"] = sd.pop("decoder.conv_ReL.conv2d.weight")
    sd["extra.bias"] = torch.zeros(1)
    torch.save(sd, tmp_path / "bad.model")
    with pytest.raises(CheckpointError) as err:
        create_model("lrrnet", weights=tmp_path / "bad.model")
    msg = str(err.value)
    assert "decoder.conv_ReL.conv2d.weight" in msg and "decoder.conv_RL.conv2d.weight" in msg and "extra.bias" in msg

    enc = DIDFuse().encoder.state_dict()
    enc["cov9.cov9.0.weight"] = enc.pop("cov4.cov4.0.weight")
    torch.save({"weight": enc, "epoch": 120}, tmp_path / ENCODER_FILE)
    torch.save({"weight": DIDFuse().decoder.state_dict(), "epoch": 120}, tmp_path / DECODER_FILE)
    with pytest.raises(CheckpointError) as err:
        create_model("didfuse", weights=tmp_path)
    assert "cov4.cov4.0.weight" in str(err.value) and "cov9.cov9.0.weight" in str(err.value)
    with pytest.raises(CheckpointError, match="not found"):
        create_model("didfuse", weights=tmp_path / "missing_folder_file.pkl")


def test_didfuse_weight_locations(tmp_path, one_thread):
    src = DIDFuse().eval()
    torch.save({"weight": src.encoder.state_dict(), "epoch": 1}, tmp_path / ENCODER_FILE)
    torch.save({"weight": src.decoder.state_dict(), "epoch": 1}, tmp_path / DECODER_FILE)
    torch.save(src.state_dict(), tmp_path / "whole.pth")
    x = torch.rand(1, 1, 12, 10)
    expected = src(x, x.flip(-1))
    for weights in (tmp_path, (tmp_path / ENCODER_FILE, tmp_path / DECODER_FILE), tmp_path / "whole.pth"):
        torch.testing.assert_close(create_model("didfuse", weights=weights)(x, x.flip(-1)), expected)


# --- DIDFuse internals --------------------------------------------------------------------------
def didfuse_l1_rule(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    """DIDFuse's l1-norm rule as the paper's code states it: 3×3 mean kernel expanded to C×C, zero padding."""
    c = y1.shape[1]
    kernel = torch.ones(c, c, 3, 3, dtype=y1.dtype) / 9
    a1, a2 = F.conv2d(y1.abs(), kernel, padding=1), F.conv2d(y2.abs(), kernel, padding=1)
    return a1 / (a1 + a2) * y1 + a2 / (a1 + a2) * y2


def test_l1_fusion_is_didfuses_l1_norm_rule(one_thread):
    torch.manual_seed(0)
    a, b = torch.randn(2, 8, 9, 7, dtype=torch.float64), torch.randn(2, 8, 9, 7, dtype=torch.float64)
    torch.testing.assert_close(build_fusion("l1", 8)(a, b), didfuse_l1_rule(a, b))
    fused = DIDFuse(fusion="l1").fusion
    torch.testing.assert_close(fused([a] * 4, [b] * 4)[2], didfuse_l1_rule(a, b))


def randomize_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


@pytest.mark.parametrize("fusion", ["add", "mean", "l1", "max"])
def test_didfuse_fast_eval_path_equals_plain_layers(fusion, one_thread):
    """Eval mode folds BN, splits the concatenations and runs the 1-channel layers as products."""
    model = randomize_batchnorm(DIDFuse(fusion=fusion)).double().eval()
    ir, vis = torch.rand(2, 1, 11, 13, dtype=torch.float64), torch.rand(2, 1, 11, 13, dtype=torch.float64)
    enc, dec = model.encoder, model.decoder

    def encode(x):
        f1 = enc.cov1.cov1(x)
        f2 = enc.cov2.cov2(f1)
        return [f1, f2, enc.cov3.cov3(f2), enc.cov4.cov4(f2)]

    f1, f2, base, detail = model.fusion(encode(vis), encode(ir))
    x = dec.cov5.cov5(torch.cat([base, detail], 1))
    x = dec.cov6.cov6(torch.cat([x, f2], 1))
    expected = dec.cov7.cov7(torch.cat([x, f1], 1))
    with torch.inference_mode():
        torch.testing.assert_close(model(vis, ir), expected)


# --- tiling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,cfg", [("lrrnet", {}), ("didfuse", {"fusion": "l1"})])
def test_tiled_inference_has_no_seams(name, cfg, one_thread):
    torch.manual_seed(2)
    model = create_model(name, **cfg)
    if name == "didfuse":
        randomize_batchnorm(model)
    rng = np.random.default_rng(0)
    ir, vis = (rng.integers(0, 256, (61, 75), dtype=np.uint8) for _ in range(2))
    ir_t, vis_t = model.preprocess(ir), model.preprocess(vis)
    with torch.inference_mode():
        model.tile = None
        whole = model.fuse_tensors(vis_t, ir_t)
        model.tile = 24
        tiled = model.fuse_tensors(vis_t, ir_t)
        torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)
        # the halo is what makes it exact: without it, tile borders show
        halo_attr = "receptive_radius" if name == "lrrnet" else "halo"
        setattr(model, halo_attr, 1)
        assert (model.fuse_tensors(vis_t, ir_t) - whole).abs().max() > 1e-3


# --- published outputs ---------------------------------------------------------------------------
@pytest.mark.slow
def test_lrrnet_reproduces_published_output(shared):
    model = create_model("lrrnet", weights=shared(LRRNET_WEIGHTS))
    pair = shared("reference/lrrnet_pair1")
    ir, vis = read_image(pair / "ir.png", "gray"), read_image(pair / "vi.png", "gray")
    out = model.fuse_arrays(vis, ir)
    assert_reproduces(out, read_image(pair / "lrrnet_published.png", "gray"), "LRRNet pair 1")
    # the same through the tiled path
    model.tile = 128
    assert_reproduces(model.fuse_arrays(vis, ir), out, "LRRNet pair 1 tiled vs whole")


@pytest.mark.slow
def test_didfuse_reproduces_published_tno40(shared):
    model = create_model("didfuse", weights=shared("weights/didfuse"))
    data, refs = shared("data/fusion/tno40"), shared("reference/didfuse_tno40")
    identical = []
    for k in range(1, 41):  # the authors' IR{k}.bmp/VIS{k}.bmp → F{k}.png; here ir/{k}.png, vi/{k}.png → {k}.png
        ir, vis = read_image(data / "ir" / f"{k}.png", "gray"), read_image(data / "vi" / f"{k}.png", "gray")
        identical.append(assert_reproduces(model.fuse_arrays(vis, ir), read_image(refs / f"{k}.png", "gray"), f"pair {k}"))
    assert np.mean(identical) >= 0.9999
