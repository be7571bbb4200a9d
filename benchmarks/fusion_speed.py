"""CPU speed of the image-fusion models vs the authors' inference procedure, side by side, as JSON.

For every model (and every NestFuse / DIDFuse strategy) each pair of ``../shared/data/fusion/tno40`` is
fused alternately by ``model.fuse_arrays`` (ours) and by a re-expression of the authors' test
procedure that runs the *same* weights but keeps what the authors' code does differently (written
here from their code's behaviour, not copied):

* NestFuse: the authors' network (reflection pad — a copy even for 1×1 convs — + NCHW conv +
  in-place ReLU layers, ``torch.cat`` of the nest inputs, nearest upsampling + reflection reshape),
  written from the state dict so that none of our layers run; channel attention with ``repeat``-ed weight maps and the spatial softmax computed
  as in the paper; nuclear-norm pooling as one ``svd`` per channel of batch item 0 (U, S, V, summing S).
* RFN-Nest: the same network with the authors' ``FusionBlock_res`` at each scale, whole image.
* LRRNet: plain reflection-padded convolutions on the published state dict (ours runs the 1↔256
  channel convs as matrix products), the soft threshold with thresholds ``repeat``-ed to a full
  ``(B, C, H, W)`` tensor in every LISTA step, whole image at once.
* DIDFuse: both checkpoint files re-read for every pair (the authors' ``Test_fusion``); conv,
  BatchNorm and activation as separate plain ops (ours folds BN, runs channels-last); the l1-norm
  rule as a dense ``C×C`` box-filter convolution; the encoder maps and decoder outputs referenced
  until the end, as theirs are (what is freed when decides the page faults, i.e. much of the time).

``--authors-repo NAME=PATH`` also times the authors' own network classes from a local checkout of
their repository (``authors_repos.py``). ``nuclear_pooling`` times NestFuse's nuclear-norm channel
pooling alone (the authors' per-channel SVD loop vs ours) on every pair's encoder features.

Ours and the authors' code run in two separate worker processes, each with its own allocator state:
``--allocator shipped`` (default) runs ours as the ``rgbtfuse`` command does (freed memory kept in
the heap, :mod:`rgbtfuse.runtime`) and the authors' code with the C library's defaults, as their
scripts run; ``default`` and ``retain`` give both sides the same allocator. Both are timed under the
authors' ``torch.no_grad`` (ours under its own ``inference_mode``), images read outside the timing;
outputs are compared (``max_abs_diff``, ``identical_fraction``). Not included on either side: the
authors' split of images larger than 512 px into four overlapping quarters (changes the output at
the seams). ``authors_reported`` holds the per-pair times the rgbtfuse issue quotes for the authors'
scripts on 2 CPU cores; ``--busy N`` keeps N busy-looping processes running, as on a shared machine.

NestFuse and RFN-Nest use random weights (seeded; positive, normalised, see ``averaging_weights``)
unless ``--weights NAME=PATH`` is given; LRRNet and DIDFuse use the published weights in ``../shared/weights``.

    python benchmarks/fusion_speed.py --pairs 3
    python benchmarks/fusion_speed.py --only 33.png --threads 2 --allocator default
    python benchmarks/fusion_speed.py --models nestfuse --strategies attention_nuclear --pairs 1 --busy 4
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint  # noqa: E402
from rgbtfuse.image_fusion import create_model  # noqa: E402
from rgbtfuse.imageio import pair_folders, read_image  # noqa: E402
from rgbtfuse.runtime import retain_freed_memory  # noqa: E402

EPS_NEST = 1e-5  # NestFuse's EPSILON in its fusion strategy

#: model -> strategies benchmarked (None: the model's single fusion)
CONFIGS: dict[str, tuple[str | None, ...]] = {
    "nestfuse": ("attention_avg", "attention_max", "attention_nuclear"),
    "rfn_nest": (None,),
    "lrrnet": (None,),
    "didfuse": ("sum", "average", "l1"),
}
SHARED_WEIGHTS = {
    "lrrnet": "weights/lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model",
    "didfuse": "weights/didfuse",
}
#: per-pair times of the authors' own test scripts, 2 CPU cores (measured for the rgbtfuse issue)
AUTHORS_REPORTED = {
    ("nestfuse", "attention_avg"): [{"ms": 5000, "size": "360x270"}],
    ("nestfuse", "attention_nuclear"): [{"ms": 44000, "size": "360x270"}],
    ("rfn_nest", None): [{"ms": 8000, "size": "360x270"}],
    ("lrrnet", None): [{"ms": 7000, "size": "360x270"}, {"ms": 48000, "size": "768x576"}],
    ("didfuse", "sum"): [{"ms": 6700, "size": "TNO pair (mean)"}],
}


# --- the authors' procedures ---------------------------------------------------------------------
def _gray_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.astype(np.float32))[None, None]


def _nest_channel_weights(x: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "attention_avg":
        return F.avg_pool2d(x, kernel_size=x.shape[2:])
    if pooling == "attention_max":
        return F.max_pool2d(x, kernel_size=x.shape[2:])
    out = torch.zeros(1, x.shape[1], 1, 1)
    for c in range(x.shape[1]):  # one SVD per channel map, first batch item only
        _, s, _ = torch.linalg.svd(x[0, c] + EPS_NEST, full_matrices=False)
        out[0, c, 0, 0] = s.sum()
    return out


def _nest_attention(x1: torch.Tensor, x2: torch.Tensor, pooling: str) -> torch.Tensor:
    _, c, h, w = x1.shape
    p1, p2 = _nest_channel_weights(x1, pooling), _nest_channel_weights(x2, pooling)
    w1 = (p1 / (p1 + p2 + EPS_NEST)).repeat(1, 1, h, w)
    w2 = (p2 / (p1 + p2 + EPS_NEST)).repeat(1, 1, h, w)
    f_channel = w1 * x1 + w2 * x2
    s1, s2 = x1.mean(dim=1, keepdim=True), x2.mean(dim=1, keepdim=True)
    a1 = (torch.exp(s1) / (torch.exp(s1) + torch.exp(s2) + EPS_NEST)).repeat(1, c, 1, 1)
    a2 = (torch.exp(s2) / (torch.exp(s1) + torch.exp(s2) + EPS_NEST)).repeat(1, c, 1, 1)
    f_spatial = a1 * x1 + a2 * x2
    return (f_channel + f_spatial) / 2


def _hui_li_conv(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    """Hui Li's ``ConvLayer`` as the authors run it: reflection pad (a padded copy even for the 1×1 convs,
    as their ``nn.ReflectionPad2d(0)`` makes), plain NCHW ``conv2d``, ReLU in place."""
    weight = sd[f"{name}.conv2d.weight"]
    p = weight.shape[-1] // 2
    return F.relu_(F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), weight, sd[f"{name}.conv2d.bias"]))


def _nest_block(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    return _hui_li_conv(_hui_li_conv(x, sd, f"{name}.denseblock.0"), sd, f"{name}.denseblock.1")


def _up_eval(fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """``UpsampleReshape_eval``: nearest ×2, then reflection padding to the fine map's size (a padded copy
    even when nothing is padded, as their ``nn.ReflectionPad2d`` makes)."""
    up = F.interpolate(coarse, scale_factor=2.0, mode="nearest")
    dh, dw = fine.shape[2] - up.shape[2], fine.shape[3] - up.shape[3]
    return F.pad(up, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="reflect")


def _authors_nest_encoder(sd: dict, x: torch.Tensor) -> list[torch.Tensor]:
    x1 = _nest_block(_hui_li_conv(x, sd, "conv0"), sd, "DB1_0")
    x2 = _nest_block(F.max_pool2d(x1, 2), sd, "DB2_0")
    x3 = _nest_block(F.max_pool2d(x2, 2), sd, "DB3_0")
    return [x1, x2, x3, _nest_block(F.max_pool2d(x3, 2), sd, "DB4_0")]


def _authors_nest_decoder_eval(sd: dict, f: list[torch.Tensor]) -> torch.Tensor:
    x1_1 = _nest_block(torch.cat([f[0], _up_eval(f[0], f[1])], 1), sd, "DB1_1")
    x2_1 = _nest_block(torch.cat([f[1], _up_eval(f[1], f[2])], 1), sd, "DB2_1")
    x1_2 = _nest_block(torch.cat([f[0], x1_1, _up_eval(f[0], x2_1)], 1), sd, "DB1_2")
    x3_1 = _nest_block(torch.cat([f[2], _up_eval(f[2], f[3])], 1), sd, "DB3_1")
    x2_2 = _nest_block(torch.cat([f[1], x2_1, _up_eval(f[1], x3_1)], 1), sd, "DB2_2")
    x1_3 = _nest_block(torch.cat([f[0], x1_1, x1_2, _up_eval(f[0], x2_2)], 1), sd, "DB1_3")
    return _hui_li_conv(x1_3, sd, "conv_out")


def _authors_rfn(sd: dict, name: str, x_ir: torch.Tensor, x_vi: torch.Tensor) -> torch.Tensor:
    """``FusionBlock_res``: conv_fusion on [ir, vi] plus the bottleneck on [conv_ir(ir), conv_vi(vi)]."""
    initial = _hui_li_conv(torch.cat([x_ir, x_vi], 1), sd, f"{name}.conv_fusion")
    out = torch.cat([_hui_li_conv(x_ir, sd, f"{name}.conv_ir"), _hui_li_conv(x_vi, sd, f"{name}.conv_vi")], 1)
    for j in range(3):
        out = _hui_li_conv(out, sd, f"{name}.bottelblock.{j}")
    return initial + out


def authors_nestfuse(model, ir: np.ndarray, vis: np.ndarray, strategy: str) -> np.ndarray:
    """The authors' NCHW network on our model's weights (none of our layers run)."""
    sd = model.state_dict()
    with torch.no_grad():
        en_r, en_v = _authors_nest_encoder(sd, _gray_tensor(ir)), _authors_nest_encoder(sd, _gray_tensor(vis))
        out = _authors_nest_decoder_eval(sd, [_nest_attention(r, v, strategy) for r, v in zip(en_r, en_v)])
    return model.postprocess(out)


def authors_rfn_nest(model, ir: np.ndarray, vis: np.ndarray, strategy: None) -> np.ndarray:
    sd = model.state_dict()
    with torch.no_grad():
        en_r, en_v = _authors_nest_encoder(sd, _gray_tensor(ir)), _authors_nest_encoder(sd, _gray_tensor(vis))
        fused = [_authors_rfn(sd, f"fusion_block{i}", r, v) for i, (r, v) in enumerate(zip(en_r, en_v), 1)]
        out = _authors_nest_decoder_eval(sd, fused)
    return model.postprocess(out)


def _repeat_threshold(x: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    lam = lam.reshape(1, c, 1, 1).repeat(b, 1, h, w)
    return torch.sign(x) * torch.clamp(torch.abs(x) - lam, 0)


@functools.lru_cache(maxsize=4)
def _published_state_dict(path: Path) -> dict[str, torch.Tensor]:
    return extract_state_dict(read_checkpoint(path), source=str(path))


def _reflect_conv(x: torch.Tensor, sd: dict, prefix: str) -> torch.Tensor:
    """The authors' ``ConvLayer``: reflection padding + plain ``conv2d`` (3×3)."""
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), sd[f"{prefix}.weight"], sd[f"{prefix}.bias"])


