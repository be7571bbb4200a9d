"""``rgbtfuse export``: a tracker's template and search branches as ONNX files with a manifest."""

from __future__ import annotations

import argparse

from rgbtfuse.trackers.deploy.export import export_tracker
from rgbtfuse.trackers.models.siamese import MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml (model:, fusion:, track:)")
    parser.add_argument("--weights", required=True, help="tracker checkpoint (published RGB or RGB-T)")
    parser.add_argument("--fusion-weights", help="fusion module weights (trained fusion modules)")
    parser.add_argument("--mode", choices=MODES, help="default: fused if the experiment has fusion:, else rgb")
    parser.add_argument("--out", required=True, help="model folder to write (template.onnx, search.onnx, manifest.json)")


def run(args: argparse.Namespace) -> int:
    manifest = export_tracker(args.config, args.weights, args.out, args.fusion_weights, args.mode)
    files = ", ".join(manifest["files"])
    checks = ", ".join(f"{k} {v:.1e}" for k, v in manifest["verification"].items())
    print(f"{manifest['model']} [{manifest['mode']}] exported to {args.out}: {files}; onnxruntime vs PyTorch (relative): {checks}")
    return 0
