"""``rgbtfuse fuse``: pairs and folders, colour, --resize, --strategy, and nothing written on bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rgbtfuse.cli import main
from rgbtfuse.image_fusion import create_model, list_models, model_info
from rgbtfuse.imageio import read_image

H, W = 40, 56


def _scene(seed: int, colour: bool = False, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    """Deterministic textured image: smooth gradient + blobs + noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    base = 60 + 100 * (xx / w) + 40 * np.sin(yy / 5.0 + seed)
    img = np.clip(base + rng.normal(0, 12, (h, w)), 0, 255)
    if not colour:
        return img.astype(np.uint8)
    tint = np.stack([img * 0.6, img * 0.9, np.clip(img * 1.2 + 20, 0, 255)], axis=-1)
    return np.clip(tint + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


MODEL = "nestfuse"  # CLI logic tests: random weights in the published key format, small images


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """Random NestFuse weights saved from the model's own state_dict (= the published key format).

    Absolute values: with random signs the ReLU after every layer leaves a constant (all-black) output.
    """
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "nestfuse_random.model"
    torch.save({k: v.abs() for k, v in create_model(MODEL).state_dict().items()}, path)
    return path


def _write(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def _fuse(weights: Path, ir: Path, vis: Path, out: Path, *extra: str) -> int:
    return main(["fuse", "--model", MODEL, "--weights", str(weights), "--ir", str(ir), "--vis", str(vis),
                 "--out", str(out), "--device", "cpu", "--no-progress", *extra])


def _model(weights: Path, **kwargs):
    return create_model(MODEL, weights=weights, **kwargs)


def test_single_gray_pair_equals_the_model_output(weights, tmp_path, capsys):
    ir, vis = _scene(1), _scene(2)
    out = tmp_path / "out"
    assert _fuse(weights, _write(tmp_path / "a_ir.png", ir), _write(tmp_path / "a_vi.png", vis), out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_vi.png"]
    fused = read_image(out / "a_vi.png")
    assert fused.shape == (H, W) and fused.dtype == np.uint8
    np.testing.assert_array_equal(fused, _model(weights).fuse_arrays(vis, ir))
    assert f"fused 1 pair with {MODEL}" in capsys.readouterr().out


def test_colour_visible_fuses_luma_and_keeps_chroma(weights, tmp_path):
    ir, vis = _scene(3), _scene(4, colour=True)
    out = tmp_path / "out"
    assert _fuse(weights, _write(tmp_path / "ir.png", ir), _write(tmp_path / "vi.png", vis), out) == 0
    fused = read_image(out / "vi.png")
    assert fused.shape == (H, W, 3)
    got, src = cv2.cvtColor(fused, cv2.COLOR_BGR2YCrCb).astype(int), cv2.cvtColor(vis, cv2.COLOR_BGR2YCrCb).astype(int)
    expected_y = _model(weights).fuse_arrays(np.ascontiguousarray(src[..., 0].astype(np.uint8)), ir)
    # YCrCb -> BGR -> YCrCb in uint8 rounds, and clips where a fused luma is out of the colour's gamut
    unclipped = (fused.min(-1) > 0) & (fused.max(-1) < 255)
    assert unclipped.mean() > 0.5
    assert np.abs(got[..., 0] - expected_y)[unclipped].max() <= 2
    assert np.abs(got[..., 1:] - src[..., 1:])[unclipped].max() <= 3


def test_gray_stored_as_rgb_stays_gray(weights, tmp_path):
    ir, vis = _scene(5), _scene(6)
    out = tmp_path / "out"
    vis_rgb = cv2.cvtColor(vis, cv2.COLOR_GRAY2BGR)
    assert _fuse(weights, _write(tmp_path / "ir.png", ir), _write(tmp_path / "vi.png", vis_rgb), out) == 0
    fused = read_image(out / "vi.png")
    assert fused.ndim == 2
    np.testing.assert_array_equal(fused, _model(weights).fuse_arrays(vis, ir))


def test_folders_are_paired_by_name(weights, tmp_path):
    names = ["1.png", "2.png", "10.png"]
    for i, name in enumerate(names):
        _write(tmp_path / "ir" / name, _scene(10 + i))
        _write(tmp_path / "vi" / name.replace(".png", ".jpg"), _scene(20 + i, colour=(i == 1)))
    out = tmp_path / "out"
    assert _fuse(weights, tmp_path / "ir", tmp_path / "vi", out) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert read_image(out / "2.png").ndim == 3 and read_image(out / "10.png").ndim == 2


def test_strategy_is_passed_to_the_model(weights, tmp_path):
    ir, vis = _scene(7), _scene(8)
    ir_p, vis_p = _write(tmp_path / "ir.png", ir), _write(tmp_path / "vi.png", vis)
    assert _fuse(weights, ir_p, vis_p, tmp_path / "max", "--strategy", "attention_max") == 0
    fused = read_image(tmp_path / "max" / "vi.png")
    np.testing.assert_array_equal(fused, _model(weights, strategy="attention_max").fuse_arrays(vis, ir))
    assert not np.array_equal(fused, _model(weights).fuse_arrays(vis, ir))


def test_strategy_errors(weights, tmp_path, capsys):
    ir_p, vis_p = _write(tmp_path / "ir.png", _scene(1)), _write(tmp_path / "vi.png", _scene(2))
    assert _fuse(weights, ir_p, vis_p, tmp_path / "out", "--strategy", "no_such_rule") == 1
    assert "no_such_rule" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["didfuse", "lrrnet", "nestfuse", "rfn_nest"])
def test_strategy_keyword_table_matches_the_models(model):
    assert model in list_models()
    kwarg = model_info(model).rule_kwarg
    if kwarg is not None:
        default = {"nestfuse": "attention_max", "rfn_nest": "rfn", "didfuse": "average"}[model]
        assert create_model(model, **{kwarg: default}).training is False


def test_size_mismatch_names_both_files_and_resize_fixes_it(weights, tmp_path, capsys):
    ir_p = _write(tmp_path / "ir.png", _scene(1, shape=(H // 2, W // 2)))
    vis_p = _write(tmp_path / "vi.png", _scene(2))
    out = tmp_path / "out"
    assert _fuse(weights, ir_p, vis_p, out) == 1
    err = capsys.readouterr().err
    assert str(ir_p) in err and str(vis_p) in err and "--resize" in err
    assert not out.exists()
    assert _fuse(weights, ir_p, vis_p, out, "--resize") == 0
    assert read_image(out / "vi.png").shape == (H, W)
    assert "1 infrared resized" in capsys.readouterr().out


def test_corrupt_image_names_the_file_and_writes_nothing(weights, tmp_path, capsys):
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        _write(tmp_path / "ir" / name, _scene(i))
        _write(tmp_path / "vi" / name, _scene(10 + i))
    (tmp_path / "vi" / "c.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _fuse(weights, tmp_path / "ir", tmp_path / "vi", out) == 1
    assert str(tmp_path / "vi" / "c.png") in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_size_mismatch_in_a_folder_fails_before_anything_is_written(weights, tmp_path, capsys):
    _write(tmp_path / "ir" / "1.png", _scene(1))
    _write(tmp_path / "vi" / "1.png", _scene(2))
    _write(tmp_path / "ir" / "2.png", _scene(3, shape=(H, W + 2)))
    _write(tmp_path / "vi" / "2.png", _scene(4))
    out = tmp_path / "out"
    assert _fuse(weights, tmp_path / "ir", tmp_path / "vi", out) == 1
    assert "2.png" in capsys.readouterr().err
    assert not out.exists()


def test_failure_during_fusion_leaves_out_untouched(weights, tmp_path, monkeypatch):
    for name in ["1.png", "2.png", "3.png"]:
        _write(tmp_path / "ir" / name, _scene(1))
        _write(tmp_path / "vi" / name, _scene(2))
    out = tmp_path / "out"
    out.mkdir()
    (out / "1.png").write_bytes(b"previous result")
    from rgbtfuse.image_fusion import color

    real, calls = color.fuse_images, []

    def failing(model, rgb, ir):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash on the third pair")
        return real(model, rgb, ir)

    monkeypatch.setattr(color, "fuse_images", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        _fuse(weights, tmp_path / "ir", tmp_path / "vi", out)
    assert sorted(p.name for p in out.iterdir()) == ["1.png"]  # no staging folder, no new files
    assert (out / "1.png").read_bytes() == b"previous result"


def test_unpaired_folders_list_the_files(weights, tmp_path, capsys):
    _write(tmp_path / "ir" / "1.png", _scene(1))
    _write(tmp_path / "ir" / "2.png", _scene(1))
    _write(tmp_path / "vi" / "1.png", _scene(2))
    _write(tmp_path / "vi" / "3.png", _scene(2))
    assert _fuse(weights, tmp_path / "ir", tmp_path / "vi", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "2.png" in err and "3.png" in err
    assert not (tmp_path / "out").exists()


def test_several_weight_files_only_for_multi_file_models(weights, tmp_path, capsys):
    ir_p, vis_p = _write(tmp_path / "ir.png", _scene(1)), _write(tmp_path / "vi.png", _scene(2))
    assert main(["fuse", "--model", MODEL, "--weights", str(weights), str(weights), "--ir", str(ir_p),
                 "--vis", str(vis_p), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    assert "one checkpoint file" in capsys.readouterr().err


def test_file_and_folder_mixed_is_rejected(weights, tmp_path, capsys):
    ir_p = _write(tmp_path / "ir.png", _scene(1))
    _write(tmp_path / "vi" / "ir.png", _scene(2))
    assert _fuse(weights, ir_p, tmp_path / "vi", tmp_path / "out") == 1
    assert "both be" in capsys.readouterr().err


def test_checkpoint_with_wrong_keys_lists_them(weights, tmp_path, capsys):
    sd = torch.load(weights)
    missing = next(k for k in sd if k.startswith("DB1_3."))
    del sd[missing]
    sd["DB1_3.bogus.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pth"
    torch.save(sd, bad)
    ir_p, vis_p = _write(tmp_path / "ir.png", _scene(1)), _write(tmp_path / "vi.png", _scene(2))
    assert _fuse(bad, ir_p, vis_p, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert missing in err and "DB1_3.bogus.weight" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_published_didfuse_reproduces_the_authors_outputs(shared, tmp_path):
    """Two TNO pairs through the CLI with the published weights vs the authors' published results."""
    data, ref = shared("data/fusion/tno40"), shared("reference/didfuse_tno40")
    didfuse_weights = shared("weights/didfuse")
    for name in ("33.png", "36.png"):
        for kind in ("ir", "vi"):
            _write(tmp_path / kind / name, read_image(data / kind / name))
    out = tmp_path / "out"
    assert main(["fuse", "--model", "didfuse", "--weights", str(didfuse_weights), "--ir", str(tmp_path / "ir"),
                 "--vis", str(tmp_path / "vi"), "--out", str(out), "--no-progress"]) == 0
    for name in ("33.png", "36.png"):
        ours, theirs = read_image(out / name).astype(int), read_image(ref / name, "gray").astype(int)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() <= 1 and (ours == theirs).mean() > 0.999


@pytest.mark.slow
def test_published_lrrnet_fuses_a_colour_pair(shared, tmp_path):
    """A colour visible image whose luma is the reference pair's: the fused luma is LRRNet's published result."""
    weights = shared("weights/lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model")
    pair = shared("reference/lrrnet_pair1")
    ir, vis_gray = read_image(pair / "ir.png", "gray"), read_image(pair / "vi.png", "gray")
    cr, cb = 140, 118
    vis = cv2.cvtColor(cv2.merge([vis_gray, np.full_like(vis_gray, cr), np.full_like(vis_gray, cb)]), cv2.COLOR_YCrCb2BGR)
    ir_p, vis_p = _write(tmp_path / "ir.png", ir), _write(tmp_path / "vi.png", vis)
    out = tmp_path / "out"
    assert main(["fuse", "--model", "lrrnet", "--weights", str(weights), "--ir", str(ir_p), "--vis", str(vis_p),
                 "--out", str(out), "--no-progress"]) == 0
    fused = read_image(out / "vi.png")
    assert fused.shape == vis.shape
    ycrcb = cv2.cvtColor(fused, cv2.COLOR_BGR2YCrCb).astype(int)
    unclipped = (fused.min(-1) > 0) & (fused.max(-1) < 255)  # BGR clipping alters luma/chroma there
    assert unclipped.mean() > 0.99
    published = read_image(pair / "lrrnet_published.png", "gray").astype(int)
    luma_diff = np.abs(ycrcb[..., 0] - published)
    # uint8 round trips (visible Y -> BGR -> Y, fused Y -> BGR -> Y) move values by a level or two
    assert luma_diff.mean() < 1 and luma_diff[unclipped].max() <= 3
    assert np.abs(ycrcb[..., 1] - cr)[unclipped].mean() < 1 and np.abs(ycrcb[..., 2] - cb)[unclipped].mean() < 1
