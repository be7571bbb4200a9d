"""Parity of rgbtfuse.metrics with the MATLAB code the fusion papers used, on real TNO pairs.

Expected numbers were produced once by running the original MATLAB files under GNU Octave 7.3
(image 2.14, signal packages): RFN-Nest ``analysis_matlab/`` (EN, SD, MI, SCD, Nabf, MS-SSIM),
NestFuse ``analysis_metrics_in_paper/`` (FMI, VIF = LIVE ``vifvec`` with matlabPyrTools'
``buildSpyr``/``corrDn`` compiled as MEX), Kumar's ``objective_fusion_perform_fn`` (Qabf, returned
by the same file) and Wang's ``msssim.m``. Inputs: ``../shared/data/fusion/tno40`` pairs 8, 5, 10
(ir, vi) with DIDFuse's published output ``../shared/reference/didfuse_tno40/{k}.png`` as F.
Only the numbers are stored here.
"""

from __future__ import annotations

import numpy as np
import pytest

from rgbtfuse import metrics as M
from rgbtfuse.imageio import read_image
from rgbtfuse.metrics.information import _fmi_features

REL = 1e-6  # measured agreement is ~1e-12; the issue asks for 1e-4

# k -> metric -> Octave value. fmi_dct_crop: FMI_dct of the crop [100:132, 100:132] (0-based, the
# MATLAB loop takes ~30 s per 32x32 crop). fmi_w_sub: FMI of the tile [30:62, 30:62] of the
# [cA cH; cV cD] dmey feature image of that crop, passed to analysis_fmi as raw features (Octave has
# no dwt2; the DWT is PyWavelets' 'dmey'/'symmetric', MATLAB's dwt2 default 'sym' mode).
OCTAVE = {
    8: {
        "en": 4.32152709319, "sd_li": 31.0096343022, "mi_li": 8.64305418638, "scd": 0.24893589425,
        "vif_li": 0.615580248929, "vif": 0.226305391643, "nabf_li": 0.0210355399119, "qabf": 0.503808333182,
        "nabf": 0.0197726063728, "fmi_dct_crop": 0.302521149112, "fmi_w_sub": 0.418351693453,
        "mef_ssim": 0.694046465905, "ms_ssim": 0.68144431519,
    },
    5: {
        "en": 7.25069562664, "sd_li": 67.1375883616, "mi_li": 14.5013912533, "scd": 1.92398203767,
        "vif_li": 1.02549448916, "vif": 0.294081746986, "nabf_li": 0.141749829112, "qabf": 0.819670717827,
        "nabf": 0.038409785959, "fmi_dct_crop": 0.44323457452, "fmi_w_sub": 0.517394715883,
        "mef_ssim": 0.920490111179, "ms_ssim": 0.504189841071,
    },
    10: {
        "en": 7.55261626495, "sd_li": 61.6817537738, "mi_li": 15.1052325299, "scd": 1.87423071795,
        "vif_li": 1.14912658974, "vif": 0.364704212721, "nabf_li": 0.322932024155, "qabf": 0.699030614896,
        "nabf": 0.118780496918, "fmi_dct_crop": 0.366416417434, "fmi_w_sub": 0.430655570614,
        "mef_ssim": 0.867226756701, "ms_ssim": 0.517107307691,
    },
}

# DIDFuse's 40 published TNO outputs: EN (MATLAB entropy) and the Li papers' SD (analysis_sd), Octave
DIDFUSE_EN = [
    7.44640449753, 7.58619288199, 7.19393420622, 7.22594900356, 7.25069562664, 6.6415324006, 7.55594177151,
    4.32152709319, 7.32831309175, 7.55261626495, 6.68321555412, 6.57900788964, 6.52563743871, 6.69178949939,
    7.27224633975, 6.60743597492, 6.90481226729, 7.46052914338, 7.4645057248, 7.50342345342, 7.41345814221,
    7.41283882401, 7.55455561767, 7.57228740412, 7.36640489002, 7.41545317986, 6.87305717342, 6.67246803117,
    7.08729435152, 6.90056653743, 6.68367019633, 6.84554338343, 6.11667054671, 6.91102823707, 6.27338594565,
    6.25234990546, 7.46403013632, 7.41893230476, 7.67274817827, 6.54222144673,
]
DIDFUSE_SD_LI = [
    123.719026848, 154.422250019, 112.177935262, 95.783429024, 67.1375883616, 78.8947512284, 126.41632022,
    31.0096343022, 104.821808567, 61.6817537738, 113.639476376, 65.7432030468, 106.898210505, 119.978614349,
    98.3180797387, 118.937651498, 117.353056705, 97.0057136298, 103.699031021, 121.776372034, 110.849227062,
    97.8792374986, 100.057815247, 106.16467021, 91.5832524636, 101.474722703, 67.7651973007, 56.1095594868,
    104.915805413, 81.378776419, 173.077619889, 116.122868679, 22.1736367654, 56.7113702219, 23.3756521956,
    32.8539591157, 123.742465423, 117.475245845, 182.528755923, 98.4326063996,
]


