"""``rgbtfuse train-fusion``: train a tracker's fusion module with the tracker frozen."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from rgbtfuse.atomic import atomic_torch_save
from rgbtfuse.cli import add_threads_argument, add_trust_argument
from rgbtfuse.checkpoint import read_checkpoint
from rgbtfuse.device import resolve_device
from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment yaml with model/fusion/track/train/data sections")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pth")
    parser.add_argument("--force", action="store_true", help="replace a run already in OUT (its checkpoint and log)")
    parser.add_argument("--out", help="output folder (default: train.out, else runs/<config name>)")
    parser.add_argument("--weights", help="tracker checkpoint (overrides train.weights)")
    parser.add_argument("--steps", type=int, help="override train.steps")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    add_threads_argument(parser)
    add_trust_argument(parser)


class _ByKey(torch.utils.data.Dataset):
    """Adapts the step-keyed pair dataset to the trainer's ``(index, sample_seed)`` keys."""

    def __init__(self, dataset: torch.utils.data.Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.dataset[key[0]]


def _caches(data: dict[str, Any], out_dir: Path, workers: int) -> list[Path]:
    """Prepared caches of ``data.caches``, plus ``data.sources`` cropped on first use (resumable)."""
    from rgbtfuse.data.lmdb_cache import CropParams, build_cache

    caches = [Path(c) for c in data.get("caches") or []]
    cache_dir = Path(data.get("cache_dir") or out_dir / "cache")
    sources = list(data.get("sources") or [])
    if data.get("synthetic"):
        from rgbtfuse.training.validation import synthetic_scenes

        spec = dict(data["synthetic"])
        crop = spec.pop("crop", None)
        seeds = spec.get("seeds")
        folder = cache_dir / f"synthetic_scenes_{'_'.join(map(str, seeds)) if isinstance(seeds, list) else 'x'}_{spec.get('frames', 120)}"
        synthetic_scenes(spec, folder, "data.synthetic")
        sources.append({"dataset": "vot-rgbt", "root": str(folder), **({"crop": crop} if crop else {})})
    for i, src in enumerate(sources):
        if not isinstance(src, dict) or "dataset" not in src or "root" not in src:
            raise ConfigError(f"data.sources[{i}]: expected {{dataset: NAME, root: DIR}}, got {src!r}")
        try:
            params = CropParams(**(src.get("crop") or {}))
        except TypeError as exc:
            raise ConfigError(f"data.sources[{i}].crop: {exc}") from exc
        target = cache_dir / f"{src['dataset']}_{Path(src['root']).name}"
        build_cache(src["dataset"], src["root"], target, params, workers=workers, list_file=src.get("list"))
        caches.append(target)
    if not caches:
        raise ConfigError("data: give prepared crop caches (caches: [DIR]) or sources: [{dataset, root}]")
    return caches


def run(args: argparse.Namespace) -> int:
    from rgbtfuse.data.pair_config import pair_config_from_dict
    from rgbtfuse.data.sampling import RGBTPairDataset
    from rgbtfuse.training import LoopConfig, OptimConfig, Trainer
    from rgbtfuse.training.fusion import FusionLoss
    from trackers.models.builder import TRACK_DEFAULTS, build_model, load_experiment
    from trackers.tracker.base import TrackConfig

    cfg = load_experiment(args.config)
    train = dict(cfg.get("train") or {})
    data = dict(cfg.get("data") or {})
    if not cfg.get("fusion"):
        raise ConfigError(f"{args.config}: train-fusion needs a fusion: section")
    out_dir = Path(args.out or train.pop("out", None) or Path("runs") / Path(args.config).stem)
    train.pop("out", None)
    weights = args.weights or train.pop("weights", None)
    train.pop("weights", None)
    loss_cfg = train.pop("loss", {"name": "rfn"})
    tracking_weight = float(train.pop("tracking_weight", 0.0))
    tracking = train.pop("tracking", None)
    val_cfg = train.pop("val", None) or cfg.get("val")
    optim = OptimConfig.from_dict(train.pop("optimizer", None))
    if args.steps is not None:
        train["steps"] = args.steps
    loop = LoopConfig.from_dict(train)

    device = resolve_device(args.device)
    torch.manual_seed(loop.seed)  # the fusion module's initial weights depend on the seed only
    model = build_model(cfg, weights=weights, mode="fused").to(device)
    model.freeze_all_but_fusion()
    track_defaults = TRACK_DEFAULTS.get(cfg["model"]["type"], {})
    track_cfg = TrackConfig.from_dict({**track_defaults, **(cfg.get("track") or {})})
    loss_fn = FusionLoss(model, loss_cfg, tracking_weight, track_cfg, tracking)

    pairs = pair_config_from_dict({"pairs_per_epoch": 1_000_000, **(data.get("pairs") or {})})
    dataset = RGBTPairDataset(_caches(data, out_dir, loop.num_workers), pairs, seed=loop.seed)

    def export(folder: Path) -> None:
        atomic_torch_save(model.fusion.state_dict(), folder / "fusion.pth")

    validator = None
    if val_cfg:
        from rgbtfuse.training.validation import ValConfig, Validator

        validator = Validator(cfg, weights, model.fusion, ValConfig.from_dict(val_cfg), out_dir, loop.steps,
                              Path(data.get("cache_dir") or out_dir / "cache") / "val_scenes")
    trainer = Trainer(
        model.fusion, loss_fn, _ByKey(dataset), out_dir, loop, optim, device,
        export=export, config_snapshot=cfg, after_step=validator,
    )
    if validator is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.resume:
            validator.resume(int(read_checkpoint(trainer.checkpoint_path)["step"]) if trainer.checkpoint_path.is_file() else 0)
        if not args.resume or not validator.rows:
            model.fusion.eval()
            validator(0)
    model.train()
    history = trainer.run(resume=args.resume, force=getattr(args, "force", False))
    if history:
        first, last = history[0]["loss"], history[-1]["loss"]
        print(f"trained {cfg['fusion']['name']} fusion: loss {first:.4g} -> {last:.4g} over steps "
              f"{history[0]['step']}-{history[-1]['step']}")
    print(f"fusion weights: {out_dir / 'fusion.pth'} (use with rgbtfuse track --fusion-weights)")
    if validator is not None:
        print(validator.table())
    return 0
