"""Export a tracker (experiment yaml + weights) to ONNX: template and search branch, manifest.

The networks are traced by PyTorch's TorchScript-based exporter (``torch.onnx.export(...,
dynamo=False)``): it needs nothing beyond torch (the dynamo exporter needs ``onnxscript``) and
handles these static-shape CNNs completely. Tracing runs with autograd enabled so that modules
with a no-autograd fast path (:class:`~rgbtfuse.fusion.layers.ConvLayer`'s buffer writes) record
their literal computation. Shapes are static (batch 1), as the tracker feeds them.

Every file is checked before the manifest is written: onnxruntime runs it on seeded random crops
and must give the PyTorch outputs within 1e-4 relative (max abs difference over the largest
PyTorch value; float32 kernels of onnxruntime and oneDNN sum in different orders, measured
~1e-6 relative), else :class:`~rgbtfuse.errors.ExportError`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rgbtfuse import __version__
from rgbtfuse.atomic import atomic_path
from rgbtfuse.errors import ConfigError, ExportError
from rgbtfuse.trackers.builder import build_model, load_experiment, track_config
from rgbtfuse.trackers.deploy.branches import SearchBranch, TemplateBranch, mode_inputs, template_state
from rgbtfuse.trackers.deploy.manifest import FORMAT, MANIFEST, VERSION, file_entry, write_manifest
from rgbtfuse.trackers.models.siamese import SiameseRGBT
from rgbtfuse.trackers.tracker.base import TrackConfig

#: ONNX opset of the exported files
OPSET = 17
#: max |onnxruntime − PyTorch| / max |PyTorch| accepted at export
REL_TOL = 1e-4
TEMPLATE_FILE, SEARCH_FILE = "template.onnx", "search.onnx"
OPENCV_BACKBONE, OPENCV_HEAD = "nanotrack_backbone.onnx", "nanotrack_head.onnx"


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's C++ log for the duration of one export.

    torch 2.14's exporter enables its ONNX log unconditionally (``setup_onnx_logging`` tests a
    function object for truth) and, on failure, writes the whole TorchScript graph to the
    process's stdout/stderr; the failure itself is reported as an :class:`ExportError`.
    """
    saved = [os.dup(fd) for fd in (1, 2)]
    sys.stdout.flush()
    sys.stderr.flush()
    with open(os.devnull, "w") as null:
        try:
            for fd in (1, 2):
                os.dup2(null.fileno(), fd)
            yield
        finally:
            for fd, copy_fd in zip((1, 2), saved):
                os.dup2(copy_fd, fd)
                os.close(copy_fd)


def _onnx_export(module: nn.Module, args: tuple, target: Path | io.BytesIO, inputs: list[str], outputs: list[str]) -> None:
    with warnings.catch_warnings(), torch.enable_grad(), _quiet_exporter():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            module.eval(), args, target, input_names=inputs, output_names=outputs,
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def _ort_session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError(f"export checks every file with onnxruntime, which is not installed (pip install 'rgbtfuse[onnx]'): {exc}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check(path: Path, feeds: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> float:
    """Run ``path`` in onnxruntime; the worst relative difference to ``expected`` (ExportError above REL_TOL)."""
    got = _ort_session(path).run(list(expected), {k: v.numpy() for k, v in feeds.items()})
    worst = 0.0
    for (name, ref), out in zip(expected.items(), got):
        ref = ref.numpy()
        if out.shape != ref.shape:
            raise ExportError(f"{path}: output {name!r} has shape {list(out.shape)} in onnxruntime, {list(ref.shape)} in PyTorch")
        worst = max(worst, float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-12)))
    if not worst <= REL_TOL:
        raise ExportError(f"{path}: onnxruntime differs from PyTorch by {worst:.2e} relative (> {REL_TOL:g})")
    return worst


def _export_file(module: nn.Module, trace: dict[str, torch.Tensor], feeds: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path) -> float:
    """Trace ``module`` on ``trace``, check it on other inputs ``feeds`` (→ ``expected``): a value
    the tracer could not follow would be frozen into the graph as a constant and fail the check."""
    with atomic_path(path) as tmp:
        try:
            _onnx_export(module, tuple(trace.values()), tmp, list(trace), list(expected))
        except Exception as exc:  # the exporter raises many types; report it as the project's error
            raise ExportError(f"{path.name}: the ONNX exporter failed: {_first_line(exc)}") from exc
        return _check(tmp, feeds, expected)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def fusion_onnx(name: str, module: nn.Module, rgb: torch.Tensor, ir: torch.Tensor, index: int = 0) -> bytes:
    """One fusion module alone as ONNX bytes (inputs ``rgb``, ``ir`` → ``fused``), traced as in a
    branch export; :class:`ExportError` naming the module if the exporter cannot express it."""
    buffer = io.BytesIO()
    args = tuple(a.detach().clone().requires_grad_(True) for a in (rgb, ir))  # as in the branch trace
    try:
        _onnx_export(module, args, buffer, ["rgb", "ir"], ["fused"])
    except Exception as exc:  # any exporter failure names the module
        raise ExportError(f"fusion {name!r} ({type(module).__name__}, scale {index}) cannot be exported to ONNX: {_first_line(exc)}") from exc
    return buffer.getvalue()


def _probe_fusion(model: SiameseRGBT, name: str, run: Any) -> None:
    """Export each fusion module alone on the inputs it sees in ``run()``; name the one that fails."""
    if model.fusion is None or model.mode != "fused":
        return
    seen: dict[int, tuple] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, i=i: seen.setdefault(i, args)) for i, m in enumerate(model.fusion.scales)]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    for i, module in enumerate(model.fusion.scales):
        fusion_onnx(name, module, *seen[i], index=i)


