"""``vot evaluate`` + ``vot analysis`` (+ ``vot report``) on a workspace, and the EAO/A/R table.

The toolkit runs as ``python -m vot`` in the current interpreter with ``VOT_PERSISTENT_CACHE=0``
(otherwise its analysis cache returns results of earlier runs). ``vot evaluate`` keeps
trajectories it already has, so each tracker's ``trackers.ini`` section and the size/mtime of
the files its command names are fingerprinted; when they change, that tracker is re-run with
``--force``. ``vot evaluate`` exits 0 even when a tracker crashed, so its output is scanned for
the tracker-error lines and the log file it names.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from rgbtfuse.atomic import atomic_write
from rgbtfuse.errors import VotError
from rgbtfuse.trackers.vot.workspace import REPO_ROOT, tracker_sections

FINGERPRINT = ".rgbtfuse-fingerprint"
_LOG_LINE = re.compile(r"Tracker output written to file: (\S+)")
_TRACKER_ERROR = re.compile(r"encountered an error|Evaluation interrupted by tracker error|Unable to resolve tracker")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# analysis classes (``type`` in the analysis JSON) whose results are (A, R, ...) / (A, failures, (R, A), ...)
MULTISTART_AR = ("vot.analysis.multistart.AverageAccuracyRobustness",
                 "rgbtfuse.trackers.vot.analysis.MultiStartAverageAccuracyRobustness")
SUPERVISED_AR = ("vot.analysis.supervised.AverageAccuracyRobustness",
                 "rgbtfuse.trackers.vot.analysis.SupervisedAverageAccuracyRobustness")


def toolkit_env() -> dict[str, str]:
    env = dict(os.environ)
    env["VOT_PERSISTENT_CACHE"] = "0"
    # the stacks name rgbtfuse's analyses (rgbtfuse.trackers.vot.analysis) by dotted path: the toolkit must
    # import them from this checkout, not from whatever rgbtfuse is installed
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("MPLBACKEND", "Agg")
    return env


def require_toolkit() -> None:
    if importlib.util.find_spec("vot") is None or importlib.util.find_spec("trax") is None:
        raise VotError("the VOT toolkit is not installed in this interpreter: pip install 'rgbtfuse[vot]'")


def run_toolkit(args: list[str], workspace: Path, echo: bool = True) -> str:
    """Run ``python -m vot ARGS --workspace W``; returns its output (ANSI colours removed)."""
    cmd = [sys.executable, "-m", "vot", *args, "--workspace", str(workspace)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=toolkit_env())
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(_ANSI.sub("", line))
        if echo:
            sys.stderr.write(line)
    code = proc.wait()
    output = "".join(lines)
    if code != 0:
        raise VotError(f"`{shlex.join(cmd)}` failed (exit {code}):\n{_tail(output)}")
    return output


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def fingerprint(options: dict[str, str]) -> str:
    """Hash of a tracker's ini section and of the size/mtime of every file its command names."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for token in shlex.split(options.get("command", "")):
        path = Path(token)
        if path.is_absolute() and path.is_file():
            st = path.stat()
            h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def evaluate(workspace: Path, name: str, options: dict[str, str], force: bool, echo: bool = True) -> None:
    """``vot evaluate`` one tracker; raises :class:`VotError` naming the log when it crashed or timed out."""
    stamp = workspace / "results" / name / FINGERPRINT
    current = fingerprint(options)
    stale = stamp.is_file() and stamp.read_text() != current
    args = ["evaluate", name] + (["--force"] if force or stale else [])
    output = run_toolkit(args, workspace, echo)
    logs = _LOG_LINE.findall(output)
    if logs or _TRACKER_ERROR.search(output):
        where = f"; tracker log: {logs[-1]}" if logs else ""
        raise VotError(f"tracker {name!r} failed during `vot evaluate`{where}\n{_tail(output, 6)}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(stamp, lambda p: p.write_text(current))


def _finite(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def summarize(analysis: dict) -> dict[str, dict[str, dict[str, float | None]]]:
    """``experiment -> tracker -> {eao, accuracy, robustness[, failures]}`` from ``vot analysis`` JSON.

    Multistart robustness is the fraction of frames tracked before failure (higher is better);
    the supervised (reset) protocol reports robustness as failures per ``sensitivity`` frames
    (the toolkit's ``exp(-S * F / N)`` form, higher is better) plus the failure count.
    """
    trackers = list(analysis["trackers"])
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for experiment, data in analysis["results"].items():
        rows = {t: {"eao": None, "accuracy": None, "robustness": None} for t in trackers}
        for spec, result in zip(data["parameters"]["analyses"], data["results"]):
            kind = spec["type"]
            for tracker, value in zip(trackers, result):
                if value is None:
                    continue
                if kind in MULTISTART_AR:
                    rows[tracker].update(accuracy=_finite(value[0]), robustness=_finite(value[1]))
                elif kind in SUPERVISED_AR:
                    rows[tracker].update(accuracy=_finite(value[0]), failures=_finite(value[1]),
                                         robustness=_finite(value[2][0]) if isinstance(value[2], list) else None)
                elif kind.endswith("EAOScore"):
                    rows[tracker]["eao"] = _finite(value[0])
        table[experiment] = rows
    return table


def markdown_table(table: dict, stack: str) -> str:
    lines = []
    for experiment, rows in table.items():
        with_failures = any("failures" in r for r in rows.values())
        header = ["tracker", "EAO", "A", "R"] + (["failures"] if with_failures else [])
        lines += [f"### {stack} / {experiment}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for tracker, r in rows.items():
            cells = [tracker] + [_fmt(r.get(k)) for k in ("eao", "accuracy", "robustness")]
            if with_failures:
                cells.append(_fmt(r.get("failures"), 0))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def run_workspace(workspace: Path, trackers: list[str] | None = None, force: bool = False,
                  report: bool = True, echo: bool = True) -> dict:
    """Evaluate, analyse and (optionally) report; writes ``rgbtfuse_results.{md,json}`` in the workspace."""
    require_toolkit()
    workspace = Path(workspace).resolve()
    sections = tracker_sections(workspace)
    names = trackers or list(sections)
    unknown = [n for n in names if n not in sections]
    if unknown:
        raise VotError(f"{workspace / 'trackers.ini'}: no tracker {unknown}; defined: {sorted(sections)}")
    for name in names:
        evaluate(workspace, name, sections[name], force, echo)

    run_name = f"rgbtfuse-{datetime.now():%Y-%m-%dT%H-%M-%S-%f}"
    run_toolkit(["analysis", *names, "--format", "json", "--name", run_name], workspace, echo)
    analysis_file = workspace / "analysis" / f"{run_name}.json"
    if not analysis_file.is_file():
        raise VotError(f"`vot analysis` wrote no {analysis_file}")
    analysis = json.loads(analysis_file.read_text())
    table = summarize(analysis)
    report_file = None
    if report:
        run_toolkit(["report", *names, "--format", "html", "--name", run_name], workspace, echo)
        report_file = workspace / "reports" / run_name / "report.html"
    stack = _stack_name(workspace)
    summary = {"workspace": str(workspace), "stack": stack, "toolkit": analysis.get("toolkit"),
               "analysis": str(analysis_file), "report": str(report_file) if report_file else None,
               "results": table}
    markdown = markdown_table(table, stack)
    atomic_write(workspace / "rgbtfuse_results.json", lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"))
    atomic_write(workspace / "rgbtfuse_results.md", lambda p: p.write_text(markdown))
    summary["markdown"] = markdown
    return summary


def _stack_name(workspace: Path) -> str:
    import yaml

    config = yaml.safe_load((workspace / "config.yaml").read_text()) or {}
    return str(config.get("stack", "?")).removesuffix(".yaml")
