"""Loading published checkpoints under the contract that their key names are ours.

Published files come wrapped in many ways (a bare ``state_dict``, ``{'state_dict': ...}``,
``{'weight': ...}`` for DIDFuse, ``module.`` prefixes from DataParallel). :func:`extract_state_dict`
unwraps them; :func:`load_state_dict` loads strictly and names every missing, unexpected or
mis-shaped key in a :class:`~rgbtfuse.errors.CheckpointError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import CheckpointError

_WRAPPER_KEYS = ("state_dict", "model", "weight", "net")


def read_checkpoint(path: str | Path) -> Any:
    """``torch.load`` on CPU; falls back to full unpickling for old pickled checkpoints.

    Several published checkpoints (NanoTrack's, DIDFuse's) pickle numpy objects or optimizer
    state, which ``weights_only=True`` refuses. Only load files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - retried below with the full unpickler
        pass
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc})") from exc


def extract_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Unwrap ``{'state_dict'|'model'|'weight'|'net': sd}`` and strip ``module.`` prefixes."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    while isinstance(obj, Mapping) and not _is_tensor_mapping(obj):
        inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            raise CheckpointError(f"{source}: no state_dict found (top-level keys: {sorted(map(str, obj))[:10]})")
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a state_dict mapping, got {type(obj).__name__}")
    sd = {str(k): v for k, v in obj.items()}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _is_tensor_mapping(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def check_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> tuple[list[str], list[str], list[str]]:
    """Return ``(missing, unexpected, mismatched_shapes)`` of ``state_dict`` against ``model``."""
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in own)
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    )
    return missing, unexpected, mismatched


def load_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    strict: bool = True,
    source: str = "checkpoint",
) -> tuple[list[str], list[str]]:
    """Load ``state_dict`` into ``model``; with ``strict`` any key problem raises, naming the keys.

    Shape mismatches always raise. Returns ``(missing, unexpected)`` for non-strict loads.
    """
    missing, unexpected, mismatched = check_state_dict(model, state_dict, source)
    problems = []
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched))
    if strict and missing:
        problems.append(f"missing keys ({len(missing)}): " + ", ".join(missing))
    if strict and unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
    if problems:
        raise CheckpointError(f"{source} does not fit {type(model).__name__}: " + " | ".join(problems))
    model.load_state_dict({k: v for k, v in state_dict.items() if k not in unexpected}, strict=False)
    return missing, unexpected


def load_checkpoint(model: nn.Module, path: str | Path, strict: bool = True) -> tuple[list[str], list[str]]:
    """Read ``path``, unwrap it and load it into ``model`` (see :func:`load_state_dict`)."""
    sd = extract_state_dict(read_checkpoint(path), source=str(path))
    return load_state_dict(model, sd, strict=strict, source=str(path))
