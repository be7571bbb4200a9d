"""Training data of the quality network: the frozen decision tracker's per-frame evidence.

A *rollout* runs the frozen tracker (mode ``decision``) over one sequence with boxes and records,
per frame after the first, the evidence of :class:`rgbtfuse.trackers.tracker.evidence.EvidenceBuilder`
(what the QPN sees online), the true IoU of each branch's box, and the training-free quality
(the baseline). Which branch the state follows is the rollout's *policy*: ``free`` (the
training-free rule, what ``decision`` does today), ``oracle`` (the branch with the highest true
IoU), or one fixed branch (``rgb``, ``ir``, ``fused``) — so the network sees the states its
own choices can lead to, not only one rule's. Rollouts are cached as ``.npz`` files.

Sequences: generated scenes (:mod:`rgbtfuse.data.synthetic`, seeded failure schedules) with
per-modality sensor-failure augmentation (:mod:`rgbtfuse.data.degrade`, seeded per scene and
frame), and any folder :func:`rgbtfuse.data.load_sequence` reads (GTOT, RGBT234, LasHeR, VOT,
VTUAV; frames without a box carry evidence but no target).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rgbtfuse.atomic import atomic_write
from rgbtfuse.boxes import box_iou
from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.decision import DecisionTracker
from rgbtfuse.trackers.tracker.evidence import EVIDENCE_VERSION, EvidenceBuilder

POLICIES = ("free", "oracle", "rgb", "ir", "fused")
SCHEDULES = ("default", "random", "mixed")
DEFAULT_DEGRADE = {
    "p": 0.5,
    "rgb": ["night", "overexposure", "blur", "occlusion", "dropout"],
    "ir": ["crossover", "washout", "blur", "occlusion", "dropout"],
    "strength": [0.5, 1.0],
    "rgb_share": 0.5,
}
#: arrays of one rollout file; ``T`` = frames after the init frame
ROLLOUT_KEYS = ("maps", "scalars", "iou", "has_gt", "valid", "free", "followed")

FrameSource = Callable[[int], tuple[np.ndarray, np.ndarray]]


@dataclass
class SourceSequence:
    """One sequence to roll out: ``frame(i) -> (rgb, ir)``, ``(N, 4)`` boxes, ``(N,)`` validity."""

    name: str
    frame: FrameSource
    boxes: np.ndarray
    has_gt: np.ndarray
    #: identifies the content for the cache (scene spec, or folder path)
    key: str

    def __len__(self) -> int:
        return len(self.boxes)


# --- generated scenes ----------------------------------------------------------------------------
def failure_schedule(seed: int, frames: int, kind: str) -> list[Any]:
    """Scripted failures of a generated training scene: ``default`` (each sensor failing in turn,
    the demo's schedule), ``random`` (each failure kind with probability 0.6 at a seeded random
    interval of 10–30 % of the scene), ``mixed`` (default on even seeds, random on odd)."""
    from rgbtfuse.data.synthetic import FAILURES, Failure, default_failures

    if kind not in SCHEDULES:
        raise ConfigError(f"quality.data.synthetic.schedule {kind!r}: expected one of {SCHEDULES}")
    if kind == "default" or (kind == "mixed" and seed % 2 == 0):
        return default_failures(frames)
    rng = np.random.default_rng([seed, 17])
    out = []
    for name in FAILURES:
        if rng.random() < 0.6:
            length = int(rng.uniform(0.1, 0.3) * frames)
            start = int(rng.uniform(0.05, 0.95) * frames - length / 2)
            start = max(1, min(start, frames - length - 1))
            out.append(Failure(name, start, start + length))
    return out


def _augmentation(seed: int, frames: int, spec: dict[str, Any]) -> list[tuple[str, str, int, int, float]]:
    """Seeded per-modality sensor failures of one scene: ``(modality, kind, start, end, strength)``,
    up to two intervals, each with probability ``p``."""
    from rgbtfuse.data.degrade import DEGRADATIONS

    rng = np.random.default_rng([seed, 29])
    lo, hi = spec["strength"]
    out = []
    for _ in range(2):
        if rng.random() >= spec["p"]:
            continue
        modality = "rgb" if rng.random() < spec["rgb_share"] else "ir"
        kinds = spec[modality]
        if not kinds:
            continue
        kind = str(kinds[int(rng.integers(len(kinds)))])
        if kind not in DEGRADATIONS:
            raise ConfigError(f"quality.data.degrade.{modality}: unknown degradation {kind!r}; known: {sorted(DEGRADATIONS)}")
        length = int(rng.uniform(0.1, 0.35) * frames)
        start = int(rng.integers(1, max(2, frames - length)))
        out.append((modality, kind, start, start + length, float(rng.uniform(lo, hi))))
    return out


def synthetic_sources(spec: dict[str, Any], seeds: list[int]) -> Iterator[SourceSequence]:
    """Generated scenes for ``seeds`` (rendered once into memory, augmented per modality)."""
    from rgbtfuse.data.synthetic import SceneConfig, SceneRenderer

    known = {"seeds", "frames", "width", "height", "schedule", "degrade"}
    if unknown := sorted(set(spec) - known):
        raise ConfigError(f"quality.data.synthetic: unknown keys {unknown}; known: {sorted(known)}")
    frames, width, height = int(spec.get("frames", 120)), int(spec.get("width", 320)), int(spec.get("height", 240))
    degrade = spec.get("degrade", DEFAULT_DEGRADE)
    degrade = None if degrade in (None, False) else {**DEFAULT_DEGRADE, **degrade}
    for seed in seeds:
        cfg = SceneConfig(seed=seed, frames=frames, width=width, height=height, failures=failure_schedule(seed, frames, spec.get("schedule", "mixed")))
        aug = _augmentation(seed, frames, degrade) if degrade else []
        renderer = SceneRenderer(cfg)
        key = json.dumps({"scene": cfg.to_json(), "augment": aug}, sort_keys=True)
        boxes = np.array([renderer.box(t) for t in range(frames)])
        yield SourceSequence(f"synthetic_{seed}", _LazyScene(renderer, aug), boxes, np.ones(frames, bool), key)


class _LazyScene:
    """``frame(i)`` of a generated scene: rendered (in order: the sensor noise is sequential) and
    augmented on first use only, so a cached rollout costs no rendering."""

    def __init__(self, renderer: Any, aug: list[tuple[str, str, int, int, float]]):
        self.renderer, self.aug = renderer, aug
        self.frames: list[tuple[np.ndarray, np.ndarray]] | None = None

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self.frames is None:
            from rgbtfuse.data.degrade import DEGRADATIONS

            self.frames = []
            seed = self.renderer.cfg.seed
            for t, (rgb, ir, box) in enumerate(self.renderer.frames()):
                for k, (modality, kind, a, b, strength) in enumerate(self.aug):
                    if a <= t < b:  # one generator per scene, frame and failure: reproducible
                        rng = np.random.default_rng([seed, t, k])
                        if modality == "rgb":
                            rgb = DEGRADATIONS[kind](rgb, rng, box, strength)
                        else:
                            ir = DEGRADATIONS[kind](ir, rng, box, strength)
                self.frames.append((rgb, ir))
        return self.frames[i]


def folder_sources(folders: list[str]) -> Iterator[SourceSequence]:
    """Dataset sequences (any layout :func:`rgbtfuse.data.load_sequence` reads), read lazily."""
    from rgbtfuse.data import load_sequence
    from rgbtfuse.tracking import FrameReader

    for folder in folders:
        seq = load_sequence(folder)
        if seq.static:
            raise ConfigError(f"{seq.root}: still image pairs ({seq.layout}), not a sequence to roll a tracker through")
        seq.check_frames()
        reader = FrameReader(seq)
        yield SourceSequence(seq.name, reader, seq.boxes, seq.valid.copy(), f"folder:{Path(folder).resolve()}:{len(seq)}")


# --- rollouts --------------------------------------------------------------------------------------
def _choose(policy: str, proposals: dict[str, Any], iou: np.ndarray, has_gt: bool, tracker: DecisionTracker, free: dict[str, float]) -> str | None:
    valid = [b for b in BRANCHES if proposals[b] is not None]
    if not valid:
        return None
    if policy == "oracle" and has_gt:
        return max(valid, key=lambda b: (iou[BRANCHES.index(b)], b == "fused"))
    if policy in BRANCHES:
        return policy if policy in valid else tracker._follow(free)
    return tracker._follow(free)  # free, and oracle on frames without a box


@torch.inference_mode()
def rollout(tracker: DecisionTracker, source: SourceSequence, policy: str, replay: list[str | None] | None = None) -> dict[str, np.ndarray]:
    """Run ``tracker`` (training-free quality) over ``source`` from its first box with ``policy``
    (``replay``: follow these branches instead, one per frame after the init frame — to re-create
    another run's trajectory, e.g. the QPN decision tracker's).

    Returns arrays over the ``T`` frames after the init frame: ``maps (T, 3, 2, S, S)`` float16,
    ``scalars (T, 3, K)``, ``iou (T, 3)`` (0 for a branch without a box), ``has_gt (T,)``,
    ``valid (T, 3)`` (branch gave a box), ``free (T, 3)`` (training-free quality, NaN where
    invalid), ``followed (T,)`` (branch index, -1 when none).
    """
    if policy not in POLICIES:
        raise ConfigError(f"quality.data.policies: {policy!r} is not one of {POLICIES}")
    if tracker.qpn is not None:
        raise ConfigError("rollouts need the training-free decision tracker (DecisionConfig.training_free())")
    first = np.flatnonzero(source.has_gt)
    if first.size == 0:
        raise ConfigError(f"{source.name}: no ground-truth box to initialise from")
    start = int(first[0])
    rgb, ir = source.frame(start)
    tracker.init(rgb, ir, tuple(float(v) for v in source.boxes[start]))
    builder = EvidenceBuilder(tracker.base.cfg.score_size)
    rows: dict[str, list[Any]] = {k: [] for k in ROLLOUT_KEYS}
    for i in range(start + 1, len(source)):
        rgb, ir = source.frame(i)
        _, proposals, _, _ = tracker.branch_proposals(rgb, ir)
        maps, scalars = builder.frame(proposals, tracker.base.center_pos, tracker.base.size)
        free = tracker._qualities(proposals)
        gt = bool(source.has_gt[i])
        iou = np.array([float(box_iou(np.array([p.bbox()]), source.boxes[i : i + 1])[0]) if p is not None and gt else 0.0 for p in proposals.values()])
        branch = _choose(policy, proposals, iou, gt, tracker, free) if replay is None else replay[i - start - 1]
        if branch is not None:
            tracker.base.commit(proposals[branch])
        tracker.branch = branch
        for key, value in zip(ROLLOUT_KEYS, (maps.astype(np.float16), scalars, iou, gt, [p is not None for p in proposals.values()],
                                             [free.get(b, np.nan) for b in BRANCHES], -1 if branch is None else BRANCHES.index(branch))):
            rows[key].append(value)
    return {k: np.asarray(v) for k, v in rows.items()}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file handle: np.savez would append .npz to the temporary name
            np.savez(fh, **arrays)

    atomic_write(path, write)


def load_rollout(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in ROLLOUT_KEYS}


def cache_key(tracker_spec: dict[str, Any], source_key: str, policy: str) -> str:
    """Content hash of what a rollout depends on: tracker, weights, sequence, policy, evidence version."""
    text = json.dumps({"tracker": tracker_spec, "source": source_key, "policy": policy, "evidence": EVIDENCE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_rollouts(
    tracker: DecisionTracker, tracker_spec: dict[str, Any], sources: Iterator[SourceSequence], policies: list[str], folder: Path,
    log: Callable[[str], None] = print,
) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``[(name, rollout)]`` for every source × policy; computed once into ``folder`` (``.npz`` named
    by content hash, so a changed tracker, weight file or scene is rolled out again)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for source in sources:
        for policy in policies:
            path = folder / f"{source.name}__{policy}__{cache_key(tracker_spec, source.key, policy)}.npz"
            if path.is_file():
                data = load_rollout(path)
            else:
                data = rollout(tracker, source, policy)
                _save_npz(path, data)
                log(f"evidence: {source.name} [{policy}] {len(data['iou'])} frames -> {path.name}")
            out.append((f"{source.name}[{policy}]", data))
    return out
