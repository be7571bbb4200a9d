"""LRRNet (Li, Xu, Wu, Lu, Kittler — TPAMI 2023) on its published weights.

Two :class:`~rgbtfuse.fusion.llrr.LLRRDecomposition` branches (``get_ls1`` for the infrared image,
``get_ls2`` for the visible one, as in the authors' code) and the
:class:`~rgbtfuse.fusion.llrr.LowRankSparseDecoder` (``decoder``); state-dict keys and shapes are
those of ``final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model`` (49,204 parameters).

Pipeline of the authors' test script (``testing_fusion_lrr.py``):
  * input: each gray image as float, ``(x − min) / (max − min + 1e-5)``;
  * output: fused ``= L_f + S_f``, then ``(f − min) / (max − min + 1e-5) · 255`` truncated to uint8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rgbtfuse.checkpoint import load_checkpoint
from rgbtfuse.fusion.llrr import LLRRDecomposition, LowRankSparseDecoder
from rgbtfuse.image_fusion.base import ImageFusionNet
from rgbtfuse.image_fusion.registry import register_model
from rgbtfuse.image_fusion.tiling import tiled_forward

#: the authors' ε of both min-max normalisations
EPSILON = 1e-5


def minmax_normalize(x: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Per-sample ``(x − min) / (max − min + eps)`` over all of ``(C, H, W)``."""
    flat = x.flatten(1)
    lo = flat.amin(1).view(-1, *([1] * (x.dim() - 1)))
    hi = flat.amax(1).view(-1, *([1] * (x.dim() - 1)))
    return (x - lo) / (hi - lo + eps)


@register_model("lrrnet", rule_kwarg=None)
class LRRNet(ImageFusionNet):
    """LRRNet image fusion: ``forward(rgb, ir)`` on ``(B, 1, H, W)`` in [0, 1] → raw fused ``(B, 1, H, W)``.

    Args:
        rank_channels: n, low-rank and sparse coefficient channels per branch (published: 128).
        num_blocks: LLRR blocks per branch (published: 4).
        tile: side of the tiles :meth:`fuse_tensors` cuts large images into (exact, see
            :mod:`rgbtfuse.image_fusion.tiling`); bounds memory. ``None``: whole image at once.
    """

    def __init__(self, rank_channels: int = 128, num_blocks: int = 4, tile: int | None = 512):
        super().__init__()
        self.get_ls1 = LLRRDecomposition(1, rank_channels, num_blocks)
        self.get_ls2 = LLRRDecomposition(1, rank_channels, num_blocks)
        self.decoder = LowRankSparseDecoder(rank_channels, 1)
        self.tile = tile
        # every 3×3 conv widens the receptive field by one pixel: C_0, 2 per block, 2 in the decoder
        self.receptive_radius = 1 + 2 * num_blocks + 2

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        # the published weights decompose the infrared image with get_ls1, the visible with get_ls2
        return self.decoder(*self.get_ls1(ir), *self.get_ls2(rgb))

    def fuse_tensors(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return tiled_forward(self, rgb, ir, self.tile, self.receptive_radius)

    def preprocess(self, img: np.ndarray) -> torch.Tensor:
        return minmax_normalize(torch.from_numpy(np.ascontiguousarray(img)).float()[None, None])

    def postprocess(self, fused: torch.Tensor) -> np.ndarray:
        # no clamp before the normalisation: the authors' GPU path (args.cuda = 1) has none
        out = fused[0, 0].float().cpu().numpy()
        lo, hi = out.min(), out.max()
        return ((out - lo) / (hi - lo + EPSILON) * 255).astype(np.uint8)

    def load_weights(self, path: str | Path, strict: bool = True) -> None:
        """Load the published ``.model`` file (a plain state_dict) or one saved from this class."""
        load_checkpoint(self, path, strict=strict)
