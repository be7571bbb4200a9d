"""Generated scenes run through the official VOT toolkit as they are written (``rgbtfuse vot``),
with the embedded demo model as a tracker."""

from __future__ import annotations

import json

import pytest

from rgbtfuse.cli import main
from rgbtfuse.data import load_sequence
from rgbtfuse.data.synthetic import write_vot_sequence
from rgbtfuse.data.vot_writer import write_list
from rgbtfuse.demo import FUSION_WEIGHTS, MODEL_CONFIG, demo_scene
from tests.conftest import require_vot_toolkit

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def vot_toolkit():
    require_vot_toolkit()


def test_generated_scene_passes_rgbtfuse_vot(tmp_path):
    sequences = tmp_path / "sequences"
    seq_dir = write_vot_sequence(demo_scene(frames=60, width=160, height=128, seed=3), sequences / "demo3")
    write_list(sequences, ["demo3"])
    assert (seq_dir / "anchor.value").is_file()
    assert len(load_sequence(seq_dir)) == 60
    ws = tmp_path / "ws"
    assert main(["vot", "init", "--workspace", str(ws), "--stack", "short", "--sequences", str(sequences),
                 "--tracker", f"demo={MODEL_CONFIG}:{FUSION_WEIGHTS}", "--tracker", "oracle", "--device", "cpu"]) == 0
    assert main(["vot", "run", "--workspace", str(ws), "--no-report"]) == 0
    table = json.loads((ws / "rgbtfuse_results.json").read_text())["results"]["baseline"]
    assert table["oracle"]["eao"] == pytest.approx(1.0)  # the scene's ground truth and anchors are consistent
    assert 0.3 < table["demo"]["accuracy"] < table["oracle"]["accuracy"]
