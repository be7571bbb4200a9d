"""Loading published checkpoints under the contract that their key names are ours.

Published files come wrapped in many ways (a bare ``state_dict``, ``{'state_dict': ...}``,
``{'weight': ...}`` for DIDFuse, ``module.`` prefixes from DataParallel). :func:`extract_state_dict`
unwraps them; :func:`load_state_dict` loads strictly and names every missing, unexpected or
mis-shaped key in a :class:`~rgbtfuse.errors.CheckpointError`.
"""

from __future__ import annotations

import contextlib
import contextvars
import pickle
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rgbtfuse.errors import CheckpointError

_WRAPPER_KEYS = ("state_dict", "model", "weight", "net")


def _allowed_globals() -> list[Any]:
    """The globals (besides torch's own tensor types) that the published checkpoints pickle.

    NanoTrack's ``.pth`` files keep numpy float64 scalars in their optimizer state; numpy 1.x
    names the scalar constructor ``numpy.core.multiarray.scalar``, numpy 2.x ``numpy._core...``.
    LRRNet, DIDFuse, pysot's model zoo and our own checkpoints need nothing beyond torch's types.
    """
    import numpy as np

    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    # numpy >= 1.25 rebuilds a dtype through its class (e.g. Float64DType); numeric ones only
    numeric = [type(np.dtype(t)) for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                           "uint32", "uint64", "float16", "float32", "float64")]
    return [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype, *numeric]


_trusted: contextvars.ContextVar[bool] = contextvars.ContextVar("rgbtfuse_trust_checkpoints", default=False)


@contextlib.contextmanager
def trust_checkpoints(enabled: bool = True) -> Iterator[None]:
    """Within this block, checkpoints outside the allow-list are unpickled fully.

    DANGEROUS: full unpickling runs whatever code the file contains. The CLI enters it only
    for ``--trust-checkpoint``.
    """
    token = _trusted.set(enabled)
    try:
        yield
    finally:
        _trusted.reset(token)


def read_checkpoint(path: str | Path) -> Any:
    """``torch.load`` on CPU that never runs code from the file.

    Only tensors, containers, numbers and the numpy globals of :func:`_allowed_globals` are
    unpickled; a file that needs any other global is refused with a :class:`CheckpointError`
    naming the file and the global, unless inside :func:`trust_checkpoints`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if _trusted.get():
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any failure of a pickle is a bad file
            raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc})") from exc
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch names the global either as "GLOBAL mod.name" or as "but got <class 'mod.name'>"
        found = re.search(r"GLOBAL (\S+)|but got <class '([^']+)'>", str(exc))
        if found is None:
            raise CheckpointError(f"{path}: not a readable torch checkpoint ({_reason(exc)})") from exc
        raise CheckpointError(
            f"{path}: refused: it needs the Python global {found.group(1) or found.group(2)}, which no published checkpoint "
            "uses, and unpickling it could run code. If you trust the file, pass --trust-checkpoint"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - truncated zip, not a pickle, ...
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    """The informative line of a torch.load error (its first lines are generic advice)."""
    if isinstance(exc, EOFError):
        return "the file is empty or truncated"
    if isinstance(exc, (KeyError, pickle.UnpicklingError)) or type(exc).__name__ == "UnpicklingError":
        return f"not a pickle or torch zip archive ({type(exc).__name__}: {exc})"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = next((ln for ln in lines if "error:" in ln.lower()), lines[0] if lines else type(exc).__name__)
    detail = detail.split(". This is an internal miniz error")[0]
    return detail[:300]


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
