"""DIDFuse (Zhao et al., IJCAI 2020) on its published weights, with fusion rules from :mod:`rgbtfuse.fusion`.

The encoder decomposes an image into four feature maps (64 channels each): ``f1``, ``f2`` and the
background/detail maps ``base``/``detail``; each pair is fused by a per-scale fusion module and the
decoder reconstructs the fused image. State-dict keys are ``encoder.<published encoder keys>`` and
``decoder.<published decoder keys>`` (``Encoder_weight_IJCAI.pkl``/``Decoder_weight_IJCAI.pkl`` hold
``{'weight': state_dict, 'epoch': 120}``).

Fusion rules (the authors' ``addition_mode``): ``'Sum'`` = ``add`` (published results, default),
``'Average'`` = ``mean``, ``'l1_norm'`` = ``l1`` (3×3 zero-padded box over ``Σ_c|φ|``, no ε); any other
registered fusion name works too.

Pipeline of the authors' ``test.py``: input ``gray / 255``; output ``sigmoid`` map ``· 255`` rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rgbtfuse.checkpoint import load_checkpoint
from rgbtfuse.errors import CheckpointError
from rgbtfuse.fewconv import conv_from_few, conv_to_few
from rgbtfuse.fusion import MultiScaleFusion
from rgbtfuse.image_fusion.base import ImageFusionNet
from rgbtfuse.image_fusion.registry import register_model
from rgbtfuse.image_fusion.tiling import tiled_forward

ENCODER_FILE = "Encoder_weight_IJCAI.pkl"
DECODER_FILE = "Decoder_weight_IJCAI.pkl"
CHANNELS = 64
#: layers with at most this many input or output channels run as matrix products (rgbtfuse.fewconv)
FEW_CHANNELS = 4


class _Stage(nn.Module):
    """[pad] + conv + BatchNorm + activation, held as a named ``nn.Sequential`` inside a module of the
    same name (published keys ``cov1.cov1.1.weight``).

    In eval mode without autograd the BatchNorm is folded into the conv (recomputed per call, so weights loaded or
    changed later are always used), the 64-channel convs run channels-last (oneDNN's fast layout on
    CPU), the reflect-padded first and last layers (1 channel in / out) run as matrix products
    (:mod:`rgbtfuse.fewconv`) and the activation is applied in place.
    """

    def __init__(self, name: str, *layers: nn.Module):
        super().__init__()
        self.name = name
        self.add_module(name, nn.Sequential(*layers))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Inputs are concatenated along channels (the decoder's skip connections)."""
        layers = getattr(self, self.name)
        if self.training or torch.is_grad_enabled():
            return layers(torch.cat(inputs, 1))
        *pad, conv, bn, act = layers
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = (conv.bias - bn.running_mean) * scale + bn.bias
        if isinstance(act, nn.Tanh):  # tanh(x) = 2·sigmoid(2x) − 1: the 2x comes free with the weights
            scale, bias = 2 * scale, 2 * bias
        weight = conv.weight * scale[:, None, None, None]
        weights = weight.split([x.shape[1] for x in inputs], 1)
        if pad and conv.in_channels <= FEW_CHANNELS:  # reflect-padded first layer
            return _activate_(act, conv_from_few(inputs[0], weight, bias, channels_last=True))
        if pad and conv.out_channels <= FEW_CHANNELS:  # reflect-padded last layer
            out = conv_to_few(inputs[0], weights[0], bias)
            for x, w in zip(inputs[1:], weights[1:]):
                out += conv_to_few(x, w, torch.zeros_like(bias))
            return _activate_(act, out)
        # conv(cat(a, b)) = conv_a(a) + conv_b(b): spares the large concatenated copy
        out = F.conv2d(inputs[0].contiguous(memory_format=torch.channels_last), _cl(weights[0]), bias, padding=conv.padding)
        for x, w in zip(inputs[1:], weights[1:]):
            out += F.conv2d(x.contiguous(memory_format=torch.channels_last), _cl(w), padding=conv.padding)
        return _activate_(act, out)


def _cl(weight: torch.Tensor) -> torch.Tensor:
    return weight.contiguous(memory_format=torch.channels_last)


