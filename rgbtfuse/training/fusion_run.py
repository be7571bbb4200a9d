"""An experiment yaml → a frozen tracker, its fusion loss, data and :class:`Trainer`: ``train-fusion``.

>>> run = build_fusion_trainer("experiments/nanotrack_v2_rfn_track.yaml", out="runs/rfn")  # doctest: +SKIP
>>> result = run.run()                                                                     # doctest: +SKIP
>>> result.fusion_weights                                                                  # doctest: +SKIP
PosixPath('runs/rfn/fusion.pth')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.checkpoint import read_checkpoint
from rgbtfuse.config import from_dict
from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError
from rgbtfuse.training.fusion import FusionLoss
from rgbtfuse.training.optim import OptimConfig
from rgbtfuse.training.trainer import LoopConfig, Trainer
from rgbtfuse.training.validation import ValConfig, Validator, synthetic_scenes


class _ByKey(torch.utils.data.Dataset):
    """Adapts the step-keyed pair dataset to the trainer's ``(index, sample_seed)`` keys."""

    def __init__(self, dataset: torch.utils.data.Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.dataset[key[0]]


@dataclass
class FusionResult:
    """What a finished :meth:`FusionTraining.run` leaves: the log rows of this run, the
    exported weights and (with a ``val:`` section) the validation table."""

    history: list[dict[str, Any]]
    fusion_weights: Path
    validation: str | None


@dataclass
class FusionTraining:
    """A fusion module to train with the rest of its tracker frozen (see :func:`build_fusion_trainer`)."""

    name: str
    model: torch.nn.Module
    trainer: Trainer
    validator: Validator | None

    @property
    def out_dir(self) -> Path:
        return self.trainer.out_dir

    def run(self, resume: bool = False, force: bool = False) -> FusionResult:
        """Train (validating at step 0 first, unless a resumed run already did)."""
        if self.validator is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            checkpoint = self.trainer.checkpoint_path
            if resume:
                self.validator.resume(int(read_checkpoint(checkpoint)["step"]) if checkpoint.is_file() else 0)
            if not resume or not self.validator.rows:
                self.model.fusion.eval()
                self.validator(0)
        self.model.train()
        history = self.trainer.run(resume=resume, force=force)
        table = self.validator.table() if self.validator is not None else None
        return FusionResult(history, self.out_dir / "fusion.pth", table)


def build_fusion_trainer(
    config: dict[str, Any] | str | Path,
    out: str | Path | None = None,
    weights: str | Path | None = None,
    steps: int | None = None,
    device: str | torch.device = "auto",
) -> FusionTraining:
    """The ``train-fusion`` run of an experiment (``out``/``weights``/``steps`` override the yaml's
    ``train.out``/``train.weights``/``train.steps``; the default ``out`` is ``runs/<yaml name>``)."""
    from rgbtfuse.data.pair_config import pair_config_from_dict
    from rgbtfuse.data.sampling import RGBTPairDataset
    from rgbtfuse.trackers.builder import build_model, load_experiment, track_config

    cfg = load_experiment(config)
    if not cfg.get("fusion"):
        raise ConfigError(f"{config if not isinstance(config, dict) else 'experiment'}: train-fusion needs a fusion: section")
    train = dict(cfg.get("train") or {})
    data = dict(cfg.get("data") or {})
    default_out = Path("runs") / Path(config).stem if not isinstance(config, dict) else None
    out_dir = Path(out or train.get("out") or default_out or "")
    if not str(out_dir) or out_dir == Path():
        raise ConfigError("train-fusion: give an output folder (out / train.out)")
    weights = weights or train.get("weights")
    for key in ("out", "weights"):
        train.pop(key, None)
    loss_cfg = train.pop("loss", {"name": "rfn"})
    tracking_weight = float(train.pop("tracking_weight", 0.0))
    tracking = train.pop("tracking", None)
    reliability = train.pop("reliability", None)
    val_cfg = train.pop("val", None) or cfg.get("val")
    optim = OptimConfig.from_dict(train.pop("optimizer", None))
    if steps is not None:
        train["steps"] = steps
    loop = LoopConfig.from_dict(train)

    dev = resolve_device(device)
    torch.manual_seed(loop.seed)  # the fusion module's initial weights depend on the seed only
    model = build_model(cfg, weights=weights, mode="fused").to(dev)
    model.freeze_all_but_fusion()
    loss_fn = FusionLoss(model, loss_cfg, tracking_weight, track_config(cfg), tracking, reliability)
    pairs = pair_config_from_dict({"pairs_per_epoch": 1_000_000, **(data.get("pairs") or {})})
    dataset = RGBTPairDataset(_caches(data, out_dir, loop.num_workers), pairs, seed=loop.seed)

    def export(folder: Path) -> None:
        atomic_torch_save(model.fusion.state_dict(), folder / "fusion.pth")

    validator = None
    if val_cfg:
        cache = Path(data.get("cache_dir") or out_dir / "cache") / "val_scenes"
        validator = Validator(cfg, weights, model.fusion, ValConfig.from_dict(val_cfg), out_dir, loop.steps, cache)
    trainer = Trainer(model.fusion, loss_fn, _ByKey(dataset), out_dir, loop, optim, dev,
                      export=export, config_snapshot=cfg, after_step=validator)
    return FusionTraining(str(cfg["fusion"]["name"]), model, trainer, validator)


def _caches(data: dict[str, Any], out_dir: Path, workers: int) -> list[Path]:
    """Prepared caches of ``data.caches``, plus ``data.sources`` cropped on first use (resumable)."""
    from rgbtfuse.data.lmdb_cache import CropParams, build_cache

    caches = [Path(c) for c in data.get("caches") or []]
    cache_dir = Path(data.get("cache_dir") or out_dir / "cache")
    sources = list(data.get("sources") or [])
    if data.get("synthetic"):
        spec = dict(data["synthetic"])
        crop = spec.pop("crop", None)
        seeds = spec.get("seeds")
        folder = cache_dir / f"synthetic_scenes_{'_'.join(map(str, seeds)) if isinstance(seeds, list) else 'x'}_{spec.get('frames', 120)}"
        synthetic_scenes(spec, folder, "data.synthetic")
        sources.append({"dataset": "vot-rgbt", "root": str(folder), **({"crop": crop} if crop else {})})
    for i, src in enumerate(sources):
        if not isinstance(src, dict) or "dataset" not in src or "root" not in src:
            raise ConfigError(f"data.sources[{i}]: expected {{dataset: NAME, root: DIR}}, got {src!r}")
        params = from_dict(CropParams, src.get("crop"), f"data.sources[{i}].crop")
        target = cache_dir / f"{src['dataset']}_{Path(src['root']).name}{'' if params.pseudo == 'random' else '_' + params.pseudo}"
        build_cache(src["dataset"], src["root"], target, params, workers=workers, list_file=src.get("list"))
        caches.append(target)
    if not caches:
        raise ConfigError("data: give prepared crop caches (caches: [DIR]) or sources: [{dataset, root}]")
    return caches
