"""VOT toolkit analyses (and the reset-based experiment) that ignore unknown ground truth.

A VOT sequence marks a frame without annotation with a ``nan`` row, which the toolkit reads as
``Special(Sequence.UNKNOWN)`` (sparse sequences such as converted VTUAV: a box every 10th frame).
vot-toolkit 0.7.4's own ``accuracy.gather_overlaps`` skips such frames, but its multistart and
supervised analyses do not: a box against an unknown frame counts as overlap 0 (and, in the
multistart failure test, resets the grace counter), and the supervised experiment re-initialises
on an unknown frame (``TraxException: Unknown region type Special``). The classes here are the
toolkit's classes with one rule changed; stack files name them by dotted path in ``type:``
(the toolkit's resolvers fall back to ``import_class`` for names not in its registry).

* Overlaps are taken only on frames with known ground truth; a known *empty* frame (target
  absent) still counts, as in the toolkit.
* A failure is ``grace`` consecutive annotated frames with overlap <= ``threshold``; unknown
  frames in between neither extend nor break the run (there is no evidence either way).
* Multistart accuracy leaves out each run's initialisation frame by default
  (``count_initialization: false``): it carries no tracker output (the toolkit scores it 0), and
  the toolkit's own EAO curve already starts after it. With ``count_initialization: true`` and
  dense ground truth the numbers are the toolkit's, bit for bit.
* EAO: each run's average overlap up to frame ``j`` is the mean over its *annotated* frames in
  ``1..j``; a run with no annotated frame there yet does not contribute at ``j``. Past the end of a
  failed run the toolkit divides the run's overlap sum by ``j - 1`` (multistart) or ``j``
  (supervised), i.e. the lost frames count as overlap 0; here the run's annotated mean is scaled
  by ``(len - 1) / (j - 1)`` (resp. ``/ j``), which is the same number on dense ground truth and
  keeps the run's own annotation density on sparse ground truth.
* The supervised experiment decides failures only on annotated frames and re-initialises
  ``skip_initialize`` frames after a failure *or at the next annotated frame after that*.

On dense ground truth (no unknown frame) every result equals the toolkit class it derives from
(``tests/test_vot_sparse.py``), except multistart A with the default ``count_initialization``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from attributee import Boolean, Include
from vot.analysis import MissingResultsException, is_special
from vot.analysis import multistart as _ms
from vot.analysis import supervised as _sv
from vot.dataset import Sequence
from vot.dataset.proxy import FrameMapSequence
from vot.experiment import multirun as _multirun
from vot.experiment.multistart import find_anchors
from vot.region import Region, Special, calculate_overlap, calculate_overlaps
from vot.tracker import Trajectory

from rgbtfuse.errors import VotError


def known_mask(groundtruth: list[Region]) -> np.ndarray:
    """``True`` where the ground truth is known (VOT reads a ``nan`` row as ``Special(UNKNOWN)``)."""
    return np.array([not is_special(region, Sequence.UNKNOWN) for region in groundtruth], dtype=bool)


def failure_point(overlaps: list[float], groundtruth: list[Region], known: np.ndarray, threshold: float,
                  grace: int) -> int:
    """Index of the first frame of the first failure (``len(overlaps)`` when the run never fails).

    A failure is ``grace`` consecutive annotated, non-empty frames with overlap <= ``threshold``;
    an annotated frame above the threshold (or with the target absent) ends such a streak, an
    unknown frame is skipped. On dense ground truth this is the toolkit's ``j + 1 - grace``.
    """
    remaining, start = grace, 0
    for j, overlap in enumerate(overlaps):
        if not known[j]:
            continue
        if overlap <= threshold and not groundtruth[j].is_empty():
            if remaining == grace:
                start = j
            remaining -= 1
            if remaining == 0:
                return start
        else:
            remaining = grace
    return len(overlaps)


class _Run:
    """One multistart run: overlaps (zero from the failure on), known-ground-truth mask, failure point."""

    def __init__(self, overlaps: list[float], known: np.ndarray, progress: int):
        self.overlaps = overlaps
        self.known = known
        self.progress = progress

    @property
    def failed(self) -> bool:
        return self.progress < len(self.overlaps)


def multistart_runs(analysis: Any, experiment: Any, tracker: Any, sequence: Sequence) -> list[_Run]:
    """Every anchor's run of ``tracker`` on ``sequence``, scored with ``analysis``'s parameters."""
    results = experiment.results(tracker, sequence)
    forward, backward = find_anchors(sequence, experiment.anchor)
    if not forward and not backward:
        raise VotError(f"sequence {sequence.name}: no multistart anchors (anchor.value)")
    runs = []
    for start, reverse in [(f, False) for f in forward] + [(b, True) for b in backward]:
        name = f"{sequence.name}_{start:08d}"  # the toolkit's run name
        if not Trajectory.exists(results, name):
            raise MissingResultsException()
        frames = list(range(start, -1, -1)) if reverse else list(range(start, len(sequence)))
        proxy = FrameMapSequence(sequence, frames)
        groundtruth = proxy.groundtruth()
        # the toolkit bounds the overlaps by the image only when burnin is non-zero; kept for equal numbers
        bounds = proxy.size if analysis.burnin else None
        overlaps = calculate_overlaps(Trajectory.read(results, name).regions(), groundtruth, bounds,
                                      ignore=proxy.object(analysis.ignore_masks))
        known = known_mask(groundtruth)
        runs.append(_Run(list(overlaps), known, failure_point(overlaps, groundtruth, known, analysis.threshold,
                                                              analysis.grace)))
    return runs


class MultiStartAccuracyRobustness(_ms.AccuracyRobustness):
    """Multistart A and R per sequence; A = mean overlap on the annotated frames before each run's failure."""

    count_initialization = Boolean(default=False, description="Count each run's initialisation frame as overlap 0 "
                                   "(the toolkit's rule)")

    def subcompute(self, experiment, tracker, sequence, dependencies) -> tuple:
        """``(A, R, (R, A), frames counted in A, sequence length)`` as the toolkit's tuple."""
        overlap_sum, counted, progress, total = 0, 0, 0, 0
        for run in multistart_runs(self, experiment, tracker, sequence):
            use = run.known.copy()
            use[run.progress:] = False
            if not self.count_initialization:
                use[0] = False
            # sequential sum per run, in the toolkit's order, so dense results are identical
            overlap_sum += sum(o for o, u in zip(run.overlaps, use) if u)
            counted += int(use.sum())
            progress += run.progress
            total += len(run.overlaps)
        accuracy = overlap_sum / counted if counted > 0 else 0
        robustness = progress / total
        return accuracy, robustness, (robustness, accuracy), counted, len(sequence)


