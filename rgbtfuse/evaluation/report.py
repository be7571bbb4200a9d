"""``scores.json``, markdown tables (best per column in bold) and precision/success/radar plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.evaluation.curves import PRECISION_METRICS
from rgbtfuse.evaluation.evaluate import Evaluation

_LABELS = {
    "PR": "Precision", "MPR": "Maximum precision rate", "NPR": "Normalized precision",
    "SR": "Success rate", "MSR": "Maximum success rate",
}


def markdown_table(rows: dict[str, dict[str, float]], metrics: tuple[str, ...], first: str = "tracker") -> str:
    """One row per key, one column per metric, values to three decimals, the best of each column bold."""
    best = {m: max(r[m] for r in rows.values()) for m in metrics}
    lines = [f"| {first} | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, r in rows.items():
        cells = [f"**{r[m]:.3f}**" if round(r[m], 3) == round(best[m], 3) else f"{r[m]:.3f}" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def scores_document(ev: Evaluation, attributes: bool) -> dict:
    """The content of ``scores.json``."""
    doc = {
        "dataset": ev.dataset,
        "sequences": len(ev.sequences),
        "trackers": {t: e.scores() for t, e in ev.trackers.items()},
        "per_sequence": {t: {m: dict(zip(ev.sequences, map(float, v))) for m, v in e.per_sequence.items()}
                         for t, e in ev.trackers.items()},
        "curves": {t: {m: {"thresholds": c.thresholds.tolist(), "values": c.values.tolist()} for m, c in e.curves.items()}
                   for t, e in ev.trackers.items()},
    }
    if ev.missing:
        doc["missing"] = ev.missing
    if attributes:
        doc["attributes"] = ev.attribute_scores()
    return doc


def _plot_curves(ev: Evaluation, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    ranked = sorted(ev.trackers.values(), key=lambda e: -e.curves[metric].score)
    for e in ranked:
        c = e.curves[metric]
        ax.plot(c.thresholds, c.values, linewidth=2, label=f"{e.name} [{c.score:.3f}]")
    precision = metric in PRECISION_METRICS
    ax.set_xlabel("Location error threshold" + (" (normalized)" if metric == "NPR" else "") if precision else "Overlap threshold")
    ax.set_ylabel(_LABELS[metric])
    ax.set_title(f"{'Precision' if precision else 'Success'} plot ({metric}) on {ev.dataset} ({len(ev.sequences)} sequences)")
    ax.set_ylim(0, 1)
    ax.grid(True, linestyle=":")
    ax.legend(loc="lower right" if precision else "lower left")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def _plot_radar(scores: dict[str, dict[str, dict[str, float]]], metric: str, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attrs = list(scores)
    angles = np.linspace(0, 2 * np.pi, len(attrs), endpoint=False)
    fig = plt.figure(figsize=(6, 6), dpi=120)
    ax = fig.add_subplot(projection="polar")
    for tracker in next(iter(scores.values())):
        values = [scores[a][tracker][metric] for a in attrs]
        ax.plot(np.append(angles, angles[0]), values + values[:1], linewidth=2, label=tracker)
    ax.set_xticks(angles)
    ax.set_xticklabels(attrs)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right", bbox_to_anchor=(1.25, -0.1))
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def write_report(ev: Evaluation, out: str | Path, attributes: bool = False) -> list[Path]:
    """Write ``scores.json``, ``scores.md``, ``<metric>.png`` per metric and, with ``attributes``,
    ``attributes.md`` and ``radar_<metric>.png``; returns the files written."""
    out = Path(out)
    metrics = ev.protocol.metrics
    doc = scores_document(ev, attributes)
    written = [atomic_write(out / "scores.json", lambda tmp: tmp.write_text(json.dumps(doc, indent=1) + "\n"))]
    table = f"{ev.dataset}: {len(ev.sequences)} sequences\n\n" + markdown_table(doc["trackers"], metrics)
    if ev.missing:
        table += "\nLeft out (no result file): " + "; ".join(f"{t}: {', '.join(s)}" for t, s in ev.missing.items()) + "\n"
    written.append(atomic_write(out / "scores.md", lambda tmp: tmp.write_text(table)))
    for m in metrics:
        _plot_curves(ev, m, out / f"{m}.png")
        written.append(out / f"{m}.png")
    if attributes:
        per_attr = doc["attributes"]
        text = "".join(
            f"## {m}\n\n" + markdown_table({t: {a: per_attr[a][t][m] for a in per_attr} for t in ev.trackers}, tuple(per_attr)) + "\n"
            for m in metrics
        )
        written.append(atomic_write(out / "attributes.md", lambda tmp: tmp.write_text(text)))
        for m in metrics:
            _plot_radar(per_attr, m, f"{m} per attribute on {ev.dataset}", out / f"radar_{m}.png")
            written.append(out / f"radar_{m}.png")
    return written
