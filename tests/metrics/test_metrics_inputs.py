"""rgbtfuse.metrics on edge cases, the FMI fast path against the literal algorithm, and the CLI."""

from __future__ import annotations

import json
import math
import warnings

import cv2
import numpy as np
import pytest

from rgbtfuse import metrics as M
from rgbtfuse.cli import main
from rgbtfuse.errors import MetricInputError, PairingError, SizeMismatchError
from rgbtfuse.imageio import read_image, write_image
from rgbtfuse.metrics.evaluate import evaluate
from rgbtfuse.metrics.information import _Marginal, _minmax, _pair_fmi


def _nelsen_fmi_literal(a: np.ndarray, f: np.ndarray) -> float:
    """One window of Haghighat's ``analysis_fmi`` transcribed cell by cell (L × L joint pmf)."""
    nbin = a.size
    ap, fp = a / a.sum(), f / f.sum()
    acdf, fcdf = np.cumsum(ap), np.cumsum(fp)
    at, ft = ap - ap.mean(), fp - fp.mean()
    s = (at * ft).sum()
    c = 0.0 if s == 0 else s / math.sqrt((at * at).sum() * (ft * ft).sum())
    i = np.arange(1, nbin + 1)
    a_sd = math.sqrt(max((i * i * ap).sum() - (i * ap).sum() ** 2, 0))
    f_sd = math.sqrt(max((i * i * fp).sum() - (i * fp).sum() ** 2, 0))
    f0, a0 = np.r_[0, fcdf], np.r_[0, acdf]
    if c >= 0:
        bound = np.minimum(f0[:, None], a0[None, :])
        cov = (np.minimum(fcdf[:, None], acdf[None, :]) - fcdf[:, None] * acdf[None, :]).sum()
        w = 0.0 if (c == 0 or a_sd == 0 or f_sd == 0) else c / (cov / (f_sd * a_sd))
    else:
        bound = np.maximum(f0[:, None] + a0[None, :] - 1, 0)
        bound[0, :] = bound[:, 0] = 0
        cov = (np.maximum(fcdf[:, None] + acdf[None, :] - 1, 0) - fcdf[:, None] * acdf[None, :]).sum()
        w = 0.0 if (a_sd == 0 or f_sd == 0) else c / (cov / (f_sd * a_sd))
    pmf = bound[1:, 1:] - bound[:-1, 1:] - bound[1:, :-1] + bound[:-1, :-1]
    joint = w * pmf + (1 - w) * np.outer(fp, ap)
    nz = joint != 0
    h_joint = float(-(joint[nz] * np.log2(np.abs(joint[nz]))).sum())
    h_a = float(-(ap[ap > 0] * np.log2(ap[ap > 0])).sum())
    h_f = float(-(fp[fp > 0] * np.log2(fp[fp > 0])).sum())
    mi = h_a + h_f - h_joint
    return 0.0 if mi == 0 else 2 * mi / (h_a + h_f)


def test_fmi_fast_path_equals_literal_algorithm():
    rng = np.random.default_rng(0)
    a = rng.random((240, 9))
    f = rng.random((240, 9))
    f[:60] = 0.9 * a[:60] + 0.1 * f[:60]  # positively correlated windows (upper bound)
    f[60:120] = 1 - a[60:120]  # negatively correlated (lower bound)
    a[120:130] = 1.0  # flat window
    f[130:140] = 0.0
    f[130:140, 4] = 1.0  # single-peak window (zero spread)
    a, f = (_minmax(x) for x in (a, f))  # the normalisation analysis_fmi applies first
    fast = _pair_fmi(_Marginal(a), _Marginal(f))
    literal = [_nelsen_fmi_literal(x, y) for x, y in zip(a, f)]
    np.testing.assert_allclose(fast, literal, rtol=1e-9, atol=1e-12)


def _gaussian_direct_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM with explicit per-pixel 11×11 windows over replicate-padded images (slow, small inputs)."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g = np.outer(g, g) / np.outer(g, g).sum()
    px, py = (np.pad(v.astype(float), 5, mode="edge") for v in (x, y))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            wx, wy = px[r : r + 11, c : c + 11], py[r : r + 11, c : c + 11]
            mx, my = (g * wx).sum(), (g * wy).sum()
            vx, vy = (g * (wx - mx) ** 2).sum(), (g * (wy - my) ** 2).sum()
            cxy = (g * (wx - mx) * (wy - my)).sum()
            vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_ssim_equals_direct_window_definition(shared):
    tno = shared("data/fusion/tno40")
    a = read_image(tno / "ir" / "8.png", "gray")[90:130, 90:140]
    b = read_image(tno / "vi" / "8.png", "gray")[90:130, 90:140]
    assert M.ssim(a, b) == pytest.approx(_gaussian_direct_ssim(a, b), rel=1e-9)
    assert M.ssim(a, a) == pytest.approx(1.0)


