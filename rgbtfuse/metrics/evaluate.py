"""Evaluate fused-image folders against their IR/visible sources, paired by file name."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgbtfuse.errors import MetricInputError, PairingError, RgbtfuseError
from rgbtfuse.imageio import check_same_size, list_images, natural_key, pair_folders, read_image
from rgbtfuse.metrics import METRICS


@dataclass
class Evaluation:
    """Per-image metric values: ``values[method][image][metric]`` (image = file stem)."""

    metrics: list[str]
    methods: list[str]
    images: list[str]
    values: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def means(self) -> dict[str, dict[str, float]]:
        """Mean over images per method and metric (``inf`` stays ``inf``)."""
        return {
            m: {k: float(np.mean([self.values[m][img][k] for img in self.images])) for k in self.metrics}
            for m in self.methods
        }


def _warn_non_images(folder: Path) -> None:
    _, others = list_images(folder)
    if others:
        warnings.warn(f"{folder}: skipping {len(others)} non-image file(s): " + ", ".join(p.name for p in others), stacklevel=3)


def pair_fused(fused_dirs: dict[str, Path], ir_dir: Path, vis_dir: Path) -> list[tuple[str, Path, Path, dict[str, Path]]]:
    """``[(stem, ir, vis, {method: fused})]`` in natural order; every method must have every pair.

    Non-image files are skipped with one warning per folder; missing fused images raise
    :class:`PairingError` naming them.
    """
    for folder in (ir_dir, vis_dir, *fused_dirs.values()):
        _warn_non_images(Path(folder))
    pairs = pair_folders(ir_dir, vis_dir)
    by_method = {}
    problems = []
    for method, folder in fused_dirs.items():
        images, _ = list_images(folder)
        stems = {p.stem: p for p in images}
        missing = [ir.stem for ir, _ in pairs if ir.stem not in stems]
        if missing:
            problems.append(f"{folder} ({method}) has no fused image for: " + ", ".join(missing))
        by_method[method] = stems
    if problems:
        raise PairingError("; ".join(problems))
    return [(ir.stem, ir, vis, {m: by_method[m][ir.stem] for m in fused_dirs}) for ir, vis in pairs]


def _evaluate_pair(task: tuple[str, Path, Path, dict[str, Path], list[str]]) -> tuple[str, dict[str, dict[str, float]]]:
    stem, ir_path, vis_path, fused_paths, names = task
    ir = read_image(ir_path, "gray")
    vis = read_image(vis_path, "gray")
    check_same_size(ir_path, ir, vis_path, vis)
    out = {}
    for method, path in fused_paths.items():
        fused = read_image(path, "gray")
        check_same_size(path, fused, ir_path, ir, hint=f"fused image of {method!r}")
        try:
            out[method] = {n: float(METRICS[n].fn(fused, ir, vis)) for n in names}
        except ValueError as exc:  # e.g. an image smaller than a metric's windows
            raise MetricInputError(f"{path}: {exc}") from exc
    return stem, out


def _evaluate_pair_in_worker(task) -> tuple[str, dict[str, dict[str, float]] | None]:
    """Worker side: bad input is reported as ``None`` and re-raised by the parent (our errors
    carry constructor arguments that do not survive pickling)."""
    try:
        return _evaluate_pair(task)
    except RgbtfuseError:
        return task[0], None


def evaluate(
    fused_dirs: dict[str, str | Path],
    ir_dir: str | Path,
    vis_dir: str | Path,
    metrics: Sequence[str],
    workers: int = 1,
    progress: Callable | None = None,
) -> Evaluation:
    """Compute ``metrics`` for every method folder on every IR/visible pair.

    Args:
        fused_dirs: method name → folder of fused images (named like the source pairs).
        metrics: names from :data:`rgbtfuse.metrics.METRICS`.
        workers: processes evaluating pairs in parallel (``0`` = all CPUs).
        progress: optional wrapper ``progress(iterable, total=n)`` such as ``tqdm``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s): {', '.join(unknown)}")
    dirs = {m: Path(d) for m, d in fused_dirs.items()}
    pairs = pair_fused(dirs, Path(ir_dir), Path(vis_dir))
    tasks = [(stem, ir, vis, fused, list(metrics)) for stem, ir, vis, fused in pairs]
    workers = (os.cpu_count() or 1) if workers == 0 else workers
    wrap = progress or (lambda it, total: it)
    ev = Evaluation(list(metrics), list(dirs), [t[0] for t in tasks], {m: {} for m in dirs})
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            results = list(wrap(pool.map(_evaluate_pair_in_worker, tasks), total=len(tasks)))
        for task, (_, values) in zip(tasks, results):
            if values is None:
                _evaluate_pair(task)  # raises the error here, in the caller's process
    else:
        results = [_evaluate_pair(t) for t in wrap(tasks, total=len(tasks))]
    for stem, per_method in results:
        for method, vals in per_method.items():
            ev.values[method][stem] = vals
    ev.images.sort(key=natural_key)
    return ev


def finite_or_none(x: float) -> float | None:
    """JSON has no ``inf``/``nan``: write them as ``null``."""
    return x if math.isfinite(x) else None
