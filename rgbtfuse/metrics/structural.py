"""Structural similarity: SSIM, SSIM_a, Wang's MS-SSIM and Ma's MEF-SSIM (RFN-Nest's "MS-SSIM")."""

from __future__ import annotations

import numpy as np

from rgbtfuse.metrics._common import (
    REPLICATE,
    as_gray_float,
    box_sum_valid,
    check_same_shape,
    gaussian_filter,
)


def _ssim_terms(x: np.ndarray, y: np.ndarray, filt, c1: float, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """SSIM map and contrast-structure map with local statistics from ``filt``."""
    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs, cs


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM (Wang et al. 2004) as MATLAB's built-in ``ssim(A, ref)``: 11×11 Gaussian (σ = 1.5)
    statistics with replicated borders, ``K = (0.01, 0.03)``, mean of the full-size map.

    Symmetric in its arguments. Range [-1, 1]; 1 for identical images.
    """
    a, b = as_gray_float(x, "x"), as_gray_float(y, "y")
    check_same_shape(x=a, y=b)
    ssim_map, _ = _ssim_terms(a, b, lambda im: gaussian_filter(im, border=REPLICATE), (0.01 * 255) ** 2, (0.03 * 255) ** 2)
    return float(ssim_map.mean())


def ssim_a(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """SSIM_a (NestFuse Eq. 11, the "SSIM" of its MATLAB): ``(SSIM(F, IR) + SSIM(F, VIS)) / 2``. Range [-1, 1]."""
    return (ssim(fused, ir) + ssim(fused, vis)) / 2


def _halve(image: np.ndarray) -> np.ndarray:
    """``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then ``x(1:2:end, 1:2:end)``."""
    padded = np.pad(image, ((0, 1), (0, 1)), mode="symmetric")
    mean = (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]) / 4
    return mean[::2, ::2]


_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Per-scale terms of Wang's MS-SSIM: mean contrast-structure of each finer scale, then the
    mean SSIM of the coarsest; as many scales (≤ 5) as fit an 11×11 window."""
    a, b = as_gray_float(x, "x"), as_gray_float(y, "y")
    check_same_shape(x=a, y=b)
    levels = 0
    while levels < len(_MS_WEIGHTS) and min(a.shape) >= 11 * 2**levels:
        levels += 1
    if levels == 0:
        raise ValueError(f"MS-SSIM needs images of at least 11x11 pixels, got {a.shape[1]}x{a.shape[0]}")
    values = []
    for level in range(levels):
        ssim_map, cs_map = _ssim_terms(a, b, gaussian_filter, (0.01 * 255) ** 2, (0.03 * 255) ** 2)
        values.append(float((ssim_map if level == levels - 1 else cs_map).mean()))
        a, b = _halve(a), _halve(b)
    return values


def ms_ssim_pair(x: np.ndarray, y: np.ndarray) -> float:
    """Wang's multi-scale SSIM (Wang, Simoncelli & Bovik 2003; his ``msssim.m``).

    5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 11×11 Gaussian σ = 1.5 'valid'
    statistics, 2×2 mean + decimation ('symmetric' edges) between scales, ``K = (0.01, 0.03)``,
    ``L = 255``. Images smaller than 176 px use the scales that fit, with renormalised weights
    (``msssim.m`` returns -Inf). A negative scale term is clamped to 0, as pytorch-msssim does;
    ``msssim.m`` returns a complex number there. Range [0, 1].
    """
    values = ms_ssim_scales(x, y)
    weights = np.array(_MS_WEIGHTS[: len(values)])
    if len(values) < len(_MS_WEIGHTS):  # Wang's weights are used as given (they sum to 1.0001)
        weights /= weights.sum()
    return float(np.prod(np.maximum(np.array(values), 0.0) ** weights))


def ms_ssim(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """MS-SSIM (Wang's, the true multi-scale SSIM): ``(MS-SSIM(F, IR) + MS-SSIM(F, VIS)) / 2``. Range [0, 1].

    Not what RFN-Nest reports as "MS-SSIM" — that is :func:`mef_ssim`.
    """
    return (ms_ssim_pair(fused, ir) + ms_ssim_pair(fused, vis)) / 2


def _mef_ssim_scale(seq: list[np.ndarray], fused: np.ndarray, k: float = 0.03, size: int = 11) -> float:
    """Single-scale MEF-SSIM of Ma, Zeng & Wang (2015), all windows at once.

    Per window, the desired patch is the contrast of the strongest source times the
    ``p``-weighted mean of the sources' unit structures; its Gaussian-weighted SSIM-like score
    against F is computed from window moments (the patch is linear in the sources).
    """
    n = size * size
    sums = [box_sum_valid(s, size) for s in seq]
    # n² · box covariance, exact (n Σxy − Σx Σy)
    pairs = [(a, b) for a in range(len(seq)) for b in range(a, len(seq))]
    n2cov = {(a, b): n * box_sum_valid(seq[a] * seq[b], size) - sums[a] * sums[b] for a, b in pairs}
    patch_norms = [np.sqrt(np.maximum(n2cov[(k, k)], 0)) / np.sqrt(n) for k in range(len(seq))]  # ‖x_k − mu_k‖
    ed = [pn + 0.001 for pn in patch_norms]

    # consistency R = ‖Σ x_k − mean‖ / Σ ‖x_k − mean_k‖
    total_norm2 = sum(n2cov[key] * (1.0 if key[0] == key[1] else 2.0) for key in n2cov)
    num = np.sqrt(np.maximum(total_norm2, 0)) / np.sqrt(n)
    den = sum(patch_norms)
    eps = np.finfo(float).eps
    r = (num + eps) / (den + eps)
    r = np.where(r > 1, 1 - eps, r)
    r = np.where(r < 0, eps, r)
    with np.errstate(over="ignore"):
        p = np.minimum(np.tan(np.pi / 2 * r), 10.0)

    w = [(e / size) ** p + eps for e in ed]
    norm_w = sum(w)
    coef = [wk / norm_w / e for wk, e in zip(w, ed)]  # patch = Σ coef_k (x_k − mu_k)
    max_ed = np.maximum.reduce(ed)

    # ‖Σ coef_k (x_k − mu_k)‖² = n Σ_kl coef_k coef_l cov_kl (box moments)
    sq_norm = np.zeros_like(max_ed)
    gm = [gaussian_filter(s) for s in seq]
    g_cov_r = np.zeros_like(max_ed)  # Gaussian variance of the (unscaled) patch
    g_f = gaussian_filter(fused)
    g_cross = np.zeros_like(max_ed)
    for a in range(len(seq)):
        g_cross += coef[a] * (gaussian_filter(seq[a] * fused) - gm[a] * g_f)
        for b in range(a, len(seq)):
            mult = 1.0 if a == b else 2.0
            g_cov = gaussian_filter(seq[a] * seq[b]) - gm[a] * gm[b]
            sq_norm += mult * coef[a] * coef[b] * n2cov[(a, b)] / n
            g_cov_r += mult * coef[a] * coef[b] * g_cov
    patch_norm = np.sqrt(np.maximum(sq_norm, 0))
    scale = np.where(patch_norm > 0, max_ed / np.where(patch_norm > 0, patch_norm, 1.0), 1.0)
    sigma_r = scale * scale * g_cov_r
    sigma_rf = scale * g_cross
    sigma_f = gaussian_filter(fused * fused) - g_f * g_f
    c = (k * 255) ** 2
    return float(((2 * sigma_rf + c) / (sigma_r + sigma_f + c)).mean())


_MEF_WEIGHTS = np.array([0.0448, 0.2856, 0.3001]) / (0.0448 + 0.2856 + 0.3001)


def mef_ssim(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """MEF-SSIM (Ma, Zeng & Wang 2015, 3 scales) of F against the source pair: the value
    RFN-Nest's ``analysis_ms_ssim`` returns and its paper calls "MS-SSIM".

    Weights (0.0448, 0.2856, 0.3001) renormalised, K = 0.03, 11×11 Gaussian σ = 1.5, 11×11
    'valid' windows, 2×2 mean + decimation ('symmetric' edges) between scales. Needs
    ``min(H, W) ≥ 44``. Range (-1, 1]; higher = structure of both sources better preserved.
    """
    f, a, b = (as_gray_float(x, n) for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    if min(f.shape) / 4 < 11:
        raise ValueError(f"MEF-SSIM needs images of at least 44x44 pixels, got {f.shape[1]}x{f.shape[0]}")
    scores = []
    seq = [a, b]
    for level in range(3):
        scores.append(_mef_ssim_scale(seq, f))
        if level < 2:
            seq, f = [_halve(s) for s in seq], _halve(f)
    q = np.array(scores)
    return float(np.prod(np.sign(q) * np.abs(q) ** _MEF_WEIGHTS))
