"""Run a tracker over every sequence of a benchmark (``rgbtfuse test``): resumable, in worker
processes, sharded across machines, with the one tracking loop of :mod:`rgbtfuse.tracking`."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from pathlib import Path

from rgbtfuse.atomic import atomic_write
from rgbtfuse.benchmark.plan import DATASETS, result_lines, shard_names, split_root, values_lines
from rgbtfuse.errors import ConfigError, RgbtfuseError


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to build its tracker and track a sequence (picklable)."""

    config: str
    weights: str
    fusion_weights: str | None
    mode: str | None
    device: str
    threads: int
    dataset: str
    root: str
    out: str
    list_file: str | None = None
    backend: str = "pytorch"  # onnxruntime: ``config`` is an exported model folder (rgbtfuse export)


@dataclass
class RunSummary:
    """What a run did: sequences tracked now, skipped as already done, failed (name → message)."""

    total: int
    tracked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0
    scores: dict[str, float] | None = None  # with evaluate=True: the benchmark's scores of this run


def _open(spec: RunSpec):
    from rgbtfuse.data import open_dataset

    return open_dataset(DATASETS[spec.dataset], spec.root, spec.list_file)


_WORKER: dict = {}


def _init_worker(spec: RunSpec, device: str, own_process: bool = True) -> None:
    """Per process: its own torch threads (worker processes, or a process that handed its threads to
    rgbtfuse) and tracker (built once, re-initialised per sequence)."""
    from rgbtfuse.runtime import set_threads, threads_managed

    if own_process or threads_managed():
        set_threads(spec.threads)
    _WORKER["spec"] = spec
    if spec.backend == "onnxruntime":
        from rgbtfuse.trackers.deploy.runtime import build_onnx_tracker

        _WORKER["tracker"] = build_onnx_tracker(spec.config, spec.mode, device, spec.threads)
    else:
        from rgbtfuse.trackers.builder import build_tracker

        _WORKER["tracker"] = build_tracker(spec.config, spec.weights, spec.fusion_weights, spec.mode, device)
    _WORKER["dataset"] = _open(spec)


def _track_one(name: str) -> tuple[str, int, str | None]:
    """Track sequence ``name``; write its files (box file last). Returns (name, frames, error)."""
    from rgbtfuse.tracking import track_sequence

    spec: RunSpec = _WORKER["spec"]
    try:
        seq = _WORKER["dataset"][name]
        result = track_sequence(_WORKER["tracker"], seq, progress=False)
    except RgbtfuseError as exc:
        return name, 0, str(exc)
    if not result.complete:
        return name, result.frames_done, result.error or "tracking stopped before the last frame"
    out = Path(spec.out)
    atomic_write(out / "scores" / f"{name}.txt", lambda tmp: tmp.write_text(values_lines(result.scores)))
    atomic_write(out / "times" / f"{name}.txt", lambda tmp: tmp.write_text(values_lines(result.ms)))
    atomic_write(out / f"{name}.txt", lambda tmp: tmp.write_text(result_lines(spec.dataset, result.boxes)))
    return name, result.frames_done, None


def _check_run_file(spec: RunSpec) -> None:
    """``run.json`` records what produced the folder; resuming with something else is refused."""
    identity = {k: getattr(spec, k) for k in ("config", "weights", "fusion_weights", "mode", "dataset", "backend")}
    path = Path(spec.out) / "run.json"
    if path.is_file():
        previous = json.loads(path.read_text())
        changed = [k for k in identity if previous.get(k) != identity[k]]
        if changed:
            raise ConfigError(f"{path}: this folder holds results of another run ({', '.join(f'{k}={previous.get(k)!r}' for k in changed)}); "
                              "use another --out")
        return
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(identity, indent=1) + "\n"))