class MultiStartAverageAccuracyRobustness(_ms.AverageAccuracyRobustness):
    """Multistart A and R over sequences: A weighted by the frames each sequence counts, R by its length."""

    analysis = Include(MultiStartAccuracyRobustness)

    def aggregate(self, tracker, sequences, results) -> tuple:
        accuracy = robustness = accuracy_weight = robustness_weight = 0
        for a, r, _, a_weight, r_weight in results:
            accuracy += a * a_weight
            robustness += r * r_weight
            accuracy_weight += a_weight
            robustness_weight += r_weight
        # no counted frame at all (every run failed on its first frames): A is 0, as per sequence
        accuracy = accuracy / accuracy_weight if accuracy_weight > 0 else 0
        robustness = robustness / robustness_weight
        return accuracy, robustness, (robustness, accuracy), accuracy_weight, robustness_weight


def multistart_eao_partial(runs: list[_Run], length: int) -> tuple[list[float], list[float]]:
    """Per-frame expected overlap of one sequence's runs: ``(curve, active runs per frame)``.

    The toolkit's ``compute_eao_partial`` with overlaps averaged over annotated frames only; for a
    failed run past its end the annotated mean is scaled by ``(len - 1) / (j - 1)`` (the toolkit's
    ``sum / (j - 1)`` on dense ground truth).
    """
    phi = [0.0] * length
    active = [0.0] * length
    for run in runs:
        o = np.array(run.overlaps, dtype=float)
        if run.failed:
            o[run.progress:] = 0.0
        n = len(o)
        known = run.known
        tail_count = int(known[1:n].sum())
        for j in range(1, length):
            if j < n:
                count = int(known[1:j + 1].sum())
                if count == 0:
                    continue  # no annotated frame after the initialisation yet: no evidence at j
                phi[j] += float(np.sum(o[1:j + 1][known[1:j + 1]])) / count
                active[j] += 1
            elif run.failed:
                if n > 1 and tail_count > 0:
                    # (n-1)/tail_count is exactly 1.0 on dense ground truth: the toolkit's sum / (j - 1)
                    phi[j] += float(np.sum(o[1:n][known[1:n]])) * ((n - 1) / tail_count) / (j - 1)
                    active[j] += 1
                elif n <= 1:
                    active[j] += 1  # a failed one-frame run: overlap 0 from here on, as the toolkit has it
    return [p / a if a > 0 else 0 for p, a in zip(phi, active)], active


