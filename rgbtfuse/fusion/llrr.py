"""LLRR blocks (learned low-rank representation, LRRNet — Li et al., TPAMI 2023) and LLRR fusion.

An LLRR decomposition unrolls T steps of LISTA on the model ``X = D_1 L + D_2 S`` (Eq. 5), with the
matrix products replaced by convolutions (LCSC):

* ``Z_0 = h_θ(C_0 * X)``
* ``Z_t = h_θ(C_2 * (X − C_1 * Z_{t−1}) + λ Z_{t−1})``, t = 1..T  (Eq. 8, one :class:`LLRRBlock`)
* ``h_θ(x) = sign(x) · max(|x| − θ, 0)`` with a learnable threshold θ per coefficient channel (Eq. 9)

``Z`` (2n channels) splits into low-rank coefficients ``L`` (first n) and sparse coefficients ``S``
(last n). LRRNet's decoder maps each modality's ``L`` and ``S`` back with one conv each, fuses the
low-rank parts and the sparse parts by concatenation + conv, and adds them: ``fused = L_f + S_f``.
:class:`LLRRFusion` is that fusion applied to feature maps, as LRRNet's tracking module (§5.4,
Fig. 14) fuses the RGB and IR features of a tracker.

All convolutions are the authors' ``ConvLayer``: reflection padding + conv, no activation.
"""

from __future__ import annotations

import torch
from torch import nn

from rgbtfuse.fewconv import conv_from_few, conv_to_few
from rgbtfuse.fusion.base import FusionModule, register_fusion


