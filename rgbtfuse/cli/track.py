"""``rgbtfuse track``: run a Siamese tracker (RGB, IR or fused) over one RGB-T sequence.

Writes ``boxes.txt`` (``x,y,w,h`` per frame, 0-based; NaN before the start frame),
``frames.csv`` (box, best score, valid flag, tracker milliseconds per frame),
``summary.json`` and, with ``--video``, an MP4 with RGB and IR side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from rgbtfuse.atomic import atomic_path, atomic_write
from rgbtfuse.data import Sequence, load_sequence
from rgbtfuse.errors import ConfigError, SizeMismatchError
from rgbtfuse.imageio import read_image
from rgbtfuse.data.annotations import box_iou
from trackers.models.builder import build_tracker
from trackers.models.siamese import MODES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml (model:, fusion:, track:)")
    parser.add_argument("--weights", required=True, help="tracker checkpoint (published RGB or RGB-T)")
    parser.add_argument("--fusion-weights", help="fusion module weights: a file, or a bundled name from `rgbtfuse weights list` (e.g. nanotrack_v2_rfn_track)")
    parser.add_argument("--sequence", required=True, help="sequence folder (VOT, RGBT234/LasHeR, GTOT or VTUAV layout)")
    parser.add_argument("--mode", choices=MODES, help="default: fused if the experiment has fusion:, else rgb")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--video", help="write an annotated MP4 (RGB | IR) to this file")
    parser.add_argument("--init", help="initial box x,y,w,h on frame 0 (default: first ground-truth box)")
    parser.add_argument("--align", choices=("none", "resize"), default="none", help="resize IR frames to the RGB size")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: PyTorch's; 1 on a busy machine)")


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h") from None
    if len(values) != 4:
        raise ConfigError(f"--init {text!r}: expected four numbers x,y,w,h, got {len(values)}")
    return tuple(values)  # type: ignore[return-value]


class _FrameReader:
    """Reads the frames a mode needs; checks (or aligns) RGB/IR sizes."""

    def __init__(self, seq: Sequence, need_rgb: bool, need_ir: bool, align: str):
        self.seq, self.need_rgb, self.need_ir, self.align = seq, need_rgb, need_ir, align

    def __call__(self, i: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        rgb = read_image(self.seq.rgb_frames[i], "bgr") if self.need_rgb else None
        ir = read_image(self.seq.ir_frames[i], "unchanged") if self.need_ir else None
        if rgb is not None and ir is not None and rgb.shape[:2] != ir.shape[:2]:
            if self.align != "resize":
                raise SizeMismatchError(
                    self.seq.rgb_frames[i], rgb.shape, self.seq.ir_frames[i], ir.shape, "pass --align resize to resize IR to the RGB size"
                )
            ir = cv2.resize(ir, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        return rgb, ir


def _draw(rgb: np.ndarray | None, ir: np.ndarray | None, box: np.ndarray, gt: np.ndarray | None, index: int) -> np.ndarray:
    """RGB | IR side by side with the tracked box (green) and ground truth (white) on both."""
    panels = []
    for img in (rgb, ir):
        if img is None:
            continue
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy()
        for b, colour, thick in ((gt, (255, 255, 255), 1), (box, (0, 255, 0), 2)):
            if b is not None and np.isfinite(b).all():
                x, y, w, h = (int(round(v)) for v in b)
                cv2.rectangle(img, (x, y), (x + w, y + h), colour, thick)
        panels.append(img)
    frame = np.hstack(panels)
    cv2.putText(frame, str(index), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 255, 255), 2)
    return frame


def run(args: argparse.Namespace) -> int:
    seq = load_sequence(args.sequence)
    if seq.static:
        raise ConfigError(f"{seq.root}: a folder of unrelated still image pairs ({seq.layout}), not a video to track through")
    seq.check_frames()
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    tracker = build_tracker(args.config, args.weights, args.fusion_weights, args.mode, args.device)
    mode = tracker.model.mode
    gt = seq.ir_boxes if mode == "ir" and seq.ir_boxes is not None else seq.boxes
    if args.init:
        start, init_box = 0, parse_box(args.init)
    else:
        valid = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
        if not valid.any():
            raise ConfigError(f"{seq.root}: no ground-truth box to initialise from; pass --init x,y,w,h")
        start = int(np.flatnonzero(valid)[0])
        init_box = tuple(float(v) for v in gt[start])
    read = _FrameReader(seq, mode in ("rgb", "fused") or bool(args.video), mode in ("ir", "fused") or bool(args.video), args.align)

    n = len(seq)
    boxes = np.full((n, 4), np.nan)
    scores = np.full(n, np.nan)
    flags = np.zeros(n, bool)
    ms = np.full(n, np.nan)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.video) if args.video else contextlib.nullcontext() as video_path:
        writer = None
        try:
            for i in tqdm(range(start, n), desc=f"{seq.name} [{mode}]", unit="frame"):
                rgb, ir = read(i)
                t0 = time.perf_counter()
                if i == start:
                    tracker.init(rgb, ir, init_box)
                    result = {"bbox": list(init_box), "best_score": 1.0, "valid": True}
                else:
                    result = tracker.track(rgb, ir)
                ms[i] = (time.perf_counter() - t0) * 1000
                boxes[i], scores[i], flags[i] = result["bbox"], result["best_score"], result["valid"]
                if video_path is not None:
                    frame = _draw(rgb, ir, boxes[i], gt[i], i)
                    if writer is None:
                        writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), seq.fps or 30.0, frame.shape[1::-1])
                        if not writer.isOpened():
                            raise ConfigError(f"{args.video}: OpenCV cannot write an mp4v video here")
                    writer.write(frame)
        finally:
            if writer is not None:
                writer.release()

    _write_outputs(out, seq, boxes, scores, flags, ms, start)
    summary = _summary(seq, mode, boxes, gt, flags, ms, start)
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2) + "\n"))
    if summary["iou_frames"]:
        iou = f"mean IoU {summary['mean_iou']:.3f} over {summary['iou_frames']} annotated frames"
    else:
        iou = "no ground truth after the start frame"
    print(
        f"{seq.name} [{mode}]: {iou}; {summary['ms_per_frame']:.1f} ms/frame; "
        f"{summary['invalid_frames']} flagged frames; results in {out}"
    )
    return 0


def _write_outputs(out: Path, seq: Sequence, boxes: np.ndarray, scores: np.ndarray, flags: np.ndarray, ms: np.ndarray, start: int) -> None:
    lines = "".join(",".join(f"{v:.4f}" for v in b) + "\n" for b in boxes)
    atomic_write(out / "boxes.txt", lambda tmp: tmp.write_text(lines))

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["frame", "name", "x", "y", "w", "h", "score", "valid", "ms"])
            for i in range(start, len(seq)):
                w.writerow([i, seq.rgb_frames[i].name, *(f"{v:.4f}" for v in boxes[i]), f"{scores[i]:.6f}", int(flags[i]), f"{ms[i]:.3f}"])

    atomic_write(out / "frames.csv", write_csv)


def _summary(seq: Sequence, mode: str, boxes: np.ndarray, gt: np.ndarray, flags: np.ndarray, ms: np.ndarray, start: int) -> dict:
    after = np.arange(len(seq)) > start
    annotated = after & np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    iou = box_iou(boxes[annotated], gt[annotated])
    tracked = ms[start + 1 :]
    return {
        "sequence": str(seq.root),
        "mode": mode,
        "start_frame": start,
        "frames": int(len(seq) - start),
        "mean_iou": float(iou.mean()) if iou.size else None,
        "iou_frames": int(iou.size),
        "ms_per_frame": float(np.mean(tracked)) if tracked.size else float(ms[start]),
        "invalid_frames": int((~flags[start:]).sum()),
    }
