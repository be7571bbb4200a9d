"""RGB-T Siamese model: one backbone (shared, or a second one for IR), per-scale fusion, a head.

State-dict keys are those of the published RGB model (``backbone.*``, ``neck.*``, and the head
under its published attribute name: pysot's ``rpn_head.*``, NanoTrack's ``ban_head.*``), plus
``fusion.*`` and, with two backbones, ``backbone_ir.*``. A published RGB checkpoint therefore
loads into the RGB-T model with only the fusion (and second-backbone) keys left to fill.

Fusion position:
  * ``neck`` (default): backbone → neck per modality, then fuse the neck outputs (what the
    head sees; the template is fused after the neck's 7×7 centre crop);
  * ``backbone``: fuse the backbone outputs, then one neck pass on the fused maps.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rgbtfuse.errors import ConfigError
from rgbtfuse.fusion import MultiScaleFusion

MODES = ("rgb", "ir", "fused", "decision")
#: branches of mode ``decision``, in their batch order
BRANCHES = ("rgb", "ir", "fused")
POSITIONS = ("neck", "backbone")


class SiameseRGBT(nn.Module):
    """Siamese tracker network with RGB/IR inputs and per-scale fusion.

    Subclasses set :attr:`head_name` to the published attribute name of the head and implement
    :meth:`head_forward`.
    """

    head_name = "head"

    def __init__(
        self,
        backbone: nn.Module,
        neck: nn.Module | None,
        head: nn.Module,
        fusion: MultiScaleFusion | None = None,
        fusion_position: str = "neck",
        share_backbone: bool = True,
        mode: str = "fused",
    ):
        super().__init__()
        if fusion_position not in POSITIONS:
            raise ConfigError(f"fusion position must be one of {POSITIONS}, got {fusion_position!r}")
        self.backbone = backbone
        self.neck = neck
        setattr(self, self.head_name, head)
        self.fusion = fusion
        self.fusion_position = fusion_position
        self.backbone_ir = None if share_backbone else copy.deepcopy(backbone)
        self.mode = mode
        self.zf: list[torch.Tensor] | None = None

    # --- configuration -------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        if mode in ("fused", "decision") and self.fusion is None:
            raise ConfigError(f"mode {mode!r} needs a fusion module (set fusion: in the experiment yaml)")
        self._mode = mode

    @property
    def head(self) -> nn.Module:
        return getattr(self, self.head_name)

    def init_ir_backbone_from_rgb(self) -> None:
        """Copy the RGB backbone's weights into the IR backbone (after loading an RGB checkpoint)."""
        if self.backbone_ir is not None:
            self.backbone_ir.load_state_dict(self.backbone.state_dict())

    def freeze_all_but_fusion(self) -> None:
        """Freeze everything except ``fusion``; frozen parts stay in eval mode (BN statistics fixed)."""
        for name, p in self.named_parameters():
            p.requires_grad_(name.startswith("fusion."))

    def train(self, mode: bool = True) -> SiameseRGBT:
        super().train(mode)
        if mode and self.fusion is not None and not any(p.requires_grad for n, p in self.named_parameters() if not n.startswith("fusion.")):
            # frozen tracker: only the fusion module is in training mode
            for name, child in self.named_children():
                if name != "fusion":
                    child.eval()
        return self

    # --- feature extraction ----------------------------------------------------------------
    def _backbone_features(self, rgb: torch.Tensor | None, ir: torch.Tensor | None) -> tuple[list, list]:
        """Backbone features per modality; with a shared backbone both go through one batched call."""
        if rgb is not None and ir is not None and self.backbone_ir is None:
            feats = _as_list(self.backbone(torch.cat([rgb, ir], 0)))
            b = rgb.shape[0]
            return [f[:b] for f in feats], [f[b:] for f in feats]
        f_rgb = _as_list(self.backbone(rgb)) if rgb is not None else []
        bb_ir = self.backbone_ir if self.backbone_ir is not None else self.backbone
        f_ir = _as_list(bb_ir(ir)) if ir is not None else []
        return f_rgb, f_ir

    def _neck(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.neck is None:
            return feats
        return _as_list(self.neck(feats if len(feats) > 1 else feats[0]))

    def fusion_inputs(self, rgb: torch.Tensor, ir: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-scale RGB and IR features exactly where the fusion module sees them.

        Used to train the fusion module with feature-level losses: ``self.fusion(*inputs)`` is
        the fused feature; :meth:`head_input` continues from it to the head.
        """
        f_rgb, f_ir = self._backbone_features(rgb, ir)
        if self.fusion_position == "backbone":
            return f_rgb, f_ir
        if self.neck is not None and self.backbone_ir is None:
            both = self._neck([torch.cat([r, i], 0) for r, i in zip(f_rgb, f_ir)])
            b = rgb.shape[0]
            return [f[:b] for f in both], [f[b:] for f in both]
        return self._neck(f_rgb), self._neck(f_ir)

    def head_input(self, fused: list[torch.Tensor]) -> list[torch.Tensor]:
        """What the head sees, given the fusion output (the neck still follows backbone fusion)."""
        return self._neck(fused) if self.fusion_position == "backbone" else fused

    def features(self, rgb: torch.Tensor | None, ir: torch.Tensor | None) -> list[torch.Tensor]:
        """Per-scale features the head sees, for the current :attr:`mode`.

        ``rgb``/``ir``: ``(B, 3, H, W)`` raw 0–255 crops (IR replicated to 3 channels). In mode
        ``decision`` the output has ``3B`` rows: the :data:`BRANCHES` rgb, ir, fused stacked.
        """
        if self.mode == "decision":
            return [torch.cat(f, 0) for f in zip(*self.branch_features(rgb, ir))]
        if self.mode == "rgb":
            return self._neck(self._backbone_features(rgb, None)[0])
        if self.mode == "ir":
            return self._neck(self._backbone_features(None, ir)[1])
        return self.head_input(self.fusion(*self.fusion_inputs(rgb, ir)))

    def branch_features(self, rgb: torch.Tensor, ir: torch.Tensor) -> tuple[list[torch.Tensor], ...]:
        """Per-scale head inputs of the rgb, ir and fused branches from ONE backbone pass.

        The fused branch needs the rgb and ir features anyway, so the single-modality branches
        cost only their (batched) head. Returns ``(rgb_feats, ir_feats, fused_feats)``.
        """
        f_rgb, f_ir = self.fusion_inputs(rgb, ir)
        fused = self.head_input(self.fusion(f_rgb, f_ir))
        if self.fusion_position == "backbone":
            f_rgb, f_ir = self._neck(f_rgb), self._neck(f_ir)
        return f_rgb, f_ir, fused

    # --- tracking API ------------------------------------------------------------------------
    def template(self, z_rgb: torch.Tensor | None, z_ir: torch.Tensor | None) -> None:
        """Compute and keep the template features (once per initialisation)."""
        self.zf = self.features(z_rgb, z_ir)

    def track(self, x_rgb: torch.Tensor | None, x_ir: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Head outputs ``{'cls', 'loc'}`` for search crops against the stored template."""
        if self.zf is None:
            raise RuntimeError("template() must be called before track()")
        xf = self.features(x_rgb, x_ir)
        return self.head_forward(self.zf, xf)

    def head_forward(self, zf: list[torch.Tensor], xf: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        cls, loc = self.head(zf if len(zf) > 1 else zf[0], xf if len(xf) > 1 else xf[0])
        return {"cls": cls, "loc": loc}


def _as_list(x: torch.Tensor | list | tuple) -> list[torch.Tensor]:
    return list(x) if isinstance(x, (list, tuple)) else [x]