def _lrr_branch(sd: dict, name: str, x: torch.Tensor, blocks: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    lamj, lamz = sd[f"{name}.lamj"], sd[f"{name}.lamz"]
    z = _repeat_threshold(_reflect_conv(x, sd, f"{name}.conv_W00.conv2d"), lamj)
    for t in range(blocks):
        residual = x - _reflect_conv(z, sd, f"{name}.lrrblock{t}.conv_Wdz.conv2d")
        z = _repeat_threshold(lamz * z + _reflect_conv(residual, sd, f"{name}.lrrblock{t}.conv_Wdtz.conv2d"), lamj)
    n = z.shape[1] // 2
    return z[:, :n], z[:, n:]


def authors_lrrnet(model, ir: np.ndarray, vis: np.ndarray, strategy: None, weights: Path) -> np.ndarray:
    """Plain convolutions on the published state dict (ours runs the few-channel convs as matmuls)."""
    sd = _published_state_dict(weights)

    def normalise(t: torch.Tensor) -> torch.Tensor:
        return (t - t.min()) / (t.max() - t.min() + 1e-5)

    with torch.no_grad():
        low_x, sparse_x = _lrr_branch(sd, "get_ls1", normalise(_gray_tensor(ir)))
        low_y, sparse_y = _lrr_branch(sd, "get_ls2", normalise(_gray_tensor(vis)))

        def conv(x: torch.Tensor, name: str) -> torch.Tensor:
            return _reflect_conv(x, sd, f"decoder.{name}.conv2d")

        low = conv(torch.cat([conv(low_x, "conv_ReZx"), conv(low_y, "conv_ReZy")], 1), "conv_ReL")
        high = conv(torch.cat([conv(sparse_x, "conv_ReUx"), conv(sparse_y, "conv_ReUy")], 1), "conv_ReH")
    return model.postprocess(low + high)


def _dense_l1(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    c = y1.shape[1]
    kernel = (torch.ones(3, 3) / 9)[None, None].expand(c, c, 3, 3)
    a1, a2 = F.conv2d(y1.abs(), kernel, padding=1), F.conv2d(y2.abs(), kernel, padding=1)
    return a1 / (a1 + a2) * y1 + a2 / (a1 + a2) * y2


DIDFUSE_RULES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sum": lambda a, b: a + b,
    "average": lambda a, b: (a + b) / 2,
    "l1": _dense_l1,
}


def _did_stage(x: torch.Tensor, sd: dict, name: str, reflect: bool, act: str) -> torch.Tensor:
    """One published DIDFuse stage: [reflection pad] conv 3×3, BatchNorm (eval), activation."""
    i = 1 if reflect else 0
    p = f"{name}.{name}."
    if reflect:  # nn.ReflectionPad2d(1) + Conv2d(padding=0); otherwise Conv2d(padding=1)
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), sd[f"{p}{i}.weight"], sd[f"{p}{i}.bias"])
    else:
        x = F.conv2d(x, sd[f"{p}{i}.weight"], sd[f"{p}{i}.bias"], padding=1)
    x = F.batch_norm(x, sd[f"{p}{i + 1}.running_mean"], sd[f"{p}{i + 1}.running_var"],
                     sd[f"{p}{i + 1}.weight"], sd[f"{p}{i + 1}.bias"], training=False, eps=1e-5)
    if act == "prelu":
        return F.prelu(x, sd[f"{p}{i + 2}.weight"])
    return torch.tanh(x) if act == "tanh" else torch.sigmoid(x)


