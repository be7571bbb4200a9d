"""Context crops, the LMDB cache (resume after SIGKILL, verify) and `rgbtfuse prepare`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbtfuse.cli import main
from rgbtfuse.data.context_crop import context_crop, context_size, target_in_crop
from rgbtfuse.data.lmdb_cache import CropCache, CropParams, build_cache, decode_crop, encode_crop, iter_keys, verify_cache
from rgbtfuse.errors import ConfigError, DatasetLayoutError, ImageReadError, SizeMismatchError

REPO = Path(__file__).resolve().parents[2]


def _bright_region(img: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(img[..., 0] > 127)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)


def test_context_crop_centres_target_and_pads_with_mean():
    img = np.full((300, 400, 3), 40, np.uint8)
    img[:, :200, 2] = 90  # uneven channels → per-channel mean padding
    box = (20, 30, 40, 60)  # near the corner: the 511 window leaves the frame
    img[30:90, 20:60] = 255
    crop = context_crop(img, box)
    s_x = context_size(40, 60) * 511 / 127
    # the target occupies (w, h) * 510 / s_x pixels around the crop centre 255
    got = _bright_region(crop)
    scale = 510 / s_x
    np.testing.assert_allclose((got[:2] + got[2:]) / 2, [255, 255], atol=1.0)
    np.testing.assert_allclose(got[2:] - got[:2], [40 * scale, 60 * scale], atol=1.5)
    # pysot's _get_bbox size differs from the exact crop scale by 511/510 only
    tb = target_in_crop(40, 60, 511)
    np.testing.assert_allclose(tb[2:] - tb[:2], [40 * 127 / context_size(40, 60), 60 * 127 / context_size(40, 60)])
    mean = np.array(cv2.mean(img)[:3])
    np.testing.assert_allclose(crop[0, 0], mean, atol=0.5)


def test_entry_codecs_round_trip():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (31, 29, 3), dtype=np.uint8)
    gray3 = np.repeat(rng.integers(0, 256, (31, 29, 1), dtype=np.uint8), 3, axis=2)
    raw = CropParams(codec="raw")
    np.testing.assert_array_equal(decode_crop(encode_crop(colour, raw)), colour)
    assert len(encode_crop(gray3, raw)) < 31 * 29 + 16  # equal channels stored once
    np.testing.assert_array_equal(decode_crop(encode_crop(gray3, raw)), gray3)
    jpg = decode_crop(encode_crop(gray3, CropParams(codec="jpeg")))
    assert jpg.shape == gray3.shape and np.abs(jpg.astype(int) - gray3).mean() < 12


def _vot_sequence(root: Path, n: int = 6) -> None:
    for d in ("color", "ir"):
        (root / d).mkdir(parents=True)
    lines = []
    for k in range(n):
        img = np.full((120, 160, 3), 30, np.uint8)
        x, y = 20 + 10 * k, 30
        img[y : y + 20, x : x + 30] = 255
        cv2.imwrite(str(root / "color" / f"{k + 1:08d}.jpg"), img)
        cv2.imwrite(str(root / "ir" / f"{k + 1:08d}.png"), img[..., 0])
        lines.append(f"{x},{y},30,20" if k != 2 else "0,0,0,0")  # frame 2: target absent
    (root / "groundtruth.txt").write_text("\n".join(lines) + "\n")


def test_build_verify_and_read(tmp_path):
    _vot_sequence(tmp_path / "data" / "seqA")
    index = build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", progress=False)
    (seq,) = index["sequences"]
    assert seq["name"] == "seqA" and [f[0] for f in seq["frames"]] == [0, 1, 3, 4, 5]
    assert seq["frames"][1][1:] == [30.0, 30.0, 30.0, 20.0]
    cache = CropCache(tmp_path / "out")
    rgb, ir = cache.pair("seqA", 3)
    assert rgb.shape == ir.shape == (511, 511, 3)
    np.testing.assert_allclose((_bright_region(ir)[:2] + _bright_region(ir)[2:]) / 2, [255, 255], atol=1.5)
    assert verify_cache(tmp_path / "out", progress=False) == {"sequences": 1, "frames": 5, "crops": 10}
    # a re-run changes nothing; other options are refused
    before = list(iter_keys(tmp_path / "out"))
    build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", progress=False)
    assert list(iter_keys(tmp_path / "out")) == before
    with pytest.raises(ConfigError, match="holds crops made with"):
        build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", CropParams(context=0.6), progress=False)


def test_verify_reports_a_missing_crop(tmp_path):
    _vot_sequence(tmp_path / "data" / "seqA", n=2)
    build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", progress=False)
    import lmdb

    env = lmdb.open(str(tmp_path / "out" / "crops.lmdb"))
    with env.begin(write=True) as txn:
        txn.delete(b"seqA/000001/ir")
    env.close()
    with pytest.raises(DatasetLayoutError, match=r"crop seqA/1/ir missing"):
        verify_cache(tmp_path / "out", progress=False)


def test_prepare_cli_errors(tmp_path, capsys):
    assert main(["prepare", "--dataset", "gtot", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "no gtot sequences" in capsys.readouterr().err
    assert main(["prepare", "--verify", "--out", str(tmp_path)]) == 1
    assert "no index.json" in capsys.readouterr().err


def _prepare_cmd(root: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "rgbtfuse", "prepare", "--dataset", "pairs", "--root", str(root),
            "--out", str(out), "--every", "3", "--quiet"]


@pytest.mark.slow
def test_prepare_killed_and_rerun_equals_uninterrupted(shared, tmp_path):
    root = shared("data/fusion/flir_train180")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(_prepare_cmd(root, tmp_path / "full"), cwd=REPO, env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_prepare_cmd(root, killed), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = killed / "crops.lmdb" / "data.mdb"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if data.is_file() and data.stat().st_size > 20 << 20:  # at least one chunk committed
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "prepare finished before it could be killed"
    assert not (killed / "index.json").exists()
    done_before = sum(k.startswith(b"__done__/") for k, _ in iter_keys(killed))
    assert 0 < done_before < 4  # 60 frames = 4 chunks

    subprocess.run(_prepare_cmd(root, killed), cwd=REPO, env=env, check=True, capture_output=True)
    assert (killed / "index.json").read_bytes() == (tmp_path / "full" / "index.json").read_bytes()
    assert list(iter_keys(killed)) == list(iter_keys(tmp_path / "full"))
    assert verify_cache(killed, progress=False)["crops"] == 120


def test_workers_build_the_same_cache(tmp_path):
    for name in ("s1", "s2", "s3"):
        _vot_sequence(tmp_path / "data" / name, n=18)  # two chunks each
    one = build_cache("vot-rgbt", tmp_path / "data", tmp_path / "one", progress=False)
    many = build_cache("vot-rgbt", tmp_path / "data", tmp_path / "many", workers=2, progress=False)
    assert one == many
    assert list(iter_keys(tmp_path / "one")) == list(iter_keys(tmp_path / "many"))


@pytest.mark.parametrize("workers", [0, 2])
def test_bad_frame_is_reported_from_workers(tmp_path, workers):
    _vot_sequence(tmp_path / "data" / "s1", n=3)
    (tmp_path / "data" / "s1" / "ir" / "00000002.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"ir/00000002.png: corrupt or not an image"):
        build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", workers=workers, progress=False)
    cv2.imwrite(str(tmp_path / "data" / "s1" / "ir" / "00000002.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(SizeMismatchError, match=r"must be registered"):
        build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", workers=workers, progress=False)
