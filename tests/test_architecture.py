"""The package's layers (docs/architecture.md): imports only point down, and nothing imports in a circle.

The import graph is read from the source (every ``import`` statement, at module level or inside a
function), so a lazy import that climbs a layer fails here as well.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: source folder → installed package (pyproject.toml's package-dir)
FOLDERS = {"rgbtfuse": "rgbtfuse", "trackers": "rgbtfuse.trackers", "image_fusion": "rgbtfuse.image_fusion"}

#: lowest first; a module may import its own layer and the ones below. Prefixes: the longest match wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("floor", ("rgbtfuse", "rgbtfuse.errors", "rgbtfuse.atomic", "rgbtfuse.imageio", "rgbtfuse.checkpoint",
               "rgbtfuse.device", "rgbtfuse.runtime", "rgbtfuse.weights", "rgbtfuse.fewconv", "rgbtfuse.config",
               "rgbtfuse.boxes", "rgbtfuse.modality")),
    ("fusion", ("rgbtfuse.fusion",)),
    ("models", ("rgbtfuse.trackers", "rgbtfuse.trackers.registry", "rgbtfuse.trackers.grids",
                "rgbtfuse.trackers.models", "rgbtfuse.image_fusion", "rgbtfuse.losses")),
    ("tracker", ("rgbtfuse.trackers.tracker",)),
    ("library", ("rgbtfuse.trackers.builder", "rgbtfuse.trackers.deploy", "rgbtfuse.trackers.vot", "rgbtfuse.data",
                 "rgbtfuse.tracking", "rgbtfuse.evaluation", "rgbtfuse.metrics", "rgbtfuse.training",
                 "rgbtfuse.benchmark", "rgbtfuse.folder_fusion")),
    ("demo", ("rgbtfuse.demo",)),
    ("cli", ("rgbtfuse.cli", "rgbtfuse.__main__")),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            mods[name.removesuffix(".__init__")] = path
    return mods


def _import_graph() -> dict[str, set[str]]:
    """``{module: modules of this package it imports}`` (an imported name resolves to its module)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "rgbtfuse" and (module := resolve(target)) and module != name:
                    graph[name].add(module)
        graph.setdefault(name, set())
    return graph


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level is not None, f"{module} is in no layer of tests/test_architecture.py (add it where it belongs)"
    return level


def test_every_module_is_in_a_layer_and_imports_only_down():
    graph = _import_graph()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
              for a, targets in graph.items() for b in targets if layer_of(b) > layer_of(a)]
    assert not upward, "imports that climb a layer:\n" + "\n".join(sorted(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_files():
    graph = _import_graph()
    # a package's __init__ re-exporting its modules is not a cycle with them
    files = {a: {b for b in bs if not (b.startswith(a + ".") or a.startswith(b + "."))} for a, bs in graph.items()}
    assert _cycles(files) == []


def test_no_import_cycle_between_packages():
    def package(module: str) -> str:
        path = _modules()[module]
        name = module if path.name == "__init__.py" else module.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for a, targets in _import_graph().items():
        for b in targets:
            pa, pb = package(a), package(b)
            # a subpackage's use of its parent (and the parent's re-exports) is within one package tree
            if pa != pb and not (pb.startswith(pa + ".") or pa.startswith(pb + ".")):
                graph[pa].add(pb)
    assert _cycles(graph) == []


def test_the_layer_check_can_fail():
    """The checks above see a climbing import and a cycle when there is one."""
    assert layer_of("rgbtfuse.cli.track") > layer_of("rgbtfuse.fusion.rfn")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_pyproject_lists_every_package_and_installs_only_rgbtfuse():
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = {m for m, path in _modules().items() if path.name == "__init__.py"}
    assert sorted(cfg["packages"]) == sorted(packages)
    assert {p.split(".")[0] for p in cfg["packages"]} == {"rgbtfuse"}
    assert cfg["package-dir"] == {"rgbtfuse": "rgbtfuse", **{v: k for k, v in FOLDERS.items() if k != "rgbtfuse"}}


@pytest.mark.slow
def test_the_wheel_has_one_top_level_package(tmp_path):
    """No top-level ``trackers`` (PyPI's ``trackers`` installs one) or ``image_fusion`` in the wheel."""
    import shutil
    import subprocess
    import zipfile

    source = tmp_path / "src"  # a copy: setuptools writes build/ next to the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("rgbtfuse-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))} == {"rgbtfuse"}
    for required in ("rgbtfuse/trackers/builder.py", "rgbtfuse/image_fusion/lrrnet.py", "rgbtfuse/trackers/vot/stacks/short.yaml",
                     "rgbtfuse/trained/manifest.json", "rgbtfuse/demo/model.yaml"):
        assert required in names
