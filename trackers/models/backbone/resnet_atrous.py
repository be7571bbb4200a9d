"""pysot's atrous ResNet-50 (SiamRPN++): output stride 8 from ``layer2`` on.

Deviations from torchvision's ResNet-50, all needed for pysot's checkpoints and outputs:

* ``conv1`` is 7×7 stride 2 **without padding** (a 127 template gives 61×61, not 64×64);
* ``layer2``'s first block strides with an unpadded 3×3 ``conv2`` and an unpadded 3×3 stride-2
  downsample conv (instead of a 1×1 one);
* ``layer3``/``layer4`` keep stride 1 and dilate instead (2 and 4). Their first block uses half
  the dilation (1 and 2) in ``conv2`` and in a 3×3 downsample conv padded by that dilation;
  every other block uses the full dilation, padded by it.

Feature sizes: 127 → 15×15, 255 → 31×31 for ``layer2``–``layer4`` (512/1024/2048 channels).
A layer that is neither used nor needed is not built (its keys are absent, as in pysot).
"""

from __future__ import annotations

import torch
from torch import nn

#: output channels of the feature list ``[relu(conv1), layer1, layer2, layer3, layer4]``
LAYER_CHANNELS = (64, 256, 512, 1024, 2048)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride or dilation) → 1×1 ×4 bottleneck with pysot's padding rules.

    ``dilation`` is the layer's dilation; a block with a ``downsample`` halves it in ``conv2``
    (pysot's transition into a dilated layer). Padding: ``dilation`` if > 1, else 1 at stride 1
    and 0 at stride 2.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, dilation: int = 1):
        super().__init__()
        if downsample is not None and dilation > 1:
            dilation //= 2
        if stride != 1 and dilation != 1:
            raise ValueError("a bottleneck either strides or dilates, not both")
        padding = dilation if dilation > 1 else 2 - stride
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=padding, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetAtrous(nn.Module):
    """ResNet with pysot's atrous ``layer3``/``layer4``.

    Args:
        layers: blocks per stage, ``(3, 4, 6, 3)`` for ResNet-50.
        used_layers: indices into ``[relu(conv1), layer1, layer2, layer3, layer4]`` to return.

    Shape: ``(B, 3, H, W)`` raw 0–255 BGR → list of ``(B, C_i, H_i, W_i)``, one per used layer
    (a single tensor when only one layer is used, as in pysot).
    """

    def __init__(self, layers: tuple[int, int, int, int] = (3, 4, 6, 3), used_layers: list[int] = (2, 3, 4)):
        super().__init__()
        self.used_layers = list(used_layers)
        self.channels = [LAYER_CHANNELS[i] for i in self.used_layers]
        self._in_channels = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], dilation=2) if 3 in self.used_layers else None
        self.layer4 = self._make_layer(512, layers[3], dilation=4) if 4 in self.used_layers else None

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        out_channels = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or self._in_channels != out_channels:
            if stride == 1 and dilation == 1:
                conv = nn.Conv2d(self._in_channels, out_channels, 1, bias=False)
            else:
                # 3×3 downsample: unpadded when striding, else at half the layer's dilation
                half = dilation // 2 if dilation > 1 else 1
                pad = half if dilation > 1 else 0
                conv = nn.Conv2d(self._in_channels, out_channels, 3, stride=stride, padding=pad, dilation=half, bias=False)
            downsample = nn.Sequential(conv, nn.BatchNorm2d(out_channels))
        blocks_ = [Bottleneck(self._in_channels, planes, stride, downsample, dilation)]
        self._in_channels = out_channels
        blocks_ += [Bottleneck(out_channels, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        last = max(self.used_layers)
        feats = [self.relu(self.bn1(self.conv1(x)))]
        x = self.maxpool(feats[0])
        for i, layer in enumerate((self.layer1, self.layer2, self.layer3, self.layer4), start=1):
            if i > last:
                break
            if layer is not None:  # an unbuilt layer is the identity, as in pysot
                x = layer(x)
            feats.append(x)
        out = [feats[i] for i in self.used_layers]
        return out[0] if len(out) == 1 else out


def resnet50(used_layers: list[int] = (2, 3, 4)) -> ResNetAtrous:
    """pysot's ``resnet50`` backbone (``BACKBONE.TYPE: resnet50``)."""
    return ResNetAtrous((3, 4, 6, 3), used_layers)
