"""onnxruntime backend: an exported model folder driven by the usual tracker classes.

:class:`OnnxSiameseModel` has the part of :class:`~rgbtfuse.trackers.models.siamese.SiameseRGBT`'s API
the trackers use (``mode``, ``eval()``, ``template(z_rgb, z_ir)``, ``track(x_rgb, x_ir) ->
{'cls', 'loc'}``), so crops, windows, penalties and box decoding stay those of
:class:`~rgbtfuse.trackers.tracker.nanotrack_tracker.NanoTracker` /
:class:`~rgbtfuse.trackers.tracker.siamrpn_tracker.SiamRPNTracker`; only the networks run in onnxruntime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rgbtfuse.errors import ConfigError, WeightsError
from rgbtfuse.trackers.deploy.manifest import read_manifest
from rgbtfuse.trackers.tracker.base import SiameseTracker, TrackConfig


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(f"--backend onnxruntime needs onnxruntime (pip install 'rgbtfuse[onnx]'): {exc}") from None
    return onnxruntime


def providers(device: str = "auto") -> list[str]:
    """Execution providers for ``auto`` (CUDA when onnxruntime has it, else CPU), ``cpu`` or ``cuda``."""
    available = _onnxruntime().get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda") or device.startswith("cuda:"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device != "auto":
            raise ConfigError(f"device {device!r}: this onnxruntime has no CUDAExecutionProvider (available: {available}; pip install onnxruntime-gpu)")
        return ["CPUExecutionProvider"]
    raise ConfigError(f"unknown device {device!r} for the onnxruntime backend (auto | cpu | cuda)")


class OnnxSiameseModel:
    """The template and search branches of a model folder in onnxruntime sessions.

    Args:
        folder: a folder written by :func:`~rgbtfuse.trackers.deploy.export.export_tracker` (its manifest
            and sha256 are checked).
        device: ``auto`` | ``cpu`` | ``cuda``.
        threads: onnxruntime intra-op threads (default: onnxruntime's, one per physical core).
    """

    def __init__(self, folder: str | Path, device: str = "auto", threads: int | None = None):
        ort = _onnxruntime()
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        self.providers = providers(device)
        self.sessions: dict[str, Any] = {}
        self.io: dict[str, tuple[list[str], list[str]]] = {}
        for name in ("template", "search"):
            branch = self.manifest["branches"].get(name)
            if not isinstance(branch, dict):
                raise WeightsError(f"{self.folder / 'manifest.json'}: no {name!r} branch")
            path = self.folder / branch["file"]
            try:
                self.sessions[name] = ort.InferenceSession(str(path), options, providers=self.providers)
            except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
                raise WeightsError(f"{path}: onnxruntime cannot load it: {exc}") from None
            self.io[name] = ([i["name"] for i in branch["inputs"]], [o["name"] for o in branch["outputs"]])
        self.mode: str = self.manifest["mode"]
        self.state: list[np.ndarray] | None = None

    def eval(self) -> OnnxSiameseModel:
        return self

    @staticmethod
    def _feeds(names: list[str], crops: dict[str, torch.Tensor | None]) -> dict[str, np.ndarray]:
        return {n: crops[n.split("_", 1)[1]].numpy() for n in names}  # z_rgb, x_ir, ...: crop inputs

    def template(self, z_rgb: torch.Tensor | None, z_ir: torch.Tensor | None) -> None:
        """Run the template branch on ``(1, 3, E, E)`` crops; keeps its outputs for :meth:`track`."""
        inputs, outputs = self.io["template"]
        self.state = self.sessions["template"].run(outputs, self._feeds(inputs, {"rgb": z_rgb, "ir": z_ir}))

    def track(self, x_rgb: torch.Tensor | None, x_ir: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``{'cls', 'loc'}`` (as the exported model's ``track``) for ``(1, 3, I, I)`` search crops."""
        if self.state is None:
            raise RuntimeError("template() must be called before track()")
        inputs, outputs = self.io["search"]
        n = len(inputs) - len(self.state)
        feeds = self._feeds(inputs[:n], {"rgb": x_rgb, "ir": x_ir})
        feeds.update(zip(inputs[n:], self.state))
        return {k: torch.from_numpy(v) for k, v in zip(outputs, self.sessions["search"].run(outputs, feeds))}


def build_onnx_tracker(folder: str | Path, mode: str | None = None, device: str = "auto", threads: int | None = None) -> SiameseTracker:
    """The tracker of an exported model folder (``init``/``track`` as the PyTorch trackers).

    ``mode``, if given, must be the exported one (a folder holds one mode).
    """
    model = OnnxSiameseModel(folder, device, threads)
    if mode is not None and mode != model.mode:
        raise ConfigError(f"{folder} was exported for mode {model.mode!r}, not {mode!r} (export it again with --mode {mode})")
    cfg = TrackConfig.from_dict(model.manifest["track"])
    kind = model.manifest["model"]
    if kind == "nanotrack":
        from rgbtfuse.trackers.tracker.nanotrack_tracker import NanoTracker

        return NanoTracker(model, cfg, "cpu", optimize=False)  # type: ignore[arg-type]  (duck-typed model)
    if kind == "siamrpn":
        from rgbtfuse.trackers.grids import AnchorConfig
        from rgbtfuse.trackers.tracker.siamrpn_tracker import SiamRPNTracker

        anchor = AnchorConfig.from_dict(model.manifest.get("anchor") or {})
        return SiamRPNTracker(model, cfg, "cpu", anchor=anchor)  # type: ignore[arg-type]
    raise WeightsError(f"{Path(folder) / 'manifest.json'}: unknown model {kind!r}")