def authors_didfuse(model, ir: np.ndarray, vis: np.ndarray, strategy: str, weights: Path) -> np.ndarray:
    """Both checkpoint files re-read for every pair (the authors' ``Test_fusion``); plain conv + BN ops."""
    enc = extract_state_dict(read_checkpoint(weights / "Encoder_weight_IJCAI.pkl"))
    dec = extract_state_dict(read_checkpoint(weights / "Decoder_weight_IJCAI.pkl"))

    def encode(x: torch.Tensor) -> list[torch.Tensor]:
        f1 = _did_stage(x, enc, "cov1", True, "prelu")
        f2 = _did_stage(f1, enc, "cov2", False, "prelu")
        return [f1, f2, _did_stage(f2, enc, "cov3", False, "tanh"), _did_stage(f2, enc, "cov4", False, "tanh")]

    # Lifetimes as in their Test_fusion and AE_Decoder: the eight encoder maps and each decoder stage's
    # output stay referenced until the end (later maps then need fresh memory: ~110k more page faults
    # per 360×270 pair than freeing them early, ~20 % of the time with the C library's default allocator).
    with torch.no_grad():
        rule = DIDFUSE_RULES[strategy]
        feats_ir, feats_vis = encode(_gray_tensor(ir) / 255), encode(_gray_tensor(vis) / 255)
        f1, f2, base, detail = (rule(a, b) for a, b in zip(feats_ir, feats_vis))
        out1 = _did_stage(torch.cat([base, detail], 1), dec, "cov5", False, "prelu")
        out2 = _did_stage(torch.cat([out1, f2], 1), dec, "cov6", False, "prelu")
        out3 = _did_stage(torch.cat([out2, f1], 1), dec, "cov7", True, "sigmoid")
    return model.postprocess(out3)


