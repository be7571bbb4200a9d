"""``rgbtfuse demo``: fused RGB-T tracking surviving a failing sensor, out of the box.

By default: generate the demo scene (rgbtfuse.data.synthetic, every scripted failure), track it
with the embedded demo model in the ``rgb``, ``ir`` and ``fused`` modes, and write ``demo.mp4``
(RGB | IR, a box per mode), ``iou.png`` (IoU over time, failures shaded), ``summary.md`` /
``summary.json`` (mean IoU, success rate, failures per mode) and ``boxes_<mode>.txt``. With
``--config/--weights/--sequence`` the same outputs for any tracker and sequence.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.cli import add_threads_argument, add_trust_argument
from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--config", help="experiment yaml with a fusion: section (default: the embedded demo model)")
    parser.add_argument("--weights", help="tracker checkpoint for --config (e.g. nanotrackv2.pth)")
    parser.add_argument("--fusion-weights", help="weights of a trainable fusion module (rfn, gate, ...)")
    parser.add_argument("--sequence", help="RGB-T sequence folder (default: generate the demo scene)")
    parser.add_argument("--frames", type=int, default=120, help="generated scene: number of frames")
    parser.add_argument("--size", default="320x240", help="generated scene: WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=None, help="generated scene: seed (default: the demo seed, 0)")
    parser.add_argument("--retrain", action="store_true", help="first reproduce the demo model's fusion weights (OUT/retrain), then use them")
    parser.add_argument("--steps", type=int, help="with --retrain: override the number of training steps")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    add_threads_argument(parser)
    add_trust_argument(parser)


def _scene_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if w < 96 or h < 96:
        raise ConfigError(f"--size {text!r}: the scene must be at least 96x96")
    return w, h


def _trackers(config: str | Path, weights: str | None, fusion_weights: str | None, device: str) -> tuple[dict, list[str], str]:
    """One tracker per mode; warnings about untrained fusion modules become summary notes."""
    from rgbtfuse.trackers.builder import build_tracker, load_experiment

    cfg = load_experiment(config)
    if not cfg.get("fusion"):
        raise ConfigError(f"{config}: the demo compares rgb, ir and fused tracking: the experiment needs a fusion: section")
    if cfg["model"]["type"] != "filterbank" and weights is None:
        raise ConfigError(f"{config}: model.type {cfg['model']['type']} needs tracker weights (--weights)")
    trackers, notes = {}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for mode in ("rgb", "ir", "fused", "decision"):
            trackers[mode] = build_tracker(cfg, weights, fusion_weights, mode=mode, device=device)
    for w in caught:
        text = str(w.message)
        if text not in notes:
            notes.append(text)
            warnings.warn(text, w.category, stacklevel=2)  # now, and again under the table
    desc = f"{cfg['model']['type']} ({Path(str(config)).name}) + {cfg['fusion']['name']} fusion"
    desc += f", fusion weights {fusion_weights}" if fusion_weights else ""
    desc += f"; decision quality: {trackers['decision'].quality_source}"  # trained QPN or training-free: said
    return trackers, notes, desc


def run(args: argparse.Namespace) -> int:
    import cv2

    from rgbtfuse.data import load_sequence
    from rgbtfuse.data.synthetic import failure_intervals, write_vot_sequence
    from rgbtfuse.demo import DEMO_SEED, FUSION_WEIGHTS, MODEL_CONFIG, demo_scene
    from rgbtfuse.demo.report import iou_plot, markdown, summarize
    from rgbtfuse.trackers.models.siamese import BRANCHES
    from rgbtfuse.tracking import draw_frame, open_video, write_boxes
    from rgbtfuse.tracking.scoring import track_and_score

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fusion_weights = args.fusion_weights
    if args.retrain:
        from rgbtfuse.demo.retrain import compare_weights, retrain

        manifest = retrain(out / "retrain", steps=args.steps)
        fusion_weights = str(manifest.parent / "gate_fusion.pth")
        print(f"retrained: {fusion_weights} (manifest {manifest}); {compare_weights(fusion_weights, FUSION_WEIGHTS)}")
    if args.config is None:
        if args.weights:
            raise ConfigError("--weights needs --config (the embedded demo model has no tracker weights)")
        config, weights = MODEL_CONFIG, None
        fusion_weights = fusion_weights or str(FUSION_WEIGHTS)
    else:
        config, weights = args.config, args.weights
    trackers, notes, model_desc = _trackers(config, weights, fusion_weights, args.device)

    if args.sequence:
        seq = load_sequence(args.sequence)
        if seq.static:
            raise ConfigError(f"{seq.root}: still image pairs ({seq.layout}), not a video to track through")
    else:
        width, height = _scene_size(args.size)
        if args.frames < 10:
            raise ConfigError(f"--frames {args.frames}: the demo scene needs at least 10 frames")
        scene = demo_scene(args.frames, width, height, DEMO_SEED if args.seed is None else args.seed)
        print(f"generating the demo scene ({args.frames} frames, {width}x{height}, seed {scene.seed}) in {out / 'scene'}")
        seq = load_sequence(write_vot_sequence(scene, out / "scene", name="demo"))
    seq.check_frames()
    intervals = failure_intervals(seq)

    video = out / "demo.mp4"
    with open_video(video, seq.fps or 30.0) as sink:

        def on_frame(i: int, rgb: np.ndarray, ir: np.ndarray, boxes: dict) -> None:
            active = [k for k, spans in intervals.items() if any(a <= i < b for a, b in spans)]
            notes = ["failing: " + ", ".join(active)] if active else []
            branch = getattr(trackers["decision"], "branch", None)
            notes += [f"decision follows: {branch}"] if branch else []
            sink.write(draw_frame(rgb, ir, boxes, seq.boxes[i], i, notes))

        runs, start = track_and_score(seq, trackers, on_frame)

    plot = out / "iou.png"
    extras = runs["decision"].result.extras
    qualities = {b: np.array([np.nan if v is None else v for v in extras[f"q_{b}"]], float) for b in BRANCHES if f"q_{b}" in extras}
    img = iou_plot(runs, intervals, len(seq), qualities=qualities)
    atomic_write(plot, lambda p: cv2.imwrite(str(p), img))  # the temporary name keeps the .png suffix
    for mode, r in runs.items():
        write_boxes(out / f"boxes_{mode}.txt", r.boxes)
    info = {"sequence": str(seq.root), "sequence_name": seq.name, "frames": len(seq), "start_frame": start, "model": model_desc, "notes": notes}
    summary = summarize(runs, intervals, info)
    atomic_write(out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"))
    md = markdown(summary)
    atomic_write(out / "summary.md", lambda p: p.write_text(md))
    print(md)
    print(f"video:   {video}\nplot:    {plot}\nsummary: {out / 'summary.md'} / {out / 'summary.json'}")
    return 0
