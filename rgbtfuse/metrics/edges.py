"""Edge-preservation metrics of Petrovic & Xydeas (Qabf) and Shreyamsha Kumar's modified Nabf."""

from __future__ import annotations

import numpy as np

from rgbtfuse.metrics._common import as_gray_float, check_same_shape

# Petrovic's constants, as in Kumar's objective_fusion_perform_fn
_TD, _WT_MIN, _LG = 2.0, 0.001, 1.5
_NRG, _KG, _SIGMAG = 0.9999, 19.0, 0.5
_NRA, _KA, _SIGMAA = 0.9995, 22.0, 0.5


def _sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kumar's ``sobel_fn``: vertical/horizontal Sobel responses / 8 with mirrored borders.

    Evaluated in MATLAB's order (each 3-tap column summed, then the columns), so ties between
    edge strengths — which decide Nabf's artefact pixels — break as in the original.
    """
    p = np.pad(image, 1, mode="reflect")
    h, w = image.shape

    def at(dr: int, dc: int) -> np.ndarray:
        return p[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    def column(dc: int, top: float, mid: float, bottom: float) -> np.ndarray:
        return (at(-1, dc) * top + at(0, dc) * mid) + at(1, dc) * bottom

    gv = (column(-1, -0.125, -0.25, -0.125) + 0.0) + column(1, 0.125, 0.25, 0.125)
    gh = (column(-1, -0.125, 0.0, 0.125) + column(0, -0.25, 0.0, 0.25)) + column(1, -0.125, 0.0, 0.125)
    return gv, gh


def _strength_orientation(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel edge strength and orientation ``atan(gv / gh)``."""
    gv, gh = _sobel(image)
    strength = np.sqrt(gh * gh + gv * gv)
    # atan(gv/gh) in [-pi/2, pi/2]; ±pi/2 where gh = 0, and 0 where there is no edge
    safe_gh = np.where(gh == 0, 1.0, gh)
    angle = np.where(gh == 0, np.sign(gv) * (np.pi / 2), np.arctan(gv / safe_gh))
    return strength, angle


def _preservation(g_src: np.ndarray, a_src: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    """Edge preservation ``Q^{XF}`` per pixel (strength × orientation sigmoids)."""
    hi = np.maximum(g_src, g_f)
    ratio = np.divide(np.minimum(g_src, g_f), hi, out=np.zeros_like(hi), where=(g_src != 0) & (g_f != 0))
    orient = np.abs(np.abs(a_src - a_f) - np.pi / 2) * 2 / np.pi
    q_g = _NRG / (1 + np.exp(-_KG * (ratio - _SIGMAG)))
    q_a = _NRA / (1 + np.exp(-_KA * (orient - _SIGMAA)))
    return np.sqrt(q_g * q_a)


def _petrovic_terms(fused, ir, vis, scale: float):
    f, a, b = (as_gray_float(x, n) / scale for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    (g_a, o_a), (g_b, o_b), (g_f, o_f) = (_strength_orientation(x) for x in (a, b, f))
    q_af = _preservation(g_a, o_a, g_f, o_f)
    q_bf = _preservation(g_b, o_b, g_f, o_f)
    w_a = np.where(g_a >= _TD, g_a**_LG, _WT_MIN)
    w_b = np.where(g_b >= _TD, g_b**_LG, _WT_MIN)
    return g_a, g_b, g_f, q_af, q_bf, w_a, w_b


def qabf(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """Qabf (Petrovic & Xydeas 2000): edge information transferred from the sources to F,
    weighted by source edge strength. Kumar's implementation (RFN-Nest's ``analysis_nabf`` computes
    it internally) on 0–255 images. Range [0, 1]; higher = better."""
    _, _, _, q_af, q_bf, w_a, w_b = _petrovic_terms(fused, ir, vis, 1.0)
    return float((q_af * w_a + q_bf * w_b).sum() / (w_a + w_b).sum())


def _nabf(fused, ir, vis, scale: float) -> float:
    g_a, g_b, g_f, q_af, q_bf, w_a, w_b = _petrovic_terms(fused, ir, vis, scale)
    artefact = (g_f > g_a) & (g_f > g_b)
    loss = np.where(artefact, (1 - q_af) * w_a + (1 - q_bf) * w_b, 0.0)
    return float(loss.sum() / (w_a + w_b).sum())


def nabf(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """Nabf (Shreyamsha Kumar's modified fusion-artefact measure) on 0–255 images, as the
    measure is defined: pixels where F has stronger edges than both sources, weighted by source
    edge strength (``g^1.5`` above the threshold 2). Range [0, 1]; lower = fewer artefacts."""
    return _nabf(fused, ir, vis, 1.0)


def nabf_li(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """Nabf as RFN-Nest/LRRNet report it: Kumar's code called on ``im2double`` images in [0, 1].

    On that scale no edge reaches the strength threshold ``Td = 2``, so every pixel gets the same
    weight 0.001 and the value is the unweighted mean artefact loss. Range [0, 1]; lower = better.
    """
    return _nabf(fused, ir, vis, 255.0)
