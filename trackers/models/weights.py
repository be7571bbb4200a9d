"""Loading published RGB checkpoints and separate fusion weights into an RGB-T Siamese model."""

from __future__ import annotations

from pathlib import Path

from rgbtfuse.checkpoint import extract_state_dict, load_state_dict, read_checkpoint
from rgbtfuse.errors import CheckpointError, ConfigError
from rgbtfuse.trackers.models.siamese import SiameseRGBT

# keys an RGB-only checkpoint cannot contain: filled from the fusion file / the RGB backbone
_RGBT_ONLY = ("fusion.", "backbone_ir.")


def load_tracker_weights(model: SiameseRGBT, weights: str | Path | None = None, fusion_weights: str | Path | None = None) -> bool:
    """Load ``weights`` (a published RGB checkpoint, or a full RGB-T one) and ``fusion_weights``.

    Every key of the model except ``fusion.*`` and ``backbone_ir.*`` must be in ``weights`` and
    every key of ``weights`` must be in the model; a second (IR) backbone missing from the file
    is initialised from the RGB backbone. ``fusion_weights`` holds the fusion module's own
    state_dict (keys with or without the ``fusion.`` prefix) and must match it exactly.

    Returns whether fusion parameters were loaded (from either file).
    """
    fusion_loaded = False
    if weights is not None:
        sd = extract_state_dict(read_checkpoint(weights), source=str(weights))
        missing, unexpected = load_state_dict(model, sd, strict=False, source=str(weights))
        core_missing = [k for k in missing if not k.startswith(_RGBT_ONLY)]
        if unexpected or core_missing:
            problems = []
            if core_missing:
                problems.append(f"missing keys ({len(core_missing)}): " + ", ".join(core_missing))
            if unexpected:
                problems.append(f"unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
            raise CheckpointError(f"{weights} does not fit {type(model).__name__}: " + " | ".join(problems))
        if any(k.startswith("backbone_ir.") for k in missing):
            model.init_ir_backbone_from_rgb()
        fusion_loaded = any(k.startswith("fusion.") for k in sd)
    if fusion_weights is not None:
        if model.fusion is None:
            raise ConfigError(f"fusion weights {fusion_weights} given but the experiment has no fusion: section")
        from rgbtfuse.weights import resolve_weights

        fusion_weights = resolve_weights(fusion_weights)  # a file, or a bundled name (rgbtfuse weights list)
        sd = extract_state_dict(read_checkpoint(fusion_weights), source=str(fusion_weights))
        if sd and all(k.startswith("fusion.") for k in sd):
            sd = {k[len("fusion."):]: v for k, v in sd.items()}
        load_state_dict(model.fusion, sd, strict=True, source=str(fusion_weights))
        fusion_loaded = True
    return fusion_loaded
