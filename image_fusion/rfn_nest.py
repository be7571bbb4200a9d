"""RFN-Nest (Li, Wu, Kittler, Information Fusion 2021): nest auto-encoder + learnable RFN fusion.

The published model lives in two files: the auto-encoder ``nestfuse_gray_1e2.model`` (keys
``conv0.*``, ``DB*.*``, ``conv_out.*``) and the four RFNs
``Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model`` (keys ``fusion_block{1..4}.*``). This
network holds both key sets side by side, so its state dict is exactly their union.

>>> net = create_model("rfn_nest", weights="models/")            # doctest: +SKIP
>>> net.load_weights(["nestfuse_gray_1e2.model", "Final_epoch_2_..._ssim_vi.model"])  # doctest: +SKIP

(``weights`` = the folder holding both published files, or the two files in order.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rgbtfuse.checkpoint import load_state_dict
from rgbtfuse.errors import CheckpointError
from rgbtfuse.fusion import build_fusion
from rgbtfuse.image_fusion.nest import NEST_CHANNELS, NestAutoEncoderNet
from rgbtfuse.image_fusion.registry import register_model

#: file names of the published checkpoints (auto-encoder, RFN)
PUBLISHED_FILES = ("nestfuse_gray_1e2.model", "Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model")


class RFNNest(NestAutoEncoderNet):
    """RFN-Nest: one fusion module per scale, stored as ``fusion_block1..4`` (the authors' names).

    Args:
        fusion: registered fusion name per scale (default ``rfn``, the published RFN).
        deepsupervision: build ``conv1..3`` instead of ``conv_out`` (the published model has not).
        authors_split: fuse images > 512 px in four overlapping parts, as the authors' test code.
        **fusion_cfg: options of the fusion module.
    """

    def __init__(self, fusion: str = "rfn", deepsupervision: bool = False, authors_split: bool = False, **fusion_cfg: Any):
        super().__init__(NEST_CHANNELS, deepsupervision, minmax_eps=1e-10, authors_split=authors_split)
        self.fusion_name = fusion
        for i, c in enumerate(NEST_CHANNELS, 1):
            self.add_module(f"fusion_block{i}", build_fusion(fusion, c, **fusion_cfg))

    def fuse_features(self, rgb: list[torch.Tensor], ir: list[torch.Tensor]) -> list[torch.Tensor]:
        return [getattr(self, f"fusion_block{i}")(f_rgb, f_ir) for i, (f_rgb, f_ir) in enumerate(zip(rgb, ir), 1)]

    def load_weights(self, path: str | Path | Sequence[str | Path], strict: bool = True) -> None:
        """Load the auto-encoder and the RFN weights.

        ``path`` is a folder holding the two published files (:data:`PUBLISHED_FILES`, found
        anywhere below it, e.g. the authors' ``models/`` tree), a list of checkpoint files
        whose key sets are merged (e.g. ``[autoencoder, rfn]``), or one file with all keys.
        """
        files = _weight_files(path)
        merged: dict[str, torch.Tensor] = {}
        for f in files:
            sd = self._read_state_dict(f)
            clash = sorted(set(sd) & set(merged))
            if clash:
                raise CheckpointError(f"{f}: keys also present in an earlier file: {', '.join(clash[:10])}")
            merged.update(sd)
        load_state_dict(self, merged, strict=strict, source=" + ".join(map(str, files)))


def _weight_files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, (str, Path)):
        path = Path(path)
        if not path.is_dir():
            return [path]
        found = []
        for name in PUBLISHED_FILES:
            hits = sorted(path.rglob(name))
            if not hits:
                raise CheckpointError(f"{path}: no {name} below this folder (RFN-Nest needs {' and '.join(PUBLISHED_FILES)})")
            found.append(hits[0])
        return found
    return [Path(p) for p in path]


@register_model("rfn_nest", rule_kwarg="fusion", weight_files=2)
def rfn_nest(fusion: str = "rfn", deepsupervision: bool = False, authors_split: bool = False, **fusion_cfg: Any) -> RFNNest:
    """RFN-Nest; ``weights`` = folder with both published files, or a list ``[autoencoder, rfn]``."""
    return RFNNest(fusion, deepsupervision, authors_split, **fusion_cfg)