AUTHORS = {"nestfuse": authors_nestfuse, "rfn_nest": authors_rfn_nest, "lrrnet": authors_lrrnet, "didfuse": authors_didfuse}


# --- measurement --------------------------------------------------------------------------------
def _timed(fn: Callable[..., np.ndarray], *args: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Wall and process CPU milliseconds of ``fn(*args)``, and its result.

    On a shared machine CPU time is the steadier figure: wall time also counts waiting for a core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu), out


def build(name: str, strategy: str | None, weights: dict[str, Path]):
    kwargs = {"rule": strategy} if strategy and name in ("nestfuse", "didfuse") else {}
    if name in weights:
        return create_model(name, weights=weights[name], **kwargs), str(weights[name])
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    model.load_state_dict(averaging_weights(model.state_dict()))
    return model, "random (seed 0), positive and normalised"


def averaging_weights(state_dict: dict) -> dict:
    """Random weights that make every conv a weighted average of its inputs, on inputs scaled to [0, 1].

    Hui Li's nets apply a ReLU after every conv: with random signs the output is constant, and with
    unnormalised positive weights the features overflow NestFuse's ``exp`` softmax. Either would make
    the output comparison meaningless; timing does not depend on the values.
    """
    out = {}
    for key, value in state_dict.items():
        if key.endswith("weight") and value.dim() == 4:
            value = value.abs() / value.abs().sum(dim=(1, 2, 3), keepdim=True)
        elif key.endswith("bias"):
            value = torch.zeros_like(value)
        out[key] = value
    out["conv0.conv2d.weight"] = out["conv0.conv2d.weight"] / 255
    return out