def _activate_(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` computed in place (a fresh large output costs as much as the arithmetic); for
    ``nn.Tanh``, ``x`` is twice the pre-activation."""
    if isinstance(act, nn.PReLU) and act.weight.numel() == 1:
        return F.leaky_relu_(x, float(act.weight))  # single-slope PReLU is leaky ReLU
    if isinstance(act, nn.Tanh):
        # x holds 2·(pre-activation) (see forward): tanh = 2·sigmoid(2x) − 1, ~3× faster than torch's
        # vectorised tanh on CPU, within 2e-7; lerp(s, 1, −1) = 2s − 1 in one pass
        return x.sigmoid_().lerp_(x.new_ones(()), -1.0)
    if isinstance(act, nn.Sigmoid):
        return x.sigmoid_()
    return act(x)


def _conv_bn(in_channels: int, out_channels: int, activation: nn.Module, reflect: bool) -> list[nn.Module]:
    """3×3 'same' conv (reflection- or zero-padded, as published per layer) + BatchNorm + activation."""
    if reflect:
        return [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3), nn.BatchNorm2d(out_channels), activation]
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), activation]


class DIDFuseEncoder(nn.Module):
    """``(B, 1, H, W)`` → ``f1, f2, base, detail``, each ``(B, 64, H, W)``."""

    def __init__(self) -> None:
        super().__init__()
        self.cov1 = _Stage("cov1", *_conv_bn(1, CHANNELS, nn.PReLU(), reflect=True))
        self.cov2 = _Stage("cov2", *_conv_bn(CHANNELS, CHANNELS, nn.PReLU(), reflect=False))
        self.cov3 = _Stage("cov3", *_conv_bn(CHANNELS, CHANNELS, nn.Tanh(), reflect=False))
        self.cov4 = _Stage("cov4", *_conv_bn(CHANNELS, CHANNELS, nn.Tanh(), reflect=False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f1 = self.cov1(x)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class DIDFuseDecoder(nn.Module):
    """``f1, f2, base, detail`` (``(B, 64, H, W)`` each) → image ``(B, 1, H, W)`` in (0, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.cov5 = _Stage("cov5", *_conv_bn(2 * CHANNELS, CHANNELS, nn.PReLU(), reflect=False))
        self.cov6 = _Stage("cov6", *_conv_bn(2 * CHANNELS, CHANNELS, nn.PReLU(), reflect=False))
        self.cov7 = _Stage("cov7", *_conv_bn(2 * CHANNELS, 1, nn.Sigmoid(), reflect=True))

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, base: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        return self.cov7(self.cov6(self.cov5(base, detail), f2), f1)


@register_model("didfuse", rule_kwarg="fusion", weight_files=2)
class DIDFuse(ImageFusionNet):
    """DIDFuse: ``forward(rgb, ir)`` on ``(B, 1, H, W)`` in [0, 1] → fused ``(B, 1, H, W)`` in (0, 1).

    Args:
        fusion: fusion rule for the four feature pairs (``add`` = the authors' 'Sum').
        tile: side of the tiles :meth:`fuse_tensors` cuts large images into (exact, see
            :mod:`rgbtfuse.image_fusion.tiling`). ``None``: whole image at once.
        halo: context around each tile; covers the network's 6-pixel receptive radius plus the
            fusion rule's own (``l1``: 1; ``llrr`` with 4 blocks: 11).
        **fusion_cfg: options of the fusion rule (e.g. ``window`` for ``l1``).
    """

    def __init__(self, fusion: str = "add", tile: int | None = 768, halo: int = 24, **fusion_cfg: Any):
        super().__init__()
        self.encoder = DIDFuseEncoder()
        self.decoder = DIDFuseDecoder()
        self.fusion = MultiScaleFusion.build(fusion, [CHANNELS] * 4, **fusion_cfg)
        self.tile = tile
        self.halo = halo

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        if self.training:  # separate passes: BatchNorm statistics per modality
            rgb_feats, ir_feats = self.encoder(rgb), self.encoder(ir)
        else:  # one batched pass
            feats = self.encoder(torch.cat([rgb, ir]))
            rgb_feats, ir_feats = [f[: len(rgb)] for f in feats], [f[len(rgb) :] for f in feats]
        return self.decoder(*self.fusion(rgb_feats, ir_feats))

    def fuse_tensors(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return tiled_forward(self, rgb, ir, self.tile, self.halo)

    def preprocess(self, img: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(np.ascontiguousarray(img)).float() / 255)[None, None]

    def postprocess(self, fused: torch.Tensor) -> np.ndarray:
        return np.rint(fused[0, 0].float().cpu().numpy() * 255).clip(0, 255).astype(np.uint8)

    def load_weights(self, path: str | Path | Sequence[str | Path], strict: bool = True) -> None:
        """Load published or saved weights.

        ``path`` is one of: the folder holding ``Encoder_weight_IJCAI.pkl`` and
        ``Decoder_weight_IJCAI.pkl``; a pair ``(encoder_file, decoder_file)``; or one file with this
        class's own state_dict (``encoder.*``, ``decoder.*``).
        """
        if isinstance(path, (str, Path)) and not Path(path).is_dir():
            load_checkpoint(self, path, strict=strict)
            return
        if isinstance(path, (str, Path)):
            encoder_file, decoder_file = Path(path) / ENCODER_FILE, Path(path) / DECODER_FILE
        elif len(path) == 2:
            encoder_file, decoder_file = path
        else:
            raise CheckpointError(f"DIDFuse weights: expected a folder or (encoder, decoder) files, got {path!r}")
        load_checkpoint(self.encoder, encoder_file, strict=strict)
        load_checkpoint(self.decoder, decoder_file, strict=strict)
