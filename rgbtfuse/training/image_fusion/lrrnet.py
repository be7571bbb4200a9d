"""LRRNet training (Li et al., TPAMI 2023, §3.4, Eq. 10–14) as in the authors' ``training_fusion_lrr.py``.

KAIST pairs, gray, resized to 128×128 (``cv2.resize``, bilinear); each image is min-max
normalised to [0, 1] before the network, the fused output is min-max normalised and ×255; the
VGG-16 loss network sees 0–255 gray images repeated to 3 channels (no ImageNet mean/std). Adam
1e-5, batch 8, 4 epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.losses.image import lrrnet_fusion_loss
from rgbtfuse.losses.vgg import VGG16Features
from rgbtfuse.training.image_fusion.data import DataConfig, build_dataset
from rgbtfuse.training.image_fusion.recipe import Recipe, register_recipe, take_options

LRRNET_FILE = "lrr_net.model"
_LOSS_DEFAULTS = {"gamma1": 10.0, "gamma2": 1.5, "beta2": 0.01, "beta3": 0.5, "gamma4": 2000.0, "w_ir": 3.0, "w_vi": 0.5}


@register_recipe("lrrnet")
def lrrnet(data: DataConfig, model: dict[str, Any], loss: dict[str, Any], device: torch.device) -> Recipe:
    """``model``: ``rank_channels`` (128), ``num_blocks`` (4), ``init``. ``loss``: the γ/β/w of
    Eq. 10–14 and ``vgg_weights`` (``imagenet`` = torch hub cache file, a path, or ``random``
    for tests), ``vgg_download`` (fetch the ImageNet file if missing). Export: one plain state
    dict, loadable by ``lrrnet``.
    """
    from rgbtfuse.image_fusion.lrrnet import LRRNet, minmax_normalize

    m = take_options("model", model, {"rank_channels": 128, "num_blocks": 4, "init": None})
    opts = take_options("loss", loss, {**_LOSS_DEFAULTS, "vgg_weights": "imagenet", "vgg_download": False})
    vgg = VGG16Features(opts.pop("vgg_weights"), download=opts.pop("vgg_download")).to(device)
    net = LRRNet(m["rank_channels"], m["num_blocks"], tile=None)
    if m["init"]:
        net.load_weights(m["init"])
    net.to(device)

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ir, vis = batch
        fused = minmax_normalize(net(minmax_normalize(vis), minmax_normalize(ir))) * 255
        with torch.no_grad():
            ir_feats, vis_feats = vgg(ir), vgg(vis)
        return lrrnet_fusion_loss(fused, ir, vis, vgg(fused), ir_feats, vis_feats, **opts)

    def export(folder: Path, epoch: int) -> list[Path]:
        sd = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return [atomic_torch_save(sd, Path(folder) / LRRNET_FILE)]

    return Recipe(net, loss_fn, build_dataset(data, pairs=True), export, "lrrnet")
