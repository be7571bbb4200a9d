"""Iteration-based training loop with atomic checkpoints, exact resume, CSV/TensorBoard logs.

The loop trains the parameters of one module (``trained``: a fusion module, or the parts of an
image-fusion network a stage trains) through a user ``loss_fn(batch) -> (loss, logs)``. Data is
keyed by step (:mod:`rgbtfuse.training.sampler`) and the torch RNG is re-seeded per step, so a
run killed and resumed from its last checkpoint continues with the same loss sequence as an
uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from rgbtfuse.atomic import atomic_torch_save, atomic_write
from rgbtfuse.checkpoint import read_checkpoint
from rgbtfuse.config import from_dict
from rgbtfuse.errors import CheckpointError, ConfigError, OutputError
from rgbtfuse.training import distributed as D
from rgbtfuse.training.optim import OptimConfig, build_optimizer, build_scheduler, lr_factor
from rgbtfuse.training.sampler import StepBatchSampler

CHECKPOINT_NAME = "checkpoint.pth"
LOCK_NAME = ".lock"
#: settings that do not change the loss sequence: left out when a resume compares its settings
#: with the checkpoint's (``steps``/``epochs`` of the yaml are compared as the effective loop.steps)
NOT_IN_LOSS_SEQUENCE = {"out", "device", "checkpoint_every", "log_every", "tensorboard", "num_workers",
                        "export_every", "cache_dir", "steps", "epochs"}


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
    def from_dict(cls, cfg: dict[str, Any] | None) -> LoopConfig:
        return from_dict(cls, cfg, "train", noun="options")


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
        named = [(n, p) for n, p in trained.named_parameters() if p.requires_grad]
        self.params = [p for _, p in named]
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
        self.optimizer = build_optimizer(named, optim)
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
        if not isinstance(state, dict) or not {"step", "trained", "optimizer", "scheduler"} <= set(state):
            raise CheckpointError(f"{self.checkpoint_path}: not a training checkpoint of rgbtfuse")
        self._check_same_settings(state)
        self.trained.load_state_dict(state["trained"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])

    def _check_same_settings(self, state: dict[str, Any]) -> None:
        """Refuse a resume whose settings differ from the checkpoint's in anything that changes the
        loss sequence; compares the whole saved dicts (new options are covered without a list)."""
        current = {"loop": asdict(self.loop), "optim": asdict(self.optim_cfg), "config": self.config_snapshot}
        saved = {k: state[k] for k in current if k in state}  # older checkpoints lack "config"
        diffs = [
            f"{key}: checkpoint {old!r}, now {new!r}"
            for key, old, new in _differences(saved, {k: current[k] for k in saved})
            if key.rsplit(".", 1)[-1] not in NOT_IN_LOSS_SEQUENCE or key == "loop.steps"
        ]
        if diffs:
            raise CheckpointError(
                f"{self.checkpoint_path}: cannot resume, settings differ from the run's ({len(diffs)}): "
                + "; ".join(diffs) + ". Restore them, or start over with --force"
            )

    # --- run directory -----------------------------------------------------------------------
    def _acquire_lock(self) -> Path | None:
        """Create ``OUT/.lock`` (pid, host, time); a live holder is an error, a dead one's lock is stale."""
        if not D.is_main():
            return None
        lock = self.out_dir / LOCK_NAME
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(lock)
                if holder is not None and _alive(holder):
                    raise OutputError(
                        f"{self.out_dir} is in use by another training run (pid {holder['pid']} on {holder['host']}, "
                        f"started {holder.get('started', '?')}); wait for it or choose another --out"
                    ) from None
                lock.unlink(missing_ok=True)  # stale: its process is gone (or the file is unreadable)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            return lock
        raise OutputError(f"{lock}: cannot take the run lock (another run keeps recreating it)")

    def _check_not_overwriting(self, resume: bool, force: bool) -> None:
        if resume or force or not D.is_main() or not self.checkpoint_path.is_file():
            return
        try:
            step = int(read_checkpoint(self.checkpoint_path).get("step", -1))
        except (CheckpointError, AttributeError, TypeError, ValueError):
            step = -1
        raise OutputError(
            f"{self.out_dir} already holds a training run ({CHECKPOINT_NAME} at step {step if step >= 0 else '?'}); "
            "use --resume to continue it or --force to start over (its checkpoint and log are replaced)"
        )

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
    def run(self, resume: bool = False, force: bool = False, before: Callable[[], Any] | None = None) -> list[dict[str, float]]:
        """Train to ``loop.steps``; returns the logged rows of this process (rank-averaged).

        ``OUT`` is locked for the run; an existing run there is continued (``resume``), replaced
        (``force``) or, by default, an :class:`OutputError`. ``before`` runs inside the lock,
        after those checks and before the first step (e.g. filling the dataset).
        """
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise OutputError(f"--out {self.out_dir} exists and is not a folder")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--out {self.out_dir}: cannot create the folder ({exc.strerror})") from exc
        if D.is_main() and not os.access(self.out_dir, os.W_OK):
            raise OutputError(f"--out {self.out_dir}: the folder is not writable")
        lock = self._acquire_lock()
        try:
            self._check_not_overwriting(resume, force)
            if before is not None:
                before()
            return self._run(resume)
        finally:
            if lock is not None:
                lock.unlink(missing_ok=True)

    def _run(self, resume: bool) -> list[dict[str, float]]:
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
                base_lr = self.optim_cfg.lr * lr_factor(self.scheduler.last_epoch, self.loop.steps, self.optim_cfg)
                logs = D.average_scalars({**logs, "lr": base_lr})  # lr_mult groups scale this
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


def _differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted.key, old, new)`` for every leaf where two nested dicts differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _differences(old.get(key, "<unset>"), new.get(key, "<unset>"), name)
        return out
    if isinstance(old, tuple) or isinstance(new, tuple):  # yaml lists may come back as tuples
        old, new = list(old) if isinstance(old, tuple) else old, list(new) if isinstance(new, tuple) else new
    return [] if old == new else [(prefix, old, new)]


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text())
        return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the lock's process runs (a lock from another host is taken as alive: we cannot tell)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


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
