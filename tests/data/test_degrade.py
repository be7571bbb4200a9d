"""Sensor-failure degradations of real frames and the degraded-sequence writer."""

from __future__ import annotations

import numpy as np
import pytest

from rgbtfuse.data import load_sequence
from rgbtfuse.data.degrade import DEGRADATIONS, degrade_sequence, interpolated_boxes
from rgbtfuse.data.synthetic import SceneConfig, write_vot_sequence
from rgbtfuse.errors import ConfigError
from rgbtfuse.imageio import read_image


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_vot_sequence(SceneConfig(seed=3, frames=12, width=96, height=72, failures=[]), tmp_path_factory.mktemp("src"), anchor_every=5)


def test_only_the_named_modality_changes_from_the_start_frame(scene, tmp_path):
    out = degrade_sequence(scene, tmp_path, ["rgb:night"], start=5, seed=1)
    src, dst = load_sequence(scene), load_sequence(out)
    np.testing.assert_array_equal(dst.valid, src.valid)
    np.testing.assert_allclose(dst.boxes[dst.valid], src.boxes[src.valid], atol=1e-4)  # written with 4 decimals
    for i in range(len(src)):
        ir_a, ir_b = read_image(src.ir_frames[i], "gray"), read_image(dst.ir_frames[i], "gray")
        rgb_a, rgb_b = read_image(src.rgb_frames[i], "bgr"), read_image(dst.rgb_frames[i], "bgr")
        # JPEG re-encoding alone moves pixels by a few levels; night darkens by ~90 %
        assert abs(float(ir_a.mean()) - float(ir_b.mean())) < 3
        if i < 5:
            assert abs(float(rgb_a.mean()) - float(rgb_b.mean())) < 3
        else:
            assert rgb_b.mean() < 0.3 * rgb_a.mean()
    assert dst.attributes["rgb_night"].tolist() == [False] * 5 + [True] * 7


def test_same_seed_same_pixels_other_seed_other_noise(scene, tmp_path):
    a = degrade_sequence(scene, tmp_path / "a", ["ir:dropout"], start=0, seed=7)
    b = degrade_sequence(scene, tmp_path / "b", ["ir:dropout"], start=0, seed=7)
    c = degrade_sequence(scene, tmp_path / "c", ["ir:dropout"], start=0, seed=8)
    frame = "ir/00000004.jpg"
    assert (read_image(a / frame) == read_image(b / frame)).all()
    assert (read_image(a / frame) != read_image(c / frame)).any()


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_every_degradation_keeps_shape_and_dtype(kind):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    out = DEGRADATIONS[kind](img, np.random.default_rng(1), np.array([10.0, 8.0, 20.0, 16.0]), 1.0)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out != img).any()


def test_occluder_covers_the_target_only():
    img = np.full((60, 80), 30, np.uint8)
    out = DEGRADATIONS["occlusion"](img, np.random.default_rng(0), np.array([20.0, 10.0, 40.0, 30.0]), 1.0)
    changed = np.argwhere(out != img)
    assert changed.size and changed[:, 0].min() >= 10 and changed[:, 0].max() < 40
    assert changed[:, 1].min() >= 20 and changed[:, 1].max() < 60


def test_interpolated_boxes_between_sparse_annotations():
    boxes = np.full((11, 4), np.nan)
    boxes[0], boxes[10] = (0, 0, 10, 10), (10, 20, 30, 10)
    valid = np.isfinite(boxes).all(axis=1)
    np.testing.assert_allclose(interpolated_boxes(boxes, valid)[5], (5, 10, 20, 10))


@pytest.mark.parametrize("spec", ["night", "rgb:fog", "depth:night"])
def test_bad_spec_is_a_config_error(scene, tmp_path, spec):
    with pytest.raises(ConfigError, match="MODALITY:KIND"):
        degrade_sequence(scene, tmp_path, [spec])


def test_output_never_over_the_input(scene):
    with pytest.raises(ConfigError, match="input sequence"):
        degrade_sequence(scene, scene.parent, ["rgb:blur"], start=2, name=scene.name)
