"""The two exported branches of a Siamese RGB-T model, as traceable modules.

* template branch: template crops of the mode's modalities ``(1, 3, E, E)`` → the template state
  the model keeps after :meth:`~rgbtfuse.trackers.models.siamese.SiameseRGBT.template` (fused template
  features; for SiamRPN++ the head's template-side kernels, computed once per target);
* search branch: search crops ``(1, 3, I, I)`` + that state → the head outputs of
  :meth:`~rgbtfuse.trackers.models.siamese.SiameseRGBT.track` (``cls``, ``loc``).

Both call the model's own ``template``/``track`` so that the mode's logic (which branches run,
fusion, batching of the shared backbone) is the model's; a new mode needs an entry in
:data:`MODE_INPUTS` and, if it keeps a different template state, :func:`template_state` /
:func:`set_template_state` cases.
"""

from __future__ import annotations

import torch
from torch import nn

from rgbtfuse.errors import ExportError
from rgbtfuse.trackers.models.siamese import SiameseRGBT

#: modalities whose crops each exportable mode feeds
MODE_INPUTS: dict[str, tuple[str, ...]] = {"rgb": ("rgb",), "ir": ("ir",), "fused": ("rgb", "ir")}


def mode_inputs(mode: str) -> tuple[str, ...]:
    """Modalities of ``mode``; :class:`ExportError` for a mode the exporter does not know."""
    if mode not in MODE_INPUTS:
        raise ExportError(f"mode {mode!r} cannot be exported yet; exportable modes: {', '.join(MODE_INPUTS)}")
    return MODE_INPUTS[mode]


def _is_siamrpn(model: SiameseRGBT) -> bool:
    from rgbtfuse.trackers.models.siamrpn import SiamRPNpp

    return isinstance(model, SiamRPNpp)


def template_state(model: SiameseRGBT) -> dict[str, torch.Tensor]:
    """Named tensors the search branch needs after ``model.template(...)``.

    NanoTrack (and other single-head models): ``zf`` ``(1, C, h, w)`` (``zf0, zf1, ...`` for several
    scales). SiamRPN++: ``cls_kernel{l}``, ``loc_kernel{l}`` per level ``l`` (``(1, 256, 5, 5)``).
    """
    if _is_siamrpn(model):
        kernels = model.kernels if isinstance(model.kernels, list) else [model.kernels]
        levels = range(2, 2 + len(kernels)) if len(kernels) > 1 else [""]
        return {name: t for lvl, (cls, loc) in zip(levels, kernels) for name, t in ((f"cls_kernel{lvl}", cls), (f"loc_kernel{lvl}", loc))}
    zf = model.zf or []
    return {"zf": zf[0]} if len(zf) == 1 else {f"zf{i}": f for i, f in enumerate(zf)}


def set_template_state(model: SiameseRGBT, state: list[torch.Tensor]) -> None:
    """Inverse of :func:`template_state` (tensors in its order)."""
    if _is_siamrpn(model):
        pairs = [(state[i], state[i + 1]) for i in range(0, len(state), 2)]
        model.kernels = pairs if len(pairs) > 1 else pairs[0]
        model.zf = []  # SiamRPNpp.track reads only the kernels; a non-None zf marks the template as set
    else:
        model.zf = list(state)


class TemplateBranch(nn.Module):
    """``forward(*crops)`` (in :data:`MODE_INPUTS` order) → template state tensors."""

    def __init__(self, model: SiameseRGBT):
        super().__init__()
        self.model = model
        self.inputs = mode_inputs(model.mode)

    def forward(self, *crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        z = dict(zip(self.inputs, crops))
        self.model.template(z.get("rgb"), z.get("ir"))
        return tuple(template_state(self.model).values())


class SearchBranch(nn.Module):
    """``forward(*crops, *state)`` → the values of ``model.track`` (``cls``, ``loc``)."""

    def __init__(self, model: SiameseRGBT):
        super().__init__()
        self.model = model
        self.inputs = mode_inputs(model.mode)

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        k = len(self.inputs)
        x = dict(zip(self.inputs, args[:k]))
        set_template_state(self.model, list(args[k:]))
        return tuple(self.model.track(x.get("rgb"), x.get("ir")).values())
