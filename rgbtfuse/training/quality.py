"""Training the quality network (QPN) of mode ``decision`` with the tracker frozen.

``train_quality(cfg, out)``: roll the frozen tracker out over sequences with boxes
(:mod:`rgbtfuse.training.quality_data`, cached), train :class:`rgbtfuse.trackers.models.quality.QualityNet`
on clips of those rollouts to predict each branch's IoU (masked MSE; the LSTM starts from a
zero state at each clip start, as it does at ``init``), write ``qpn.pth``, and compare it with
the training-free quality on held-out rollouts (``eval.json``). The loop is the shared
:class:`rgbtfuse.training.Trainer`: lock per ``--out``, CSV log, exact ``--resume``.

.. code-block:: yaml

    quality:
      net: {channels: 8, embed: 32, hidden: 64}
      data:
        synthetic: {seeds: [3000, 3015], frames: 120, width: 320, height: 240, schedule: mixed}
        sequences: []                      # dataset folders with boxes (GTOT, RGBT234, LasHeR, VOT)
        policies: [free, oracle, rgb, ir, fused]
        clip: 48
      train: {steps: 400, batch_size: 16, seed: 0, checkpoint_every: 100, log_every: 10, tensorboard: false}
      optimizer: {name: adam, lr: 3.0e-3, schedule: cosine, warmup_steps: 20}
      val: {synthetic: {seeds: [3900, 3905]}, policies: [free]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rgbtfuse.atomic import atomic_torch_save, atomic_write
from rgbtfuse.errors import ConfigError
from rgbtfuse.trackers.models.quality import QualityNet, QualityNetConfig, qpn_file
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.evidence import EVIDENCE_VERSION
from rgbtfuse.training.optim import OptimConfig
from rgbtfuse.training.quality_data import (
    POLICIES,
    cached_rollouts,
    folder_sources,
    synthetic_sources,
)
from rgbtfuse.training.trainer import LoopConfig, Trainer

QPN_NAME = "qpn.pth"
EVAL_NAME = "eval.json"
_SECTION_KEYS = {"net", "data", "train", "optimizer", "val", "loss"}
_DATA_KEYS = {"synthetic", "sequences", "policies", "clip"}
#: a frame decides between branches when its best branch's IoU beats the second best by this much
DECISIVE_GAP = 0.1
Rollouts = list[tuple[str, dict[str, np.ndarray]]]


def _seed_range(spec: dict[str, Any], where: str) -> list[int]:
    seeds = spec.get("seeds")
    if not (isinstance(seeds, list) and len(seeds) == 2 and all(isinstance(s, int) for s in seeds) and seeds[0] <= seeds[1]):
        raise ConfigError(f"{where}.seeds must be [first, last] (integers, inclusive), got {seeds!r}")
    return list(range(seeds[0], seeds[1] + 1))


def _check_data(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    if unknown := sorted(set(data) - _DATA_KEYS):
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(_DATA_KEYS)}")
    policies = data.get("policies", list(POLICIES))
    if not policies or any(p not in POLICIES for p in policies):
        raise ConfigError(f"{where}.policies {policies!r}: expected a list out of {POLICIES}")
    if not data.get("synthetic") and not data.get("sequences"):
        raise ConfigError(f"{where}: needs synthetic: {{seeds: [first, last]}} and/or sequences: [folders]")
    return {**data, "policies": list(policies)}


def quality_section(cfg: dict[str, Any]) -> dict[str, Any]:
    """The checked ``quality:`` section of an experiment (see the module docstring)."""
    q = cfg.get("quality")
    if not isinstance(q, dict):
        raise ConfigError("rgbtfuse train-quality needs a quality: section in the experiment yaml (see docs/failure_aware.md)")
    if unknown := sorted(set(q) - _SECTION_KEYS):
        raise ConfigError(f"quality: unknown keys {unknown}; known: {sorted(_SECTION_KEYS)}")
    data = _check_data(q.get("data"), "quality.data")
    val = q.get("val")
    if val is not None:
        val = _check_data({"policies": ["free"], **val}, "quality.val")
    clip = data.get("clip", 48)
    if isinstance(clip, bool) or not isinstance(clip, int) or clip < 2:
        raise ConfigError(f"quality.data.clip must be an integer >= 2, got {clip!r}")
    return {**q, "data": {**data, "clip": clip}, "val": val}


def _sources(data: dict[str, Any], where: str, base: dict[str, Any] | None = None) -> Any:
    """Generated scenes (``base``: the training spec the val spec inherits from) then folders."""
    if data.get("synthetic"):
        spec = {**{k: v for k, v in (base or {}).items() if k != "seeds"}, **data["synthetic"]}
        yield from synthetic_sources(spec, _seed_range(spec, f"{where}.synthetic"))
    yield from folder_sources([str(s) for s in data.get("sequences") or []])


class ClipDataset(Dataset):
    """``dataset[(index, seed)]``: a seeded clip of rollout ``index``, zero-padded to ``clip`` frames.

    Items: ``maps (L, 3, 2, S, S)``, ``scalars (L, 3, K)``, ``iou (L, 3)``, ``mask (L, 3)`` (1 where
    the frame has a box and the branch a proposal). A third of the clips start at the init frame.
    """

    def __init__(self, rollouts: Rollouts, clip: int):
        self.rollouts, self.clip = rollouts, clip

    def __len__(self) -> int:
        return len(self.rollouts)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = key
        data = self.rollouts[index][1]
        n = len(data["iou"])
        length = min(self.clip, n)
        rng = np.random.default_rng(seed)
        start = 0 if n == length or rng.random() < 1 / 3 else int(rng.integers(0, n - length + 1))
        sl = slice(start, start + length)
        mask = (data["has_gt"][sl, None] & data["valid"][sl]).astype(np.float32)
        items = {"maps": data["maps"][sl].astype(np.float32), "scalars": data["scalars"][sl], "iou": data["iou"][sl].astype(np.float32), "mask": mask}
        out = {}
        for k, v in items.items():
            pad = np.zeros((self.clip - length, *v.shape[1:]), np.float32)
            out[k] = torch.from_numpy(np.concatenate([v.astype(np.float32), pad]))
        return out


class QualityLoss:
    """``loss_fn(batch) -> (loss, logs)``: masked mean squared error of the predicted IoU, plus
    ``rank`` × a pairwise ranking term — on frames where two branches' true IoUs differ by at
    least :data:`DECISIVE_GAP`, ``softplus(-10 · (q_better − q_worse))`` — because the decision
    only uses the order of the three predictions, which the squared error alone weights little."""

    def __init__(self, net: QualityNet, rank: float = 1.0):
        self.net, self.rank = net, rank

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred, _ = self.net(batch["maps"], batch["scalars"])
        mask, iou = batch["mask"], batch["iou"]
        n = mask.sum().clamp(min=1)
        err = pred - iou
        mse = (err.square() * mask).sum() / n
        logs = {"mse": mse.item(), "mae": float((err.detach().abs() * mask).sum() / n)}
        loss = mse
        if self.rank > 0:
            # all ordered branch pairs (i, j) of a frame where i is clearly better than j
            gap = iou[..., :, None] - iou[..., None, :]
            pair = (gap >= DECISIVE_GAP) & (mask[..., :, None] * mask[..., None, :] > 0)
            diff = pred[..., :, None] - pred[..., None, :]
            rank = torch.nn.functional.softplus(-10.0 * diff)[pair].mean() if pair.any() else pred.sum() * 0
            loss = loss + self.rank * rank
            logs["rank"] = rank.item()
        logs = {"loss": loss.item(), **logs}
        return loss, logs


@torch.inference_mode()
def predict(net: QualityNet, data: dict[str, np.ndarray]) -> np.ndarray:
    """``(T, 3)`` predicted IoU over a whole rollout from a fresh LSTM state (= online tracking)."""
    net.eval()
    maps = torch.from_numpy(data["maps"].astype(np.float32))[None]
    pred, _ = net(maps, torch.from_numpy(data["scalars"].astype(np.float32))[None])
    return pred[0].numpy()


def _pick(q: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(T,)`` branch index with the highest quality among valid branches; ties go to fused
    (the decision rule's arg-max with margin 0)."""
    q = np.where(valid, np.nan_to_num(q, nan=-np.inf), -np.inf)
    fused = BRANCHES.index("fused")
    best = q.max(axis=1, keepdims=True)
    return np.where(q[:, fused] >= best[:, 0], fused, np.argmax(q, axis=1))


