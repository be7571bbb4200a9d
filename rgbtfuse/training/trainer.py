"""Iteration-based training loop with atomic checkpoints, exact resume, CSV/TensorBoard logs.

The loop trains the parameters of one module (``trained``: a fusion module, or the parts of an
image-fusion network a stage trains) through a user ``loss_fn(batch) -> (loss, logs)``. Data is
keyed by step (:mod:`rgbtfuse.training.sampler`) and the torch RNG is re-seeded per step, so a
run killed and resumed from its last checkpoint continues with the same loss sequence as an
uninterrupted one.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from rgbtfuse.atomic import atomic_torch_save, atomic_write
from rgbtfuse.checkpoint import read_checkpoint
from rgbtfuse.errors import CheckpointError, ConfigError
from rgbtfuse.training import distributed as D
from rgbtfuse.training.optim import OptimConfig, build_optimizer, build_scheduler
from rgbtfuse.training.sampler import StepBatchSampler

CHECKPOINT_NAME = "checkpoint.pth"


@dataclass
class LoopConfig:
    """``train:`` block of an experiment yaml."""

    steps: int = 1000
    batch_size: int = 8  # global batch, split across torchrun processes
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    num_workers: int = 0
    tensorboard: bool = True

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> "LoopConfig":
        cfg = dict(cfg or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(cfg) - known):
            raise ConfigError(f"unknown train options {unknown}; known: {sorted(known)}")
        return cls(**cfg)


LossFn = Callable[[Any], tuple[torch.Tensor, dict[str, float]]]


class Trainer:
    """Train ``trained``'s parameters with ``loss_fn`` on batches of ``dataset``.

    ``dataset[(index, sample_seed)]`` must be deterministic in its key. ``export`` (optional)
    writes the final weights in the published format after the last step.
    """

    def __init__(
        self,
        trained: nn.Module,
        loss_fn: LossFn,
        dataset: Dataset,
        out_dir: str | Path,
        loop: LoopConfig,
        optim: OptimConfig,
        device: torch.device,
        collate_fn: Callable | None = None,
        export: Callable[[Path], None] | None = None,
        config_snapshot: dict[str, Any] | None = None,
        after_step: Callable[[int], Any] | None = None,
    ):
        self.trained = trained
        self.params = [p for p in trained.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError(f"{type(trained).__name__} has no trainable parameters")
        self.loss_fn = loss_fn
        self.dataset = dataset
        self.out_dir = Path(out_dir)
        self.loop = loop
        self.optim_cfg = optim
        self.device = device
        self.collate_fn = collate_fn
        self.export = export
        self.config_snapshot = config_snapshot or {}
        self.after_step = after_step  # called on the main process with the step after each step (validation)
        self.optimizer = build_optimizer(self.params, optim)
        self.scheduler = build_scheduler(self.optimizer, loop.steps, optim)
        self.rank, self.world = D.init_from_env(device)
        self.step = 0

    # --- checkpoints -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def save_checkpoint(self) -> None:
        if not D.is_main():
            return
        state = {
            "step": self.step,
            "trained": self.trained.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "loop": asdict(self.loop),
            "optim": asdict(self.optim_cfg),
            "config": self.config_snapshot,
        }
        atomic_torch_save(state, self.checkpoint_path)

    def load_checkpoint(self) -> None:
        if not self.checkpoint_path.is_file():
            raise CheckpointError(f"{self.checkpoint_path}: no checkpoint to resume from")
        state = read_checkpoint(self.checkpoint_path)
        if state.get("loop", {}).get("seed") != self.loop.seed:
            raise CheckpointError(f"{self.checkpoint_path}: written with seed {state['loop'].get('seed')}, config has {self.loop.seed}")
        self.trained.load_state_dict(state["trained"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])

    # --- logs --------------------------------------------------------------------------------
    def _open_csv(self, resume: bool) -> tuple[Any, csv.writer | None]:
        if not D.is_main():
            return None, None
        path = self.out_dir / "log.csv"
        rows: list[list[str]] = []
        if resume and path.is_file():
            # drop rows logged after the checkpoint we resume from
            with open(path, newline="") as fh:
                rows = [r for i, r in enumerate(csv.reader(fh)) if i == 0 or int(r[0]) <= self.step]
        atomic_write(path, lambda tmp: _write_rows(tmp, rows))
        fh = open(path, "a", newline="")
        return fh, csv.writer(fh)

    def _tensorboard(self) -> Any:
        if not (self.loop.tensorboard and D.is_main()):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return None
        return SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=self.step)

    # --- loop --------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> list[dict[str, float]]:
        """Train to ``loop.steps``; returns the logged rows of this process (rank-averaged)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_checkpoint()
        sampler = StepBatchSampler(
            len(self.dataset), self.loop.batch_size, self.loop.steps, self.loop.seed, self.step, self.rank, self.world
        )
        loader = DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.loop.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=False,
        )
        fh, writer = self._open_csv(resume)
        tb = self._tensorboard()
        header_written = fh is not None and fh.tell() > 0
        history: list[dict[str, float]] = []
        bar = tqdm(total=self.loop.steps, initial=self.step, desc="train", disable=not D.is_main(), dynamic_ncols=True)
        self.trained.train()
        try:
            for batch in loader:
                torch.manual_seed(self.loop.seed * 1_000_003 + self.step)
                t0 = time.perf_counter()
                batch = _to_device(batch, self.device)
                self.optimizer.zero_grad(set_to_none=True)
                loss, logs = self.loss_fn(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {logs}")
                loss.backward()
                D.average_gradients(self.params)
                self.optimizer.step()
                self.scheduler.step()
                logs = D.average_scalars({**logs, "lr": self.optimizer.param_groups[0]["lr"]})
                logs["time"] = time.perf_counter() - t0
                self.step += 1
                history.append({"step": self.step, **logs})
                if writer is not None and (self.step % self.loop.log_every == 0 or self.step == self.loop.steps):
                    if not header_written:
                        writer.writerow(["step", *logs])
                        header_written = True
                    writer.writerow([self.step, *(f"{v:.9g}" for v in logs.values())])
                    fh.flush()
                    if tb is not None:
                        for k, v in logs.items():
                            tb.add_scalar(f"train/{k}", v, self.step)
                bar.set_postfix(loss=f"{logs['loss']:.4g}")
                bar.update(1)
                if self.step % self.loop.checkpoint_every == 0 or self.step == self.loop.steps:
                    self.save_checkpoint()
                if self.after_step is not None and D.is_main():
                    self.after_step(self.step)
            if self.export is not None and D.is_main() and self.step == self.loop.steps:
                self.export(self.out_dir)
            D.barrier()
        finally:
            bar.close()
            if fh is not None:
                fh.close()
            if tb is not None:
                tb.close()
        return history


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch
