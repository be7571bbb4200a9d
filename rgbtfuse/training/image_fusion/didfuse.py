"""DIDFuse training (Zhao et al., IJCAI 2020, Eq. 1–4) as in the authors' ``train.py``.

FLIR 180 pairs, gray, centre-cropped to 128×128, scaled to [0, 1]; encoder and decoder trained
together in train mode (BatchNorm statistics per modality: one pass per image set); Adam 1e-3,
×0.1 after 40 and 80 of 120 epochs, batch 24.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.losses.image import didfuse_loss
from rgbtfuse.training.image_fusion.data import DataConfig, build_dataset
from rgbtfuse.training.image_fusion.recipe import Recipe, register_recipe, take_options

ENCODER_FILE = "Encoder_weight.pkl"
DECODER_FILE = "Decoder_weight.pkl"


@register_recipe("didfuse")
def didfuse(data: DataConfig, model: dict[str, Any], loss: dict[str, Any], device: torch.device) -> Recipe:
    """``model``: ``init`` (folder or [encoder, decoder] files). ``loss``: ``alpha1..4``, ``lam``.

    Export: ``Encoder_weight.pkl`` / ``Decoder_weight.pkl`` as ``{'weight': state_dict, 'epoch': n}``
    (the authors' files), loadable by ``didfuse`` as the list ``[encoder, decoder]``.
    """
    from rgbtfuse.image_fusion.didfuse import DIDFuse

    m = take_options("model", model, {"init": None})
    opts = take_options("loss", loss, {"alpha1": 0.05, "alpha2": 2.0, "alpha3": 2.0, "alpha4": 10.0, "lam": 5.0})
    net = DIDFuse()
    if m["init"]:
        net.load_weights(m["init"])
    net.to(device)
    dataset = build_dataset(data, pairs=True)

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ir, vis = (x / 255 for x in batch)
        fv, fi = net.encoder(vis), net.encoder(ir)  # (f1, f2, base, detail) each
        vis_rec, ir_rec = net.decoder(*fv), net.decoder(*fi)
        return didfuse_loss(ir, vis, ir_rec, vis_rec, fi[2], fv[2], fi[3], fv[3], **opts)

    def export(folder: Path, epoch: int) -> list[Path]:
        enc = {k: v.detach().cpu().clone() for k, v in net.encoder.state_dict().items()}
        dec = {k: v.detach().cpu().clone() for k, v in net.decoder.state_dict().items()}
        return [
            atomic_torch_save({"weight": enc, "epoch": epoch}, Path(folder) / ENCODER_FILE),
            atomic_torch_save({"weight": dec, "epoch": epoch}, Path(folder) / DECODER_FILE),
        ]

    return Recipe(net, loss_fn, dataset, export, "didfuse")

