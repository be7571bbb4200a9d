"""Pseudo-target boxes for still pairs without ground truth (`data.sources[].crop.pseudo`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbtfuse.boxes import box_iou
from rgbtfuse.data.lmdb_cache import CropCache, CropParams, build_cache, pseudo_box, salient_box
from rgbtfuse.errors import ConfigError


def _iou(a, b) -> float:
    return float(box_iou(np.array([a], float), np.array([b], float))[0])


def _scene(seed: int, box: tuple[int, int, int, int], size: tuple[int, int] = (320, 240)) -> tuple[np.ndarray, np.ndarray]:
    """A textured cool background with one warm compact object at ``box`` (x, y, w, h)."""
    rng = np.random.default_rng(seed)
    w, h = size
    ir = cv2.GaussianBlur(rng.normal(80, 12, (h, w)).astype(np.float32), (0, 0), 3)
    ir += np.linspace(0, 30, w)[None, :]  # a smooth gradient is not an object
    x, y, bw, bh = box
    ir[y : y + bh, x : x + bw] += 90
    ir = np.clip(ir, 0, 255).astype(np.uint8)
    rgb = cv2.cvtColor(rng.integers(0, 255, (h, w), dtype=np.uint8), cv2.COLOR_GRAY2BGR)
    return rgb, cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("seed,box", [(0, (200, 60, 40, 50)), (1, (40, 150, 60, 30)), (2, (130, 100, 25, 45))])
def test_salient_box_finds_the_warm_object(seed, box):
    rgb, ir = _scene(seed, box)
    got = salient_box("s", f"{seed}.png", rgb, ir)
    assert _iou(got, box) > 0.6, got
    assert salient_box("s", f"{seed}.png", rgb, ir) == got  # deterministic
    # the random pseudo-box does not (it ignores the image)
    assert _iou(pseudo_box("s", f"{seed}.png", 320, 240), box) < 0.6


def test_salient_box_falls_back_on_a_flat_image():
    flat = np.full((240, 320, 3), 90, np.uint8)
    assert salient_box("s", "f.png", flat, flat) == pseudo_box("s", "f.png", 320, 240)


def test_pseudo_option_in_cache(tmp_path: Path):
    root = tmp_path / "pairs"
    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True)
    box = (200, 60, 40, 50)
    for i in range(3):
        rgb, ir = _scene(i, box)
        cv2.imwrite(str(root / "ir" / f"{i}.png"), ir)
        cv2.imwrite(str(root / "vi" / f"{i}.png"), rgb)
    with pytest.raises(ConfigError, match="pseudo must be"):
        CropParams(pseudo="objects")
    build_cache("pairs", root, tmp_path / "sal", CropParams(pseudo="salient"), progress=False)
    build_cache("pairs", root, tmp_path / "rnd", progress=False)
    sal, rnd = CropCache(tmp_path / "sal"), CropCache(tmp_path / "rnd")
    assert sal.params.pseudo == "salient" and rnd.params.pseudo == "random"
    assert "pseudo" not in rnd.index["params"]  # caches built before the option keep their stored options
    for seq in sal.index["sequences"]:
        for _frame, *b in seq["frames"]:
            assert _iou(b, box) > 0.6
    with pytest.raises(ConfigError, match="holds crops made with"):
        build_cache("pairs", root, tmp_path / "rnd", CropParams(pseudo="salient"), progress=False)


def test_yaml_source_option_gets_its_own_cache(tmp_path: Path):
    from rgbtfuse.training.fusion_run import _caches

    root = tmp_path / "pairs"
    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True)
    rgb, ir = _scene(0, (200, 60, 40, 50))
    cv2.imwrite(str(root / "ir" / "0.png"), ir)
    cv2.imwrite(str(root / "vi" / "0.png"), rgb)
    data = {"cache_dir": str(tmp_path / "cache"), "sources": [{"dataset": "pairs", "root": str(root)},
                                                            {"dataset": "pairs", "root": str(root), "crop": {"pseudo": "salient"}}]}
    plain, salient = _caches(data, tmp_path / "run", 0)
    assert plain.name == "pairs_pairs" and salient.name == "pairs_pairs_salient"
    assert CropCache(salient).params.pseudo == "salient" and CropCache(plain).params.pseudo == "random"
    with pytest.raises(ConfigError, match="pseudo must be"):
        _caches({**data, "sources": [{"dataset": "pairs", "root": str(root), "crop": {"pseudo": "blobs"}}]}, tmp_path / "run", 0)