def quality_metrics(rollouts: Rollouts, predictions: list[np.ndarray]) -> dict[str, Any]:
    """QPN vs training-free quality on rollouts: Pearson correlation with the true IoU (pooled
    over frames with a box and branches with a proposal), accuracy of choosing the best branch on
    decisive frames (best IoU − second best ≥ :data:`DECISIVE_GAP`), and the mean true IoU of the
    branch each would choose on every frame with a box (with the oracle's and each branch's)."""
    iou, valid, free, pred = [], [], [], []
    for (_, d), p in zip(rollouts, predictions):
        keep = d["has_gt"]
        iou.append(d["iou"][keep]), valid.append(d["valid"][keep]), free.append(d["free"][keep]), pred.append(p[keep])
    iou, valid, free, pred = (np.concatenate(x) for x in (iou, valid, free, pred))
    if not len(iou):
        raise ConfigError("quality evaluation: no frame with a ground-truth box")
    both = valid & np.isfinite(free)
    srt = np.sort(np.where(valid, iou, -1.0), axis=1)
    decisive = srt[:, -1] - srt[:, -2] >= DECISIVE_GAP
    truth = np.argmax(np.where(valid, iou, -1.0), axis=1)
    rows = np.arange(len(iou))
    out: dict[str, Any] = {"frames": len(iou), "decisive_frames": int(decisive.sum()), "decisive_gap": DECISIVE_GAP}
    for name, q in (("qpn", pred), ("training_free", free)):
        choice = _pick(q, valid)
        out[name] = {
            "pearson": float(np.corrcoef(q[both], iou[both])[0, 1]) if both.sum() > 2 else float("nan"),
            "choice_accuracy": float(np.mean(choice[decisive] == truth[decisive])) if decisive.any() else float("nan"),
            "chosen_iou": float(np.mean(iou[rows, choice])),
        }
    out["oracle_iou"] = float(np.mean(np.where(valid, iou, 0).max(axis=1)))
    out["branch_iou"] = {b: float(np.mean(iou[:, i])) for i, b in enumerate(BRANCHES)}
    return out