def run_dataset(config: str | Path, weights: str | Path, dataset: str, root: str | Path, out: str | Path, *,
                fusion_weights: str | Path | None = None, mode: str | None = None, split: str | None = None,
                list_file: str | Path | None = None, workers: int = 1, shard: tuple[int, int] = (0, 1),
                device: str = "cpu", threads: int = 1, progress: bool = True, evaluate: bool = False,
                backend: str = "pytorch") -> RunSummary:
    """Track every sequence of this shard of ``dataset`` under ``root`` into ``out`` (see :mod:`rgbtfuse.benchmark.plan`).

    Sequences whose box file exists are skipped (resume); ``workers`` processes each build a
    tracker with ``threads`` torch threads (``device="cuda"``: worker ``k`` uses GPU ``k`` modulo
    the GPUs present). With ``workers=1`` tracking runs in this process, which keeps its own
    torch thread count unless it handed it to rgbtfuse (:func:`rgbtfuse.runtime.set_threads`).
    A sequence that fails is reported in the summary, the others go on.
    ``backend="onnxruntime"``: ``config`` is a folder written by ``rgbtfuse export`` (``weights``
    unused). ``evaluate``: once every sequence has results, score them with :mod:`rgbtfuse.evaluation`
    (ground truth from ``root``) and write the report to ``out/eval``.
    """
    if evaluate and dataset not in ("gtot", "rgbt234", "lasher", "vtuav"):
        raise ConfigError(f"--eval: {dataset} is scored by its own toolkit (see docs/vot.md), not rgbtfuse eval")
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if workers < 1 or threads < 1:
        raise ConfigError(f"--workers and --threads must be at least 1, got {workers} and {threads}")
    root = split_root(dataset, Path(root), split)
    if backend not in ("pytorch", "onnxruntime"):
        raise ConfigError(f"unknown backend {backend!r}; expected pytorch or onnxruntime")
    spec = RunSpec(str(config), str(weights), None if fusion_weights is None else str(fusion_weights), mode, device,
                   threads, dataset, str(root), str(out), None if list_file is None else str(list_file), backend)
    names = shard_names(_open(spec).names, shard)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_run_file(spec)
    summary = RunSummary(total=len(names))
    summary.skipped = [n for n in names if (out / f"{n}.txt").is_file()]
    todo = [n for n in names if n not in set(summary.skipped)]
    t0 = time.perf_counter()
    for name, frames, error in _execute(spec, todo, workers, progress):
        summary.frames += frames
        if error is None:
            summary.tracked.append(name)
        else:
            summary.failed[name] = error
    summary.seconds = time.perf_counter() - t0
    if evaluate and not summary.failed:
        if shard != (0, 1):
            raise ConfigError("--eval needs every sequence: evaluate the merged shard folders with rgbtfuse eval")
        from rgbtfuse.evaluation import evaluate as evaluate_results
        from rgbtfuse.evaluation.report import write_report

        ev = evaluate_results(dataset, root, {out.name: out}, sequences=names)
        write_report(ev, out / "eval")
        summary.scores = ev.trackers[out.name].scores()
    return summary


def _devices(spec: RunSpec, workers: int) -> list[str]:
    if not spec.device.startswith("cuda") or ":" in spec.device:
        return [spec.device] * workers
    import torch

    count = max(torch.cuda.device_count(), 1)
    return [f"cuda:{k % count}" for k in range(workers)]


def _execute(spec: RunSpec, todo: list[str], workers: int, progress: bool):
    """Yield ``(name, frames, error)`` per sequence, in one process or a pool; a tqdm bar counts them."""
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="seq", desc=f"{spec.dataset} [{spec.mode or 'default'}]", disable=not progress)
    frames, t0 = 0, time.perf_counter()
    try:
        if workers == 1 or len(todo) <= 1:
            try:
                _init_worker(spec, _devices(spec, 1)[0], own_process=False)
                yield from _counted(map(_track_one, todo), bar, frames, t0)
            finally:
                _WORKER.clear()
        else:
            ctx = mp.get_context("spawn")  # fresh interpreters: no torch/OpenMP state copied from the parent
            pool = ctx.Pool(workers, initializer=_init_worker_indexed, initargs=(spec, _devices(spec, workers), ctx.Value("i", 0)))
            try:
                yield from _counted(pool.imap_unordered(_track_one, todo), bar, frames, t0)
            finally:
                pool.terminate()
                pool.join()
    finally:
        bar.close()


def _init_worker_indexed(spec: RunSpec, devices: list[str], counter) -> None:
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    _init_worker(spec, devices[index % len(devices)])


def _counted(results, bar, frames: int, t0: float):
    for name, n, error in results:
        frames += n
        bar.update(1)
        bar.set_postfix_str(f"{frames / max(time.perf_counter() - t0, 1e-9):.1f} frames/s" + (f", failed {name}" if error else ""))
        yield name, n, error
