"""CPU speed of the image-fusion models vs the authors' inference procedure, side by side, as JSON.

For every model (and every NestFuse / DIDFuse strategy) each pair of ``../shared/data/fusion/tno40`` is
fused twice, alternately: by ``model.fuse_arrays`` (ours) and by a re-expression of the authors' test
procedure that runs the *same* weights but keeps what the authors' code does differently (written
here from their documented behaviour, not copied):

* NestFuse: channel attention with ``repeat``-ed weight maps and the spatial softmax computed as in
  the paper; nuclear-norm pooling as one ``svd`` per channel of batch item 0 (U, S, V, summing S).
* RFN-Nest: the two encoders, four RFNs and the nest decoder on the whole image.
* LRRNet: plain reflection-padded convolutions on the published state dict (ours runs the 1↔256
  channel convs as matrix products), the soft threshold with thresholds ``repeat``-ed to a full
  ``(B, C, H, W)`` tensor in every LISTA step, whole image at once.
* DIDFuse: both checkpoint files re-read for every pair (the authors' ``Test_fusion``); conv,
  BatchNorm and activation as separate plain ops (ours folds BN, runs channels-last); the l1-norm
  rule as a dense ``C×C`` box-filter convolution.

Both are timed under the authors' ``torch.no_grad`` (ours under its own ``inference_mode``); outputs
are compared (``max_abs_diff``, ``identical_fraction``). Not included on either side: the authors'
split of images larger than 512 px into four overlapping quarters (changes the output at the seams).
``authors_reported`` holds per-pair times of the authors' own scripts measured on 2 CPU cores for the
rgbtfuse issue; ``--authors-repo NAME=PATH`` times the authors' network classes from a local checkout.

NestFuse and RFN-Nest use random weights (seeded; positive, normalised, see ``_averaging_weights``) unless ``--weights NAME=PATH`` is given; LRRNet and
DIDFuse use the published weights in ``../shared/weights``.

    python benchmarks/fusion_speed.py --pairs 3
    python benchmarks/fusion_speed.py --models nestfuse --strategies attention_nuclear --pairs 1
"""

from __future__ import annotations

import argparse
import functools
import json
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

from image_fusion import create_model
from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint
from rgbtfuse.imageio import pair_folders, read_image

EPS_NEST = 1e-5  # NestFuse's EPSILON in its fusion strategy

#: model -> strategies benchmarked (None: the model's single fusion)
CONFIGS: dict[str, tuple[str | None, ...]] = {
    "nestfuse": ("attention_avg", "attention_max", "attention_nuclear"),
    "rfn_nest": (None,),
    "lrrnet": (None,),
    "didfuse": ("sum", "average", "l1"),
}
STRATEGY_KWARG = {"nestfuse": "strategy", "didfuse": "fusion"}
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


def authors_nestfuse(model, ir: np.ndarray, vis: np.ndarray, strategy: str) -> np.ndarray:
    with torch.no_grad():
        en_r, en_v = model.encode(_gray_tensor(ir)), model.encode(_gray_tensor(vis))
        fused = [_nest_attention(r, v, strategy) for r, v in zip(en_r, en_v)]
        out = model.decode(fused)[-1]
    return model.postprocess(out)


def authors_rfn_nest(model, ir: np.ndarray, vis: np.ndarray, strategy: None) -> np.ndarray:
    with torch.no_grad():
        en_r, en_v = model.encode(_gray_tensor(ir)), model.encode(_gray_tensor(vis))
        fused = [getattr(model, f"fusion_block{i}")(v, r) for i, (r, v) in enumerate(zip(en_r, en_v), 1)]
        out = model.decode(fused)[-1]
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
    x = F.pad(x, (1, 1, 1, 1), mode="reflect") if reflect else F.pad(x, (1, 1, 1, 1))
    x = F.conv2d(x, sd[f"{p}{i}.weight"], sd[f"{p}{i}.bias"])
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

    with torch.no_grad():
        rule = DIDFUSE_RULES[strategy]
        f1, f2, base, detail = (rule(a, b) for a, b in zip(encode(_gray_tensor(ir) / 255), encode(_gray_tensor(vis) / 255)))
        x = _did_stage(torch.cat([base, detail], 1), dec, "cov5", False, "prelu")
        x = _did_stage(torch.cat([x, f2], 1), dec, "cov6", False, "prelu")
        out = _did_stage(torch.cat([x, f1], 1), dec, "cov7", True, "sigmoid")
    return model.postprocess(out)


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
    kwargs = {STRATEGY_KWARG[name]: strategy} if strategy and name in STRATEGY_KWARG else {}
    if name in weights:
        return create_model(name, weights=weights[name], **kwargs), str(weights[name])
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    model.load_state_dict(_averaging_weights(model.state_dict()))
    return model, "random (seed 0), positive and normalised"