# --- worker processes ---------------------------------------------------------------------------
class _Requests:
    """Runs in a worker process: builds each configuration once, answers timing requests.

    Requests are ``(kind, name, strategy, ir_path, vis_path)``; ``kind`` is ``ours`` (``fuse_arrays``),
    ``authors`` (the re-expressed procedure), ``repo`` (the authors' classes, ``--authors-repo``) or
    ``pool_ours`` / ``pool_authors`` (nuclear-norm pooling alone). Images are read and pooling inputs
    encoded outside the timed region. Answers are ``(wall_ms, cpu_ms, result)``.
    """

    def __init__(self, weights: dict[str, Path], repos: dict[str, Path]):
        self.weights = weights
        self.repos = load_authors_repos_lazily(repos)
        self.models: dict[tuple[str, str | None], torch.nn.Module] = {}
        self.repo_runners: dict[tuple[str, str | None], Callable] = {}

    def model(self, name: str, strategy: str | None) -> torch.nn.Module:
        if (name, strategy) not in self.models:
            self.models[(name, strategy)] = build(name, strategy, self.weights)[0]
        return self.models[(name, strategy)]

    def __call__(self, kind: str, name: str, strategy: str | None, ir_path: Path, vis_path: Path):
        model = self.model(name, strategy)
        ir, vis = read_image(ir_path, "gray"), read_image(vis_path, "gray")
        if kind == "ours":
            return _timed(model.fuse_arrays, vis, ir)
        if kind == "authors":
            extra = {"weights": self.weights[name]} if name in ("lrrnet", "didfuse") else {}
            return _timed(functools.partial(AUTHORS[name], model, strategy=strategy, **extra), ir, vis)
        if kind == "repo":
            if (name, strategy) not in self.repo_runners:
                self.repo_runners[(name, strategy)] = self.repos()[name](model, strategy)
            wall, cpu, _ = _timed(self.repo_runners[(name, strategy)], ir, vis)
            return wall, cpu, None
        with torch.inference_mode():
            feats = [f.contiguous() for img in (ir, vis) for f in model.encode(model.preprocess(img))]
        if kind == "pool_ours":
            from rgbtfuse.fusion.functional import channel_pool

            def pool() -> list[torch.Tensor]:
                with torch.inference_mode():
                    return [channel_pool(f, "nuclear", EPS_NEST) for f in feats]
        else:

            def pool() -> list[torch.Tensor]:
                with torch.no_grad():
                    return [_nest_channel_weights(f, "attention_nuclear") for f in feats]

        wall, cpu, values = _timed(pool)
        return wall, cpu, [v.flatten().double().numpy() for v in values]


