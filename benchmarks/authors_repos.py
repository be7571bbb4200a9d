"""``fusion_speed.py --authors-repo NAME=PATH``: time the authors' own network classes from a checkout.

Nothing of the authors' code is part of rgbtfuse: given a local clone of their repository, their
modules are imported from it (unchanged; imports only their test scripts need — matplotlib, seaborn,
``scipy.misc.imread`` — are stubbed when missing), their networks are built as their test scripts
build them, loaded with our model's weights (same key names), and run as their test scripts run them.
``.cuda()`` calls in their code are no-ops on a machine without CUDA.

Each loader returns ``prepare(model, strategy) -> run(ir_u8, vis_u8) -> raw output tensor``; ``prepare``
is called once per configuration, outside the timing (DIDFuse's per-pair reload stays inside ``run``).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

Runner = Callable[[np.ndarray, np.ndarray], torch.Tensor]
Prepare = Callable[[torch.nn.Module, "str | None"], Runner]
_THEIR_MODULES = ("net", "utils", "fusion_strategy", "args_fusion", "args", "net_lista", "DIDFuse", "utils_didfuse")
NEST_FILTERS = [64, 112, 160, 208, 256]


def _stub_missing(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = types.ModuleType(name)


@contextlib.contextmanager
def _their_imports(repo: Path) -> Iterator[None]:
    """Import modules from ``repo`` by their bare names, without leaking them to other repos."""
    for name in ("matplotlib", "matplotlib.pyplot", "seaborn"):
        _stub_missing(name)
    import scipy.misc

    for name in ("imread", "imsave", "imresize"):  # removed from SciPy; only their image IO uses them
        if not hasattr(scipy.misc, name):
            setattr(scipy.misc, name, None)
    saved = {n: sys.modules.pop(n) for n in _THEIR_MODULES if n in sys.modules}
    sys.path.insert(0, str(repo))
    try:
        yield
    finally:
        sys.path.remove(str(repo))
        for n in _THEIR_MODULES:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


@contextlib.contextmanager
def _cpu_cuda_calls() -> Iterator[None]:
    if torch.cuda.is_available():
        yield
        return
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


def _gray(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.astype(np.float32))[None, None]


def _split(state_dict: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def nestfuse(repo: Path) -> Prepare:
    with _their_imports(repo):
        net = importlib.import_module("net")

    def prepare(model: torch.nn.Module, strategy: str | None) -> Runner:
        theirs = net.NestFuse_autoencoder(NEST_FILTERS, 1, 1, False)
        theirs.load_state_dict(model.state_dict(), strict=False)  # ours may hold extra (fusion) keys
        theirs.eval()
        f_type = sys.intern(strategy or "attention_avg")  # their code compares strings with `is`

        def run(ir: np.ndarray, vis: np.ndarray) -> torch.Tensor:
            with torch.no_grad(), _cpu_cuda_calls():
                en_r, en_v = theirs.encoder(_gray(ir)), theirs.encoder(_gray(vis))
                return theirs.decoder_eval(theirs.fusion(en_r, en_v, f_type))[-1]

        return run

    return prepare


def rfn_nest(repo: Path) -> Prepare:
    with _their_imports(repo):
        net = importlib.import_module("net")

    def prepare(model: torch.nn.Module, strategy: str | None) -> Runner:
        sd = model.state_dict()
        nest = net.NestFuse_light2_nodense(NEST_FILTERS, 1, 1, deepsupervision=False)
        nest.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fusion_block")})
        fusion = net.Fusion_network(NEST_FILTERS, sys.intern("res"))
        fusion.load_state_dict({k: v for k, v in sd.items() if k.startswith("fusion_block")})
        nest.eval()
        fusion.eval()

        def run(ir: np.ndarray, vis: np.ndarray) -> torch.Tensor:
            with torch.no_grad(), _cpu_cuda_calls():
                en_r, en_v = nest.encoder(_gray(ir)), nest.encoder(_gray(vis))
                return nest.decoder_eval(fusion(en_r, en_v))[-1]

        return run

    return prepare


def lrrnet(repo: Path) -> Prepare:
    with _their_imports(repo):
        net_lista = importlib.import_module("net_lista")
        utils = importlib.import_module("utils")

    def prepare(model: torch.nn.Module, strategy: str | None) -> Runner:
        theirs = net_lista.LRR_NET(3, 128, 1, 1, 4, "cat")
        theirs.load_state_dict(model.state_dict())
        theirs.eval()

        def run(ir: np.ndarray, vis: np.ndarray) -> torch.Tensor:
            with torch.no_grad(), _cpu_cuda_calls():
                x, y = utils.normalize_tensor(_gray(ir)), utils.normalize_tensor(_gray(vis))
                return theirs(x, y)["fuse"]

        return run

    return prepare


def didfuse(repo: Path) -> Prepare:
    with _their_imports(repo):
        nets = importlib.import_module("DIDFuse")
        their_utils = importlib.import_module("utils_didfuse")
    their_utils.device = "cpu"

    def prepare(model: torch.nn.Module, strategy: str | None) -> Runner:
        files = {"encoder": Path(repo) / "Models" / "Encoder_weight_IJCAI.pkl", "decoder": Path(repo) / "Models" / "Decoder_weight_IJCAI.pkl"}
        mode = {"sum": "Sum", "average": "Average", "l1": "l1_norm", None: "Sum"}[strategy]

        def run(ir: np.ndarray, vis: np.ndarray) -> torch.Tensor:
            # their Test_fusion: build both nets and read both checkpoint files, for every pair
            enc, dec = nets.AE_Encoder(), nets.AE_Decoder()
            enc.load_state_dict(torch.load(files["encoder"], map_location="cpu", weights_only=False)["weight"])
            dec.load_state_dict(torch.load(files["decoder"], map_location="cpu", weights_only=False)["weight"])
            enc.eval()
            dec.eval()
            with torch.no_grad():
                fi, fv = enc(_gray(ir) / 255), enc(_gray(vis) / 255)
                if mode == "Sum":
                    fused = [a + b for a, b in zip(fi, fv)]
                elif mode == "Average":
                    fused = [(a + b) / 2 for a, b in zip(fi, fv)]
                else:
                    fused = [their_utils.l1_addition(a, b) for a, b in zip(fi, fv)]
                # their encoder returns (f1, f2, base, detail); the decoder takes (f1, f2, base, detail)
                return dec(*fused)

        return run

    return prepare


LOADERS: dict[str, Callable[[Path], Prepare]] = {"nestfuse": nestfuse, "rfn_nest": rfn_nest, "lrrnet": lrrnet, "didfuse": didfuse}


def load_authors_repos(paths: dict[str, Path]) -> dict[str, Prepare]:
    unknown = sorted(set(paths) - set(LOADERS))
    if unknown:
        raise SystemExit(f"--authors-repo: unknown model(s) {', '.join(unknown)}; choose from {', '.join(LOADERS)}")
    return {name: LOADERS[name](Path(path)) for name, path in paths.items()}
