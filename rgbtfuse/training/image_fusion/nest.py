"""NestFuse / RFN-Nest training (Li et al. 2020, 2021): auto-encoder stage 1, RFN stage 2.

Both follow the authors' ``train_autoencoder.py`` / ``train_fusionnet.py``: gray images in
0–255 (no normalisation), 256×256 (nearest-neighbour resize), Adam 1e-4, batch 4, 2 epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.checkpoint import extract_state_dict, load_state_dict, read_checkpoint
from rgbtfuse.errors import CheckpointError
from rgbtfuse.losses.image import nest_autoencoder_loss, rfn_nest_fusion_loss
from rgbtfuse.training.image_fusion.data import DataConfig, build_dataset
from rgbtfuse.training.image_fusion.recipe import Recipe, register_recipe, take_options

AUTOENCODER_FILE = "nestfuse_autoencoder.model"
RFN_FILE = "rfn.model"


@register_recipe("nest_autoencoder")
def nest_autoencoder(data: DataConfig, model: dict[str, Any], loss: dict[str, Any], device: torch.device) -> Recipe:
    """Stage 1: the nest auto-encoder reconstructs single images (MS-COCO in the papers).

    ``model``: ``deepsupervision`` (three outputs, the ``*_deep_super`` checkpoints), ``init``
    (weights to start from). ``loss``: ``ssim_weight`` λ (paper: 100, i.e. ``1e2`` in the
    published file names). Export: one file, loadable by ``nestfuse`` and as the first file of
    ``rfn_nest``.
    """
    from rgbtfuse.image_fusion.nestfuse import NestFuse

    m = take_options("model", model, {"deepsupervision": False, "init": None})
    opts = take_options("loss", loss, {"ssim_weight": 100.0})
    net = NestFuse("attention_avg", deepsupervision=m["deepsupervision"])
    if m["init"]:
        net.load_weights(m["init"])
    net.to(device)

    def loss_fn(image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return nest_autoencoder_loss(net.decode(net.encode(image)), image, opts["ssim_weight"])

    def export(folder: Path, epoch: int) -> list[Path]:
        return [atomic_torch_save(_cpu(net.state_dict()), Path(folder) / AUTOENCODER_FILE)]

    return Recipe(net, loss_fn, build_dataset(data, pairs=False), export, "nestfuse")


@register_recipe("rfn_nest_stage2")
def rfn_nest_stage2(data: DataConfig, model: dict[str, Any], loss: dict[str, Any], device: torch.device) -> Recipe:
    """Stage 2: the four RFNs on aligned IR/visible pairs (KAIST in the paper), auto-encoder frozen.

    ``model``: ``autoencoder`` (stage-1 file, required), ``init`` (RFN weights to start from).
    ``loss``: ``alpha`` (700), ``w_ir`` (6), ``w_vi`` (3), ``w1`` ([1, 10, 100, 1000]). Export:
    the auto-encoder file (unchanged) and the RFN file — ``rfn_nest`` loads the two as a list.
    """
    from rgbtfuse.image_fusion.rfn_nest import RFNNest

    m = take_options("model", model, {"autoencoder": None, "init": None})
    opts = take_options("loss", loss, {"alpha": 700.0, "w_ir": 6.0, "w_vi": 3.0, "w1": [1.0, 10.0, 100.0, 1000.0]})
    if not m["autoencoder"]:
        raise CheckpointError("model.autoencoder: RFN-Nest stage 2 needs the stage-1 auto-encoder weights (e.g. nestfuse_gray_1e2.model)")
    net = RFNNest()
    files = [m["autoencoder"]] + ([m["init"]] if m["init"] else [])
    if m["init"]:
        net.load_weights(files)
    else:
        _load_autoencoder(net, m["autoencoder"])
    for name, p in net.named_parameters():
        p.requires_grad_(name.startswith("fusion_block"))
    net.to(device)

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ir, vis = batch
        with torch.no_grad():  # frozen encoder
            ir_feats, vis_feats = net.encode(ir), net.encode(vis)
        fused = net.fuse_features(vis_feats, ir_feats)
        output = net.decode(fused)[-1]
        return rfn_nest_fusion_loss(output, vis, fused, ir_feats, vis_feats, **opts)

    def export(folder: Path, epoch: int) -> list[Path]:
        sd = _cpu(net.state_dict())
        rfn = {k: v for k, v in sd.items() if k.startswith("fusion_block")}
        ae = {k: v for k, v in sd.items() if k not in rfn}
        return [atomic_torch_save(ae, Path(folder) / AUTOENCODER_FILE), atomic_torch_save(rfn, Path(folder) / RFN_FILE)]

    return Recipe(net, loss_fn, build_dataset(data, pairs=True), export, "rfn_nest")


def _load_autoencoder(net: torch.nn.Module, path: str | Path) -> None:
    sd = extract_state_dict(read_checkpoint(path), source=str(path))
    own = {k for k in net.state_dict() if not k.startswith("fusion_block")}
    missing, unexpected = sorted(own - set(sd)), sorted(set(sd) - own)
    if missing or unexpected:
        raise CheckpointError(f"{path}: not a nest auto-encoder checkpoint (missing {missing[:8]}, unexpected {unexpected[:8]})")
    load_state_dict(net, sd, strict=False, source=str(path))


def _cpu(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in sd.items()}
