"""Pair sampling and augmentation on small generated caches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from rgbtfuse.data.augment import GeometricAug, ModalityDropout, PhotometricAug
from rgbtfuse.data.lmdb_cache import CropCache, build_cache
from rgbtfuse.data.sampling import PairConfig, PairSampler, RGBTPairDataset
from rgbtfuse.errors import ConfigError


def _video(root: Path, n: int, level: int) -> None:
    """Gray-valued frames (RGB = IR content) with a bright box moving right."""
    for d in ("color", "ir"):
        (root / d).mkdir(parents=True)
    lines = []
    for k in range(n):
        img = np.full((150, 200), 20, np.uint8)
        img[:, 150:] = 60  # structure, so that crops differ by position
        x, y = 30 + 5 * k, 50
        img[y : y + 24, x : x + 36] = level
        cv2.imwrite(str(root / "color" / f"{k + 1:08d}.png"), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
        cv2.imwrite(str(root / "ir" / f"{k + 1:08d}.png"), img)
        lines.append(f"{x},{y},36,24")
    (root / "groundtruth.txt").write_text("\n".join(lines) + "\n")


def _still_set(root: Path, n: int) -> None:
    for d in ("RGB", "T", "GT"):
        (root / d).mkdir(parents=True)
    for k in range(n):
        img = np.full((100, 120), 10, np.uint8)
        mask = np.zeros_like(img)
        mask[20 + 5 * k : 50 + 5 * k, 30:70] = 255
        img[mask > 0] = 250
        cv2.imwrite(str(root / "RGB" / f"{k}.png"), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
        cv2.imwrite(str(root / "T" / f"{k}.png"), img)
        cv2.imwrite(str(root / "GT" / f"{k}.png"), mask)


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("caches")
    _video(base / "videos" / "a", 12, 255)
    _video(base / "videos" / "b", 8, 200)
    _still_set(base / "VT821", 3)
    build_cache("vot-rgbt", base / "videos", base / "video_cache", progress=False)
    build_cache("vt821", base / "VT821", base / "still_cache", progress=False)
    return base / "video_cache", base / "still_cache"


def _no_photometry(**kw) -> PairConfig:
    return PairConfig(rgb=PhotometricAug(), ir=PhotometricAug(), **kw)


def test_same_seed_same_samples_in_any_order(caches):
    cfg = PairConfig(neg=0.3, rgb=PhotometricAug(color=1.0, blur=0.3, gray=0.2), ir=PhotometricAug(brightness=0.2),
                     dropout=ModalityDropout(0.3), pairs_per_epoch=6)
    a = RGBTPairDataset(list(caches), cfg, seed=7)
    b = RGBTPairDataset(list(caches), cfg, seed=7)
    forward = [a[i] for i in range(6)]
    backward = [b[i] for i in reversed(range(6))][::-1]
    for x, y in zip(forward, backward):
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    other = RGBTPairDataset(list(caches), cfg, seed=8)[0]
    assert not torch.equal(other["search_rgb"], forward[0]["search_rgb"])
    a.set_epoch(1)
    assert not torch.equal(a[0]["search_rgb"], forward[0]["search_rgb"])


def test_dataloader_workers_reproduce_direct_indexing(caches):
    ds = RGBTPairDataset(list(caches), PairConfig(pairs_per_epoch=4), seed=3)
    batch = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    direct = torch.stack([ds[i]["search_ir"] for i in range(4)])
    assert torch.equal(batch["search_ir"], direct)
    assert batch["template_rgb"].shape == (4, 3, 127, 127) and batch["search_rgb"].shape == (4, 3, 255, 255)
    assert batch["bbox"].shape == (4, 4) and batch["neg"].dtype == torch.float32


def test_geometry_is_identical_for_both_modalities(caches):
    cfg = _no_photometry(neg=0.0, pairs_per_epoch=10,
                         template=GeometricAug(shift=4, scale=0.05, flip=0.5), search=GeometricAug(shift=64, scale=0.18, flip=0.5))
    ds = RGBTPairDataset(list(caches), cfg, seed=1)
    for i in range(10):
        s = ds[i]
        assert torch.equal(s["template_rgb"], s["template_ir"]) and torch.equal(s["search_rgb"], s["search_ir"])


def test_bbox_marks_the_target_in_the_search_crop(caches):
    cfg = _no_photometry(neg=0.0, pairs_per_epoch=12, search=GeometricAug(shift=64, scale=0.18, flip=0.5))
    ds = RGBTPairDataset([caches[0]], cfg, seed=2)
    for i in range(12):
        s = ds[i]
        img = s["search_ir"][0].numpy()
        ys, xs = np.nonzero(img > 150)
        # the bright pixels' extent, pixel centres at integers
        found = np.array([xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5])
        np.testing.assert_allclose(found, s["bbox"].numpy(), atol=1.25)


def test_template_and_search_frames_within_range(caches):
    sampler = PairSampler([CropCache(caches[0])], frame_range=2, neg=0.0)
    rng = np.random.default_rng(0)
    gaps = set()
    for _ in range(300):
        t, s, neg = sampler.sample(int(rng.integers(2)), rng)
        assert not neg and t[:2] == s[:2]
        gaps.add(abs(t[2] - s[2]))
    assert gaps == {0, 1, 2}


def test_static_images_pair_with_themselves_and_negatives_come_from_elsewhere(caches):
    still = CropCache(caches[1])
    sampler = PairSampler([still], neg=0.0)
    assert len(sampler.units) == 3  # one unit per image
    rng = np.random.default_rng(1)
    for u in range(3):
        t, s, _ = sampler.sample(u, rng)
        assert t == s
    neg_sampler = PairSampler([CropCache(caches[0]), still], neg=1.0)
    for u in range(len(neg_sampler.units)):
        t, s, neg = neg_sampler.sample(u, rng)
        unit = neg_sampler.units[u]
        assert neg and (s[0], s[1], s[2] if unit.frame is not None else None) != (unit.cache, unit.seq, unit.frame)
        if unit.frame is None:  # a video: the search comes from another unit
            assert (s[0], s[1]) != (unit.cache, unit.seq)
    ds = RGBTPairDataset([caches[1]], PairConfig(neg=1.0), seed=0)
    assert all(ds[i]["neg"] == 1.0 for i in range(3))


def test_negatives_need_two_units(caches, tmp_path):
    _video(tmp_path / "one" / "a", 3, 255)
    build_cache("vot-rgbt", tmp_path / "one", tmp_path / "c", progress=False)
    with pytest.raises(ConfigError, match="at least two"):
        RGBTPairDataset([tmp_path / "c"], PairConfig(neg=0.2))


def test_modality_dropout_blanks_one_search_modality(caches):
    ds = RGBTPairDataset(list(caches), PairConfig(neg=0.0, dropout=ModalityDropout(1.0), pairs_per_epoch=12), seed=4)
    seen = set()
    for i in range(12):
        s = ds[i]
        name = {1: "rgb", 2: "ir"}[int(s["dropped"])]
        keep = "ir" if name == "rgb" else "rgb"
        seen.add(name)
        assert not s[f"search_{name}"].any() and s[f"search_{keep}"].any()
        assert s[f"template_{name}"].any()
    assert seen == {"rgb", "ir"}
    noise = RGBTPairDataset(list(caches), PairConfig(neg=0.0, dropout=ModalityDropout(1.0, "noise", template_too=True)), seed=4)[0]
    name = {1: "rgb", 2: "ir"}[int(noise["dropped"])]
    assert noise[f"template_{name}"].std() > 50


def test_photometry_is_per_modality(caches):
    cfg = PairConfig(neg=0.0, rgb=PhotometricAug(color=1.0), ir=PhotometricAug(), pairs_per_epoch=3)
    s = RGBTPairDataset([caches[0]], cfg, seed=5)[0]
    rgb = s["search_rgb"].numpy()
    assert not np.allclose(rgb[0], rgb[2])  # colour offset tints RGB channels differently
    ir = s["search_ir"].numpy()
    assert np.array_equal(ir[0], ir[2])  # IR untouched: still gray
