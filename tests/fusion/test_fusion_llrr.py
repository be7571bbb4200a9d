"""LLRR blocks and the ``llrr`` fusion module against naive implementations of LRRNet Eq. 8–9."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rgbtfuse.fewconv import conv_from_few, conv_to_few
from rgbtfuse.fusion import available_fusions, build_fusion
from rgbtfuse.fusion.llrr import (
    LLRRBlock,
    LLRRDecomposition,
    LLRRFusion,
    LowRankSparseDecoder,
    _soft_threshold_,
    soft_threshold,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: thread hand-offs cost more than the work (and stall on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- naive references (numpy, float64) ------------------------------------------------------
def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Reflection-padded 'same' convolution written out tap by tap."""
    k = w.shape[-1]
    p = k // 2
    h, wd = x.shape[-2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect")
    out = np.zeros((x.shape[0], w.shape[0], h, wd)) + b[None, :, None, None]
    for i in range(k):
        for j in range(k):
            out += np.einsum("oc,bchw->bohw", w[:, :, i, j], xp[:, :, i : i + h, j : j + wd])
    return out


def naive_h(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Eq. 9: sign(x) · max(|x| − θ, 0), θ per channel."""
    return np.sign(x) * np.maximum(np.abs(x) - theta.reshape(1, -1, 1, 1), 0)


def params(conv_layer) -> tuple[np.ndarray, np.ndarray]:
    c = conv_layer.conv2d
    return c.weight.detach().double().numpy(), c.bias.detach().double().numpy()


def naive_decomposition(m: LLRRDecomposition, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z_0 = h(C_0 X); Z_t = h(C_2 (X − C_1 Z_{t−1}) + λ Z_{t−1}) (Eq. 8); split Z = (L; S)."""
    theta = m.lamj.detach().double().numpy().ravel()
    lam = float(m.lamz.detach())
    z = naive_h(naive_conv(x, *params(m.conv_W00)), theta)
    for block in m.blocks():
        z = naive_h(naive_conv(x - naive_conv(z, *params(block.conv_Wdz)), *params(block.conv_Wdtz)) + lam * z, theta)
    n = m.rank_channels
    return z[:, :n], z[:, n:]


def naive_decoder(d: LowRankSparseDecoder, la, sa, lb, sb) -> np.ndarray:
    low = naive_conv(np.concatenate([naive_conv(la, *params(d.conv_ReZx)), naive_conv(lb, *params(d.conv_ReZy))], 1), *params(d.conv_ReL))
    high = naive_conv(np.concatenate([naive_conv(sa, *params(d.conv_ReUx)), naive_conv(sb, *params(d.conv_ReUy))], 1), *params(d.conv_ReH))
    return low + high


def with_negative_thresholds(m: torch.nn.Module) -> torch.nn.Module:
    """The published weights have a few negative θ; make sure such channels are exercised."""
    with torch.no_grad():
        for p_name, p in m.named_parameters():
            if p_name.endswith("lamj"):
                p[0, ::3] -= 0.7
    return m


# --- tests -------------------------------------------------------------------------------------
def test_soft_threshold_matches_eq9_for_both_signs_of_theta():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    theta = torch.tensor([0.5, -0.3, 0.0, 1.2, -1e-3, 0.1], dtype=torch.float64)
    expected = naive_h(x.numpy(), theta.numpy())
    np.testing.assert_allclose(soft_threshold(x, theta).numpy(), expected, rtol=0, atol=1e-15)
    z = x.clone()
    _soft_threshold_(z, theta.view(1, -1, 1, 1), torch.empty_like(z))
    assert torch.equal(z, soft_threshold(x, theta))  # in-place variant is bit-identical


def test_llrr_block_is_one_lista_step():
    torch.manual_seed(1)
    block = LLRRBlock(channels=3, coeff_channels=8).double()
    x = torch.randn(2, 3, 7, 9, dtype=torch.float64)
    z = torch.randn(2, 8, 7, 9, dtype=torch.float64)
    theta, lam = torch.rand(1, 8, dtype=torch.float64) - 0.2, torch.tensor([[0.7]], dtype=torch.float64)
    out = block(x, z, theta, lam)
    expected = naive_h(
        naive_conv(x.numpy() - naive_conv(z.numpy(), *params(block.conv_Wdz)), *params(block.conv_Wdtz)) + 0.7 * z.numpy(),
        theta.numpy().ravel(),
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 3, 6])  # 1 and 3 also take the no-grad matrix-product path
def test_decomposition_and_decoder_match_naive_unrolled_lista(channels):
    torch.manual_seed(2)
    dec = with_negative_thresholds(LLRRDecomposition(channels, rank_channels=4, num_blocks=3).double())
    decoder = LowRankSparseDecoder(4, channels).double()
    x = torch.randn(2, channels, 7, 11, dtype=torch.float64)
    y = torch.randn(2, channels, 7, 11, dtype=torch.float64)
    lx, sx = naive_decomposition(dec, x.numpy())
    ly, sy = naive_decomposition(dec, y.numpy())
    expected = naive_decoder(decoder, lx, sx, ly, sy)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            l_t, s_t = dec(x)
            np.testing.assert_allclose(l_t.detach().numpy(), lx, atol=1e-10)
            np.testing.assert_allclose(s_t.detach().numpy(), sx, atol=1e-10)
            out = decoder(l_t, s_t, *dec(y))
            np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-10)


