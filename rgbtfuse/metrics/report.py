"""Readable evaluation reports: per-image CSV, mean tables (markdown + JSON), image grids, bar charts.

Charts are drawn with OpenCV (already a dependency) so reports need no plotting library.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.errors import PairingError
from rgbtfuse.imageio import list_images, read_image, write_image
from rgbtfuse.metrics import METRICS
from rgbtfuse.metrics.evaluate import Evaluation, finite_or_none

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_csv(ev: Evaluation, path: Path) -> Path:
    """One row per (method, image): ``method,image,<metric>...``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "image", *ev.metrics])
    for method in ev.methods:
        for image in ev.images:
            writer.writerow([method, image, *(f"{ev.values[method][image][k]:.6g}" for k in ev.metrics)])
    return _write_text(path, buf.getvalue())


def best_methods(means: dict[str, dict[str, float]], metric: str) -> set[str]:
    """Methods with the best mean for ``metric`` (ties all win; NaN never wins)."""
    vals = {m: v[metric] for m, v in means.items() if not math.isnan(v[metric])}
    if not vals:
        return set()
    best = (max if METRICS[metric].higher_is_better else min)(vals.values())
    return {m for m, v in vals.items() if v == best}


def markdown_table(ev: Evaluation) -> str:
    """Mean per method; the best value per column in bold; ↑/↓ tells which direction is better."""
    means = ev.means()
    head = [f"{METRICS[k].label or k} {'↑' if METRICS[k].higher_is_better else '↓'}" for k in ev.metrics]
    lines = ["| method | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    winners = {k: best_methods(means, k) for k in ev.metrics}
    for method in ev.methods:
        cells = []
        for k in ev.metrics:
            text = f"{means[method][k]:.4f}"
            cells.append(f"**{text}**" if method in winners[k] else text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nMeans over {len(ev.images)} image pairs.\n"


def write_json(ev: Evaluation, path: Path) -> Path:
    means = ev.means()
    doc = {
        "images": ev.images,
        "metrics": ev.metrics,
        "mean": {m: {k: finite_or_none(v) for k, v in means[m].items()} for m in ev.methods},
        "best": {k: sorted(best_methods(means, k)) for k in ev.metrics},
        "per_image": {
            m: {img: {k: finite_or_none(v) for k, v in ev.values[m][img].items()} for img in ev.images} for m in ev.methods
        },
    }
    return _write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def _label(image: np.ndarray, text: str, height: int = 28) -> np.ndarray:
    """Put ``text`` in a white strip above ``image`` (BGR)."""
    strip = np.full((height, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text[:40], (4, height - 9), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, image])


def image_grid(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], cell_height: int = 240) -> np.ndarray:
    """Stack labelled rows of images: ``rows = [(row_title, [(column_title, gray_or_bgr), ...])]``."""
    rendered = []
    for title, cells in rows:
        parts = []
        for name, img in cells:
            bgr = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            width = max(1, round(bgr.shape[1] * cell_height / bgr.shape[0]))
            parts.append(_label(cv2.resize(bgr, (width, cell_height), interpolation=cv2.INTER_AREA), f"{title}: {name}"))
            parts.append(np.full((cell_height + 28, 4, 3), 255, np.uint8))
        rendered.append(np.hstack(parts[:-1]))
    width = max(r.shape[1] for r in rendered)
    padded = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rendered]
    return np.vstack(padded)


def bar_chart(title: str, names: Sequence[str], values: Sequence[float], best: set[str], size=(640, 400)) -> np.ndarray:
    """A bar per method with its value printed; the best bar(s) in a darker colour."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 24), _FONT, 0.65, (0, 0, 0), 1, cv2.LINE_AA)
    finite = [v for v in values if math.isfinite(v)]
    top = max([0.0, *finite]) or 1.0
    bottom = min([0.0, *finite])
    span = top - bottom or 1.0
    plot_top, plot_bottom = 50, h - 60
    zero_y = plot_bottom - (0 - bottom) / span * (plot_bottom - plot_top)
    slot = (w - 40) / max(1, len(names))
    cv2.line(img, (20, int(zero_y)), (w - 20, int(zero_y)), (0, 0, 0), 1)
    for k, (name, v) in enumerate(zip(names, values)):
        x0 = int(20 + k * slot + slot * 0.15)
        x1 = int(20 + (k + 1) * slot - slot * 0.15)
        shown = v if math.isfinite(v) else top
        y = plot_bottom - (shown - bottom) / span * (plot_bottom - plot_top)
        colour = (150, 80, 20) if name in best else (220, 170, 120)
        cv2.rectangle(img, (x0, int(min(y, zero_y))), (x1, int(max(y, zero_y))), colour, -1)
        cv2.putText(img, f"{v:.4g}", (x0, int(min(y, zero_y)) - 6), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, name[:14], (x0, h - 35), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def write_report(
    ev: Evaluation,
    out_dir: str | Path,
    ir_dir: str | Path,
    vis_dir: str | Path,
    fused_dirs: dict[str, str | Path],
    grid_images: Sequence[str] = (),
) -> dict[str, Path]:
    """Write every report file under ``out_dir``; returns ``{kind: path}``."""
    out = Path(out_dir)
    written = {
        "csv": write_csv(ev, out / "per_image.csv"),
        "markdown": _write_text(out / "mean.md", markdown_table(ev)),
        "json": write_json(ev, out / "metrics.json"),
    }
    means = ev.means()
    for k in ev.metrics:
        chart = bar_chart(f"{METRICS[k].label or k} ({'higher' if METRICS[k].higher_is_better else 'lower'} is better)",
                          ev.methods, [means[m][k] for m in ev.methods], best_methods(means, k))
        written[f"bar_{k}"] = write_image(out / "bars" / f"{k}.png", chart)
    if grid_images:
        rows = []
        for stem in grid_images:
            ir = _find(Path(ir_dir), stem)
            cells = [("ir", read_image(ir, "gray")), ("vis", read_image(_find(Path(vis_dir), stem), "gray"))]
            cells += [(m, read_image(_find(Path(d), stem), "gray")) for m, d in fused_dirs.items()]
            rows.append((stem, cells))
        written["grid"] = write_image(out / "grid.png", image_grid(rows))
    return written


def _find(folder: Path, stem: str) -> Path:
    images, _ = list_images(folder)
    for p in images:
        if p.stem == stem:
            return p
    raise PairingError(f"{folder}: no image named {stem}.*")
