"""train-image-fusion: datasets, paper losses, the four recipes on real FLIR pairs, exact resume."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rgbtfuse.cli import main as cli_main
from rgbtfuse.errors import CheckpointError, ConfigError
from rgbtfuse.imageio import pair_folders, read_image
from rgbtfuse.losses.image import didfuse_loss, image_ms_ssim, sobel_gradient
from rgbtfuse.losses.vgg import VGG16Features
from rgbtfuse.training.image_fusion import build_trainer
from rgbtfuse.training.image_fusion.data import (
    DataConfig,
    GrayFolderDataset,
    PairFolderDataset,
)

FLIR = "data/fusion/flir_train180"
needs_lrr = pytest.mark.skipif(importlib.util.find_spec("rgbtfuse.image_fusion.lrrnet") is None, reason="rgbtfuse.image_fusion.lrrnet not merged yet")
needs_did = pytest.mark.skipif(importlib.util.find_spec("rgbtfuse.image_fusion.didfuse") is None, reason="rgbtfuse.image_fusion.didfuse not merged yet")


def _cfg(recipe: str, root: Path, out: Path, size: int = 32, lr: float = 1e-3, **sections) -> dict:
    cfg = {
        "recipe": recipe,
        "out": str(out),
        "device": "cpu",
        "data": {"root": str(root), "size": size, "limit": 2, **sections.pop("data", {})},
        "train": {"batch_size": 2, "seed": 1, "checkpoint_every": 2, "log_every": 1, "tensorboard": False},
        "optimizer": {"lr": lr},
    }
    cfg.update(sections)
    return cfg


def _tno_pair(shared, side: int = 64) -> tuple[np.ndarray, np.ndarray]:
    ir_path, vis_path = pair_folders(shared("data/fusion/tno40") / "ir", shared("data/fusion/tno40") / "vi")[0]
    ir, vis = read_image(ir_path, "gray"), read_image(vis_path, "gray")
    return ir[:side, :side], vis[:side, :side]


# --- data ---------------------------------------------------------------------------------------
def test_pair_dataset_is_deterministic_gray_and_aligned(shared):
    root = shared(FLIR)
    ds = PairFolderDataset(DataConfig(root=str(root), size=40, geometry="random_crop"))
    assert len(ds) == 180
    ir, vis = ds[(3, 7)]
    assert ir.shape == vis.shape == (1, 40, 40) and ir.dtype == torch.float32
    torch.testing.assert_close(ds[(3, 7)][1], vis, rtol=0, atol=0)
    assert not torch.equal(ds[(3, 8)][1], vis)  # another seed, another crop
    # the crop window is the same in both modalities: compare with a direct crop of the files
    ir_path, vis_path = ds.pairs[3]
    full_vis = read_image(vis_path, "gray").astype(np.float32)  # colour JPEG -> Y
    hits = [(y, x) for y in range(full_vis.shape[0] - 39) for x in range(full_vis.shape[1] - 39)
            if np.array_equal(full_vis[y : y + 40, x : x + 40], vis[0].numpy())]
    assert hits
    y, x = hits[0]
    np.testing.assert_array_equal(read_image(ir_path, "gray")[y : y + 40, x : x + 40], ir[0].numpy())
    centre = PairFolderDataset(DataConfig(root=str(root), size=128, geometry="center_crop"))
    torch.testing.assert_close(centre[(0, 1)][0], centre[(0, 2)][0], rtol=0, atol=0)


def test_folder_dataset_takes_both_modalities_and_checks_config(shared, tmp_path):
    ds = GrayFolderDataset(DataConfig(root=str(shared(FLIR)), size=24))
    assert len(ds) == 360 and ds[(0, 0)].shape == (1, 24, 24)
    with pytest.raises(ConfigError, match="geometry"):
        DataConfig.from_dict({"root": "x", "geometry": "warp"})
    with pytest.raises(ConfigError, match="unknown data options"):
        DataConfig.from_dict({"root": "x", "sise": 3})


def test_lmdb_crop_cache_gives_gray_pairs(tmp_path):
    import cv2

    from rgbtfuse.data.lmdb_cache import CropCache, CropParams, build_cache
    from rgbtfuse.training.image_fusion.data import build_dataset

    seq = tmp_path / "data" / "seqA"
    for d in ("color", "ir"):
        (seq / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(3):
        rgb = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(seq / "color" / f"{k + 1:08d}.png"), rgb)
        cv2.imwrite(str(seq / "ir" / f"{k + 1:08d}.png"), 255 - rgb[..., 1])
    (seq / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    build_cache("vot-rgbt", tmp_path / "data", tmp_path / "cache", CropParams(instance_size=63, exemplar_size=31), progress=False)
    ds = build_dataset(DataConfig(root=str(tmp_path / "cache"), size=63), pairs=True)
    assert len(ds) == 3
    ir, vis = ds[(1, 5)]
    rgb_crop, ir_crop = CropCache(tmp_path / "cache").pair("seqA", 1)
    np.testing.assert_array_equal(vis[0].numpy(), cv2.cvtColor(rgb_crop, cv2.COLOR_BGR2GRAY))
    np.testing.assert_array_equal(ir[0].numpy(), ir_crop[..., 0])
    with pytest.raises(ConfigError, match="holds pairs"):
        build_dataset(DataConfig(root=str(tmp_path / "cache")), pairs=False)


# --- losses -------------------------------------------------------------------------------------
def test_sobel_gradient_of_a_ramp_and_ms_ssim_identity():
    ramp = torch.arange(12.0).repeat(10, 1)[None, None]  # f(x, y) = x
    g = sobel_gradient(ramp)
    torch.testing.assert_close(g[0, 0, 0, :, 1:-1], torch.ones(10, 10))
    torch.testing.assert_close(g[0, 0, 1], torch.zeros(10, 12))
    assert torch.all(g[0, 0, 0, :, 0] == 0.5)  # replicate border: (f(1) − f(0))·4/8
    x = torch.rand(2, 1, 64, 64) * 255
    assert float(image_ms_ssim(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(image_ms_ssim(x, 255 - x)) < 0.5


def test_didfuse_loss_terms():
    g = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(2, 1, 32, 32, generator=g), torch.rand(2, 1, 32, 32, generator=g)
    f = torch.rand(2, 4, 32, 32, generator=g)
    total, logs = didfuse_loss(ir, vis, ir, vis, f, f, f, f + 1)
    # perfect reconstruction, equal bases, details 1 apart: only −α1·tanh(1) remains
    assert logs["rec_ir"] == pytest.approx(0, abs=1e-6) and logs["gradient"] == 0
    assert float(total) == pytest.approx(-0.05 * np.tanh(1.0), abs=1e-6)


def test_vgg_weights_missing_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="VGG-16 ImageNet weights not found"):
        VGG16Features(tmp_path / "vgg16-397923af.pth")
    feats = VGG16Features("random")(torch.rand(1, 1, 32, 32) * 255)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]


# --- recipes on real pairs ----------------------------------------------------------------------
def _losses(trainer) -> list[float]:
    return [h["loss"] for h in trainer.run()]


@pytest.mark.slow
def test_nest_two_stage_training_exports_published_files(shared, tmp_path):
    from rgbtfuse.image_fusion import create_model

    root = shared(FLIR)
    cfg1 = _cfg("nest_autoencoder", root, tmp_path / "s1", data={"limit": 1})
    (tmp_path / "s1.yaml").write_text(yaml.safe_dump(cfg1))
    assert cli_main(["train-image-fusion", "--config", str(tmp_path / "s1.yaml"), "--steps", "3"]) == 0
    rows = (tmp_path / "s1" / "log.csv").read_text().splitlines()[1:]
    losses1 = [float(r.split(",")[1]) for r in rows]
    assert len(losses1) == 3 and losses1[-1] < losses1[0]
    ae = tmp_path / "s1" / "export" / "final" / "nestfuse_autoencoder.model"
    ir, vis = _tno_pair(shared)
    fused = create_model("nestfuse", weights=ae).fuse_arrays(vis, ir)
    assert fused.shape == ir.shape and fused.std() > 0

    cfg2 = _cfg("rfn_nest_stage2", root, tmp_path / "s2", model={"autoencoder": str(ae)})
    trainer = build_trainer(cfg2, steps=3)
    losses2 = _losses(trainer)
    assert losses2[-1] < losses2[0]
    final = tmp_path / "s2" / "export" / "final"
    before, after = torch.load(ae), torch.load(final / "nestfuse_autoencoder.model")
    assert before.keys() == after.keys()
    for k in before:  # stage 2 leaves the auto-encoder bit-identical
        assert torch.equal(before[k], after[k]), k
    rfn = torch.load(final / "rfn.model")
    assert sorted({k.split(".")[0] for k in rfn}) == [f"fusion_block{i}" for i in range(1, 5)]
    net = create_model("rfn_nest", weights=[ae, final / "rfn.model"])
    assert net.fuse_arrays(vis, ir).shape == ir.shape


@pytest.mark.slow
def test_killed_run_resumes_with_the_same_losses(shared, tmp_path):
    """A run killed during step 4 and resumed from its step-2 checkpoint repeats the straight run (same seed)."""
    root = shared(FLIR)
    ae_dir = tmp_path / "ae"
    ae_dir.mkdir()
    from rgbtfuse.image_fusion.nestfuse import NestFuse

    torch.manual_seed(0)
    torch.save(NestFuse().state_dict(), ae_dir / "ae.model")
    cfg = _cfg("rfn_nest_stage2", root, tmp_path / "a", model={"autoencoder": str(ae_dir / "ae.model")})
    straight = _losses(build_trainer(cfg, steps=4))

    cfg_b = {**cfg, "out": str(tmp_path / "b")}
    crashing = build_trainer(cfg_b, steps=4)
    original = crashing.loss_fn

    def crash(batch):
        if crashing.step == 3:
            raise KeyboardInterrupt
        return original(batch)

    crashing.loss_fn = crash
    with pytest.raises(KeyboardInterrupt):
        crashing.run()
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**cfg_b, "train": {**cfg["train"], "steps": 4}}))
    assert cli_main(["train-image-fusion", "--config", str(tmp_path / "b.yaml"), "--resume"]) == 0
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4]
    assert [float(r.split(",")[1]) for r in rows] == pytest.approx(straight, rel=1e-6)
    assert cli_main(["train-image-fusion", "--config", str(tmp_path / "b.yaml"), "--export"]) == 0
    a = torch.load(tmp_path / "a" / "export" / "final" / "rfn.model")
    b = torch.load(tmp_path / "b" / "export" / "step_4" / "rfn.model")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)


@needs_lrr
@pytest.mark.slow
def test_lrrnet_recipe_lowers_the_loss_and_exports_a_loadable_state_dict(shared, tmp_path):
    from rgbtfuse.image_fusion import create_model

    cfg = _cfg("lrrnet", shared(FLIR), tmp_path, lr=1e-3, data={"limit": 1}, loss={"vgg_weights": "random"},
               model={"num_blocks": 2, "rank_channels": 16})
    losses = _losses(build_trainer(cfg, steps=4))
    assert losses[-1] < losses[0]
    ir, vis = _tno_pair(shared)
    net = create_model("lrrnet", weights=tmp_path / "export" / "final" / "lrr_net.model", num_blocks=2, rank_channels=16)
    assert net.fuse_arrays(vis, ir).shape == ir.shape


@needs_did
@pytest.mark.slow
def test_didfuse_recipe_lowers_the_loss_and_exports_the_pkl_pair(shared, tmp_path):
    from rgbtfuse.image_fusion import create_model

    cfg = _cfg("didfuse", shared(FLIR), tmp_path, lr=1e-2, data={"limit": 1, "geometry": "center_crop"})
    losses = _losses(build_trainer(cfg, steps=4))
    assert losses[-1] < losses[0]
    final = tmp_path / "export" / "final"
    enc = torch.load(final / "Encoder_weight.pkl")
    assert set(enc) == {"weight", "epoch"} and enc["epoch"] == 8  # 4 steps × 2 pairs / 1 pair
    ir, vis = _tno_pair(shared)
    net = create_model("didfuse", weights=[final / "Encoder_weight.pkl", final / "Decoder_weight.pkl"])
    assert net.fuse_arrays(vis, ir).shape == ir.shape
