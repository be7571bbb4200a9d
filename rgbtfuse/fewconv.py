"""Reflection-padded 'same' convolutions into or out of few channels, as matrix products.

PyTorch's CPU convolutions with one (or a few) input or output channels — the first and last
layers of image-fusion networks, LRRNet's LLRR steps — are slow and memory-bound. The same
results come from one matrix product each:

* few → many: the ``k × k`` reflection-padded patches ``(C·k², H·W)`` times the weights;
* many → few: padding is the same spatial re-indexing for every channel, so it commutes with the
  channel sums: one product gives the ``C_out·k²`` per-tap maps, which are padded and shift-added.

Both accept and return NCHW or channels-last tensors. Inference helpers (no autograd needed,
but they are differentiable).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reflect_patches(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, C, H, W)`` → reflection-padded ``k × k`` patches ``(B, C·k² + 1, H·W)``; last row is ones."""
    patches = F.unfold(F.pad(x, [k // 2] * 4, mode="reflect"), k)
    return torch.cat([patches, patches.new_ones(x.shape[0], 1, patches.shape[-1])], 1)


def conv_from_few(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    channels_last: bool = False,
    accumulate: torch.Tensor | None = None,
    beta: float = 1.0,
) -> torch.Tensor:
    """Reflect-padded ``conv2d(x, weight, bias)`` for few-channel ``x`` → ``(B, C_out, H, W)``.

    Args:
        x: ``(B, C, H, W)`` with few channels.
        weight: ``(C_out, C, k, k)``; bias: ``(C_out,)``.
        channels_last: return a channels-last tensor (else NCHW).
        accumulate: NCHW ``(B, C_out, H, W)`` tensor to add into in place: ``beta · accumulate + conv``.
    """
    b, _, h, w = x.shape
    wmat = torch.cat([weight.flatten(1), bias[:, None]], 1)
    patches = reflect_patches(x, weight.shape[-1])
    if accumulate is not None:
        flat = accumulate.view(b, -1, h * w)
        flat.baddbmm_(wmat.expand(b, -1, -1), patches, beta=beta)
        return accumulate
    if channels_last:
        return torch.matmul(patches.transpose(1, 2), wmat.t()).view(b, h, w, -1).permute(0, 3, 1, 2)
    return torch.matmul(wmat, patches).view(b, -1, h, w)


def conv_to_few(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Reflect-padded ``conv2d(z, weight, bias)`` to few output channels → NCHW ``(B, C_out, H, W)``.

    ``z``: ``(B, K, H, W)``, NCHW planes (a channel slice of an NCHW tensor is fine) or channels-last.
    """
    b, k_in, h, w = z.shape
    k = weight.shape[-1]
    c_out = weight.shape[0]
    wmat = weight.permute(0, 2, 3, 1).reshape(c_out * k * k, k_in)
    if z.stride(1) == 1 and z.stride(3) == k_in and z.stride(2) == w * k_in:  # channels-last
        # as a 1×1 conv: oneDNN's channels-last kernel is ~3× faster here than a GEMM with k² columns
        taps = F.conv2d(z, wmat[:, :, None, None].contiguous(memory_format=torch.channels_last)).contiguous()
    else:
        planes = z if (z.stride(3) == 1 and z.stride(2) == w and z.stride(1) == h * w) else z.contiguous()
        taps = torch.matmul(wmat, planes.flatten(2))
    p = k // 2
    taps = F.pad(taps.reshape(b, c_out * k * k, h, w), [p] * 4, mode="reflect").view(b, c_out, k * k, h + 2 * p, w + 2 * p)
    out = bias.view(1, -1, 1, 1).expand(b, -1, h, w).clone()
    for i in range(k):
        for j in range(k):
            out += taps[:, :, i * k + j, i : i + h, j : j + w]
    return out
