"""Published raw results of real trackers reproduce their official MATLAB-toolkit scores (three decimals).

Runs only when ``RGBTFUSE_PUBLISHED_RESULTS`` names a folder ``<dataset>/<Tracker>/`` of result
files with an ``official.json`` (``{"MPR": 0.827, ...}``) each, and ``RGBTFUSE_ANNOTATIONS`` the
annotation root (``gtot/``, ``rgbt234/``, ``lasher/``); see docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rgbtfuse.evaluation import evaluate

ROOT = os.environ.get("RGBTFUSE_PUBLISHED_RESULTS")
ANNOTATIONS = os.environ.get("RGBTFUSE_ANNOTATIONS")
CASES = sorted(Path(ROOT).glob("*/*/official.json")) if ROOT else []


@pytest.mark.skipif(not (ROOT and ANNOTATIONS), reason="set RGBTFUSE_PUBLISHED_RESULTS and RGBTFUSE_ANNOTATIONS to check published results")
@pytest.mark.parametrize("official", CASES, ids=[f"{p.parent.parent.name}/{p.parent.name}" for p in CASES])
def test_published_scores(official: Path):
    dataset, tracker = official.parent.parent.name, official.parent.name
    expected = json.loads(official.read_text())
    scores = evaluate(dataset, Path(ANNOTATIONS) / dataset, {tracker: official.parent}).trackers[tracker].scores()
    for metric, value in expected.items():
        assert round(scores[metric], 3) == pytest.approx(value, abs=1e-9), f"{dataset} {tracker} {metric}: {scores[metric]:.4f} vs {value}"
