"""The demo as a library function: a scene (or any sequence), one tracker per mode, and the report.

By default: generate the demo scene (rgbtfuse.data.synthetic, every scripted failure), track it
with the embedded demo model in the ``rgb``, ``ir``, ``fused`` and ``decision`` modes, and write
``demo.mp4`` (RGB | IR, a box per mode), ``iou.png`` (IoU over time, failures shaded, predicted
quality per branch), ``summary.md`` / ``summary.json`` (mean IoU, success rate, failures per mode)
and ``boxes_<mode>.txt``. With ``config``/``weights``/``sequence`` the same for any tracker and
sequence. ``rgbtfuse demo`` parses its options, calls :func:`run_demo` and prints the table.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.errors import ConfigError


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote, and its summary."""

    summary: dict[str, Any]
    markdown: str
    video: Path
    plot: Path
    summary_files: tuple[Path, Path]


def run_demo(
    out: str | Path,
    config: str | Path | None = None,
    weights: str | Path | None = None,
    fusion_weights: str | Path | None = None,
    sequence: str | Path | None = None,
    frames: int = 120,
    size: tuple[int, int] = (320, 240),
    seed: int | None = None,
    retrain: bool = False,
    steps: int | None = None,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Track the demo scene (or ``sequence``) in every mode into ``out``; ``log`` receives progress lines."""
    import cv2

    from rgbtfuse.data import load_sequence
    from rgbtfuse.data.synthetic import failure_intervals, write_vot_sequence
    from rgbtfuse.demo import DEMO_SEED, FUSION_WEIGHTS, MODEL_CONFIG, demo_scene
    from rgbtfuse.demo.report import iou_plot, markdown, summarize
    from rgbtfuse.trackers.models.siamese import BRANCHES
    from rgbtfuse.tracking import draw_frame, open_video, write_boxes
    from rgbtfuse.tracking.scoring import track_and_score

    say = log or (lambda _: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if retrain:
        from rgbtfuse.demo.retrain import compare_weights
        from rgbtfuse.demo.retrain import retrain as retrain_demo

        manifest = retrain_demo(out / "retrain", steps=steps)
        fusion_weights = str(manifest.parent / "gate_fusion.pth")
        say(f"retrained: {fusion_weights} (manifest {manifest}); {compare_weights(fusion_weights, FUSION_WEIGHTS)}")
    if config is None:
        if weights:
            raise ConfigError("--weights needs --config (the embedded demo model has no tracker weights)")
        config = MODEL_CONFIG
        fusion_weights = fusion_weights or str(FUSION_WEIGHTS)
    trackers, notes, model_desc = _trackers(config, weights, fusion_weights, device)

    if sequence:
        seq = load_sequence(sequence)
        if seq.static:
            raise ConfigError(f"{seq.root}: still image pairs ({seq.layout}), not a video to track through")
    else:
        width, height = size
        if width < 96 or height < 96:
            raise ConfigError(f"--size {width}x{height}: the scene must be at least 96x96")
        if frames < 10:
            raise ConfigError(f"--frames {frames}: the demo scene needs at least 10 frames")
        scene = demo_scene(frames, width, height, DEMO_SEED if seed is None else seed)
        say(f"generating the demo scene ({frames} frames, {width}x{height}, seed {scene.seed}) in {out / 'scene'}")
        seq = load_sequence(write_vot_sequence(scene, out / "scene", name="demo"))
    seq.check_frames()
    intervals = failure_intervals(seq)

    video = out / "demo.mp4"
    with open_video(video, seq.fps or 30.0) as sink:

        def on_frame(i: int, rgb: np.ndarray, ir: np.ndarray, boxes: dict) -> None:
            active = [k for k, spans in intervals.items() if any(a <= i < b for a, b in spans)]
            lines = ["failing: " + ", ".join(active)] if active else []
            branch = getattr(trackers["decision"], "branch", None)
            lines += [f"decision follows: {branch}"] if branch else []
            sink.write(draw_frame(rgb, ir, boxes, seq.boxes[i], i, lines))

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
    return DemoResult(summary, md, video, plot, (out / "summary.md", out / "summary.json"))


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
