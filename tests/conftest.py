"""Shared fixtures. Real-data tests use ``../shared`` next to the repository.

Without it they skip with the reason; under ``CI=true`` a missing ``../shared`` fails instead,
so real-data tests can never silently skip in CI.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def shared_path(relative: str) -> Path:
    """Path inside ``../shared``; skips (or fails under CI=true) when it is absent."""
    path = SHARED / relative
    if not path.exists():
        reason = f"real-data file {path} not found (../shared is not next to the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)
    return path


def require_vot_toolkit() -> None:
    """Skip when the VOT toolkit or TraX is not installed (fail instead under ``CI=true``)."""
    if importlib.util.find_spec("vot") is None or importlib.util.find_spec("trax") is None:
        reason = "the VOT toolkit is not installed (pip install 'rgbtfuse[vot]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)


@pytest.fixture
def shared() -> callable:
    """``shared('data/fusion/tno40')`` → path, skipping/failing as :func:`shared_path` does."""
    return shared_path


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> str:
    """A NanoTrack v2 checkpoint with seeded random weights (published layout: ``{'state_dict': ...}``)."""
    import torch

    from rgbtfuse.trackers.builder import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("nanotrack_random") / "nanotrack_random.pth"
    torch.save({"state_dict": build_model(str(REPO_ROOT / "experiments/nanotrack_v2.yaml")).state_dict()}, path)
    return str(path)