def metrics_table(m: dict[str, Any]) -> str:
    lines = [
        f"held-out rollouts: {m['frames']} frames with a box, {m['decisive_frames']} decisive (best - second >= {m['decisive_gap']})",
        "| quality | Pearson(q, IoU) | best-branch accuracy | IoU of chosen branch |",
        "|---|---|---|---|",
    ]
    for name in ("qpn", "training_free"):
        r = m[name]
        lines.append(f"| {name} | {r['pearson']:.3f} | {r['choice_accuracy']:.3f} | {r['chosen_iou']:.3f} |")
    lines.append(f"| oracle | 1 | 1 | {m['oracle_iou']:.3f} |")
    return "\n".join(lines)


def _file_id(path: str | Path | None) -> Any:
    if path is None:
        return None
    p = Path(path)
    return [str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] if p.is_file() else str(path)


def train_quality(
    cfg: dict[str, Any] | str | Path,
    out: str | Path,
    weights: str | Path | None = None,
    fusion_weights: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "cpu",
    steps: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train a QPN for the experiment's frozen tracker; returns ``{'qpn', 'eval', ...}``.

    Writes into ``out``: ``evidence/*.npz`` (cached rollouts), ``checkpoint.pth``, ``log.csv``,
    ``qpn.pth`` (for ``decision: {quality: qpn, quality_weights: ...}``) and, with ``val:``,
    ``eval.json`` (QPN vs training-free on the held-out rollouts).
    """
    from rgbtfuse.trackers.builder import build_tracker, load_experiment
    from rgbtfuse.trackers.tracker.decision import DecisionConfig

    cfg = load_experiment(cfg)
    q = quality_section(cfg)
    if not cfg.get("fusion"):
        raise ConfigError("train-quality: mode decision needs a fusion: section in the experiment yaml")
    loop = LoopConfig.from_dict({"tensorboard": False, **(q.get("train") or {}), **({"steps": steps} if steps else {})})
    optim = OptimConfig.from_dict(q.get("optimizer") or {"name": "adam", "lr": 3e-3, "schedule": "cosine", "warmup_steps": 20})
    net_cfg = QualityNetConfig.from_dict(q.get("net"))
    free_cfg = DecisionConfig.from_dict(cfg.get("decision")).training_free()
    frozen = {**cfg, "decision": asdict(free_cfg)}
    tracker = build_tracker(frozen, weights, fusion_weights, mode="decision", device=device)
    spec = {k: frozen.get(k) for k in ("model", "fusion", "track", "decision")}
    spec.update(weights=_file_id(weights), fusion_weights=_file_id(fusion_weights))
    out = Path(out)
    torch.manual_seed(loop.seed)
    net = QualityNet(net_cfg)
    dataset = ClipDataset([], q["data"]["clip"])
    data_spec = q["data"].get("synthetic") or {}

    def collect() -> None:
        log("rolling the frozen tracker out (cached in OUT/evidence) ...")
        dataset.rollouts.extend(cached_rollouts(tracker, spec, _sources(q["data"], "quality.data"), q["data"]["policies"], out / "evidence", log))

    meta = {
        "evidence_version": EVIDENCE_VERSION,
        "score_size": tracker.base.cfg.score_size,
        "model_class": type(tracker.model).__name__,
        "model_type": cfg["model"]["type"],
        "fusion": cfg["fusion"].get("name"),
        "training_free_quality": free_cfg.source,
        "data": json.dumps(q["data"], sort_keys=True, default=str),
        "steps": loop.steps,
    }

    def export(folder: Path) -> None:
        atomic_torch_save(qpn_file(net, meta), folder / QPN_NAME)

    loss = q.get("loss") or {}
    if not isinstance(loss, dict) or set(loss) - {"rank"}:
        raise ConfigError(f"quality.loss: expected {{rank: WEIGHT}}, got {loss!r}")
    trainer = Trainer(net, QualityLoss(net, float(loss.get("rank", 1.0))), dataset, out, loop, optim, torch.device("cpu"), export=export,
                      config_snapshot={"quality": q, "tracker": spec})
    history = trainer.run(resume=resume, force=force, before=collect)
    summary: dict[str, Any] = {"qpn": str(out / QPN_NAME), "rollouts": len(dataset), "steps": trainer.step,
                               "loss_first": history[0]["loss"] if history else None, "loss_last": history[-1]["loss"] if history else None}
    if q.get("val"):
        val = cached_rollouts(tracker, spec, _sources(q["val"], "quality.val", data_spec), q["val"]["policies"], out / "evidence", log)
        metrics = quality_metrics(val, [predict(net, d) for _, d in val])
        metrics["training_free_quality"] = free_cfg.source
        atomic_write(out / EVAL_NAME, lambda p: p.write_text(json.dumps(metrics, indent=2) + "\n"))
        summary["eval"] = metrics
    return summary
