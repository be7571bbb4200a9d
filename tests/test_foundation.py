"""Checkpoint loading, atomic writes, image IO and folder pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.checkpoint import extract_state_dict, load_checkpoint, load_state_dict
from rgbtfuse.errors import CheckpointError, ImageReadError, PairingError, RgbtfuseError
from rgbtfuse.imageio import pair_folders, read_image, write_image


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def test_wrapped_and_prefixed_checkpoints_load(tmp_path):
    src = _net()
    sd = {f"module.{k}": v for k, v in src.state_dict().items()}
    atomic_torch_save({"epoch": 3, "state_dict": sd}, tmp_path / "ck.pth")
    dst = _net()
    assert load_checkpoint(dst, tmp_path / "ck.pth") == ([], [])
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_didfuse_style_weight_wrapper():
    sd = _net().state_dict()
    assert extract_state_dict({"weight": sd, "epoch": 120}).keys() == sd.keys()


def test_wrong_keys_are_named():
    sd = dict(_net().state_dict())
    sd["extra.weight"] = sd.pop("0.weight")
    with pytest.raises(CheckpointError) as err:
        load_state_dict(_net(), sd)
    msg = str(err.value)
    assert "0.weight" in msg and "extra.weight" in msg and "missing" in msg and "unexpected" in msg
    # non-strict loads report instead of raising
    missing, unexpected = load_state_dict(_net(), sd, strict=False)
    assert missing == ["0.weight"] and unexpected == ["extra.weight"]


def test_shape_mismatch_always_fails():
    sd = dict(_net().state_dict())
    sd["0.weight"] = torch.zeros(3, 1, 3, 3)
    with pytest.raises(CheckpointError, match="0.weight"):
        load_state_dict(_net(), sd, strict=False)


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_checkpoint(_net(), bad)


def test_atomic_save_leaves_nothing_on_failure(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_torch_save({"x": Unpicklable()}, tmp_path / "ck.pth")
    assert list(tmp_path.iterdir()) == []


def test_image_roundtrip_and_errors(tmp_path):
    img = (np.arange(12 * 7) % 256).astype(np.uint8).reshape(7, 12)
    write_image(tmp_path / "a.png", img)
    assert np.array_equal(read_image(tmp_path / "a.png"), img)
    assert read_image(tmp_path / "a.png", "bgr").shape == (7, 12, 3)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ImageReadError, match="corrupt.png"):
        read_image(tmp_path / "corrupt.png")
    with pytest.raises(ImageReadError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    assert issubclass(ImageReadError, RgbtfuseError)


def test_pair_folders(tmp_path):
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir(), vi.mkdir()
    img = np.zeros((4, 4), np.uint8)
    for name in ("1", "2", "10"):
        write_image(ir / f"{name}.png", img)
        write_image(vi / f"{name}.jpg", img)
    pairs = pair_folders(ir, vi)
    assert [p[0].stem for p in pairs] == ["1", "2", "10"]
    write_image(ir / "11.png", img)
    write_image(vi / "12.png", img)
    with pytest.raises(PairingError) as err:
        pair_folders(ir, vi)
    assert "11.png" in str(err.value) and "12.png" in str(err.value)
