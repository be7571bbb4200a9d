"""The nest-connection auto-encoder shared by NestFuse and RFN-Nest (Li et al., 2020/2021).

Encoder: ``conv0`` (1×1, 1→16) and four blocks ``DB{s}_0`` with 2×2 max-pooling between them →
features of 64, 112, 160, 208 channels at strides 1, 2, 4, 8. Decoder (nest connections,
Fig. 3 of RFN-Nest): ``DB{s}_{j}`` blocks fed the concatenation of the same-row outputs and
the ×2 nearest-upsampled block below, and a 1×1 output conv. Every conv is Hui Li's
reflection-pad + conv + ReLU. Module names equal the authors' so state-dict keys match the
published ``nestfuse_1e2.model`` / ``nestfuse_gray_1e2.model`` exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rgbtfuse.checkpoint import extract_state_dict, load_state_dict, read_checkpoint
from rgbtfuse.errors import ImageSizeError
from rgbtfuse.fusion.layers import ConvLayer
from rgbtfuse.image_fusion.base import ImageFusionNet

#: encoder channels per scale in the published models
NEST_CHANNELS = (64, 112, 160, 208)
#: smallest input side: the coarsest (stride-8) map must be ≥ 2 pixels for the 3×3 reflection pad
MIN_SIDE = 16
#: the authors' test code splits images with a side above this into four parts
SPLIT_ABOVE = 512
#: decoder nodes run in row bands of about this many input elements (16 MB float32) without autograd
BAND_ELEMENTS = 1 << 22


class NestBlock(nn.Module):
    """The authors' ``DenseBlock_light``: 3×3 conv ``C_in → C_in // 2``, then 1×1 conv → ``C_out``.

    ``forward(x, coarse=None)``: ``x`` is the input or the list of same-resolution inputs the
    decoder concatenates; ``coarse`` is the node below, concatenated last after :func:`upsample_like`
    (see :class:`ConvLayer`, which convolves it without upsampling it). Without autograd a node
    with a coarse input runs in row bands through both convs, so neither its concatenated input nor
    its ``C_in // 2``-channel middle map exists at full size (the decoder's largest tensors).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = in_channels // 2
        self.denseblock = nn.Sequential(ConvLayer(in_channels, mid, 3), ConvLayer(mid, out_channels, 1))

    def forward(self, x: torch.Tensor | list[torch.Tensor], coarse: torch.Tensor | None = None) -> torch.Tensor:
        expand, squeeze = self.denseblock
        parts = [x] if isinstance(x, torch.Tensor) else list(x)
        grad = expand.records_grad(parts, coarse) or squeeze.records_grad([], None)  # inputs, or either conv's weights
        if coarse is None or grad or not expand.takes_phases(parts, coarse):
            return squeeze(expand(parts, coarse))
        b, _, h, w = parts[0].shape
        c_in = sum(p.shape[1] for p in parts) + coarse.shape[1]
        rows = max(2, BAND_ELEMENTS // (b * c_in * (w + 2)) // 2 * 2)  # even: bands start on a coarse row
        coarse_padded = F.pad(coarse, (1, 1, 1, 1), mode="replicate")
        out = torch.empty((b, squeeze.conv2d.out_channels, h, w), dtype=parts[0].dtype, device=parts[0].device,
                          memory_format=torch.channels_last)
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            out[:, :, r0:r1] = squeeze(expand.forward_rows(parts, coarse_padded, r0, r1))
        return out


class NestAutoEncoderNet(ImageFusionNet):
    """Encoder + (subclass-defined) per-scale fusion + nest decoder, on 0–255 gray tensors.

    Args:
        channels: encoder channels per scale (the published models: 64, 112, 160, 208).
        deepsupervision: build the three deep-supervision output convs ``conv1..3`` (the
            ``*_deep_super.model`` checkpoints) instead of the single ``conv_out``; the fused
            image is then the output of ``conv3`` (on the last nest node), see :meth:`decode`.
        minmax_eps: ε in the min-max output scaling (NestFuse 0, RFN-Nest 1e-10).
        authors_split: in :meth:`fuse_tensors` / ``fuse_arrays``, fuse images larger than 512 pixels in four
            overlapping quadrants and average them, as the authors' test code does (reproduces
            their published outputs for such images, seams included). Default: whole image.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = NEST_CHANNELS,
        deepsupervision: bool = False,
        minmax_eps: float = 0.0,
        authors_split: bool = False,
    ):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.deepsupervision = deepsupervision
        self.minmax_eps = minmax_eps
        self.authors_split = authors_split
        self.conv0 = ConvLayer(1, 16, 1)
        self.DB1_0 = NestBlock(16, c1)
        self.DB2_0 = NestBlock(c1, c2)
        self.DB3_0 = NestBlock(c2, c3)
        self.DB4_0 = NestBlock(c3, c4)
        self.DB1_1 = NestBlock(c1 + c2, c1)
        self.DB2_1 = NestBlock(c2 + c3, c2)
        self.DB3_1 = NestBlock(c3 + c4, c3)
        self.DB1_2 = NestBlock(2 * c1 + c2, c1)
        self.DB2_2 = NestBlock(2 * c2 + c3, c2)
        self.DB1_3 = NestBlock(3 * c1 + c2, c1)
        if deepsupervision:
            self.conv1 = ConvLayer(c1, 1, 1)
            self.conv2 = ConvLayer(c1, 1, 1)
            self.conv3 = ConvLayer(c1, 1, 1)
        else:
            self.conv_out = ConvLayer(c1, 1, 1)

    # -- network ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 1, H, W)`` → features at strides 1, 2, 4, 8 (``H // 2**s`` by floor pooling)."""
        if min(x.shape[-2:]) < MIN_SIDE:
            raise ImageSizeError(f"{type(self).__name__} needs images of at least {MIN_SIDE}×{MIN_SIDE} pixels, got {x.shape[-1]}×{x.shape[-2]}")
        # channels-last from here on: oneDNN's native layout, 2–3× faster convolutions on CPU than NCHW
        x1 = self.DB1_0(self.conv0(x).contiguous(memory_format=torch.channels_last))
        x2 = self.DB2_0(F.max_pool2d(x1, 2))
        x3 = self.DB3_0(F.max_pool2d(x2, 2))
        x4 = self.DB4_0(F.max_pool2d(x3, 2))
        return [x1, x2, x3, x4]

    def fuse_features(self, rgb: list[torch.Tensor], ir: list[torch.Tensor]) -> list[torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def decode(self, f: list[torch.Tensor]) -> list[torch.Tensor]:
        """Fused features → output images: ``[conv_out]``, or ``[conv1, conv2, conv3]`` with deep supervision.

        Each node takes the concatenation of its row's earlier nodes and the node below, upsampled
        with :func:`~rgbtfuse.fusion.layers.upsample_like` (the authors' ``decoder_eval``), so odd
        sizes decode to the input size.
        """
        f1, f2, f3, f4 = f
        x1_1 = self.DB1_1([f1], f2)
        x2_1 = self.DB2_1([f2], f3)
        x1_2 = self.DB1_2([f1, x1_1], x2_1)
        x3_1 = self.DB3_1([f3], f4)
        x2_2 = self.DB2_2([f2, x2_1], x3_1)
        x1_3 = self.DB1_3([f1, x1_1, x1_2], x2_2)
        if self.deepsupervision:
            return [self.conv1(x1_1), self.conv2(x1_2), self.conv3(x1_3)]
        return [self.conv_out(x1_3)]

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """``rgb, ir: (B, 1, H, W)`` gray 0–255 → fused ``(B, 1, H, W)`` (raw, before min-max)."""
        ir_feats = self.encode(ir)  # the authors encode the infrared image first
        fused = self.fuse_features(self.encode(rgb), ir_feats)
        return self.decode(fused)[-1]

    # -- the authors' pre/post-processing ----------------------------------------------------
    def preprocess(self, img: np.ndarray) -> torch.Tensor:
        """``(H, W)`` uint8 → ``(1, 1, H, W)`` float32 in 0–255 (no normalisation, as published)."""
        if img.ndim != 2:
            raise ImageSizeError(f"{type(self).__name__} fuses gray images, got an array of shape {img.shape}")
        return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]

    def postprocess(self, fused: torch.Tensor) -> np.ndarray:
        """Per-image min-max to 0–255, then truncation to uint8 (the authors' ``save_image_test``).

        Computed in float32 numpy like theirs; a constant output (zero range) gives 0 instead
        of NestFuse's NaN.
        """
        img = fused.detach().float().cpu().numpy()[0, 0]
        lo, hi = np.min(img), np.max(img)
        span = (hi - lo) + np.float32(self.minmax_eps)
        if span == 0:
            return np.zeros(img.shape, np.uint8)
        return ((img - lo) / span * np.float32(255)).astype(np.uint8)

    def fuse_tensors(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """Raw fused ``(1, 1, H, W)`` of preprocessed inputs; see ``authors_split`` for large images."""
        h, w = ir.shape[-2:]
        if not self.authors_split or max(h, w) <= SPLIT_ABOVE:
            return self(rgb, ir)
        fused = ir.new_zeros(1, 1, h, w)
        count = ir.new_zeros(1, 1, h, w)
        # the authors' get_img_parts / recons_fusion_images: quadrants overlapping by 5 pixels
        hc, wc = h // 2, w // 2
        for rows in (slice(0, hc + 3), slice(hc - 2, h)):
            for cols in (slice(0, wc + 3), slice(wc - 2, w)):
                fused[..., rows, cols] += self(rgb[..., rows, cols], ir[..., rows, cols])
                count[..., rows, cols] += 1
        return fused / count

    # -- weights ---------------------------------------------------------------------------
    @staticmethod
    def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
        return extract_state_dict(read_checkpoint(path), source=str(path))

    def load_weights(self, path: str | Path, strict: bool = True) -> None:
        """Load a checkpoint in the published key format (strict: key names and shapes must match)."""
        load_state_dict(self, self._read_state_dict(path), strict=strict, source=str(path))
