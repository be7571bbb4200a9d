"""Every registered fusion module against a direct (looped, numpy) evaluation of its formula.

Also: ``gradcheck`` in float64, odd sizes, and batch independence (fusing a batch equals fusing
each element alone).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import available_fusions, build_fusion
from rgbtfuse.fusion.functional import nuclear_norm_per_channel

EPS = 1e-5


def _pair(shape=(2, 4, 7, 13), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    # ReLU-like non-negative features plus a few negative ones: rules must not assume either
    rgb = torch.randn(shape, generator=g, dtype=dtype).abs() - 0.1
    ir = torch.randn(shape, generator=g, dtype=dtype).abs() - 0.1
    return rgb, ir


# ---------------------------------------------------------------- direct formulas, numpy loops
def _weighted(rgb, ir, w_rgb, w_ir):
    return w_rgb * rgb + w_ir * ir


def ref_l1(rgb, ir, window, eps=0.0):
    b, _c, h, w = rgb.shape
    k = 2 * window + 1

    def activity(x):
        l1 = np.abs(x).sum(axis=1)  # (B, H, W)
        out = np.zeros_like(l1)
        for bi in range(b):
            for y in range(h):
                for xx in range(w):
                    total = 0.0
                    for dy in range(-window, window + 1):
                        for dx in range(-window, window + 1):
                            if 0 <= y + dy < h and 0 <= xx + dx < w:
                                total += l1[bi, y + dy, xx + dx]
                    out[bi, y, xx] = total / (k * k)
        return out[:, None]

    a1, a2 = activity(rgb), activity(ir)
    total = a1 + a2 + eps
    w1 = np.where(total == 0, 0.5, a1 / np.where(total == 0, 1, total))
    w2 = np.where(total == 0, 0.5, a2 / np.where(total == 0, 1, total))
    return _weighted(rgb, ir, w1, w2)


def ref_pool(x, mode, offset=EPS):
    b, c = x.shape[:2]
    p = np.zeros((b, c, 1, 1))
    for bi in range(b):
        for ci in range(c):
            m = x[bi, ci]
            if mode == "avg":
                p[bi, ci] = m.sum() / m.size
            elif mode == "max":
                p[bi, ci] = m.max()
            else:
                p[bi, ci] = np.linalg.svd(m + offset, compute_uv=False).sum()
    return p


def ref_channel(rgb, ir, mode, eps=EPS, offset=EPS):
    p1, p2 = ref_pool(rgb, mode, offset), ref_pool(ir, mode, offset)
    return _weighted(rgb, ir, p1 / (p1 + p2 + eps), p2 / (p1 + p2 + eps))


def ref_spatial(rgb, ir, eps=EPS):
    s1 = rgb.sum(axis=1, keepdims=True) / rgb.shape[1]
    s2 = ir.sum(axis=1, keepdims=True) / ir.shape[1]
    e1, e2 = np.exp(s1), np.exp(s2)
    return _weighted(rgb, ir, e1 / (e1 + e2 + eps), e2 / (e1 + e2 + eps))


def ref_sca(rgb, ir, mode):
    return (ref_channel(rgb, ir, mode) + ref_spatial(rgb, ir)) / 2


def ref_nuclear_baseline(rgb, ir, eps=1e-5):
    n1, n2 = ref_pool(rgb, "nuclear", 0.0), ref_pool(ir, "nuclear", 0.0)
    return _weighted(rgb, ir, n1 / (n1 + n2 + eps), n2 / (n1 + n2 + eps))


FORMULAS = {  # case: (registered name, options, direct formula)
    "add": ("add", {}, lambda r, i: r + i),
    "mean": ("mean", {}, lambda r, i: (r + i) / 2),
    "max": ("max", {}, lambda r, i: np.where(r >= i, r, i)),
    "l1": ("l1", {"window": 1}, lambda r, i: ref_l1(r, i, 1)),
    "l1_w0": ("l1", {"window": 0}, lambda r, i: ref_l1(r, i, 0)),
    "l1_w2_eps": ("l1", {"window": 2, "eps": 1e-3}, lambda r, i: ref_l1(r, i, 2, 1e-3)),
    "nuclear": ("nuclear", {}, ref_nuclear_baseline),
    "sca_avg": ("sca", {"pooling": "avg"}, lambda r, i: ref_sca(r, i, "avg")),
    "sca_max": ("sca", {"pooling": "max"}, lambda r, i: ref_sca(r, i, "max")),
    "sca_nuclear": ("sca", {"pooling": "nuclear"}, lambda r, i: ref_sca(r, i, "nuclear")),
    "attention_avg": ("attention_avg", {}, lambda r, i: ref_sca(r, i, "avg")),
    "attention_max": ("attention_max", {}, lambda r, i: ref_sca(r, i, "max")),
    "attention_nuclear": ("attention_nuclear", {}, lambda r, i: ref_sca(r, i, "nuclear")),
    "spatial_attention": ("spatial_attention", {"eps": 1e-10}, lambda r, i: ref_spatial(r, i, 1e-10)),
    "channel_attention": ("channel_attention", {"pooling": "nuclear", "eps": 1e-10, "nuclear_offset": 1e-10},
                          lambda r, i: ref_channel(r, i, "nuclear", 1e-10, 1e-10)),
}


def _build(case: str, channels: int):
    name, cfg, _ = FORMULAS[case]
    return build_fusion(name, channels, **cfg)


def ref_rfn(block, rgb, ir):
    """RFN (Fig. 2 / Fig. 17) written out with explicit reflect padding and convolutions."""
    sd = block.state_dict()

    def conv(x, name):
        wgt, bias = sd[f"{name}.conv2d.weight"], sd[f"{name}.conv2d.bias"]
        p = wgt.shape[-1] // 2
        x = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect"))
        return torch.clamp(F.conv2d(x, wgt, bias), min=0)

    initial = conv(torch.cat([ir, rgb], 1), "conv_fusion")
    out = torch.cat([conv(ir, "conv_ir"), conv(rgb, "conv_vi")], 1)
    n = sum(1 for k in sd if k.startswith("bottelblock.") and k.endswith(".weight"))
    for j in range(n):
        out = conv(out, f"bottelblock.{j}")
    return initial + out


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("case", sorted(FORMULAS))
@pytest.mark.parametrize("shape", [(2, 4, 7, 13), (1, 3, 16, 9)])
def test_formula(case, shape):
    rgb, ir = _pair(shape)
    out = _build(case, shape[1])(rgb, ir)
    expected = FORMULAS[case][2](rgb.numpy(), ir.numpy())
    assert out.shape == rgb.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["rfn", "rfn_light"])
def test_rfn_formula(name):
    torch.manual_seed(0)
    block = build_fusion(name, 6).double()
    rgb, ir = _pair((2, 6, 7, 13))
    with torch.no_grad():
        np.testing.assert_allclose(block(rgb, ir).numpy(), ref_rfn(block, rgb, ir).numpy(), rtol=1e-9, atol=1e-12)
    n_bottleneck = 2 if name == "rfn" else 1
    assert len(block.bottelblock) == 1 + n_bottleneck


def test_rfn_input_order_matches_authors():
    """Authors: ``forward(x_ir, x_vi)`` with ``conv_ir`` on infrared; ours: ``forward(rgb, ir)``."""
    torch.manual_seed(0)
    block = build_fusion("rfn", 3).double()
    rgb, ir = _pair((1, 3, 8, 8))
    with torch.no_grad():
        block.conv_vi.conv2d.weight.zero_()
        block.conv_vi.conv2d.bias.zero_()
        only_ir = block(rgb, ir)
        assert not torch.allclose(only_ir, block(ir, rgb))
        # conv_vi is dead, so the bottleneck sees conv_ir(ir) and zeros: changing rgb there changes nothing
        residual = block.bottelblock(torch.cat([block.conv_ir(ir), torch.zeros_like(ir)], 1))
        np.testing.assert_allclose((only_ir - residual).numpy(), block.conv_fusion(torch.cat([ir, rgb], 1)).numpy())


CASES_ALL = sorted(FORMULAS) + ["rfn", "rfn_light", "gate"]


def _module(case, channels):
    if case in FORMULAS:
        return _build(case, channels)
    torch.manual_seed(0)
    return build_fusion(case, channels).double()


@pytest.mark.parametrize("case", CASES_ALL)
def test_gradcheck(case):
    rgb, ir = _pair((2, 2, 5, 6), seed=3)
    rgb.requires_grad_(True)
    ir.requires_grad_(True)
    module = _module(case, 2)
    assert torch.autograd.gradcheck(lambda a, b: module(a, b), (rgb, ir), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("case", CASES_ALL)
def test_batch_elements_fused_independently(case):
    rgb, ir = _pair((3, 4, 9, 11), seed=5)
    module = _module(case, 4)
    with torch.no_grad():
        batched = module(rgb, ir)
        for b in range(3):
            alone = module(rgb[b : b + 1], ir[b : b + 1])
            np.testing.assert_allclose(batched[b : b + 1].numpy(), alone.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES_ALL)
def test_float32_odd_size(case):
    rgb, ir = (t.float() for t in _pair((1, 4, 7, 13), seed=7))
    module = _module(case, 4).float()
    with torch.no_grad():
        out = module(rgb, ir)
    assert out.shape == (1, 4, 7, 13) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_every_registered_fusion_is_tested():
    tested = {"add", "sum", "mean", "average", "max", "l1", "l1_norm", "nuclear", "nuclear_norm", "sca", "attention",
              "attention_avg", "attention_max", "attention_nuclear", "spatial_attention", "channel_attention",
              "rfn", "rfn_light",
              "llrr",  # llrr: tests/fusion/test_fusion_llrr.py (naive Eq. 8-9, gradcheck, odd sizes, batch)
              "gate"}  # gate: batch/odd-size cases here, mean rule at init and weights in tests/demo/test_demo.py
    aliases_ok = {"sum": "add", "average": "mean", "l1_norm": "l1", "nuclear_norm": "nuclear", "attention": "sca"}
    for alias, name in aliases_ok.items():
        assert type(build_fusion(alias, 2)) is type(build_fusion(name, 2))
    assert set(available_fusions()) <= tested, set(available_fusions()) - tested


def test_sca_bad_pooling_is_config_error():
    with pytest.raises(ConfigError, match="pooling"):
        build_fusion("sca", 4, pooling="median")


def test_spatial_softmax_does_not_overflow():
    """exp(mean) overflows float32 above ~88; the weights must still be the limit values."""
    rgb = torch.full((1, 2, 3, 3), 200.0)
    ir = torch.full((1, 2, 3, 3), 100.0)
    out = build_fusion("spatial_attention", 2)(rgb, ir)
    torch.testing.assert_close(out, rgb)
    out = build_fusion("spatial_attention", 2)(-rgb, -ir)  # both weights → 0 as exp underflows
    torch.testing.assert_close(out, torch.zeros_like(rgb))


def test_nuclear_norm_fast_path_matches_svd_loop_on_rank_deficient_maps():
    """The Gram-eigenvalue path (no autograd) on ReLU maps with all-zero channels (rank 1 after +ε)."""
    g = torch.Generator().manual_seed(0)
    x = torch.relu(torch.randn(2, 6, 40, 57, generator=g))
    x[0, 1] = 0
    x[1, 4, :, :30] = 0
    x[1, 5] = torch.outer(torch.rand(40, generator=g), torch.rand(57, generator=g))  # rank 1
    with torch.no_grad():
        fast = nuclear_norm_per_channel(x, offset=1e-5).double().flatten()
    ref = torch.tensor(ref_pool(x.double().numpy(), "nuclear", 1e-5)).flatten()
    assert ((fast - ref).abs() / ref).max() < 1e-5
    grad_path = nuclear_norm_per_channel(x.double().requires_grad_(True), offset=1e-5).detach().flatten()
    assert ((grad_path - ref).abs() / ref).max() < 1e-12


def test_nuclear_norm_fast_path_same_over_threads_and_groups(monkeypatch):
    """Maps shared out over 2 threads, several small groups each, 7 maps (uneven shares), tall maps."""
    from rgbtfuse.fusion import functional

    x = torch.rand(1, 7, 45, 31, generator=torch.Generator().manual_seed(1))
    ref = torch.linalg.svdvals(x.double()[0] + 1e-5).sum(-1)
    monkeypatch.setattr(functional, "_CPU_GROUP_ELEMENTS", 2 * 45 * 31)
    monkeypatch.setattr(functional, "threads_managed", lambda: True)  # as after rgbtfuse.runtime.set_threads
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            with torch.no_grad():
                norms = nuclear_norm_per_channel(x.double(), offset=1e-5).flatten()
            torch.testing.assert_close(norms, ref, rtol=1e-12, atol=0)
            assert torch.get_num_threads() == n  # restored after the single-threaded LAPACK calls
    finally:
        torch.set_num_threads(threads)



def test_nuclear_pooling_leaves_the_callers_thread_count_alone(monkeypatch):
    """A library call never switches torch's (process-wide) thread count unless the process
    opted in with rgbtfuse.runtime.set_threads; the values are the same either way."""
    from rgbtfuse import runtime
    from rgbtfuse.fusion import functional

    monkeypatch.setitem(runtime._MANAGED, "threads", False)
    x = torch.rand(1, 5, 30, 40, generator=torch.Generator().manual_seed(2)).double()
    ref = torch.linalg.svdvals(x[0] + 1e-5).sum(-1)
    threads = torch.get_num_threads()
    calls: list[int] = []
    real = torch.set_num_threads
    try:
        real(2)
        monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
        for grad in (False, True):
            with torch.set_grad_enabled(grad):
                norms = functional.nuclear_norm_per_channel(x.clone().requires_grad_(grad), offset=1e-5)
            torch.testing.assert_close(norms.detach().flatten(), ref, rtol=1e-12, atol=0)
        assert calls == []
    finally:
        monkeypatch.undo()
        real(threads)


def test_nuclear_gradient_finite_on_zero_channel():
    x = torch.zeros(1, 2, 5, 6, dtype=torch.float64)
    x[0, 1] = torch.rand(5, 6, dtype=torch.float64)
    x.requires_grad_(True)
    out = build_fusion("attention_nuclear", 2)(x, torch.rand(1, 2, 5, 6, dtype=torch.float64))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