class MultiStartEAOCurves(_ms.EAOCurves):
    """Per-sequence multistart EAO curve on annotated frames."""

    def subcompute(self, experiment, tracker, sequence, dependencies) -> tuple:
        return multistart_eao_partial(multistart_runs(self, experiment, tracker, sequence), self.high), 1


class MultiStartEAOCurve(_ms.EAOCurve):
    """Multistart EAO curve over sequences (the toolkit's aggregation of :class:`MultiStartEAOCurves`)."""

    curves = Include(MultiStartEAOCurves)


class MultiStartEAOScore(_ms.EAOScore):
    """Multistart EAO: mean of :class:`MultiStartEAOCurve` over ``low..high``."""

    eaocurve = Include(MultiStartEAOCurve)


class SupervisedExperiment(_multirun.SupervisedExperiment):
    """Reset-based experiment that initialises only on annotated frames and fails only on them.

    The toolkit's rule, one change: the tracker is (re-)initialised on the first frame, or
    ``skip_initialize`` frames after a failure (past ``skip_tags`` frames), *whose ground truth is
    known*; on an unknown frame there is nothing to initialise with and nothing to fail against.
    Frames it is not run on stay ``Special(UNKNOWN)`` in the trajectory, as in the toolkit.
    """

    def _start_frame(self, sequence: Sequence, known: np.ndarray, frame: int) -> int:
        while frame < len(sequence):
            if known[frame] and not (self.skip_tags and any(t in self.skip_tags for t in sequence.tags(frame))):
                return frame
            frame += 1
        return frame

    def execute(self, tracker, sequence: Sequence, force: bool = False, callback: Callable | None = None) -> None:
        results = self.results(tracker, sequence)
        known = known_mask(sequence.groundtruth())
        with self._get_runtime(tracker, sequence) as runtime:
            for repetition in range(1, self.repetitions + 1):
                name = f"{sequence.name}_{repetition:03d}"  # the toolkit's trajectory name
                if Trajectory.exists(results, name) and not force:
                    continue
                if self._can_stop(tracker, sequence):
                    return
                trajectory = Trajectory(len(sequence))
                # the first annotated frame (skip_tags, as in the toolkit, apply only after failures)
                frame = int(np.argmax(known)) if known.any() else len(sequence)
                while frame < len(sequence):
                    _, elapsed = runtime.initialize(sequence.frame(frame), self._get_initialization(sequence, frame))
                    trajectory.set(frame, Special(Trajectory.INITIALIZATION), {"time": elapsed})
                    frame += 1
                    while frame < len(sequence):
                        state, elapsed = runtime.update(sequence.frame(frame))
                        state.properties["time"] = elapsed
                        if known[frame] and calculate_overlap(state.region, sequence.groundtruth(frame),
                                                              sequence.size) <= self.failure_overlap:
                            trajectory.set(frame, Special(self.FAILURE), state.properties)
                            frame = self._start_frame(sequence, known, frame + self.skip_initialize)
                            break
                        trajectory.set(frame, state.region, state.properties)
                        frame += 1
                if callback:
                    callback(repetition / self.repetitions)
                trajectory.write(results, name)


def supervised_accuracy(trajectory: list[Region], sequence: Sequence, burnin: int = 10, ignore_unknown: bool = True,
                        bounded: bool = True) -> tuple[float, int]:
    """``(mean overlap, frames)`` of a reset-based trajectory on annotated frames.

    The toolkit's ``compute_accuracy`` plus one rule: frames with unknown ground truth are left
    out. ``burnin`` frames after each (re-)initialisation and failure frames are left out as there.
    """
    groundtruth = sequence.groundtruth()
    overlaps = np.array(calculate_overlaps(trajectory, groundtruth, sequence.size if bounded else None))
    use = known_mask(groundtruth)
    for i, region in enumerate(trajectory):
        if ignore_unknown and is_special(region, Trajectory.UNKNOWN):
            use[i] = False
        elif is_special(region, Trajectory.INITIALIZATION):
            use[i:i + burnin] = False
        elif is_special(region, Trajectory.FAILURE):
            use[i] = False
    if not use.any():
        return 0, 0
    return float(np.mean(overlaps[use])), int(use.sum())


