"""Validation while training a fusion module: track ``val:`` sequences every N steps.

.. code-block:: yaml

    val:
      every: 50                       # steps between validations (and at the last step)
      modes: [rgb, ir, fused]         # rgb/ir do not change while training: tracked once
      sequences: [path/to/seq, ...]   # any layout rgbtfuse track reads
      synthetic: {seeds: [500, 503], frames: 80}   # and/or generated scenes (seeds first..last)
      stills: {root: DIR, pairs: [0, 19], frames: 40, seed: 0}   # and/or still pairs made into sequences
                                      # (rgbtfuse.data.still_sequences; held-out pairs, never the test data)

Each validation writes the current fusion weights, builds a tracker from them exactly as
``rgbtfuse track --fusion-weights`` does, tracks every sequence from its first box and scores the
mean IoU over the annotated frames after it. Rows go to ``val.csv`` (``step, mode, sequence,
iou``); the fusion weights with the best mean fused IoU are kept as ``fusion_best.pth``
(``best.json`` says which step). Step 0 (the untrained module) is validated too, so
``fusion_best.pth`` is never worse on the validation set than the starting point.
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rgbtfuse.atomic import atomic_torch_save, atomic_write
from rgbtfuse.config import from_dict
from rgbtfuse.errors import ConfigError

MODES = ("rgb", "ir", "fused")


@dataclass
class ValConfig:
    every: int = 100
    modes: tuple[str, ...] = ("fused",)
    sequences: tuple[str, ...] = ()
    synthetic: dict[str, Any] = field(default_factory=dict)
    stills: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> ValConfig | None:
        if not cfg:
            return None
        out = from_dict(cls, cfg, "val")
        if bad := [m for m in out.modes if m not in MODES]:
            raise ConfigError(f"val.modes: unknown modes {bad}; known: {list(MODES)}")
        if "fused" not in out.modes:
            out.modes = (*out.modes, "fused")
        if out.every < 1:
            raise ConfigError(f"val.every must be >= 1, got {out.every}")
        if not out.sequences and not out.synthetic and not out.stills:
            raise ConfigError("val: give sequences: [DIR, ...], synthetic: {seeds: [FIRST, LAST]} and/or stills: {root: DIR}")
        return out


def synthetic_scenes(spec: dict[str, Any], folder: Path, where: str) -> list[Path]:
    """Generated RGB-T scenes (``seeds: [first, last]``, ``frames``, ``width``, ``height``), each
    sensor failing in turn (:func:`rgbtfuse.data.synthetic.default_failures`); the target size
    varies with the seed. Written once into ``folder`` (skipped when present)."""
    from rgbtfuse.data.synthetic import SceneConfig, default_failures, write_vot_sequence

    spec = dict(spec)
    known = {"seeds", "frames", "width", "height"}
    if unknown := sorted(set(spec) - known):
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    seeds = spec.get("seeds")
    if not (isinstance(seeds, (list, tuple)) and len(seeds) == 2 and all(isinstance(s, int) for s in seeds) and seeds[0] <= seeds[1]):
        raise ConfigError(f"{where}.seeds: expected [FIRST, LAST] integers, got {seeds!r}")
    frames, width, height = int(spec.get("frames", 120)), int(spec.get("width", 320)), int(spec.get("height", 240))
    out = []
    for seed in range(seeds[0], seeds[1] + 1):
        rng = np.random.default_rng([seed, 7])
        size = (int(rng.integers(20, 56)), int(rng.integers(16, 44)))
        cfg = SceneConfig(seed=seed, frames=frames, width=width, height=height, target_size=size,
                          failures=default_failures(frames))
        seq = folder / f"scene_{seed}"
        if not (seq / "scene.json").is_file():
            write_vot_sequence(cfg, seq)
        out.append(seq)
    atomic_write(folder / "list.txt", lambda p: p.write_text("".join(f"{s.name}\n" for s in out)))
    return out


class Validator:
    """Called with the step after every training step; validates every ``val.every`` steps."""

    def __init__(self, experiment: dict[str, Any], weights: str | None, fusion: torch.nn.Module, val: ValConfig,
                 out_dir: Path, last_step: int, scene_dir: Path):
        from rgbtfuse.data import load_sequence

        self.experiment, self.weights, self.fusion, self.val = experiment, weights, fusion, val
        self.out_dir, self.last_step = Path(out_dir), last_step
        paths = [Path(s) for s in val.sequences]
        if val.synthetic:
            paths += synthetic_scenes(val.synthetic, scene_dir, "val.synthetic")
        if val.stills:
            from rgbtfuse.data.still_sequences import still_sequences

            paths += still_sequences(val.stills, Path(scene_dir).parent / "val_stills", "val.stills")
        self.sequences = [load_sequence(p) for p in paths]
        self.fixed: dict[str, dict[str, float]] = {}  # rgb/ir scores, computed once
        self.rows: list[tuple[int, str, str, float]] = []
        self.best: tuple[int, float] | None = None

    def resume(self, step: int) -> None:
        """Keep the rows and the best score of a resumed run up to ``step``."""
        path = self.out_dir / "val.csv"
        if path.is_file():
            with open(path, newline="") as fh:
                self.rows = [(int(r["step"]), r["mode"], r["sequence"], float(r["iou"])) for r in csv.DictReader(fh) if int(r["step"]) <= step]
        best = self.out_dir / "best.json"
        if best.is_file():
            info = json.loads(best.read_text())
            if info["step"] <= step:
                self.best = (info["step"], info["mean_fused_iou"])
        for mode in ("rgb", "ir"):
            scores = {s: v for st, m, s, v in self.rows if m == mode}
            if scores:
                self.fixed[mode] = scores

    def _track(self, mode: str, fusion_weights: Path | None) -> dict[str, float]:
        from rgbtfuse.trackers.builder import build_tracker
        from rgbtfuse.tracking.scoring import track_and_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracker = build_tracker(self.experiment, weights=self.weights, fusion_weights=fusion_weights, mode=mode, device="cpu")
        scores = {}
        for seq in self.sequences:
            runs, _ = track_and_score(seq, {mode: tracker}, progress=False)
            scores[seq.name] = float(np.nanmean(runs[mode].iou))
        return scores

    def __call__(self, step: int) -> dict[str, float] | None:
        if step % self.val.every and step != self.last_step and step != 0:
            return None
        if any(r[0] == step for r in self.rows):
            return None
        weights = self.out_dir / "val_fusion.pth"
        state = {k: v.detach().clone() for k, v in self.fusion.state_dict().items()}
        atomic_torch_save(state, weights)
        was_training = self.fusion.training
        results = {}
        for mode in self.val.modes:
            if mode != "fused" and mode in self.fixed:
                results[mode] = self.fixed[mode]
                continue
            results[mode] = self._track(mode, weights if mode == "fused" else None)
            if mode != "fused":
                self.fixed[mode] = results[mode]
        self.fusion.train(was_training)
        for mode, scores in results.items():
            self.rows += [(step, mode, s, v) for s, v in scores.items()]
        mean_fused = float(np.mean(list(results["fused"].values())))
        if self.best is None or mean_fused > self.best[1]:
            self.best = (step, mean_fused)
            atomic_torch_save(state, self.out_dir / "fusion_best.pth")
            atomic_write(self.out_dir / "best.json", lambda p: p.write_text(json.dumps({"step": step, "mean_fused_iou": mean_fused}, indent=1)))
        self._write()
        return {f"val_{m}": float(np.mean(list(v.values()))) for m, v in results.items()}

    def _write(self) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["step", "mode", "sequence", "iou"])
                w.writerows([(s, m, q, f"{v:.4f}") for s, m, q, v in self.rows])

        atomic_write(self.out_dir / "val.csv", write)

    def table(self) -> str:
        """Markdown table: one row per validation step (fused) plus rgb/ir, columns = sequences + mean."""
        names = [s.name for s in self.sequences]
        lines = ["| step / mode | " + " | ".join(names) + " | mean |", "|---" * (len(names) + 2) + "|"]
        by: dict[tuple[Any, str], dict[str, float]] = {}
        for step, mode, seq, v in self.rows:
            key = (mode, mode) if mode != "fused" else (step, "fused")
            by.setdefault(key, {})[seq] = v
        for (label, mode), scores in sorted(by.items(), key=lambda kv: (kv[0][1] == "fused", kv[0][0] if kv[0][1] == "fused" else 0)):
            vals = [scores.get(n, float("nan")) for n in names]
            head = mode if mode != "fused" else f"fused @ {label}"
            lines.append(f"| {head} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.nanmean(vals):.3f} |")
        if self.best is not None:
            lines.append(f"\nbest fused: step {self.best[0]}, mean IoU {self.best[1]:.3f} (fusion_best.pth)")
        return "\n".join(lines)
