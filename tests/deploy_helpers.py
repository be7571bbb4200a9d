"""Shared pieces of the deployment tests: exported folders of real and seeded models, bus1 runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from pysot_seeded import seeded_state_dict

from rgbtfuse.imageio import read_image
from rgbtfuse.trackers.builder import build_model

REPO = Path(__file__).resolve().parents[1]
NANO_V2 = "weights/nanotrack/pretrained/nanotrackv2.pth"


def seeded_pysot_weights(name: str, path: Path) -> Path:
    """pysot-layout checkpoint of ``name`` (e.g. ``siamrpn_mobilev2_l234_dwxcorr``) with the seeded tensors."""
    keys = json.loads((REPO / "tests/fixtures/pysot_parity.json").read_text())[name]["keys"]
    torch.save({k: torch.from_numpy(v) for k, v in seeded_state_dict(keys).items()}, path)
    return path


def seeded_fusion_weights(config: str | Path, weights: Path, path: Path, seed: int = 0) -> Path:
    """The fusion module's initial weights for ``torch.manual_seed(seed)``, saved as a fusion file."""
    torch.manual_seed(seed)
    torch.save(build_model(config, weights).fusion.state_dict(), path)
    return path


def track_side_by_side(trackers: list, seq, frames: range, box: tuple, mode: str) -> list[np.ndarray]:
    """Boxes ``(len(frames) - 1, 4)`` per tracker, all fed the same frames (read once)."""
    out: list[list] = [[] for _ in trackers]
    for k, i in enumerate(frames):
        rgb = read_image(seq.rgb_frames[i], "bgr") if mode in ("rgb", "fused") else None
        ir = read_image(seq.ir_frames[i], "unchanged") if mode in ("ir", "fused") else None
        for t, boxes in zip(trackers, out):
            if k == 0:
                t.init(rgb, ir, box)
            else:
                boxes.append(t.track(rgb, ir)["bbox"])
    return [np.asarray(b) for b in out]