class SupervisedAccuracyRobustness(_sv.AccuracyRobustness):
    """Reset-based A (annotated frames only) and failures per sequence."""

    def subcompute(self, experiment, tracker, sequence, dependencies) -> tuple:
        trajectories = experiment.gather(tracker, sequence)
        if not trajectories:
            raise MissingResultsException()
        accuracy, failures = 0, 0
        for trajectory in trajectories:
            regions = trajectory.regions()
            failures += sum(1 for r in regions if is_special(r, Trajectory.FAILURE))
            accuracy += supervised_accuracy(regions, sequence, self.burnin, self.ignore_unknown, self.bounded)[0]
        failures /= len(trajectories)
        accuracy /= len(trajectories)
        return accuracy, failures, (float(np.exp(-failures / len(sequence) * self.sensitivity)), accuracy), len(sequence)


class SupervisedAverageAccuracyRobustness(_sv.AverageAccuracyRobustness):
    """Reset-based A and R over sequences (the toolkit's length-weighted average)."""

    analysis = Include(SupervisedAccuracyRobustness)


def supervised_eao_curve(segments: list[tuple[np.ndarray, np.ndarray, bool]], weights: list[float]) -> list[float]:
    """Expected overlap per frame over reset-based segments ``(overlaps, known mask, survived)``.

    The toolkit's ``compute_eao_curve``: a segment that survived to its end counts up to its end, a
    failed one to the end of the curve with overlap 0 after the failure. Averages run over annotated
    frames; past a failed segment's end its annotated mean is scaled by ``(len - 1) / j`` (the
    toolkit's mean over ``j`` zero-padded frames on dense ground truth). A frame no segment
    covers is ``nan``, as in the toolkit.
    """
    length = max(len(o) for o, _, _ in segments)
    numerator = np.zeros(length)
    denominator = np.zeros(length)
    for (o, known, survived), weight in zip(segments, weights):
        n = len(o)
        numerator[0] += weight * o[0]  # the (re-)initialisation frame, as the toolkit keeps it
        denominator[0] += weight
        sums = np.cumsum(np.where(known[1:], o[1:], 0.0))
        counts = np.cumsum(known[1:])
        for j in range(1, length):
            if j < n:
                if counts[j - 1] > 0:
                    numerator[j] += weight * sums[j - 1] / counts[j - 1]
                    denominator[j] += weight
            elif not survived:
                if n == 1:
                    denominator[j] += weight  # failed right after initialising: overlap 0
                elif counts[n - 2] > 0:
                    numerator[j] += weight * sums[n - 2] / counts[n - 2] * (n - 1) / j
                    denominator[j] += weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return [float(v) for v in numerator / denominator]


class SupervisedEAOCurve(_sv.EAOCurve):
    """Reset-based EAO curve on annotated frames."""

    def subcompute(self, experiment, tracker, sequences, dependencies) -> tuple:
        segments, weights = [], []
        for sequence in sequences:
            trajectories = experiment.gather(tracker, sequence)
            if not trajectories:
                raise MissingResultsException()
            groundtruth = sequence.groundtruth()
            known = known_mask(groundtruth)
            for trajectory in trajectories:
                regions = trajectory.regions()
                overlaps = np.array(calculate_overlaps(regions, groundtruth, sequence.size if self.bounded else None))
                inits = [i for i, r in enumerate(regions) if is_special(r, Trajectory.INITIALIZATION)]
                fails = [i for i, r in enumerate(regions) if is_special(r, Trajectory.FAILURE)]
                # each failure ends the segment its preceding initialisation started (toolkit pairing)
                bounds = [(inits[i], fails[i], False) for i in range(len(fails))]
                if len(inits) > len(fails):
                    bounds.append((inits[-1], len(regions), True))
                if not fails and not inits:
                    bounds = [(0, len(regions), True)]
                for start, end, survived in bounds:
                    segments.append((overlaps[start:end], known[start:end], survived))
                    weights.append(1)
        return supervised_eao_curve(segments, weights),


class SupervisedEAOScore(_sv.EAOScore):
    """Reset-based EAO: mean of :class:`SupervisedEAOCurve` over ``low..high``."""

    eaocurve = Include(SupervisedEAOCurve)