@pytest.mark.slow
def test_constant_images_give_finite_values_without_warnings():
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 256, (96, 96), dtype=np.uint8)
    flat = np.full((96, 96), 128, np.uint8)
    black = np.zeros((96, 96), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fused, ir, vis in [(flat, flat, flat), (black, flat, texture), (flat, texture, black), (texture, black, black)]:
            for name, metric in M.METRICS.items():
                value = metric.fn(fused, ir, vis)
                assert not math.isnan(value), (name, value)
                assert math.isfinite(value) or name == "psnr", (name, value)
    assert M.psnr(flat, flat, flat) == math.inf
    assert M.entropy(flat) == 0.0 and M.std(flat) == 0.0 and M.mi(flat, flat, flat) == 0.0


def test_identical_images_score_as_expected():
    img = cv2.GaussianBlur(np.random.default_rng(2).integers(0, 256, (200, 200)).astype(np.uint8), (5, 5), 1.5)
    assert M.ssim_a(img, img, img) == pytest.approx(1.0)
    assert M.ms_ssim(img, img, img) == pytest.approx(1.0)
    assert M.correlation_coefficient(img, img, img) == pytest.approx(1.0)
    assert M.vif_pair(img, img) == pytest.approx(1.0)
    assert M.fmi_dct(img, img, img) == 1.0
    assert M.mi(img, img, img) == pytest.approx(2 * M.entropy(img))
    assert M.nabf(img, img, img) == 0.0


def test_metric_rejects_colour_and_size_mismatch():
    with pytest.raises(ValueError, match="gray"):
        M.entropy(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="differ in size"):
        M.scd(np.zeros((8, 8)), np.zeros((8, 9)), np.zeros((8, 8)))


@pytest.fixture
def folders(shared, tmp_path):
    """3 real pairs cropped to 120×120, DIDFuse outputs and the IR image as two 'methods'."""
    tno, did = shared("data/fusion/tno40"), shared("reference/didfuse_tno40")
    for sub in ("ir", "vi", "did", "irm"):
        (tmp_path / sub).mkdir()
    for k in (1, 2, 3):
        crop = (slice(60, 180), slice(60, 180))
        ir = read_image(tno / "ir" / f"{k}.png", "gray")[crop]
        write_image(tmp_path / "ir" / f"{k}.png", ir)
        write_image(tmp_path / "vi" / f"{k}.png", read_image(tno / "vi" / f"{k}.png", "gray")[crop])
        write_image(tmp_path / "did" / f"{k}.png", read_image(did / f"{k}.png", "gray")[crop])
        write_image(tmp_path / "irm" / f"{k}.png", ir)
    return tmp_path


@pytest.mark.parametrize("workers", [1, 2])
def test_size_mismatch_names_both_files(folders, workers):
    write_image(folders / "did" / "2.png", np.zeros((100, 120), np.uint8))
    with pytest.raises(SizeMismatchError, match=r"did/2\.png.*ir/2\.png"):
        evaluate({"did": folders / "did"}, folders / "ir", folders / "vi", ["en"], workers=workers)


def test_too_small_for_a_metric_is_an_rgbtfuse_error(folders):
    for sub in ("ir", "vi", "did"):
        write_image(folders / sub / "1.png", read_image(folders / sub / "1.png")[:40, :40])
        write_image(folders / sub / "2.png", read_image(folders / sub / "2.png")[:40, :40])
        write_image(folders / sub / "3.png", read_image(folders / sub / "3.png")[:40, :40])
    with pytest.raises(MetricInputError, match=r"did/1\.png: MEF-SSIM needs images of at least 44x44"):
        evaluate({"did": folders / "did"}, folders / "ir", folders / "vi", ["en", "mef_ssim"])


def test_non_image_files_are_skipped_with_a_warning(folders):
    (folders / "did" / "notes.txt").write_text("x")
    (folders / "did" / "Thumbs.db").write_bytes(b"\0")
    with pytest.warns(UserWarning, match=r"skipping 2 non-image file\(s\): Thumbs\.db, notes\.txt"):
        ev = evaluate({"did": folders / "did"}, folders / "ir", folders / "vi", ["en"])
    assert ev.images == ["1", "2", "3"]


def test_missing_fused_image_is_named(folders):
    (folders / "did" / "3.png").unlink()
    with pytest.raises(PairingError, match="no fused image for: 3"):
        evaluate({"did": folders / "did"}, folders / "ir", folders / "vi", ["en"])


@pytest.mark.slow
def test_cli_writes_the_report(folders, capsys):
    out = folders / "report"
    rc = main(["metrics", "--fused", f"didfuse={folders / 'did'}", f"ir_copy={folders / 'irm'}", "--ir", str(folders / "ir"),
               "--vis", str(folders / "vi"), "--metrics", "en", "mi", "nabf", "ssim_a", "qabf", "--out", str(out),
               "--grid", "1", "3", "--workers", "2"])
    assert rc == 0
    rows = (out / "per_image.csv").read_text().splitlines()
    assert rows[0] == "method,image,en,mi,nabf,ssim_a,qabf" and len(rows) == 1 + 2 * 3
    doc = json.loads((out / "metrics.json").read_text())
    did_f = read_image(folders / "did" / "2.png", "gray")
    ir2, vi2 = read_image(folders / "ir" / "2.png", "gray"), read_image(folders / "vi" / "2.png", "gray")
    assert doc["per_image"]["didfuse"]["2"]["mi"] == pytest.approx(M.mi(did_f, ir2, vi2))
    # the IR copy has MI(F, IR) = H(IR): it wins MI; Nabf is lower-is-better
    assert doc["best"]["mi"] == ["ir_copy"]
    md = (out / "mean.md").read_text()
    assert "| method | EN ↑ | MI ↑ | Nabf ↓ |" in md and md.count("**") >= 2 * 5
    grid = read_image(out / "grid.png")
    assert grid.shape[1] > 4 * 100 and grid.shape[0] > 2 * 100
    assert {p.name for p in (out / "bars").iterdir()} == {f"{m}.png" for m in ("en", "mi", "nabf", "ssim_a", "qabf")}


def test_cli_bad_input_is_an_error_message(folders, capsys):
    rc = main(["metrics", "--fused", str(folders / "nope"), "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
               "--out", str(folders / "r")])
    assert rc == 1
    assert "rgbtfuse metrics: error:" in capsys.readouterr().err
