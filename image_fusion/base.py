"""Common interface of the image-fusion networks.

``forward(rgb, ir)`` maps preprocessed ``(B, 1, H, W)`` tensors — the visible image (``rgb``, gray
or the luma of a colour image) and the infrared one, in the package's order (:mod:`rgbtfuse.modality`)
— to the network's raw fused output;
:meth:`ImageFusionNet.fuse_arrays` runs the whole published pipeline — the authors' pre-processing,
the network, their post-processing — on 8-bit gray images and returns the 8-bit result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from rgbtfuse.modality import visible_alias


class ImageFusionNet(nn.Module):
    """Base class; subclasses implement ``preprocess``, ``forward``, ``postprocess`` and ``load_weights``."""

    def preprocess(self, img: np.ndarray) -> torch.Tensor:
        """``(H, W)`` uint8 gray → ``(1, 1, H, W)`` float tensor as the authors feed it."""
        raise NotImplementedError

    def postprocess(self, fused: torch.Tensor) -> np.ndarray:
        """Raw ``(1, 1, H, W)`` output → ``(H, W)`` uint8 as the authors save it."""
        raise NotImplementedError

    def forward(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_weights(self, path: str | Path, strict: bool = True) -> None:
        raise NotImplementedError

    def fuse_tensors(self, rgb: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """Raw fused output of preprocessed inputs; networks override it to bound memory (tiling)."""
        return self(rgb, ir)

    @visible_alias
    @torch.inference_mode()
    def fuse_arrays(self, rgb: np.ndarray, ir: np.ndarray) -> np.ndarray:
        """Fuse two aligned ``(H, W)`` uint8 gray images (visible, infrared) → ``(H, W)`` uint8."""
        device = next(self.parameters()).device
        out = self.fuse_tensors(self.preprocess(rgb).to(device), self.preprocess(ir).to(device))
        return self.postprocess(out)
