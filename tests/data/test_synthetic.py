"""Synthetic RGB-T scenes: deterministic, exact ground truth, scripted failures, VOT layout."""

from __future__ import annotations

import numpy as np

from rgbtfuse.data.synthetic import Failure, SceneConfig, SceneRenderer, default_failures, write_vot_sequence
from rgbtfuse.imageio import read_image


def _cfg(**kw) -> SceneConfig:
    return SceneConfig(seed=5, frames=40, width=160, height=120, target_size=(24, 18), **kw)


def test_deterministic_per_seed():
    a = SceneRenderer(_cfg()).render(7)
    b = SceneRenderer(_cfg()).render(7)
    c = SceneRenderer(SceneConfig(seed=6, frames=40, width=160, height=120, target_size=(24, 18))).render(7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_box_encloses_the_warm_target():
    r = SceneRenderer(_cfg())
    for t in (0, 20, 39):
        _, ir, box = r.render(t)
        x, y, w, h = box
        inside = ir[int(y + h * 0.3) : int(y + h * 0.7), int(x + w * 0.3) : int(x + w * 0.7)].astype(float)
        assert inside.mean() > 180  # the target is hot
        assert 0 <= x and x + w <= 160 and 0 <= y and y + h <= 120


def test_failures_change_the_right_modality():
    base = SceneRenderer(_cfg()).render(20)
    night = SceneRenderer(_cfg(failures=[Failure("night", 10, 30)])).render(20)
    cross = SceneRenderer(_cfg(failures=[Failure("crossover", 10, 30)])).render(20)
    assert night[0].mean() < 0.5 * base[0].mean()  # RGB dark
    x, y, w, h = base[2].astype(int)

    def target_ir(fr):
        return fr[1][y + h // 3 : y + 2 * h // 3, x + w // 3 : x + 2 * w // 3].mean()

    assert target_ir(cross) < target_ir(base) - 60  # target cooled to the background
    assert np.abs(cross[0].astype(int) - base[0].astype(int)).mean() < 6  # RGB untouched but noise


def test_write_vot_sequence(tmp_path):
    cfg = _cfg(failures=default_failures(40))
    out = write_vot_sequence(cfg, tmp_path / "seq")
    assert len(list((out / "color").glob("*.jpg"))) == 40 and len(list((out / "ir").glob("*.png"))) == 40
    gt = np.loadtxt(out / "groundtruth.txt", delimiter=",")
    assert gt.shape == (40, 4)
    np.testing.assert_allclose(gt[3], SceneRenderer(cfg).box(3), atol=1e-4)
    meta = (out / "sequence").read_text()
    assert "channels.color=color/%08d.jpg" in meta and "channels.ir=ir/%08d.png" in meta
    night = np.loadtxt(out / "night.tag")
    assert night.sum() == default_failures(40)[0].end - default_failures(40)[0].start
    assert read_image(out / "ir" / "00000001.png").ndim == 2