def test_llrr_fusion_is_registered_and_fuses_both_modalities():
    assert "llrr" in available_fusions()
    torch.manual_seed(3)
    fuse = build_fusion("llrr", 6, rank_channels=3, num_blocks=2).double()
    assert isinstance(fuse, LLRRFusion) and fuse.trainable
    rgb = torch.randn(3, 6, 9, 5, dtype=torch.float64)  # batch 3, odd sizes
    ir = torch.randn(3, 6, 9, 5, dtype=torch.float64)
    out = fuse(rgb, ir)
    assert out.shape == rgb.shape
    li, si = naive_decomposition(fuse.decompose_ir, ir.numpy())
    lr, sr = naive_decomposition(fuse.decompose_rgb, rgb.numpy())
    np.testing.assert_allclose(out.detach().numpy(), naive_decoder(fuse.decoder, li, si, lr, sr), atol=1e-10)
    # each sample depends on its own inputs only, and on both modalities
    out0 = fuse(rgb[:1], ir[:1])
    torch.testing.assert_close(out0, out[:1])
    assert not torch.allclose(fuse(rgb, torch.zeros_like(ir)), out)
    assert not torch.allclose(fuse(torch.zeros_like(rgb), ir), out)


def test_llrr_fusion_gradcheck():
    torch.manual_seed(4)
    fuse = LLRRFusion(2, rank_channels=2, num_blocks=2).double()
    rgb = torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    ir = torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fuse, (rgb, ir), eps=1e-6, atol=1e-5, fast_mode=True)
    out = fuse(rgb, ir).sum()
    out.backward()
    assert fuse.decompose_ir.lamj.grad is not None and fuse.decompose_rgb.lamz.grad is not None


@pytest.mark.parametrize("channels_last", [False, True])
def test_fewconv_matches_reflect_conv2d(channels_last):
    torch.manual_seed(5)
    x = torch.randn(2, 2, 9, 12, dtype=torch.float64)
    w_in, b_in = torch.randn(16, 2, 3, 3, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    ref = F.conv2d(F.pad(x, [1] * 4, mode="reflect"), w_in, b_in)
    out = conv_from_few(x, w_in, b_in, channels_last=channels_last)
    assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    torch.testing.assert_close(out, ref)
    w_out, b_out = torch.randn(2, 8, 3, 3, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    for z in (out[:, 4:12], out[:, 8:].contiguous(memory_format=torch.channels_last)):  # slices / channels-last
        expected = F.conv2d(F.pad(z, [1] * 4, mode="reflect"), w_out, b_out)
        torch.testing.assert_close(conv_to_few(z, w_out, b_out), expected)
    acc = ref.clone()
    conv_from_few(x, w_in, b_in, accumulate=acc, beta=0.5)
    torch.testing.assert_close(acc, 0.5 * ref + ref)
