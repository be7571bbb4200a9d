"""Shared helpers of the metric functions: input conversion and MATLAB-equivalent filtering.

Every metric takes gray images on the 0–255 scale, ``uint8`` or float, shape ``(H, W)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# MATLAB's edge modes, as OpenCV border types
REFLECT101 = cv2.BORDER_REFLECT_101  # pyrtools 'reflect1', Kumar's per_extn_im_fn: mirror without repeating the edge
REPLICATE = cv2.BORDER_REPLICATE


def as_gray_float(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``(H, W)`` uint8/float image → float64 array on the same 0–255 scale."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name}: metrics take one gray (H, W) image, got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def as_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``(H, W)`` image → uint8, rounding floats half away from zero as MATLAB's ``im2uint8`` does."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name}: metrics take one gray (H, W) image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.floor(arr.astype(np.float64) + 0.5), 0, 255).astype(np.uint8)


def check_same_shape(**images: np.ndarray) -> None:
    shapes = {name: np.shape(img) for name, img in images.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError("images differ in size: " + ", ".join(f"{n} {s}" for n, s in shapes.items()))


def correlate(image: np.ndarray, kernel: np.ndarray, border: int = REFLECT101) -> np.ndarray:
    """'same'-size correlation (MATLAB ``imfilter``/``filter2``), centre anchor, float64."""
    return cv2.filter2D(image, cv2.CV_64F, np.asarray(kernel, np.float64), borderType=border)


def gaussian_filter(image: np.ndarray, size: int = 11, sigma: float = 1.5, border: int | None = None) -> np.ndarray:
    """Correlation with ``fspecial('gaussian', size, sigma)``, applied separably.

    ``border=None`` gives MATLAB's 'valid' output; otherwise 'same' with that OpenCV border.
    """
    g = gaussian_1d(size, sigma)
    out = cv2.sepFilter2D(image, cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT if border is None else border)
    if border is not None:
        return out
    r = size // 2
    return out[r : out.shape[0] - r, r : out.shape[1] - r]


def gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian whose outer product is ``fspecial('gaussian', size, sigma)``
    (no tap of these windows falls under fspecial's eps cut-off)."""
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma**2))
    return g / g.sum()


def box_sum_valid(image: np.ndarray, size: int) -> np.ndarray:
    """Sums over every ``size × size`` window ('valid'), from an integral image.

    Exact for the integer and dyadic-fraction images metrics see (uint8 sources and their 2×2
    means), so the variance of a flat window is exactly 0, as MATLAB's direct sums give.
    """
    ii = cv2.integral(np.ascontiguousarray(image, np.float64), sdepth=cv2.CV_64F)
    return ii[size:, size:] - ii[:-size, size:] - ii[size:, :-size] + ii[:-size, :-size]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ``corr2``; 0.0 instead of NaN when either image is constant."""
    dx = x - x.mean()
    dy = y - y.mean()
    den = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return float((dx * dy).sum()) / den if den > 0 else 0.0


def xlog2x(p: np.ndarray) -> np.ndarray:
    """``p * log2|p|`` elementwise with ``0 log 0 = 0`` (no warnings)."""
    out = np.zeros_like(p)
    nz = p != 0
    out[nz] = p[nz] * np.log2(np.abs(p[nz]))
    return out