def _triple(shared, k: int):
    tno = shared("data/fusion/tno40")
    fused = read_image(shared("reference/didfuse_tno40") / f"{k}.png", "gray")
    return fused, read_image(tno / "ir" / f"{k}.png", "gray"), read_image(tno / "vi" / f"{k}.png", "gray")


def _crop(x: np.ndarray) -> np.ndarray:
    return x[100:132, 100:132]


def _ours(name: str, f, a, b) -> float:
    if name == "fmi_dct_crop":
        return M.fmi_dct(_crop(f), _crop(a), _crop(b))
    if name == "fmi_w_sub":
        tiles = [_fmi_features(_crop(x) / 255.0, "wavelet")[30:62, 30:62] for x in (f, a, b)]
        return M.fmi(*tiles, feature="none")
    return M.METRICS[name].fn(f, a, b)


CASES = [(k, name) for k, vals in OCTAVE.items() for name in vals if not (k == 5 and name == "ms_ssim")]


@pytest.mark.slow
@pytest.mark.parametrize("k,name", CASES)
def test_matches_matlab(shared, k, name):
    f, a, b = _triple(shared, k)
    assert _ours(name, f, a, b) == pytest.approx(OCTAVE[k][name], rel=REL)


def test_ms_ssim_negative_scale_differs_as_documented(shared):
    """Pair 5: the coarsest-scale SSIM of (F, IR) is negative (-0.125). ``msssim.m`` then raises it
    to a fractional power and returns a complex number, whose real part Octave prints; we clamp
    the term to 0 (pytorch-msssim's convention). Every scale term matches; only that step differs."""
    f, a, b = _triple(shared, 5)
    scales_ir = np.array(M.ms_ssim_scales(f, a), dtype=complex)
    weights = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    matlab_ir = np.prod(scales_ir**weights).real
    assert scales_ir[-1].real < 0
    assert (matlab_ir + M.ms_ssim_pair(f, b)) / 2 == pytest.approx(OCTAVE[5]["ms_ssim"], rel=REL)
    assert M.ms_ssim_pair(f, a) == 0.0
    assert M.ms_ssim(f, a, b) == pytest.approx(M.ms_ssim_pair(f, b) / 2)


def _didfuse_set(shared):
    return [_triple(shared, k) for k in range(1, 41)]


@pytest.mark.slow
def test_didfuse_tno40_en_sd_li_and_paper_row(shared):
    """EN and sd_li of all 40 DIDFuse outputs match MATLAB; the DIDFuse paper's TNO row
    (EN 7.006, MI 2.347 with the true MI, AG 4.294) is reproduced within 1e-3 (their 3-decimal rounding)."""
    triples = _didfuse_set(shared)
    en = [M.entropy(f) for f, _, _ in triples]
    sd = [M.sd_li(f) for f, _, _ in triples]
    np.testing.assert_allclose(en, DIDFUSE_EN, rtol=REL)
    np.testing.assert_allclose(sd, DIDFUSE_SD_LI, rtol=REL)
    assert np.mean(en) == pytest.approx(7.006, abs=1e-3)
    assert np.mean([M.mi(f, a, b) for f, a, b in triples]) == pytest.approx(2.347, abs=1e-3)
    assert np.mean([M.average_gradient(f) for f, _, _ in triples]) == pytest.approx(4.294, abs=1e-3)
    # the Li papers' "MI" is 2·EN, nothing like the true MI
    f, a, b = triples[0]
    assert M.mi_li(f, a, b) == pytest.approx(2 * en[0])
