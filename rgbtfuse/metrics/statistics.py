"""Intensity statistics of the fused image, and pixel-wise agreement with the sources.

All functions take gray ``(H, W)`` images on the 0–255 scale (uint8 or float) and return a float.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtfuse.metrics._common import as_gray_float, as_uint8, check_same_shape, pearson, xlog2x


def entropy(fused: np.ndarray) -> float:
    """EN: Shannon entropy (bits) of the 256-bin gray histogram of the uint8 image.

    Same as MATLAB ``entropy`` (which converts doubles with ``im2uint8``), as used by every paper here.
    Range [0, 8]; higher = more information.
    """
    f = as_uint8(fused, "fused")
    p = np.bincount(f.ravel(), minlength=256) / f.size
    return float(-xlog2x(p).sum())


def std(fused: np.ndarray) -> float:
    """SD (textbook): population standard deviation in gray levels, ``sqrt(mean((F - mean F)^2))``.

    Range [0, 127.5]; higher = more contrast.
    """
    return float(as_gray_float(fused, "fused").std())


def sd_li(fused: np.ndarray) -> float:
    """SD as reported by NestFuse/RFN-Nest/LRRNet: ``sqrt(Σ (F/255 − mean)^2)``, NOT divided by N.

    This is what their MATLAB ``analysis_sd`` returns on ``im2double`` images; it grows with the
    image size (= ``std(F)/255 * sqrt(H*W)``). Range [0, sqrt(H*W)/2].
    """
    f = as_gray_float(fused, "fused") / 255.0
    return float(math.sqrt(float(((f - f.mean()) ** 2).sum())))


def spatial_frequency(fused: np.ndarray) -> float:
    """SF (Eskicioglu & Fisher 1995): ``sqrt(RF^2 + CF^2)``, RF/CF = RMS of horizontal/vertical
    first differences, both sums divided by H*W. Range [0, 255]; higher = more detail."""
    f = as_gray_float(fused, "fused")
    rf2 = float((np.diff(f, axis=1) ** 2).sum()) / f.size
    cf2 = float((np.diff(f, axis=0) ** 2).sum()) / f.size
    return math.sqrt(rf2 + cf2)


def average_gradient(fused: np.ndarray) -> float:
    """AG: ``Σ sqrt((Gx^2 + Gy^2) / 2) / ((H-1)(W-1))`` with MATLAB ``gradient`` (central
    differences inside, one-sided at the border).

    This is the AG of Ma et al.'s survey code used by DIDFuse (it reproduces DIDFuse's TNO table).
    Range [0, 255]; higher = sharper.
    """
    f = as_gray_float(fused, "fused")
    if min(f.shape) < 2:
        return 0.0
    gy, gx = np.gradient(f)
    return float(np.sqrt((gx * gx + gy * gy) / 2).sum()) / ((f.shape[0] - 1) * (f.shape[1] - 1))


def psnr(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """PSNR (dB) of the fused image against both sources: ``10 log10(255^2 / MSE)`` with
    ``MSE = (MSE(F, IR) + MSE(F, VIS)) / 2``. Range (0, inf]; ``inf`` when F equals both sources."""
    f, a, b = (as_gray_float(x, n) for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    mse = (float(((f - a) ** 2).mean()) + float(((f - b) ** 2).mean())) / 2
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def correlation_coefficient(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """CC: mean Pearson correlation ``(r(F, IR) + r(F, VIS)) / 2``. Range [-1, 1]; a constant
    image correlates 0 with anything."""
    f, a, b = (as_gray_float(x, n) for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    return (pearson(f, a) + pearson(f, b)) / 2


def scd(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """SCD (Aslantas & Bendes 2015): ``corr2(F − VIS, IR) + corr2(F − IR, VIS)``.

    RFN-Nest ``analysis_SCD``. Range [-2, 2]; higher = more complementary information transferred.
    """
    f, a, b = (as_gray_float(x, n) for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    return pearson(f - b, a) + pearson(f - a, b)
