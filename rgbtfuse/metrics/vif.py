"""VIF (Sheikh & Bovik 2006), LIVE's ``vifvec``: GSM model on a steerable pyramid."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.metrics._common import REFLECT101, as_gray_float, check_same_shape, correlate

_M = 3  # GSM vector = M×M block of coefficients
_SIGMA_NSQ = 0.4  # visual noise variance
_TOL = 1e-15


@functools.lru_cache(maxsize=1)
def _sp5_filters() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``sp5Filters`` (lo0filt, lofilt, 6 oriented band filters) from pyrtools, which ships the
    same taps as matlabPyrTools.

    Only pyrtools' ``pyramids/filters.py`` (numpy + scipy) is loaded: importing the package pulls in
    matplotlib, which costs seconds in every worker process.
    """
    spec = importlib.util.find_spec("pyrtools")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("vif needs pyrtools: pip install 'rgbtfuse[metrics]'")
    path = Path(spec.submodule_search_locations[0]) / "pyramids" / "filters.py"
    module_spec = importlib.util.spec_from_file_location("_pyrtools_filters", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    filt = module.steerable_filters("sp5_filters")
    side = int(round(np.sqrt(filt["bfilts"].shape[0])))
    bands = [filt["bfilts"][:, k].reshape(side, side, order="F") for k in range(filt["bfilts"].shape[1])]
    return filt["lo0filt"], filt["lofilt"], bands


def _subbands(image: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """The 8 subbands ``vifvec`` uses, as ``(coefficients, window size)``.

    ``buildSpyr(im, 4, 'sp5Filters', 'reflect1')`` and subbands 4, 7, …, 25 of ``ind2wtree``:
    orientations 4 and 1 of every level, coarsest first; the distortion-channel window is
    ``2^lev + 1`` with ``lev`` = 1 (coarsest) … 4 (finest).
    """
    lo0filt, lofilt, bands = _sp5_filters()
    lo = correlate(image, lo0filt, REFLECT101)
    levels = []
    for _ in range(4):
        levels.append([correlate(lo, bands[3], REFLECT101), correlate(lo, bands[0], REFLECT101)])
        lo = correlate(lo, lofilt, REFLECT101)[::2, ::2]
    out = []
    for lev, (band4, band1) in enumerate(reversed(levels), start=1):
        out += [(band4, 2**lev + 1), (band1, 2**lev + 1)]
    return out


def _crop(band: np.ndarray) -> np.ndarray:
    h, w = (s // _M * _M for s in band.shape)
    return band[:h, :w]


def _channel(ref: np.ndarray, dist: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Gain ``g`` and noise ``vv`` of the distortion channel on an M-strided grid (``vifsub_est_m``)."""
    n = win * win

    def box(x):  # corrDn(x, ones(win), 'reflect1', [M M], [2 2], size − 1)
        return cv2.boxFilter(x, cv2.CV_64F, (win, win), normalize=False, borderType=REFLECT101)[_M // 2 :: _M, _M // 2 :: _M]

    mx, my = box(ref) / n, box(dist) / n
    cov = box(ref * dist) - n * mx * my
    ss_x = np.maximum(box(ref * ref) - n * mx * mx, 0)
    ss_y = np.maximum(box(dist * dist) - n * my * my, 0)
    g = cov / (ss_x + _TOL)
    vv = (ss_y - g * cov) / n
    low_x = ss_x < _TOL
    g[low_x] = 0
    vv[low_x] = ss_y[low_x]
    low_y = ss_y < _TOL
    g[low_y] = 0
    vv[low_y] = 0
    neg = g < 0
    vv[neg] = ss_y[neg]
    g[neg] = 0
    vv[vv <= _TOL] = _TOL
    return g, vv


def _reference_params(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S field (per non-overlapping M×M block) and eigenvalues of the block covariance (``refparams_vecgsm``)."""
    h, w = ref.shape
    blocks = np.lib.stride_tricks.sliding_window_view(ref, (_M, _M)).reshape(-1, _M * _M)
    cu = np.cov(blocks, rowvar=False, bias=True)
    grid = ref.reshape(h // _M, _M, w // _M, _M).transpose(0, 2, 1, 3).reshape(h // _M, w // _M, _M * _M)
    try:
        inv = np.linalg.inv(cu)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(cu)
    ss = ((grid @ inv) * grid).sum(-1) / (_M * _M)
    return ss, np.linalg.eigvalsh(cu)


def _vif_bands(ref_bands, dist_bands) -> float:
    num = den = 0.0
    for (band_r, win), (band_d, _) in zip(ref_bands, dist_bands):
        y, yn = _crop(band_r), _crop(band_d)
        g, vv = _channel(y, yn, win)
        ss, lam = _reference_params(y)
        off = -(-((win - 1) // 2) // _M)  # ceil(offset / M): drop border blocks
        g, vv, ss = (x[off : x.shape[0] - off, off : x.shape[1] - off] for x in (g, vv, ss))
        lam = lam[:, None, None]
        num += float(np.log2(1 + g * g * ss * lam / (vv + _SIGMA_NSQ)).sum())
        den += float(np.log2(1 + ss * lam / _SIGMA_NSQ).sum())
    return num / den if den > 0 else 0.0


def _check_size(image: np.ndarray) -> None:
    if min(image.shape) < 72:  # 4 pyramid levels of the 9-tap lowpass
        raise ValueError(f"VIF needs images of at least 72x72 pixels, got {image.shape[1]}x{image.shape[0]}")


def vif_pair(reference: np.ndarray, distorted: np.ndarray) -> float:
    """``vifvec(reference, distorted)`` on 0–255 gray images (order matters).

    ``M = 3``, ``sigma_nsq = 0.4``, steerable pyramid ``sp5Filters`` with 4 levels. Needs pyrtools
    (for the filter taps). A constant reference carries no information: returns 0.0.
    Range [0, ~1]; above 1 when the distorted image is an enhancement of the reference.
    """
    ref, dist = as_gray_float(reference, "reference"), as_gray_float(distorted, "distorted")
    check_same_shape(reference=ref, distorted=dist)
    _check_size(ref)
    return _vif_bands(_subbands(ref), _subbands(dist))


def _vif_fusion(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray, scale: float) -> float:
    f, a, b = (as_gray_float(x, n) / scale for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    _check_size(f)
    bands_f = _subbands(f)  # shared by both source terms
    return (_vif_bands(_subbands(a), bands_f) + _vif_bands(_subbands(b), bands_f)) / 2


def vif(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """VIF of NestFuse's tables' formula, ``(vifvec(IR, F) + vifvec(VIS, F)) / 2``, on 0–255 images
    as LIVE's ``vifvec`` is tuned (``sigma_nsq = 0.4``). NestFuse's MATLAB passes ``im2double``
    images in [0, 1] instead, which changes the value: see :func:`vif_li`. Range [0, ~1]; higher = better.
    """
    return _vif_fusion(fused, ir, vis, 1.0)


def vif_li(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """VIF exactly as NestFuse's MATLAB computes it: ``vifvec`` on ``im2double`` images in [0, 1]."""
    return _vif_fusion(fused, ir, vis, 255.0)
