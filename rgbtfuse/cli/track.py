"""``rgbtfuse track``: run a Siamese tracker (RGB, IR or fused) over one RGB-T sequence.

Writes ``boxes.txt``, ``frames.csv``, ``summary.json`` and, with ``--video``, an MP4 with RGB and
IR side by side (:func:`rgbtfuse.tracking.run_sequence`). A run stopped by a bad frame or Ctrl-C
still writes what it tracked, marked incomplete.
"""

from __future__ import annotations

import argparse
import sys

import torch

from rgbtfuse.cli import add_threads_argument, add_trust_argument
from rgbtfuse.data import load_sequence
from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.builder import build_tracker
from rgbtfuse.trackers.deploy.runtime import build_onnx_tracker
from rgbtfuse.trackers.models.siamese import MODES
from rgbtfuse.tracking import run_sequence
from rgbtfuse.tracking.loop import BAD_FRAME, INTERRUPTED

BACKENDS = ("pytorch", "onnxruntime")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="experiment yaml (model:, fusion:, track:); backend pytorch")
    parser.add_argument("--weights", help="tracker checkpoint (published RGB or RGB-T); backend pytorch")
    parser.add_argument("--backend", choices=BACKENDS, default="pytorch",
                        help="pytorch (--config/--weights) or onnxruntime (--model: a folder written by rgbtfuse export)")
    parser.add_argument("--model", help="exported model folder (rgbtfuse export --out); backend onnxruntime")
    parser.add_argument("--fusion-weights", help="fusion module weights: a file, or a bundled name from `rgbtfuse weights list` (e.g. nanotrack_v2_rfn_track)")
    parser.add_argument("--sequence", required=True, help="sequence folder (VOT, RGBT234/LasHeR, GTOT or VTUAV layout)")
    parser.add_argument("--mode", choices=MODES, help="default: decision with fusion: and decision: sections, fused with fusion: only, else rgb")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--video", help="write an annotated MP4 (RGB | IR) to this file")
    parser.add_argument("--init", help="initial box x,y,w,h on frame 0 (default: first ground-truth box)")
    parser.add_argument("--align", choices=("none", "resize"), default="none", help="resize IR frames to the RGB size")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    add_threads_argument(parser)
    add_trust_argument(parser)
    parser.add_argument("--on-bad-frame", choices=BAD_FRAME, default="error",
                        help="an unreadable frame stops the run (error) or is flagged and passed over (skip)")


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h") from None
    if len(values) != 4:
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h, got {len(values)}")
    return tuple(values)  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    seq = load_sequence(args.sequence)
    if seq.static:
        raise ConfigError(f"{seq.root}: a folder of unrelated still image pairs ({seq.layout}), not a video to track through")
    if args.backend == "onnxruntime":
        if not args.model or args.config or args.weights or args.fusion_weights:
            raise ConfigError("--backend onnxruntime takes --model DIR (the export holds config and weights), not --config/--weights")
        tracker = build_onnx_tracker(args.model, args.mode, args.device, torch.get_num_threads())
    else:
        if args.model or not (args.config and args.weights):
            raise ConfigError("--backend pytorch takes --config and --weights (--model is for --backend onnxruntime)")
        tracker = build_tracker(args.config, args.weights, args.fusion_weights, args.mode, args.device)
    init_box = parse_box(args.init) if args.init else None
    res, summary = run_sequence(tracker, seq, args.out, args.video, init_box, args.align, args.on_bad_frame)
    if summary["iou_frames"]:
        iou = f"mean IoU {summary['mean_iou']:.3f} over {summary['iou_frames']} annotated frames"
    else:
        iou = "no ground truth after the start frame"
    skipped = f"; skipped frames {res.skipped}" if res.skipped else ""
    if getattr(tracker, "quality_source", None):  # mode decision: which quality picked the branch
        print(f"decision quality: {tracker.quality_source}")
    print(
        f"{seq.name} [{res.mode}]: {iou}; {summary['ms_per_frame']:.1f} ms/frame; "
        f"{summary['invalid_frames']} flagged frames{skipped}; results in {args.out}"
    )
    if res.error is not None:
        print(f"rgbtfuse track: stopped after {res.frames_done} of {summary['frames']} frames: {res.error}; "
              f"partial results in {args.out} (summary.json: complete false)", file=sys.stderr)
        return 130 if res.error == INTERRUPTED else 1
    return 0
