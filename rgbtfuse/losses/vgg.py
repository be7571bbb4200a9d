"""VGG-16 loss network (``relu1_2, relu2_2, relu3_3, relu4_3``) for LRRNet's perceptual loss.

Weights are the torchvision ImageNet file ``vgg16-397923af.pth``: from a path, or from the torch
hub cache where ``torchvision.models.vgg16(weights=...)`` puts it. Nothing is downloaded unless
``download=True``. Gray inputs are repeated to three channels and fed in 0–255 without ImageNet
mean/std — the LRRNet authors' training code does exactly that.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import vgg16

from rgbtfuse.checkpoint import extract_state_dict, load_state_dict, read_checkpoint
from rgbtfuse.errors import CheckpointError

VGG16_FILE = "vgg16-397923af.pth"
#: indices in ``vgg16().features`` of the ReLUs whose outputs the loss uses
TAPS = (3, 8, 15, 22)


def default_vgg16_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


class VGG16Features(nn.Module):
    """Frozen ``vgg16().features[:23]``; ``forward(x)`` → ``[relu1_2, relu2_2, relu3_3, relu4_3]``.

    Args:
        weights: path of a torchvision VGG-16 state dict; ``"imagenet"`` = the torch hub cache
            file; ``"random"`` = seeded random init (tests only: the loss is then meaningless).
        download: fetch the ImageNet file into the hub cache if it is missing.
    """

    def __init__(self, weights: str | Path = "imagenet", download: bool = False):
        super().__init__()
        self.features = vgg16(weights=None).features[: TAPS[-1] + 1]
        if str(weights) == "random":
            gen = torch.Generator().manual_seed(0)
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * 9
                    m.weight.data = torch.randn(m.weight.shape, generator=gen) * (2 / fan_in) ** 0.5
                    m.bias.data.zero_()
        else:
            path = default_vgg16_path() if str(weights) == "imagenet" else Path(weights)
            if not path.is_file():
                if download and str(weights) == "imagenet":
                    from torchvision.models import VGG16_Weights

                    VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
                else:
                    raise CheckpointError(
                        f"{path}: VGG-16 ImageNet weights not found; LRRNet's loss needs them. Put torchvision's {VGG16_FILE} "
                        f"there (or give loss.vgg_weights: PATH), or set loss.vgg_download: true to fetch it once"
                    )
            sd = extract_state_dict(read_checkpoint(path), source=str(path))
            sd = {k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.") and int(k.split(".")[1]) <= TAPS[-1]}
            load_state_dict(self.features, sd, strict=True, source=str(path))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        return super().train(False)  # a loss network: always in eval mode

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 1|3, H, W)`` in 0–255 → four feature maps."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                out.append(x)
        return out
