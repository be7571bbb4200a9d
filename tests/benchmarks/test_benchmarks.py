"""The benchmark scripts run and report what they claim (no timing thresholds: those are read, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_fusion_speed_reports_both_sides_and_equal_outputs(shared):
    shared("data/fusion/tno40/ir/5.png")
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "fusion_speed.py"), "--only", "5.png", "--threads", "2",
         "--models", "nestfuse,didfuse", "--strategies", "attention_nuclear,sum", "--repeat", "1"],
        capture_output=True, text=True, check=True, timeout=600,
    )
    report = json.loads(out.stdout)
    assert report["allocator"] == {"mode": "shipped", "ours_retains_freed_memory": True, "authors_retain_freed_memory": False}
    assert [(r["model"], r["strategy"]) for r in report["results"]] == [("nestfuse", "attention_nuclear"), ("didfuse", "sum")]
    for r in report["results"]:
        assert r["ours_ms"] > 0 and r["authors_procedure_ms"] > 0 and r["speedup"] > 0
        assert r["max_abs_diff"] <= 1 and r["identical_fraction"] >= 0.999  # the same outputs, as the goal requires
        assert r["pairs"][0]["size"] == "280x280"
    pooling = report["nuclear_pooling"]
    assert pooling["ours_ms"] > 0 and pooling["authors_ms"] > 0
    assert pooling["max_rel_diff"] < 1e-5  # float64 Gram eigenvalues vs float32 per-channel SVD


@pytest.mark.slow
def test_train_fusion_speed_reports_every_recipe():
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "train_fusion_speed.py"), "--threads", "1", "--batch", "2",
         "--steps", "1", "--only", "gate_track", "rfn_light_track"],
        capture_output=True, text=True, check=True, timeout=600,
    )
    report = json.loads(out.stdout)
    assert [r["recipe"] for r in report["results"]] == ["rfn_light_track", "gate_track"]
    for r in report["results"]:
        assert r["steps_per_second"] > 0 and r["fusion_params"] > 0 and r["batch"] == 2