def load_authors_repos_lazily(repos: dict[str, Path]) -> Callable[[], dict]:
    loaded: dict = {}

    def get() -> dict:
        if repos and not loaded:
            from authors_repos import load_authors_repos  # only with --authors-repo

            loaded.update(load_authors_repos(repos))
        return loaded

    return get


def _serve(conn, retain: bool, threads: int | None, weights: dict[str, Path], repos: dict[str, Path]) -> None:
    if retain:
        retain_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    requests = _Requests(weights, repos)
    while (msg := conn.recv()) is not None:
        try:
            conn.send(requests(*msg))
        except Exception as exc:  # report to the parent instead of hanging it
            conn.send(exc)
            raise


class Worker:
    """A spawned process that answers :class:`_Requests` — its own allocator state and thread pool."""

    def __init__(self, retain: bool, threads: int | None, weights: dict[str, Path], repos: dict[str, Path]):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, retain, threads, weights, repos), daemon=True)
        self.process.start()
        self.retain = retain

    def __call__(self, *request):
        self.conn.send(request)
        answer = self.conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(timeout=30)


def _median_timed(repeat: int, *calls: Callable[[], tuple]) -> list[tuple[float, float, object]]:
    """Run the calls alternately ``repeat`` times; per call the median wall and CPU ms and the first result."""
    runs = [[call() for call in calls] for _ in range(repeat)]
    out = []
    for i in range(len(calls)):
        walls, cpus = sorted(r[i][0] for r in runs), sorted(r[i][1] for r in runs)
        out.append((walls[repeat // 2], cpus[repeat // 2], runs[0][i][2]))
    return out


def bench_config(name, strategy, pairs, ours: Worker, authors: Worker | None, with_repo: bool, repeat: int) -> dict:
    rows = []
    for ir_path, vis_path in pairs:
        calls = [functools.partial(ours, "ours", name, strategy, ir_path, vis_path)]
        if authors is not None:
            calls.append(functools.partial(authors, "authors", name, strategy, ir_path, vis_path))
            if with_repo:
                calls.append(functools.partial(authors, "repo", name, strategy, ir_path, vis_path))
        (ours_ms, ours_cpu, mine), *others = _median_timed(repeat, *calls)
        row = {"pair": ir_path.name, "size": "x".join(map(str, mine.shape[::-1])), "ours_ms": round(ours_ms, 1),
               "ours_cpu_ms": round(ours_cpu, 1)}
        if authors is not None:
            ref_ms, ref_cpu, ref = others[0]
            diff = np.abs(mine.astype(np.int16) - ref.astype(np.int16))
            row.update(authors_procedure_ms=round(ref_ms, 1), authors_procedure_cpu_ms=round(ref_cpu, 1),
                       max_abs_diff=int(diff.max()), identical_fraction=round(float((diff == 0).mean()), 6))
            if with_repo:
                repo_ms, repo_cpu, _ = others[1]
                row.update(authors_repo_ms=round(repo_ms, 1), authors_repo_cpu_ms=round(repo_cpu, 1))
        rows.append(row)

    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 1)

    result = {"model": name, "strategy": strategy, "ours_ms": mean("ours_ms"), "ours_cpu_ms": mean("ours_cpu_ms")}
    if authors is not None:
        result.update(authors_procedure_ms=mean("authors_procedure_ms"), authors_procedure_cpu_ms=mean("authors_procedure_cpu_ms"),
                      speedup=round(mean("authors_procedure_ms") / result["ours_ms"], 2),
                      speedup_cpu=round(mean("authors_procedure_cpu_ms") / result["ours_cpu_ms"], 2),
                      max_abs_diff=max(r["max_abs_diff"] for r in rows),
                      identical_fraction=round(float(np.mean([r["identical_fraction"] for r in rows])), 6))
        if with_repo:
            result.update(authors_repo_ms=mean("authors_repo_ms"), authors_repo_cpu_ms=mean("authors_repo_cpu_ms"),
                          speedup_vs_authors_repo=round(mean("authors_repo_ms") / result["ours_ms"], 2),
                          speedup_cpu_vs_authors_repo=round(mean("authors_repo_cpu_ms") / result["ours_cpu_ms"], 2))
    result["authors_reported"] = AUTHORS_REPORTED.get((name, strategy))
    result["pairs"] = rows
    return result


def bench_nuclear_pooling(pairs, ours: Worker, authors: Worker, repeat: int) -> dict:
    """NestFuse's nuclear-norm channel pooling alone, on the encoder features of every pair.

    Authors: one ``svd`` per channel map of batch item 0 (their ``nuclear_pooling``); ours:
    :func:`rgbtfuse.fusion.functional.channel_pool` (Gram matrices + batched ``eigvalsh``). Both pool
    the infrared and the visible features at all four scales; ``max_rel_diff`` compares the pooled values.
    """
    rows = []
    for ir_path, vis_path in pairs:
        (ours_ms, ours_cpu, mine), (ref_ms, ref_cpu, ref) = _median_timed(
            repeat,
            functools.partial(ours, "pool_ours", "nestfuse", "attention_nuclear", ir_path, vis_path),
            functools.partial(authors, "pool_authors", "nestfuse", "attention_nuclear", ir_path, vis_path),
        )
        rel = max(float((np.abs(a - b) / np.maximum(np.abs(b), 1e-12)).max()) for a, b in zip(mine, ref))
        rows.append({"pair": ir_path.name, "ours_ms": round(ours_ms, 1), "authors_ms": round(ref_ms, 1),
                     "ours_cpu_ms": round(ours_cpu, 1), "authors_cpu_ms": round(ref_cpu, 1), "max_rel_diff": rel})
    mean = {k: round(float(np.mean([r[k] for r in rows])), 1) for k in ("ours_ms", "authors_ms", "ours_cpu_ms", "authors_cpu_ms")}
    return {**mean, "speedup": round(mean["authors_ms"] / mean["ours_ms"], 2),
            "speedup_cpu": round(mean["authors_cpu_ms"] / mean["ours_cpu_ms"], 2),
            "max_rel_diff": max(r["max_rel_diff"] for r in rows), "pairs": rows}


def _key_values(items: list[str], what: str) -> dict[str, Path]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"{what} expects NAME=PATH, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = Path(value)
    return out


#: --allocator: (ours retains freed memory, authors' retain freed memory)
ALLOCATORS = {"shipped": (True, False), "default": (False, False), "retain": (True, True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared data folder (default ../shared)")
    parser.add_argument("--pairs", type=int, default=None, help="use only the first N pairs of tno40 (natural order)")
    parser.add_argument("--only", default=None, help="comma-separated pair file names instead (e.g. 33.png,34.png)")
    parser.add_argument("--models", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS))
    parser.add_argument("--strategies", default=None, help="comma-separated subset of strategies (NestFuse/DIDFuse)")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=PATH", help="weights for a model")
    parser.add_argument("--authors-repo", action="append", default=[], metavar="NAME=PATH",
                        help="also time the authors' network classes from a local checkout of their repository "
                        "(see authors_repos.py); NAME is one of " + ",".join(CONFIGS))
    parser.add_argument("--skip-authors", action="store_true", help="time ours only")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--allocator", choices=sorted(ALLOCATORS), default="shipped",
                        help="shipped: ours as the rgbtfuse command runs (rgbtfuse.runtime.retain_freed_memory), the "
                        "authors' code with the C library's defaults, as their scripts run; default: both with the "
                        "defaults; retain: both retaining freed memory")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per pair and side, alternating ours/authors; the median is reported (default 3)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="keep N busy-looping processes running during the measurement (a shared, loaded machine)")
    args = parser.parse_args(argv)

    data = args.shared / "data" / "fusion" / "tno40"
    if not data.is_dir():
        raise SystemExit(f"{data} not found: the benchmark needs ../shared (or --shared PATH)")
    pairs = pair_folders(data / "ir", data / "vi")
    if args.only:
        names = args.only.split(",")
        pairs = [p for p in pairs if p[0].name in names]
        if len(pairs) != len(names):
            raise SystemExit(f"--only: not all of {names} are pairs of {data}")
    pairs = pairs[: args.pairs]
    weights = {name: args.shared / rel for name, rel in SHARED_WEIGHTS.items()}
    weights.update(_key_values(args.weights, "--weights"))
    repos = _key_values(args.authors_repo, "--authors-repo")
    unknown = sorted(set(repos) - set(CONFIGS))
    if unknown:
        raise SystemExit(f"--authors-repo: unknown model(s) {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    wanted = set(args.strategies.split(",")) if args.strategies else None
    models = args.models.split(",")
    for name in models:
        if name not in CONFIGS:
            raise SystemExit(f"unknown model {name!r}; choose from {', '.join(CONFIGS)}")

    ours_retain, authors_retain = ALLOCATORS[args.allocator]
    ctx = multiprocessing.get_context("spawn")
    hogs = [ctx.Process(target=_busy_loop, daemon=True) for _ in range(args.busy)]
    for hog in hogs:
        hog.start()
    ours = Worker(ours_retain, args.threads, weights, {})
    authors = None if args.skip_authors else Worker(authors_retain, args.threads, weights, repos)
    results = []
    try:
        for name in models:
            for strategy in CONFIGS[name]:
                if wanted and strategy is not None and strategy not in wanted:
                    continue
                # warm-up on the first pair (allocator, oneDNN primitive caches), not timed
                ours("ours", name, strategy, *pairs[0])
                if authors is not None:
                    authors("authors", name, strategy, *pairs[0])
                results.append(bench_config(name, strategy, pairs, ours, authors, name in repos, args.repeat))
                r = results[-1]
                print(f"{name} {strategy or ''}: {r.get('speedup', '-')}x wall, {r.get('speedup_cpu', '-')}x CPU", file=sys.stderr)
        nuclear = None
        if "nestfuse" in models and (not wanted or "attention_nuclear" in wanted) and authors is not None:
            nuclear = bench_nuclear_pooling(pairs, ours, authors, args.repeat)
            print(f"nuclear-norm pooling alone: {nuclear['speedup']}x wall, {nuclear['speedup_cpu']}x CPU", file=sys.stderr)
    finally:
        ours.close()
        if authors is not None:
            authors.close()
        for hog in hogs:
            hog.terminate()

    report = {
        "benchmark": "fusion_speed", "data": str(data), "pairs": len(pairs), "device": "cpu",
        "threads": args.threads or torch.get_num_threads(), "repeat": args.repeat, "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "busy_processes": args.busy, "load_average": [round(v, 2) for v in os.getloadavg()],
        "allocator": {"mode": args.allocator, "ours_retains_freed_memory": ours_retain,
                      "authors_retain_freed_memory": authors_retain},
        "weights": {name: build_label(name, weights) for name in models},
        "results": results, "nuclear_pooling": nuclear,
    }
    print(json.dumps(report, indent=1))
    return 0


def _busy_loop() -> None:
    while True:
        pass


def build_label(name: str, weights: dict[str, Path]) -> str:
    return str(weights[name]) if name in weights else "random (seed 0), positive and normalised"


if __name__ == "__main__":
    sys.exit(main())
