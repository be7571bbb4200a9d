"""Evaluate several trackers' result folders on one benchmark, all sequences at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgbtfuse.errors import ResultFileError
from rgbtfuse.evaluation.curves import Curve, all_frame_values, counts, dataset_curve, score_of, sequence_fractions
from rgbtfuse.evaluation.groundtruth import GroundTruth, load_groundtruth
from rgbtfuse.evaluation.protocols import Protocol, get_protocol
from rgbtfuse.evaluation.results import check_length, find_result_files, read_result


@dataclass
class TrackerEvaluation:
    """One tracker: per metric the per-sequence hit counts ``(S, T)``, the dataset curve and per-sequence scores."""

    name: str
    hits: dict[str, np.ndarray]
    frames: np.ndarray  # (S,) evaluated frames per sequence
    curves: dict[str, Curve]
    per_sequence: dict[str, np.ndarray]

    def scores(self) -> dict[str, float]:
        return {m: c.score for m, c in self.curves.items()}


@dataclass
class Evaluation:
    """All trackers on the sequences every tracker has results for."""

    dataset: str
    protocol: Protocol
    sequences: list[str]
    trackers: dict[str, TrackerEvaluation]
    missing: dict[str, list[str]] = field(default_factory=dict)  # tracker -> sequences without a result file
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def subset_scores(self, names: list[str]) -> dict[str, dict[str, float]]:
        """Scores of every tracker on the sequences ``names`` (e.g. one attribute's)."""
        index = np.array([i for i, n in enumerate(self.sequences) if n in set(names)], dtype=int)
        return {
            t: {m: dataset_curve(self.protocol, m, ev.hits[m][index], ev.frames[index]).score for m in self.protocol.metrics}
            for t, ev in self.trackers.items()
        }

    def attribute_scores(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{attribute: {tracker: {metric: score}}}`` for attributes with at least one evaluated sequence."""
        present = set(self.sequences)
        return {a: self.subset_scores(seqs) for a, seqs in self.attributes.items() if present.intersection(seqs)}


def evaluate_tracker(protocol: Protocol, gt: GroundTruth, index: list[int], name: str, files: dict[str, Path]) -> TrackerEvaluation:
    """Score one tracker on the ground-truth sequences ``index`` (their result files in ``files``)."""
    values: dict[str, list[np.ndarray]] = {m: [] for m in protocol.metrics}
    frames = []
    for i in index:
        seq = gt.names[i]
        path = files[seq]
        boxes = check_length(path, read_result(path), gt.files[i], len(gt.boxes[i]), protocol.result_stride)
        ir = None if gt.ir_boxes is None else gt.ir_boxes[i]
        for m, v in all_frame_values(protocol, boxes, gt.boxes[i], ir).items():
            values[m].append(v)
        frames.append(len(boxes))
    frames_arr = np.asarray(frames, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(frames_arr)[:-1]])
    hits, curves, per_seq = {}, {}, {}
    for m in protocol.metrics:
        hits[m] = counts(protocol, m, np.concatenate(values[m]), starts)
        curves[m] = dataset_curve(protocol, m, hits[m], frames_arr)
        per_seq[m] = score_of(protocol, m, sequence_fractions(protocol, hits[m], frames_arr))
    return TrackerEvaluation(name, hits, frames_arr, curves, per_seq)


def evaluate(dataset: str, annotations: str | Path, results: dict[str, str | Path], *, allow_missing: bool = False,
             sequences: list[str] | None = None) -> Evaluation:
    """Evaluate the result folders ``{tracker: folder}`` on ``dataset`` with ground truth from ``annotations``.

    A sequence without a result file is an error naming the file expected; with
    ``allow_missing`` it is left out for every tracker (so all are scored on the same
    sequences) and listed in :attr:`Evaluation.missing`.
    """
    protocol = get_protocol(dataset)
    gt = load_groundtruth(dataset, annotations, sequences)
    found = {name: find_result_files(Path(folder), gt.names) for name, folder in results.items()}
    missing = {name: [s for s in gt.names if s not in f] for name, f in found.items()}
    if not allow_missing:
        for name, absent in missing.items():
            if absent:
                folder = Path(results[name])
                more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
                raise ResultFileError(f"{folder / (absent[0] + '.txt')}: no result for sequence {absent[0]}{more} "
                                      f"of tracker {name} (or pass --allow-missing)")
    skip = {s for absent in missing.values() for s in absent}
    index = [i for i, s in enumerate(gt.names) if s not in skip]
    if not index:
        raise ResultFileError(f"no sequence of {gt.root} has a result file for every tracker")
    trackers = {name: evaluate_tracker(protocol, gt, index, name, found[name]) for name in results}
    return Evaluation(dataset, protocol, [gt.names[i] for i in index], trackers,
                      {n: a for n, a in missing.items() if a}, gt.attributes)