def soft_threshold(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``h_θ(x) = sign(x) · max(|x| − θ, 0)`` (Eq. 9) with one θ per channel.

    Args:
        x: ``(B, C, H, W)``.
        theta: ``C`` thresholds, any shape with ``C`` elements (LRRNet stores ``(1, C)``). Negative
            thresholds are kept as the formula gives them (the published weights have a few).
    """
    theta = theta.reshape(1, -1, 1, 1)
    return torch.sign(x) * torch.clamp(x.abs() - theta, min=0)


#: inputs with at most this many channels (images) take the matrix-product inference path
FEW_CHANNELS = 4


def _soft_threshold_(z: torch.Tensor, theta: torch.Tensor, scratch: torch.Tensor) -> None:
    """In-place :func:`soft_threshold` of ``z`` (``θ`` broadcastable to it); ``scratch`` is like ``z``.

    ``h_θ(z) = z − clamp(z, −θ⁺, θ⁺) + sign(z)·θ⁻`` with ``θ± = max(±θ, 0)``: bit-identical to Eq. 9
    for either sign of θ; the ``θ⁻`` term touches only the channels with a negative threshold.
    """
    pos = theta.clamp(min=0)
    z.sub_(torch.clamp(z, -pos, pos, out=scratch))
    neg = (theta < 0).flatten().nonzero().flatten()
    if neg.numel():
        sub = z.index_select(1, neg)
        z.index_copy_(1, neg, sub + torch.sign(sub) * (-theta.flatten()[neg]).view(1, -1, *([1] * (z.dim() - 2))))


class ReflectConv2d(nn.Module):
    """Reflection-padded 'same' convolution without activation (LRRNet's ``ConvLayer``).

    State-dict keys ``conv2d.weight``, ``conv2d.bias``. ``(B, C_in, H, W) → (B, C_out, H, W)``;
    H and W must exceed ``kernel_size // 2`` (reflection padding).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


class LLRRBlock(nn.Module):
    """One unrolled LISTA step (Eq. 8): ``Z_t = h_θ(C_2 * (X − C_1 * Z_{t−1}) + λ Z_{t−1})``.

    ``conv_Wdz`` is ``C_1`` (the dictionary ``D``: coefficients → signal) and ``conv_Wdtz`` is ``C_2``
    (``W_e = μDᵀ``: signal → coefficients); the names are the published checkpoint's.
    θ and λ are shared by all blocks of a decomposition and passed in.

    Args:
        channels: channels of the signal ``X``.
        coeff_channels: channels of the coefficients ``Z`` (2n).
        kernel_size: size of both convolutions.
    """

    def __init__(self, channels: int, coeff_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv_Wdz = ReflectConv2d(coeff_channels, channels, kernel_size)
        self.conv_Wdtz = ReflectConv2d(channels, coeff_channels, kernel_size)

    def forward(self, x: torch.Tensor, z: torch.Tensor, theta: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, channels, H, W)``, ``z``: ``(B, coeff_channels, H, W)`` → next ``z``."""
        return soft_threshold(lam * z + self.conv_Wdtz(x - self.conv_Wdz(z)), theta)


class LLRRDecomposition(nn.Module):
    """T LLRR blocks: ``X → (L, S)``, low-rank and sparse coefficients of ``n`` channels each.

    Keys as LRRNet's ``GetLS_Net``: ``conv_W00`` (``C_0``), ``lamj`` (θ, ``(1, 2n)``), ``lamz``
    (λ, ``(1, 1)``), ``lrrblock{t}``. θ and λ start uniform in [0, 1) as the authors'.

    Args:
        channels: channels of ``X``.
        rank_channels: n, channels of each of ``L`` and ``S``.
        num_blocks: T, number of LISTA steps.
        kernel_size: size of every convolution.
    """

    def __init__(self, channels: int, rank_channels: int, num_blocks: int = 4, kernel_size: int = 3):
        super().__init__()
        self.rank_channels = rank_channels
        self.num_blocks = num_blocks
        self.conv_W00 = ReflectConv2d(channels, 2 * rank_channels, kernel_size)
        self.lamj = nn.Parameter(torch.rand(1, 2 * rank_channels))
        self.lamz = nn.Parameter(torch.rand(1, 1))
        for t in range(num_blocks):
            self.add_module(f"lrrblock{t}", LLRRBlock(channels, 2 * rank_channels, kernel_size))

    def blocks(self) -> list[LLRRBlock]:
        return [getattr(self, f"lrrblock{t}") for t in range(self.num_blocks)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, channels, H, W)`` → ``L``, ``S``: ``(B, n, H, W)`` each."""
        if not torch.is_grad_enabled() and x.shape[1] <= FEW_CHANNELS:
            z = self._forward_matmul(x)
        else:
            z = soft_threshold(self.conv_W00(x), self.lamj)
            for block in self.blocks():
                z = block(x, z, self.lamj, self.lamz)
        return z[:, : self.rank_channels], z[:, self.rank_channels :]

    def _forward_matmul(self, x: torch.Tensor) -> torch.Tensor:
        """The same steps with :mod:`rgbtfuse.fewconv` products, ``Z`` updated and thresholded in place.

        PyTorch's CPU convolutions with one input or output channel are slow and memory-bound;
        here each step passes over ``Z`` a few times only and allocates nothing of its size.
        """
        theta = self.lamj.reshape(1, -1, 1, 1)
        lam = float(self.lamz)
        c0 = self.conv_W00.conv2d
        z = conv_from_few(x, c0.weight, c0.bias)
        scratch = torch.empty_like(z)  # reused: fresh large buffers cost more than the arithmetic
        _soft_threshold_(z, theta, scratch)
        for block in self.blocks():
            c1, c2 = block.conv_Wdz.conv2d, block.conv_Wdtz.conv2d
            residual = x - conv_to_few(z, c1.weight, c1.bias)
            conv_from_few(residual, c2.weight, c2.bias, accumulate=z, beta=lam)
            _soft_threshold_(z, theta, scratch)
        return z


class LowRankSparseDecoder(nn.Module):
    """LRRNet's fusion decoder: ``(L_a, S_a, L_b, S_b) → L_f + S_f``.

    ``P = C * coeffs`` per modality and part (``conv_ReZx``/``conv_ReUx`` for modality a's low-rank and
    sparse part, ``conv_ReZy``/``conv_ReUy`` for b's), then ``L_f = conv_ReL(cat(P_la, P_lb))`` and
    ``S_f = conv_ReH(cat(P_sa, P_sb))``. Key names are the published checkpoint's.

    Args:
        rank_channels: n, channels of each coefficient map.
        out_channels: channels of the parts and of the fused output.
        kernel_size: size of every convolution.
    """

    def __init__(self, rank_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv_ReZx = ReflectConv2d(rank_channels, out_channels, kernel_size)
        self.conv_ReUx = ReflectConv2d(rank_channels, out_channels, kernel_size)
        self.conv_ReZy = ReflectConv2d(rank_channels, out_channels, kernel_size)
        self.conv_ReUy = ReflectConv2d(rank_channels, out_channels, kernel_size)
        self.conv_ReL = ReflectConv2d(2 * out_channels, out_channels, kernel_size)
        self.conv_ReH = ReflectConv2d(2 * out_channels, out_channels, kernel_size)

    def forward(
        self, low_a: torch.Tensor, sparse_a: torch.Tensor, low_b: torch.Tensor, sparse_b: torch.Tensor
    ) -> torch.Tensor:
        """Four ``(B, n, H, W)`` coefficient maps → ``(B, out_channels, H, W)``."""
        parts = [(self.conv_ReZx, low_a), (self.conv_ReZy, low_b), (self.conv_ReUx, sparse_a), (self.conv_ReUy, sparse_b)]
        if not torch.is_grad_enabled() and self.conv_ReL.conv2d.out_channels <= FEW_CHANNELS:
            p_la, p_lb, p_sa, p_sb = (conv_to_few(c, conv.conv2d.weight, conv.conv2d.bias) for conv, c in parts)
        else:
            p_la, p_lb, p_sa, p_sb = (conv(c) for conv, c in parts)
        return self.conv_ReL(torch.cat([p_la, p_lb], 1)) + self.conv_ReH(torch.cat([p_sa, p_sb], 1))


@register_fusion("llrr")
class LLRRFusion(FusionModule):
    """LRRNet's fusion of two feature maps (§5.4): LLRR decomposition per modality, low-rank/sparse decoder.

    ``fused = conv_ReL(cat(C*L_ir, C*L_rgb)) + conv_ReH(cat(C*S_ir, C*S_rgb))`` with ``(L_m, S_m)`` from
    a separate :class:`LLRRDecomposition` per modality (the IR branch plays LRRNet's first input,
    as in the authors' code). Trainable; needs ``H, W > kernel_size // 2``.

    Args:
        channels: C of the feature maps.
        rank_channels: n, channels of the low-rank and of the sparse coefficients (default ``C // 2``,
            so ``Z`` has C channels; LRRNet on 1-channel images uses n = 128).
        num_blocks: T, LISTA steps per modality (LRRNet: 4).
        kernel_size: size of every convolution (LRRNet: 3).

    Shape: ``rgb``, ``ir``: ``(B, C, H, W)`` → ``(B, C, H, W)``.
    """

    trainable = True

    def __init__(self, channels: int, rank_channels: int | None = None, num_blocks: int = 4, kernel_size: int = 3):
        super().__init__(channels)
        n = rank_channels if rank_channels is not None else max(channels // 2, 1)
        self.decompose_ir = LLRRDecomposition(channels, n, num_blocks, kernel_size)
        self.decompose_rgb = LLRRDecomposition(channels, n, num_blocks, kernel_size)
        self.decoder = LowRankSparseDecoder(n, channels, kernel_size)

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.decoder(*self.decompose_ir(ir), *self.decompose_rgb(rgb))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, rank_channels={self.decoder.conv_ReZx.conv2d.in_channels}"
