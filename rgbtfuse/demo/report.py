"""Demo outputs drawn with OpenCV: annotated video frames, the IoU-over-time plot, the summary."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from rgbtfuse.tracking.scoring import ModeRun
from rgbtfuse.tracking.video import COLOURS, OTHER

FAILURE_COLOURS = {
    "night": (120, 60, 60),
    "overexposure": (90, 200, 230),
    "crossover": (200, 120, 200),
    "occlusion": (150, 150, 150),
    "distractor": (110, 170, 110),
}
def iou_plot(
    runs: dict[str, ModeRun],
    intervals: dict[str, list[tuple[int, int]]],
    n_frames: int,
    size: tuple[int, int] = (960, 400),
    qualities: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """IoU over time per mode (BGR image); failure intervals shaded and labelled; with
    ``qualities`` (``{branch: (N,)}``, NaN where absent) the decision tracker's predicted
    quality per branch as thin lines ``q <branch>`` in the branch's colour, all divided by their
    common maximum (training-free qualities are not on the IoU scale)."""
    w, h = size
    left, right, top, bottom = 50, 150, 30, 40
    img = np.full((h, w, 3), 255, np.uint8)
    pw, ph = w - left - right, h - top - bottom

    def px(t: float) -> int:
        return left + round(pw * t / max(n_frames - 1, 1))

    def py(v: float) -> int:
        return top + round(ph * (1 - v))

    for k, (name, spans) in enumerate(sorted(intervals.items())):
        colour = FAILURE_COLOURS.get(name, (200, 200, 200))
        for a, b in spans:
            overlay = img.copy()
            cv2.rectangle(overlay, (px(a), top), (px(max(b - 1, a)), top + ph), colour, -1)
            img = cv2.addWeighted(overlay, 0.35, img, 0.65, 0)
            cv2.putText(img, name, (px(a) + 2, top + 14 + 14 * (k % 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        cv2.line(img, (left, py(v)), (left + pw, py(v)), (225, 225, 225) if v not in (0.0, 0.5) else (170, 170, 170), 1)
        cv2.putText(img, f"{v:.2f}", (8, py(v) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for t in np.linspace(0, n_frames - 1, 6).round().astype(int):
        cv2.putText(img, str(t), (px(t) - 8, top + ph + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "frame", (left + pw // 2 - 20, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "IoU with the ground truth", (left, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    for k, (mode, run) in enumerate(runs.items()):
        t = np.flatnonzero(np.isfinite(run.iou))
        if t.size:
            pts = np.stack([[px(i) for i in t], [py(float(run.iou[i])) for i in t]], 1).astype(np.int32)
            cv2.polylines(img, [pts], False, COLOURS.get(mode, OTHER), 2, cv2.LINE_AA)
            if t.size < 40:  # sparse ground truth: mark the scored frames
                for p in pts:
                    cv2.circle(img, tuple(int(v) for v in p), 3, COLOURS.get(mode, OTHER), -1, cv2.LINE_AA)
        y = top + 20 + 22 * k
        cv2.line(img, (left + pw + 12, y - 4), (left + pw + 36, y - 4), COLOURS.get(mode, OTHER), 3)
        cv2.putText(img, mode, (left + pw + 42, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    qualities = qualities or {}
    finite = [q[np.isfinite(q)] for q in qualities.values()]
    top_q = max((float(v.max()) for v in finite if v.size), default=0.0)
    for k, (branch, q) in enumerate(qualities.items()):
        t = np.flatnonzero(np.isfinite(q))
        if t.size > 1 and top_q > 0:
            pts = np.stack([[px(i) for i in t], [py(float(q[i]) / top_q) for i in t]], 1).astype(np.int32)
            cv2.polylines(img, [pts], False, COLOURS.get(branch, OTHER), 1, cv2.LINE_AA)
        y = top + 20 + 22 * (len(runs) + k)
        cv2.line(img, (left + pw + 12, y - 4), (left + pw + 36, y - 4), COLOURS.get(branch, OTHER), 1)
        cv2.putText(img, f"q {branch} /max", (left + pw + 42, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def lost_count(iou: np.ndarray) -> int:
    """Times the tracker lost the target: runs of zero-overlap scored frames (VOT's failures)."""
    v = iou[np.isfinite(iou)]
    zero = (v <= 0).astype(int)
    return int(np.sum(np.diff(np.concatenate([[0], zero])) == 1))


def summarize(runs: dict[str, ModeRun], intervals: dict[str, list[tuple[int, int]]], info: dict[str, Any]) -> dict[str, Any]:
    """JSON-able summary: per mode mean IoU, success rate (IoU > 0.5), failures, speed, and
    mean IoU inside each failure interval."""
    modes = {}
    for mode, run in runs.items():
        iou = run.iou
        ok = np.isfinite(iou)
        tracked = int(np.isfinite(run.boxes).all(axis=1).sum())
        per_failure = {}
        for name, spans in intervals.items():
            mask = np.zeros_like(ok)
            for a, b in spans:
                mask[a:b] = True
            sel = iou[mask & ok]
            per_failure[name] = float(sel.mean()) if sel.size else None
        modes[mode] = {
            "mean_iou": float(iou[ok].mean()) if ok.any() else None,
            "success_rate": float((iou[ok] > 0.5).mean()) if ok.any() else None,
            "failures": lost_count(iou),
            "scored_frames": int(ok.sum()),
            "ms_per_frame": 1000 * run.seconds / max(tracked, 1),
            "mean_iou_during": per_failure,
        }
    singles = [modes[m]["mean_iou"] for m in ("rgb", "ir") if m in modes and modes[m]["mean_iou"] is not None]

    def beats(mode: str) -> bool | None:
        value = modes.get(mode, {}).get("mean_iou")
        return None if value is None or len(singles) < 2 else bool(value > max(singles))

    return {**info, "failure_intervals": intervals, "modes": modes, "fused_beats_both": beats("fused"), "decision_beats_both": beats("decision")}


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a markdown table (one row per mode, then IoU inside each failure)."""
    modes = summary["modes"]

    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    lines = [
        f"# rgbtfuse demo: {summary['sequence_name']}",
        "",
        f"model: {summary['model']}",
        "",
        "| mode | mean IoU | success rate (IoU>0.5) | failures (lost) | ms/frame |",
        "|---|---|---|---|---|",
    ]
    for mode, m in modes.items():
        lines.append(f"| {mode} | {fmt(m['mean_iou'])} | {fmt(m['success_rate'])} | {m['failures']} | {m['ms_per_frame']:.1f} |")
    if summary["failure_intervals"]:
        names = sorted(summary["failure_intervals"])
        lines += ["", "Mean IoU inside each scripted failure:", "", "| mode | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for mode, m in modes.items():
            lines.append(f"| {mode} | " + " | ".join(fmt(m["mean_iou_during"][k]) for k in names) + " |")
        spans = "; ".join(f"{k} {', '.join(f'{a}-{b - 1}' for a, b in v)}" for k, v in sorted(summary["failure_intervals"].items()))
        lines += ["", f"failure frames: {spans}"]
    if summary.get("fused_beats_both") is not None:
        lines += ["", f"fused beats both single modalities (mean IoU): {'yes' if summary['fused_beats_both'] else 'NO'}"]
    if summary.get("decision_beats_both") is not None:
        lines += ["", f"decision beats both single modalities (mean IoU): {'yes' if summary['decision_beats_both'] else 'NO'}"]
    for note in summary.get("notes", []):
        lines += ["", f"note: {note}"]
    return "\n".join(lines) + "\n"
