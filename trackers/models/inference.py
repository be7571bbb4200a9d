"""A faster copy of a trained Siamese model for tracking on CPU.

Two exact-up-to-rounding rewrites, applied to a deep copy so the model itself (and its
published state-dict layout) is untouched:

* every ``Conv2d`` directly followed by a ``BatchNorm2d`` in an ``nn.Sequential`` of the
  backbone(s), neck and head gets the (frozen, eval-mode) BN folded into its weights; the BN
  becomes an ``Identity``. Fusion modules are left as they are.
* the backbone(s) run in channels-last memory layout, which oneDNN's depthwise and 1×1
  convolutions of MobileNet-like networks execute much faster; their outputs are handed on in
  the usual contiguous layout.

On NanoTrack v2 this halves the CPU time of a fused step; outputs differ from the original
model by float rounding (~1e-4 on the logits).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from rgbtfuse.trackers.models.siamese import SiameseRGBT, _as_list


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold eval-mode ``BatchNorm2d`` into the ``Conv2d`` before it, in every ``nn.Sequential``."""
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                seq[i + 1] = nn.Identity()
    return module


class ChannelsLast(nn.Module):
    """Runs ``body`` on channels-last input; returns its output map(s) contiguous (NCHW)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        out = self.body(x.contiguous(memory_format=torch.channels_last))
        if isinstance(out, torch.Tensor):
            return out.contiguous()
        return [f.contiguous() for f in _as_list(out)]


def inference_copy(model: SiameseRGBT) -> SiameseRGBT:
    """Deep copy of ``model`` in eval mode with BN folded and channels-last backbones."""
    net = copy.deepcopy(model).eval()
    for name in ("backbone", "backbone_ir", "neck", net.head_name):
        part = getattr(net, name, None)
        if part is not None:
            fold_batchnorm(part)
    for name in ("backbone", "backbone_ir"):
        part = getattr(net, name, None)
        if part is not None:
            setattr(net, name, ChannelsLast(part))
    return net
