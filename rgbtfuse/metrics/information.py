"""Information-theoretic metrics: mutual information and feature mutual information (FMI)."""

from __future__ import annotations

import numpy as np
import scipy.fft

from rgbtfuse.metrics._common import as_gray_float, as_uint8, check_same_shape, xlog2x
from rgbtfuse.metrics.statistics import entropy


def mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    """MI(X; Y) in bits from the 256×256 joint gray-level histogram of two uint8 images."""
    a, b = as_uint8(x, "x"), as_uint8(y, "y")
    check_same_shape(x=a, y=b)
    joint = np.bincount(a.ravel().astype(np.int64) * 256 + b.ravel(), minlength=65536).astype(np.float64)
    joint = joint.reshape(256, 256) / a.size
    h_x = -xlog2x(joint.sum(1)).sum()
    h_y = -xlog2x(joint.sum(0)).sum()
    return float(h_x + h_y + xlog2x(joint).sum())


def mi(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """MI (true): ``MI(F, IR) + MI(F, VIS)``, 256×256 joint histograms, log2.

    The definition of Qu et al. 2002 and of DIDFuse's tables (reproduces their TNO value 2.347).
    Range [0, 16]; higher = more source information in F.
    """
    return mutual_information(fused, ir) + mutual_information(fused, vis)


def mi_li(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """The "MI" column of the NestFuse/RFN-Nest/LRRNet tables, which equals ``2 · EN(F)``.

    Their MATLAB ``analysis_MI`` passes whole images (matrices, not column vectors) to Dwinnell's
    ``MutualInformation``; its ``JointEntropy`` then takes the entropy of a row-index vector that
    ``entropy`` clips to one gray level (0 bits), so each term reduces to ``entropy(F)``.
    ``ir``/``vis`` only need to match in size. Range [0, 16]; it measures F alone, not information transfer.
    """
    check_same_shape(fused=np.asarray(fused), ir=np.asarray(ir), vis=np.asarray(vis))
    return 2.0 * entropy(fused)


# ---------------------------------------------------------------- FMI (Haghighat & Razian 2014)


def _fmi_features(image: np.ndarray, feature: str) -> np.ndarray:
    """Feature image of ``analysis_fmi``: raw pixels, orthonormal 2-D DCT-II, or the
    ``[cA cH; cV cD]`` discrete-Meyer DWT (symmetric extension) rescaled to [0, 1]."""
    if feature == "none":
        return image
    if feature == "dct":
        return scipy.fft.dctn(image, type=2, norm="ortho")
    if feature == "wavelet":
        try:
            import pywt
        except ImportError as exc:  # optional dependency
            raise ImportError("fmi_w needs PyWavelets: pip install 'rgbtfuse[metrics]'") from exc
        c_a, (c_h, c_v, c_d) = pywt.dwt2(image, "dmey", mode="symmetric")
        tiled = np.block([[c_a, c_h], [c_v, c_d]])
        lo, hi = tiled.min(), tiled.max()
        return np.ones_like(tiled) if hi == lo else (tiled - lo) / (hi - lo)
    raise ValueError(f"unknown FMI feature {feature!r} (none, dct, wavelet)")


def _windows(feature: np.ndarray, rows: slice, size: int) -> np.ndarray:
    """``(N, size*size)`` sliding windows, each flattened column-major like MATLAB's ``sub(:)``."""
    view = np.lib.stride_tricks.sliding_window_view(feature[rows], (size, size))
    return np.ascontiguousarray(view.transpose(0, 1, 3, 2)).reshape(-1, size * size)


def _minmax(win: np.ndarray) -> np.ndarray:
    lo = win.min(1, keepdims=True)
    span = win.max(1, keepdims=True) - lo
    flat = span[:, 0] == 0
    out = (win - lo) / np.where(span == 0, 1.0, span)
    out[flat] = 1.0
    return out


def _staircase(f_cdf: np.ndarray, a_cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells and masses of the comonotone coupling of two discrete distributions.

    The Fréchet-upper-bound joint pmf of ``analysis_fmi`` is non-zero only where the CDF steps of
    both marginals overlap: one segment ends at each of the ``2L`` breakpoints of the merged CDFs.
    Returns ``(length, i, j)``, each ``(N, 2L)``: segment mass and its cell (0-based).
    """
    n, nbin = f_cdf.shape
    # both CDFs are sorted: count breakpoints of the other one before each (nbin elementwise passes
    # on int8 counters are much faster than an (N, L, L) comparison reduced over a short axis)
    n_a = np.zeros((n, nbin), np.int8)  # A breakpoints before F_m
    n_f = np.zeros((n, nbin), np.int8)  # F breakpoints at or before A_j
    for k in range(nbin):
        np.add(n_a, a_cdf[:, k : k + 1] < f_cdf, out=n_a, casting="unsafe")
        np.add(n_f, f_cdf[:, k : k + 1] <= a_cdf, out=n_f, casting="unsafe")
    zero = np.zeros((n, 1))
    f_pad = np.concatenate([zero, f_cdf], axis=1)
    a_pad = np.concatenate([zero, a_cdf], axis=1)
    rows = np.arange(n)[:, None] * (nbin + 1)
    end_f = f_cdf - np.maximum(f_pad[:, :-1], a_pad.take(rows + n_a))
    end_a = a_cdf - np.maximum(a_pad[:, :-1], f_pad.take(rows + n_f))
    cols = np.broadcast_to(np.arange(nbin, dtype=np.int8), (n, nbin))
    length = np.maximum(np.concatenate([end_f, end_a], axis=1), 0.0)
    i = np.concatenate([cols, np.minimum(n_f, nbin - 1)], axis=1)
    j = np.concatenate([np.minimum(n_a, nbin - 1), cols], axis=1)
    return length, i, j


class _Marginal:
    """Per-window statistics of one normalised feature window set ``(N, L)``."""

    def __init__(self, win: np.ndarray):
        nbin = win.shape[1]
        idx = np.arange(1, nbin + 1, dtype=np.float64)
        self.pdf = win / _rowsum(win)[:, None]
        self.cdf = np.cumsum(self.pdf, axis=1)
        self.entropy = -_rowsum(_xlog2x(self.pdf))
        self.centered = self.pdf - _rowsum(self.pdf)[:, None] / nbin
        self.sq = _rowsum(self.centered * self.centered)
        mean_i = self.pdf @ idx
        self.spread = np.sqrt(np.maximum(self.pdf @ (idx * idx) - mean_i * mean_i, 0.0))
        self.mass = _rowsum(self.pdf)
        self.cdf_sum = _rowsum(self.cdf)


def _rowsum(x: np.ndarray) -> np.ndarray:
    """Row sums of a short-row ``(N, K)`` array (BLAS; ``sum(1)`` is slow on short rows)."""
    return x @ np.ones(x.shape[1])


def _xlog2x(p: np.ndarray) -> np.ndarray:
    """``p log2|p|`` with ``0 log 0 = 0``, without masked indexing (hot path)."""
    out = np.zeros_like(p)
    np.log2(np.abs(p), out=out, where=p != 0)
    return np.multiply(p, out, out=out)


def _pair_fmi(ma: _Marginal, mf: _Marginal) -> np.ndarray:
    """Normalised feature MI ``2 MI / (H_a + H_f)`` per window.

    The joint pmf is ``w · B + (1 − w) · f ⊗ a`` with B the Fréchet upper (c ≥ 0) or lower (c < 0)
    bound and ``w = c / corr(B)`` (Nelsen's simplified method), as in Haghighat's code; its
    entropy is the closed form of the product part plus a correction on the cells where B ≠ 0.
    """
    n, nbin = ma.pdf.shape
    num = _rowsum(ma.centered * mf.centered)
    den = np.sqrt(ma.sq * mf.sq)
    c = np.divide(num, den, out=np.zeros(n), where=(num != 0) & (den > 0))
    upper = c >= 0
    # the lower bound couples F with the reversed marginal of a: cell j ↔ nbin − 1 − j
    a_cdf = np.where(upper[:, None], ma.cdf, np.cumsum(ma.pdf[:, ::-1], axis=1))
    length, i, j = _staircase(mf.cdf, a_cdf)
    j = np.where(upper[:, None], j, nbin - 1 - j).astype(np.intp)
    i = i.astype(np.intp)
    # Σ over all cells of the bound's joint CDF = Σ pmf_ij (nbin − i)(nbin − j)  (0-based i, j)
    cov = _rowsum(length * ((nbin - i) * (nbin - j))) - mf.cdf_sum * ma.cdf_sum
    sd_prod = ma.spread * mf.spread
    corr_bound = cov / np.where(sd_prod > 0, sd_prod, 1.0)
    w = np.divide(c, corr_bound, out=np.zeros(n), where=(c != 0) & (sd_prod > 0) & (corr_bound != 0))

    q = 1.0 - w
    log_q = np.log2(np.abs(np.where(q == 0, 1.0, q)))
    joint_h = -q * (log_q * mf.mass * ma.mass - mf.entropy * ma.mass - ma.entropy * mf.mass)
    rows = np.arange(n)[:, None] * nbin
    prod = q[:, None] * mf.pdf.take(rows + i) * ma.pdf.take(rows + j)
    joint_h += _rowsum(_xlog2x(prod) - _xlog2x(w[:, None] * length + prod))

    mi = ma.entropy + mf.entropy - joint_h
    h_sum = ma.entropy + mf.entropy
    return np.divide(2 * mi, h_sum, out=np.zeros(n), where=(mi != 0) & (h_sum != 0))


def fmi(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray, feature: str = "dct", window: int = 3) -> float:
    """FMI (Haghighat et al. 2011; fast version of 2014), as NestFuse's ``analysis_fmi``.

    Mean over all interior ``window × window`` windows of ``(FMI(IR, F) + FMI(VIS, F)) / 2`` computed
    on feature images (``feature``: ``'dct'``, ``'wavelet'``, ``'none'``). Range [0, 1]; higher =
    more source features in F. Windows whose source and fused features are identical score 1.
    """
    f, a, b = (as_gray_float(x, n) / 255.0 for x, n in ((fused, "fused"), (ir, "ir"), (vis, "vis")))
    check_same_shape(fused=f, ir=a, vis=b)
    fa, fb, ff = (_fmi_features(x, feature) for x in (a, b, f))
    rows_out = ff.shape[0] - window + 1
    if rows_out <= 0 or ff.shape[1] < window:
        return 0.0
    chunk = max(1, 4096 // ff.shape[1])  # ~4k windows: the working set stays in cache
    total = 0.0
    for r0 in range(0, rows_out, chunk):
        rows = slice(r0, min(rows_out, r0 + chunk) + window - 1)
        wa, wb, wf = (_windows(x, rows, window) for x in (fa, fb, ff))
        same_af = (wa == wf).all(1)
        fn = _minmax(wf)
        mf = _Marginal(fn)
        score_af = np.where(same_af, 1.0, _pair_fmi(_Marginal(_minmax(wa)), mf))
        # MATLAB compares b with f *after* f was normalised in the a-branch (unless a == f)
        f_seen_by_b = np.where(same_af[:, None], wf, fn)
        same_bf = (wb == f_seen_by_b).all(1)
        score_bf = np.where(same_bf, 1.0, _pair_fmi(_Marginal(_minmax(wb)), mf))
        total += float((score_af + score_bf).sum()) / 2
    return total / (rows_out * (ff.shape[1] - window + 1))


def fmi_dct(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """FMI_dct: :func:`fmi` on orthonormal 2-D DCT coefficients (NestFuse's ``FMI_dct``). Range [0, 1]."""
    return fmi(fused, ir, vis, "dct")


def fmi_w(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> float:
    """FMI_w: :func:`fmi` on the discrete-Meyer DWT subbands (NestFuse's ``FMI_w``). Range [0, 1].

    Needs PyWavelets (extra ``metrics``); its ``dmey`` filters and ``symmetric`` mode are
    MATLAB's ``dwt2(X, 'dmey')`` with the default ``'sym'`` extension.
    """
    return fmi(fused, ir, vis, "wavelet")
