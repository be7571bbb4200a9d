"""Fast checks of the VOT pieces that need no toolkit: regions, anchors, tracker specs, the writer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vot_synth import make_sequence

from rgbtfuse.cli import main
from rgbtfuse.data import load_sequence
from rgbtfuse.data.vot_writer import anchor_frames, convert_to_vot, write_list, write_vot_sequence
from rgbtfuse.errors import ConfigError, DatasetLayoutError
from rgbtfuse.trackers.vot.frame_trackers import OracleTracker, StaticTracker
from rgbtfuse.trackers.vot.regions import RegionError, parse_vot_region, polygon_to_box
from rgbtfuse.trackers.vot.run import summarize
from rgbtfuse.trackers.vot.workspace import TrackerSpec, init_workspace


def test_polygon_to_box_follows_pysot_convention():
    # axis-aligned square 30 x 30 at (10, 20): centre (25, 35), w = h = 30 + 1
    assert polygon_to_box([(10, 20), (40, 20), (40, 50), (10, 50)]) == pytest.approx((10, 20, 31, 31))
    # a diamond (square rotated 45 deg, side 10*sqrt(2)): extent 20 x 20, area 200 -> s = sqrt(1/2)
    x, y, w, h = polygon_to_box([(10, 0), (20, 10), (10, 20), (0, 10)])
    assert w == pytest.approx(20 / math.sqrt(2) + 1) and h == pytest.approx(w)
    assert x + (w - 1) / 2 == pytest.approx(10) and y + (h - 1) / 2 == pytest.approx(10)


@pytest.mark.parametrize("points", [[(0, 0), (1, 1)], [(0, 0), (0, 5), (0, 9), (0, 1)], [(0, 0), (np.nan, 1), (2, 2), (3, 0)]])
def test_degenerate_polygons_are_rejected(points):
    with pytest.raises(RegionError):
        polygon_to_box(points)


def test_parse_vot_region():
    assert parse_vot_region("1,2,3,4") == (1, 2, 3, 4)
    assert parse_vot_region("nan,nan,nan,nan") is None
    assert parse_vot_region("0") is None
    assert parse_vot_region("5,5,0,0") is None
    assert parse_vot_region("10,20,40,20,40,50,10,50") == pytest.approx((10, 20, 31, 31))
    with pytest.raises(ValueError):
        parse_vot_region("1,2,3")


def test_anchors_only_on_annotated_frames_forward_then_backward():
    valid = np.ones(100, bool)
    valid[50:55] = False
    a = anchor_frames(valid, 25)
    assert np.flatnonzero(a).tolist() == [0, 25, 55, 75]
    assert a[[0, 25]].tolist() == [1, 1] and a[[55, 75]].tolist() == [-1, -1]
    assert not anchor_frames(np.zeros(10, bool), 5).any()


def test_write_vot_sequence_keeps_sparse_ground_truth(tmp_path):
    seq = make_sequence(tmp_path / "raw", "s", frames=12)
    seq.valid[1::2] = False
    seq.boxes[1::2] = np.nan
    folder = write_vot_sequence(seq, tmp_path / "vot", anchor_every=5)
    write_list(tmp_path / "vot", ["s"])
    lines = (folder / "groundtruth.txt").read_text().splitlines()
    assert len(lines) == 12 and lines[1] == "nan,nan,nan,nan"
    assert [float(v) for v in lines[2].split(",")] == pytest.approx(seq.boxes[2])
    assert min(p.name for p in (folder / "color").iterdir()) == "00000001.png"
    meta = dict(line.split("=", 1) for line in (folder / "sequence").read_text().splitlines())
    assert meta["channels.color"] == "color/%08d.png" and meta["channels.ir"] == "ir/%08d.png"
    assert meta["width"] == "160" and meta["length"] == "12" and meta["fps"] == "30"
    assert (tmp_path / "vot" / "list.txt").read_text().split() == ["s"]
    # rgbtfuse's own VOT reader reads it back unchanged
    back = load_sequence(folder)
    assert back.layout == "vot-rgbt" and back.fps == 30 and len(back) == 12
    assert np.array_equal(back.valid, seq.valid)
    np.testing.assert_allclose(back.boxes[seq.valid], seq.boxes[seq.valid])
    # the oracle answers from this ground truth, "no target" where there is none
    oracle = OracleTracker()
    def frame(i: int) -> dict:
        return {"color": folder / "color" / f"{i + 1:08d}.png"}

    oracle.init(frame(0), tuple(seq.boxes[0]))
    assert oracle.track(frame(2))[0] == pytest.approx(tuple(seq.boxes[2]))
    assert oracle.track(frame(3))[0] is None
    static = StaticTracker()
    static.init(frame(0), (1.0, 2.0, 3.0, 4.0))
    assert static.track(frame(5)) == ((1.0, 2.0, 3.0, 4.0), 1.0)


def test_convert_cli_vtuav_and_malformed_source(tmp_path, capsys):
    src = tmp_path / "vtuav"
    seq = make_sequence(src, "seq1", frames=21)
    (src / "seq1" / "rgb.txt").write_text("\n".join(" ".join(f"{v:g}" for v in b) for b in seq.boxes[::10]))
    assert main(["convert", "--from", "vtuav", "--to", "vot", str(src), str(tmp_path / "out"), "--anchor-every", "10"]) == 0
    gt = (tmp_path / "out" / "seq1" / "groundtruth.txt").read_text().splitlines()
    assert len(gt) == 21 and sum(line != "nan,nan,nan,nan" for line in gt) == 3
    # malformed: a ground-truth line that is not numbers -> the error names file and line
    (src / "seq1" / "rgb.txt").write_text("1 2 3 4\nx y z w\n")
    assert main(["convert", "--from", "vtuav", str(src), str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err
    assert "rgb.txt:2" in err and "rgbtfuse convert: error" in err
    # a folder with no sequences at all
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="neither a sequence folder"):
        convert_to_vot(tmp_path / "empty", tmp_path / "out3", "vtuav")


def test_tracker_spec_parsing(tmp_path):
    exp = tmp_path / "nano v2.yaml"
    exp.write_text("model: {}\n")
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"0")
    assert TrackerSpec.parse("oracle") == TrackerSpec("oracle", builtin="oracle")
    assert TrackerSpec.parse("gt=oracle").name == "gt"
    spec = TrackerSpec.parse(f"{exp}:{weights}")
    assert spec.name == "nano_v2" and spec.config == exp and spec.weights == weights
    assert str(weights) in spec.command("/usr/bin/python")
    with pytest.raises(ConfigError, match="not found"):
        TrackerSpec.parse(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="expected oracle"):
        TrackerSpec.parse("something")


def test_init_workspace_files(tmp_path):
    seqs = tmp_path / "seqs"
    write_vot_sequence(make_sequence(tmp_path / "raw", "a", frames=5), seqs)
    write_list(seqs, ["a"])
    ws = init_workspace(tmp_path / "ws", "short", seqs, [TrackerSpec.parse("oracle")], python="/py")
    config = (ws / "config.yaml").read_text()
    assert "stack: short.yaml" in config and f"sequences: {seqs}" in config
    assert "dataset" not in (ws / "short.yaml").read_text()  # local stacks never download
    ini = (ws / "trackers.ini").read_text()
    assert "command = /py -m rgbtfuse.trackers.vot.trax_server --builtin oracle" in ini and "env_PYTHONPATH = /" in ini
    with pytest.raises(Exception, match="already a VOT workspace"):
        init_workspace(ws, "short", seqs, [TrackerSpec.parse("oracle")])
    # official ids pass through; without local sequences the vot20xx-rgbtir stacks become the official ones
    ws2 = init_workspace(tmp_path / "ws2", "vot2020-rgbtir", None, [TrackerSpec.parse("static")])
    assert "stack: vot2020/rgbtir" in (ws2 / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="local sequences only"):
        init_workspace(tmp_path / "ws3", "short", None, [TrackerSpec.parse("static")])
    (seqs / "list.txt").write_text("a\nmissing\n")
    with pytest.raises(Exception, match="not a VOT sequence folder"):
        init_workspace(tmp_path / "ws4", "short", seqs, [TrackerSpec.parse("static")])


def test_summarize_reads_both_protocols():
    ms = "vot.analysis.multistart."
    sv = "vot.analysis.supervised."
    analysis = {
        "trackers": {"t1": {}, "t2": {}},
        "results": {
            "baseline": {
                "parameters": {"analyses": [{"type": ms + "AverageAccuracyRobustness"}, {"type": ms + "EAOScore"}]},
                "results": [[[0.9, 0.8, [0.8, 0.9], 10, 20], [0.5, 0.25, [0.25, 0.5], 5, 20]], [[0.7], [float("nan")]]],
            },
            "reset": {
                "parameters": {"analyses": [{"type": sv + "AverageAccuracyRobustness"}, {"type": sv + "EAOScore"}]},
                "results": [[[0.6, 2.0, [0.4, 0.6], 60.0], None], [[0.3], [0.2]]],
            },
        },
    }
    table = summarize(analysis)
    assert table["baseline"]["t1"] == {"eao": 0.7, "accuracy": 0.9, "robustness": 0.8}
    assert table["baseline"]["t2"]["eao"] is None  # NaN (interval longer than the sequences) -> n/a
    assert table["reset"]["t1"] == {"eao": 0.3, "accuracy": 0.6, "robustness": 0.4, "failures": 2.0}
    assert table["reset"]["t2"]["accuracy"] is None


def test_summarize_reads_the_rgbtfuse_analyses():
    ours = "rgbtfuse.trackers.vot.analysis."
    analysis = {
        "trackers": {"t": {}},
        "results": {
            "ms": {"parameters": {"analyses": [{"type": ours + "MultiStartAverageAccuracyRobustness"},
                                               {"type": ours + "MultiStartEAOScore"}]},
                   "results": [[[0.9, 0.8, [0.8, 0.9], 10, 20]], [[0.7]]]},
            "reset": {"parameters": {"analyses": [{"type": ours + "SupervisedAverageAccuracyRobustness"},
                                                  {"type": ours + "SupervisedEAOScore"}]},
                      "results": [[[0.6, 2.0, [0.4, 0.6], 60.0]], [[0.3]]]},
        },
    }
    table = summarize(analysis)
    assert table["ms"]["t"] == {"eao": 0.7, "accuracy": 0.9, "robustness": 0.8}
    assert table["reset"]["t"] == {"eao": 0.3, "accuracy": 0.6, "robustness": 0.4, "failures": 2.0}


def test_failure_point_skips_unknown_frames():
    pytest.importorskip("vot", reason="the VOT toolkit is not installed (pip install 'rgbtfuse[vot]')")
    from vot.region import Rectangle, Special

    from rgbtfuse.trackers.vot.analysis import failure_point, known_mask

    box, unknown, absent = Rectangle(0, 0, 5, 5), Special(0), Rectangle(0, 0, 0, 0)
    # annotated frames 0, 2, 4, 6 below the threshold, unknown frames between: one failure at frame 0
    gt = [box, unknown, box, unknown, box, unknown, box]
    low = [0.0] * 7
    assert failure_point(low, gt, known_mask(gt), 0.1, 4) == 0
    assert failure_point(low, gt, known_mask(gt), 0.1, 5) == 7  # only four annotated frames: no failure
    # an annotated frame above the threshold, or with the target absent, ends the streak
    assert failure_point([0, 0, 0.5, 0, 0, 0, 0], gt, known_mask(gt), 0.1, 2) == 4
    gt_absent = [box, unknown, absent, unknown, box, unknown, box]
    assert failure_point(low, gt_absent, known_mask(gt_absent), 0.1, 2) == 4
    # dense ground truth: the toolkit's j + 1 - grace
    dense = [box] * 7
    assert failure_point([0.5, 0.5, 0, 0, 0, 0.5, 0], dense, known_mask(dense), 0.1, 3) == 2