def _averaging_weights(state_dict: dict) -> dict:
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


def bench_config(name, strategy, pairs, weights, skip_authors: bool, authors_repos: dict) -> dict:
    model, weights_label = build(name, strategy, weights)
    authors: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    if not skip_authors:
        extra = {"weights": weights[name]} if name in ("lrrnet", "didfuse") else {}

        def run_authors(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
            return AUTHORS[name](model, ir, vis, strategy, **extra)

        authors = run_authors

    repo_fn = authors_repos[name](model, strategy) if name in authors_repos else None
    rows = []
    for ir_path, vis_path in pairs:
        ir, vis = read_image(ir_path, "gray"), read_image(vis_path, "gray")
        ours_ms, ours_cpu, ours = _timed(model.fuse_arrays, ir, vis)
        row = {"pair": ir_path.name, "size": f"{ir.shape[1]}x{ir.shape[0]}", "ours_ms": round(ours_ms, 1),
               "ours_cpu_ms": round(ours_cpu, 1)}
        if authors is not None:
            ref_ms, ref_cpu, ref = _timed(authors, ir, vis)
            diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
            row.update(authors_procedure_ms=round(ref_ms, 1), authors_procedure_cpu_ms=round(ref_cpu, 1),
                       max_abs_diff=int(diff.max()),
                       identical_fraction=round(float((diff == 0).mean()), 6))
        if repo_fn is not None:
            repo_ms, repo_cpu, _ = _timed(repo_fn, ir, vis)
            row.update(authors_repo_ms=round(repo_ms, 1), authors_repo_cpu_ms=round(repo_cpu, 1))
        rows.append(row)
    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 1)

    result = {"model": name, "strategy": strategy, "weights": weights_label, "ours_ms": mean("ours_ms"),
              "ours_cpu_ms": mean("ours_cpu_ms")}
    if authors is not None:
        result.update(authors_procedure_ms=mean("authors_procedure_ms"), authors_procedure_cpu_ms=mean("authors_procedure_cpu_ms"),
                      speedup=round(mean("authors_procedure_ms") / result["ours_ms"], 2),
                      speedup_cpu=round(mean("authors_procedure_cpu_ms") / result["ours_cpu_ms"], 2),
                      max_abs_diff=max(r["max_abs_diff"] for r in rows),
                      identical_fraction=round(float(np.mean([r["identical_fraction"] for r in rows])), 6))
    if repo_fn is not None:
        result.update(authors_repo_ms=mean("authors_repo_ms"), authors_repo_cpu_ms=mean("authors_repo_cpu_ms"),
                      speedup_vs_authors_repo=round(mean("authors_repo_ms") / result["ours_ms"], 2),
                      speedup_cpu_vs_authors_repo=round(mean("authors_repo_cpu_ms") / result["ours_cpu_ms"], 2))
    result["authors_reported"] = AUTHORS_REPORTED.get((name, strategy))
    result["pairs"] = rows
    return result


def _key_values(items: list[str], what: str) -> dict[str, Path]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"{what} expects NAME=PATH, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = Path(value)
    return out


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
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
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
    authors_repos = {}
    if args.authors_repo:
        from authors_repos import load_authors_repos  # only with the option

        authors_repos = load_authors_repos(_key_values(args.authors_repo, "--authors-repo"))
    wanted = set(args.strategies.split(",")) if args.strategies else None

    results = []
    for name in args.models.split(","):
        if name not in CONFIGS:
            raise SystemExit(f"unknown model {name!r}; choose from {', '.join(CONFIGS)}")
        for strategy in CONFIGS[name]:
            if wanted and strategy is not None and strategy not in wanted:
                continue
            # warm-up on the first pair (allocator, oneDNN primitive caches), not timed
            model, _ = build(name, strategy, weights)
            ir0, vis0 = (read_image(p, "gray") for p in pairs[0])
            model.fuse_arrays(ir0, vis0)
            results.append(bench_config(name, strategy, pairs, weights, args.skip_authors, authors_repos))
            r = results[-1]
            print(f"{name} {strategy or ''}: {r.get('speedup', '-')}x wall, {r.get('speedup_cpu', '-')}x CPU", file=sys.stderr)

    report = {
        "benchmark": "fusion_speed", "data": str(data), "pairs": len(pairs), "device": "cpu",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(), "results": results,
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
