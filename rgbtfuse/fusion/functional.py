"""Stateless fusion operators on ``(B, C, H, W)`` feature maps, shared by the modules."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from rgbtfuse.runtime import threads_managed


def weights_from_activity(a1: torch.Tensor, a2: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``w1 = a1 / (a1 + a2 + eps)``, ``w2 = a2 / (a1 + a2 + eps)``.

    With ``eps == 0`` a zero total gives equal weights 0.5 instead of NaN.
    """
    total = a1 + a2 + eps
    if eps == 0.0:
        zero = total == 0
        total = torch.where(zero, torch.ones_like(total), total)
        w1 = torch.where(zero, torch.full_like(a1, 0.5), a1 / total)
        w2 = torch.where(zero, torch.full_like(a2, 0.5), a2 / total)
        return w1, w2
    return a1 / total, a2 / total


def l1_activity(x: torch.Tensor, window: int = 0) -> torch.Tensor:
    """Channel-wise l1 norm ``sum_c |x|`` → ``(B, 1, H, W)``, optionally box-averaged.

    ``window`` is the radius r of the ``(2r+1)²`` averaging box (DenseFuse/DIDFuse use r = 1);
    borders are zero-padded and divided by the full box size, as a zero-padded conv does.
    """
    act = x.abs().sum(dim=1, keepdim=True)
    if window > 0:
        k = 2 * window + 1
        act = F.avg_pool2d(act, k, stride=1, padding=window, count_include_pad=True)
    return act


#: float64 elements per Gram/eigvalsh step: on CPU a few maps (~4 MB, cache-sized), elsewhere 64 MB
_CPU_GROUP_ELEMENTS = 1 << 19
_GROUP_ELEMENTS = 1 << 23


@contextmanager
def _single_threaded(device: torch.device) -> Iterator[None]:
    """Run CPU LAPACK calls on one thread, when the process lets rgbtfuse manage torch's threads
    (:func:`rgbtfuse.runtime.threads_managed`; the command line does); otherwise the caller's
    setting is left alone (torch's thread count is process-wide).

    Multi-threaded eigen/SVD solvers on small matrices spend their time in thread barriers:
    on 2 shared cores a batch of 270×270 ``eigvalsh`` ran 20× slower with 2 threads than with 1.
    """
    n = torch.get_num_threads()
    if device.type != "cpu" or n == 1 or not threads_managed():
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def nuclear_norm_per_channel(x: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
    """Nuclear norm (sum of singular values) of every ``H × W`` channel map → ``(B, C, 1, 1)``.

    ``offset`` is added to the maps first (NestFuse adds its ε = 1e-5 before the SVD). Computed
    in float64, returned in ``x.dtype``. Without autograd the singular values are the square
    roots of the eigenvalues of the smaller Gram matrix ``M Mᵀ`` (batched ``eigvalsh``, faster than
    an SVD; on CPU the maps are shared out over torch's threads, see :func:`_gram_nuclear_norms`);
    with autograd a batched ``svdvals`` is used, whose gradient ``U Vᵀ`` stays finite for
    rank-deficient maps (e.g. all-zero channels).
    """
    b, c, h, w = x.shape
    maps = x.reshape(b * c, h, w)
    if torch.is_grad_enabled() and maps.requires_grad:
        with _single_threaded(x.device):
            norms = torch.linalg.svdvals(maps.double() + offset).sum(dim=-1)
    else:
        norms = _gram_nuclear_norms(maps.transpose(-1, -2) if h > w else maps, offset)
    return norms.reshape(b, c, 1, 1).to(x.dtype)


def _gram_nuclear_norms(maps: torch.Tensor, offset: float) -> torch.Tensor:
    """``(N, h, w)`` with ``h <= w`` → ``(N,)`` float64 ``Σ √eig((M + offset)(M + offset)ᵀ)``.

    On CPU, when the process lets rgbtfuse manage torch's threads (:func:`_single_threaded`), the
    maps are split over torch's threads and each thread runs its share single-threaded,
    group by group (float64 copy, Gram product, ``eigvalsh``; LAPACK and BLAS release the GIL): the
    same values as one batched call, ~2× faster on 2 cores — small eigen-solvers spend their time
    in thread barriers, and each thread's float64 copies stay in its cache.
    """
    n = torch.get_num_threads()
    with _single_threaded(maps.device):
        if maps.device.type != "cpu" or n == 1 or maps.shape[0] == 1 or not threads_managed():
            return _gram_nuclear_norms_serial(maps, offset)
        shares = _lapack_workers(n).map(functools.partial(_gram_nuclear_norms_serial, offset=offset), maps.chunk(n))
        return torch.cat(list(shares))


def _gram_nuclear_norms_serial(maps: torch.Tensor, offset: float) -> torch.Tensor:
    group = max(1, (_CPU_GROUP_ELEMENTS if maps.device.type == "cpu" else _GROUP_ELEMENTS) // maps[0].numel())
    norms = []
    for part in maps.split(group):
        m = part.double() + offset
        eigenvalues = torch.linalg.eigvalsh(m @ m.transpose(-1, -2))
        # round-off can make the eigenvalues of a rank-deficient Gram matrix slightly negative
        norms.append(eigenvalues.clamp_min(0).sqrt().sum(dim=-1))
    return torch.cat(norms)


@functools.cache
def _lapack_workers(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n, thread_name_prefix="rgbtfuse-lapack")


CHANNEL_POOLINGS = ("avg", "max", "nuclear")


def channel_pool(x: torch.Tensor, mode: str, nuclear_offset: float = 0.0) -> torch.Tensor:
    """Global pooling of each channel → ``(B, C, 1, 1)``: ``avg``, ``max`` or ``nuclear``."""
    if mode == "avg":
        return x.mean(dim=(2, 3), keepdim=True)
    if mode == "max":
        return x.amax(dim=(2, 3), keepdim=True)
    if mode == "nuclear":
        return nuclear_norm_per_channel(x, nuclear_offset)
    raise ValueError(f"unknown channel pooling {mode!r} (avg, max, nuclear)")


def softmax_weights(s1: torch.Tensor, s2: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``w_k = exp(s_k) / (exp(s1) + exp(s2) + eps)`` — NestFuse's two-way softmax with ε.

    Evaluated as ``exp(s_k - m) / (exp(s1 - m) + exp(s2 - m) + eps·exp(-m))`` with
    ``m = max(s1, s2)``: the same value, without the overflow of ``exp`` for large activities.
    """
    m = torch.maximum(s1, s2).detach()
    e1, e2 = torch.exp(s1 - m), torch.exp(s2 - m)
    total = e1 + e2
    if eps:
        total = total + eps * torch.exp(-m)
    return e1 / total, e2 / total
