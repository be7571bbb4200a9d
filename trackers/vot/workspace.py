"""VOT toolkit workspaces: stacks, ``trackers.ini`` and ``config.yaml`` for rgbtfuse trackers.

A workspace made here runs offline on local sequences: the local stacks have no ``dataset`` key
and the sequences folder is referenced by absolute path (the toolkit only downloads when the
folder has no ``list.txt``). Official toolkit stack ids (``vot2020/rgbtir`` …) are passed through
unchanged and download their dataset when the machine is online.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

import rgbtfuse
from rgbtfuse.atomic import atomic_write
from rgbtfuse.data.vot_writer import check_ascii_path
from rgbtfuse.errors import ConfigError, VotError

STACK_DIR = Path(__file__).resolve().parent / "stacks"
LOCAL_STACKS = {p.stem: p for p in sorted(STACK_DIR.glob("*.yaml"))}
# local stacks that are copies of an official one: without --sequences the official id is used
OFFICIAL_IDS = {"vot2020-rgbtir": "vot2020/rgbtir", "vot2019-rgbtir": "vot2019/rgbtir"}
BUILTIN_TRACKERS = ("oracle", "static")
# the toolkit's reset-based experiment (registry name and class path) and rgbtfuse's, which handles unannotated frames
STOCK_SUPERVISED = ("supervised", "vot.experiment.multirun.SupervisedExperiment")
SPARSE_SUPERVISED = "rgbtfuse.trackers.vot.analysis.SupervisedExperiment"
#: the folder holding the rgbtfuse package: the TraX server's PYTHONPATH (a source checkout's root)
REPO_ROOT = Path(rgbtfuse.__file__).resolve().parent.parent
_IDENTIFIER = re.compile(r"[^a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class TrackerSpec:
    """One ``--tracker`` argument: ``[NAME=]oracle|static|EXP.yaml[:WEIGHTS]``."""

    name: str
    builtin: str | None = None
    config: Path | None = None
    weights: Path | None = None

    @classmethod
    def parse(cls, text: str) -> TrackerSpec:
        name, _, spec = text.rpartition("=") if "=" in text else ("", "", text)
        if spec in BUILTIN_TRACKERS:
            return cls(name=_identifier(name or spec), builtin=spec)
        match = re.fullmatch(r"(.+?\.ya?ml)(?::(.+))?", spec)
        if not match:
            raise ConfigError(f"--tracker {text!r}: expected oracle, static or EXP.yaml[:WEIGHTS] (optionally NAME=...)")
        config = Path(match.group(1)).resolve()
        weights = Path(match.group(2)).resolve() if match.group(2) else None
        if not config.is_file():
            raise ConfigError(f"--tracker {text!r}: experiment yaml {config} not found")
        if weights is not None and not weights.is_file():
            raise ConfigError(f"--tracker {text!r}: weights {weights} not found")
        return cls(name=_identifier(name or config.stem), config=config, weights=weights)

    def command(self, python: str, device: str = "auto", mode: str | None = None) -> str:
        """The shell command of the TraX server for this tracker (absolute paths only)."""
        args = [python, "-m", "rgbtfuse.trackers.vot.trax_server"]
        if self.builtin:
            args += ["--builtin", self.builtin]
            if mode:
                args += ["--channels", mode]
        else:
            args += ["--config", str(self.config), "--device", device]
            if self.weights:
                args += ["--weights", str(self.weights)]
            if mode:
                args += ["--mode", mode]
        return shlex.join(args)


def _identifier(name: str) -> str:
    ident = _IDENTIFIER.sub("_", name).strip("_")
    if not ident:
        raise ConfigError(f"cannot make a VOT tracker identifier from {name!r}")
    return ident


def check_sequences(folder: Path) -> list[str]:
    """Names in ``folder/list.txt``; each must be a VOT sequence folder (``sequence`` or ``groundtruth.txt``)."""
    listing = folder / "list.txt"
    if not listing.is_file():
        raise VotError(f"{folder}: no list.txt; convert sequences with `rgbtfuse convert --to vot` first")
    names = listing.read_text(encoding="utf-8", errors="replace").split()
    if not names:
        raise VotError(f"{listing}: lists no sequences")
    check_ascii_path(folder, "the sequences folder")
    for name in names:
        seq = folder / name
        check_ascii_path(seq, f"{listing}: sequence")
        if not ((seq / "sequence").is_file() or (seq / "groundtruth.txt").is_file()):
            raise VotError(f"{listing}: sequence {name!r} is not a VOT sequence folder ({seq})")
    return names


def check_supervised_ground_truth(stack_file: Path, sequences: Path) -> None:
    """Refuse the toolkit's stock ``supervised`` experiment on sequences with unannotated frames.

    The stock experiment tests for failure on a frame without ground truth (a box there has
    overlap 0, so it is a failure) and re-initialises the tracker five frames later from ground
    truth it may not have (``TraxException: Unknown region type Special``). rgbtfuse's
    ``rgbtfuse.trackers.vot.analysis.SupervisedExperiment`` (the ``vot2019-rgbtir-reset`` stack) handles
    such frames; only a stack that names the stock type is refused.
    """
    try:
        experiments = (yaml.safe_load(stack_file.read_text()) or {}).get("experiments") or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{stack_file}: not valid yaml: {exc}") from exc
    stock = [name for name, e in experiments.items() if isinstance(e, dict) and e.get("type") in STOCK_SUPERVISED]
    if not stock:
        return
    for name in check_sequences(sequences):
        gt = sequences / name / "groundtruth.txt"
        if not gt.is_file():
            continue
        unannotated = sum("nan" in line.lower() for line in gt.read_text().splitlines())
        if unannotated:
            raise VotError(
                f"{gt}: {unannotated} frames have no ground truth; experiment {stock[0]!r} of {stack_file.name} is the "
                "toolkit's stock reset-based (supervised) one, which counts an unannotated frame as a failure and "
                f"re-initialises on it. Use `type: {SPARSE_SUPERVISED}` (as the vot2019-rgbtir-reset stack does)"
            )


def resolve_stack(stack: str, sequences: Path | None) -> tuple[str, Path | None]:
    """``(stack value for config.yaml, local stack file to copy or None)``."""
    if stack in LOCAL_STACKS:
        if sequences is not None:
            return f"{stack}.yaml", LOCAL_STACKS[stack]
        if stack in OFFICIAL_IDS:
            return OFFICIAL_IDS[stack], None
        raise ConfigError(f"stack {stack!r} is defined for local sequences only: give --sequences")
    path = Path(stack)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"stack file {path} not found")
        return path.name, path.resolve()
    return stack, None  # an official toolkit stack id; the toolkit checks it


def init_workspace(workspace: Path, stack: str, sequences: Path | None, specs: list[TrackerSpec],
                   python: str = sys.executable, device: str = "auto", mode: str | None = None,
                   timeout: int = 120, force: bool = False) -> Path:
    """Write ``config.yaml``, ``trackers.ini`` and the stack file; returns the workspace folder."""
    workspace = Path(workspace).resolve()
    check_ascii_path(workspace, "the workspace")
    if (workspace / "config.yaml").exists() and not force:
        raise VotError(f"{workspace}: already a VOT workspace (use --force to rewrite its config and trackers)")
    if not specs:
        raise ConfigError("give at least one --tracker")
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"tracker names must be unique, got {duplicates} twice; use NAME=SPEC")
    if sequences is not None:
        sequences = Path(sequences).resolve()
        check_sequences(sequences)
    stack_value, stack_file = resolve_stack(stack, sequences)
    if sequences is not None and stack_file is not None:
        check_supervised_ground_truth(stack_file, sequences)

    workspace.mkdir(parents=True, exist_ok=True)
    if stack_file is not None:
        shutil.copyfile(stack_file, workspace / stack_value)
    config = {"registry": ["./trackers.ini"], "stack": stack_value}
    if sequences is not None:
        config["sequences"] = str(sequences)
    atomic_write(workspace / "config.yaml", lambda p: p.write_text(yaml.safe_dump(config, sort_keys=False)))

    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # env_PYTHONPATH must keep its case
    for spec in specs:
        ini[spec.name] = {
            "label": spec.name,
            "protocol": "trax",
            "command": spec.command(python, device, mode),
            "env_PYTHONPATH": str(REPO_ROOT),
            "timeout": str(timeout),
        }

    def write_ini(path: Path) -> None:
        with path.open("w") as fp:
            ini.write(fp)

    atomic_write(workspace / "trackers.ini", write_ini)
    for sub in ("results", "logs"):
        (workspace / sub).mkdir(exist_ok=True)
    return workspace


def tracker_sections(workspace: Path) -> dict[str, dict[str, str]]:
    """``trackers.ini`` of a workspace as ``name -> options``."""
    path = Path(workspace) / "trackers.ini"
    if not (Path(workspace) / "config.yaml").is_file() or not path.is_file():
        raise VotError(f"{workspace}: not a VOT workspace (run `rgbtfuse vot init` first)")
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # keep env_PYTHONPATH's case
    ini.read(path)
    return {name: dict(ini[name]) for name in ini.sections()}