def _crops(names: tuple[str, ...], prefix: str, size: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {f"{prefix}_{m}": torch.rand(1, 3, size, size, generator=gen) * 255 for m in names}


def _reference(template: TemplateBranch, search: SearchBranch, modalities: tuple[str, ...], track: TrackConfig, gen: torch.Generator) -> tuple[dict, ...]:
    """Random crops ``z``, ``x`` and what the PyTorch model computes from them: ``(z, x, state, heads)``."""
    z = _crops(modalities, "z", track.exemplar_size, gen)
    x = _crops(modalities, "x", track.instance_size, gen)
    with torch.no_grad():  # as the PyTorch tracker computes them
        template(*z.values())
        state = {k: v.clone() for k, v in template_state(template.model).items()}
        heads = dict(zip(("cls", "loc"), (t.clone() for t in search(*x.values(), *state.values()))))
    return z, x, state, heads


def _io(tensors: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    return [{"name": k, "shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()]


def export_tracker(
    config: str | Path | dict[str, Any],
    weights: str | Path | None,
    out: str | Path,
    fusion_weights: str | Path | None = None,
    mode: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Export the experiment's tracker network in ``mode`` to the folder ``out``; returns the manifest.

    Files: ``template.onnx`` (inputs ``z_rgb``/``z_ir`` ``(1, 3, E, E)`` → template state, see
    :func:`~rgbtfuse.trackers.deploy.branches.template_state`), ``search.onnx`` (``x_rgb``/``x_ir``
    ``(1, 3, I, I)`` + template state → ``cls``, ``loc``), for single-modality NanoTrack also
    ``nanotrack_backbone.onnx`` (``input`` ``(1, 3, I, I)`` → ``output``) and
    ``nanotrack_head.onnx`` (``input1`` template and ``input2`` search features → ``output1`` cls,
    ``output2`` loc): the inputs and outputs of the published split that ``cv2.TrackerNano`` runs.
    ``manifest.json`` is written last.
    """
    cfg = load_experiment(config)
    kind = cfg["model"]["type"]
    if kind not in ("nanotrack", "siamrpn"):
        raise ExportError(f"model.type {kind!r} cannot be exported (nanotrack, siamrpn)")
    model = copy.deepcopy(build_model(cfg, weights, fusion_weights, mode)).cpu().eval()
    modalities = mode_inputs(model.mode)
    for p in model.parameters():
        p.requires_grad_(True)
    track = track_config(cfg)
    gen = torch.Generator().manual_seed(seed)
    template, search = TemplateBranch(model), SearchBranch(model)
    # two sets of random crops: one traced, one to check the files on
    (z, x, state, heads), (z2, x2, state2, heads2) = (_reference(template, search, modalities, track, gen) for _ in range(2))
    _probe_fusion(model, (cfg.get("fusion") or {}).get("name", ""), lambda: (template(*z.values()), search(*x.values(), *state.values())))

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # a re-export stopped half-way leaves no stale manifest
    verification = {
        "template": _export_file(template, z, z2, state2, folder / TEMPLATE_FILE),
        "search": _export_file(search, {**x, **state}, {**x2, **state2}, heads2, folder / SEARCH_FILE),
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "opset": OPSET,
        "model": kind,
        "mode": model.mode,
        "experiment": {k: cfg[k] for k in ("model", "fusion") if cfg.get(k)},
        "track": vars(track),
        "branches": {
            "template": {"file": TEMPLATE_FILE, "inputs": _io(z), "outputs": _io(state)},
            "search": {"file": SEARCH_FILE, "inputs": _io({**x, **state}), "outputs": _io(heads)},
        },
        "created_by": {"rgbtfuse": __version__, "torch": torch.__version__},
    }
    if kind == "siamrpn":
        anchor = model.anchor_cfg
        manifest["anchor"] = {"stride": anchor.stride, "ratios": list(anchor.ratios), "scales": list(anchor.scales)}
    if kind == "nanotrack" and len(modalities) == 1:
        verification.update(_export_opencv_pair(model, (x, state), (x2, state2, heads2), folder))
        manifest["opencv"] = {"backbone": OPENCV_BACKBONE, "neckhead": OPENCV_HEAD}
    files = [TEMPLATE_FILE, SEARCH_FILE] + list((manifest.get("opencv") or {}).values())
    manifest["files"] = {name: file_entry(folder / name) for name in files}
    manifest["verification"] = {k: float(f"{v:.3g}") for k, v in verification.items()}
    write_manifest(folder, manifest)
    return manifest


class _Head(nn.Module):
    def __init__(self, model: SiameseRGBT):
        super().__init__()
        self.model = model

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model.head_forward([zf], [xf])
        return out["cls"], out["loc"]


def _export_opencv_pair(model: SiameseRGBT, trace: tuple[dict, dict], check: tuple[dict, dict, dict], folder: Path) -> dict[str, float]:
    """``cv2.TrackerNano``'s backbone/neckhead split of a single-modality NanoTrack."""
    backbone = model.backbone_ir if model.mode == "ir" and model.backbone_ir is not None else model.backbone
    (crop,), (crop2,) = trace[0].values(), check[0].values()
    with torch.no_grad():
        xf, xf2 = backbone(crop), backbone(crop2)
    state, (state2, heads2) = trace[1], check[1:]
    return {
        "opencv_backbone": _export_file(backbone, {"input": crop}, {"input": crop2}, {"output": xf2}, folder / OPENCV_BACKBONE),
        "opencv_head": _export_file(
            _Head(model), {"input1": state["zf"], "input2": xf}, {"input1": state2["zf"], "input2": xf2},
            {"output1": heads2["cls"], "output2": heads2["loc"]}, folder / OPENCV_HEAD,
        ),
    }
