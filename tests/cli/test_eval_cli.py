"""``rgbtfuse eval``: the report files, and every bad-input path with a named message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rgbtfuse.cli import main


def _lasher(root: Path) -> Path:
    gt = root / "ann" / "lasher_gt"
    gt.mkdir(parents=True)
    for name in ("a", "b"):
        (gt / f"{name}.txt").write_text("5,5,10,10\n6,5,10,10\n7,5,10,10\n")
    (root / "ann" / "lashertest.txt").write_text("a\nb\n")
    return root / "ann"


def _results(folder: Path, names=("a", "b"), prefix: str = "", rows: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        np.savetxt(folder / f"{prefix}{name}.txt", np.tile([[5, 5, 10, 10]], (rows, 1)), fmt="%d", delimiter="\t")
    return folder


def test_report_files_and_prefixed_result_names(tmp_path, capsys):
    ann = _lasher(tmp_path)
    _results(tmp_path / "one")
    _results(tmp_path / "two", prefix="Tracker_")
    out = tmp_path / "rep"
    assert main(["eval", "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "one"),
                 f"T={tmp_path / 'two'}", "--out", str(out)]) == 0
    doc = json.loads((out / "scores.json").read_text())
    assert set(doc["trackers"]) == {"one", "T"} and doc["trackers"]["one"] == doc["trackers"]["T"]
    assert set(doc["trackers"]["one"]) == {"PR", "NPR", "SR"} and all(0 <= v <= 1 for v in doc["trackers"]["one"].values())
    assert "**" in (out / "scores.md").read_text() and all((out / f"{m}.png").stat().st_size > 0 for m in ("PR", "NPR", "SR"))
    assert "| one |" in capsys.readouterr().out


def _error(capsys, *argv: str) -> str:
    assert main(["eval", *argv]) == 1
    return capsys.readouterr().err


def test_missing_result_file_is_named_or_listed(tmp_path, capsys):
    ann = _lasher(tmp_path)
    _results(tmp_path / "r", names=("a",))
    err = _error(capsys, "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"))
    assert f"{tmp_path / 'r' / 'b.txt'}: no result for sequence b of tracker r" in err
    assert main(["eval", "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "r"),
                 "--out", str(tmp_path / "o"), "--allow-missing"]) == 0
    assert "left out for r (no result file): b" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "scores.json").read_text())["missing"] == {"r": ["b"]}


def test_wrong_line_count_names_file_and_both_counts(tmp_path, capsys):
    ann = _lasher(tmp_path)
    _results(tmp_path / "r", rows=4)
    err = _error(capsys, "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"))
    assert f"{tmp_path / 'r' / 'a.txt'}: 4 lines but the ground truth {ann / 'lasher_gt' / 'a.txt'} has 3" in err


@pytest.mark.parametrize("text, where", [("5,5,10,10\n5,5,x,10\n5,5,10,10\n", ":2: not a list of numbers: '5,5,x,10'"),
                                         ("5,5,10,10\n5,5,10\n5,5,10,10\n", ":2: 3 values but the first line has 4")])
def test_unparsable_line_is_file_and_line(tmp_path, capsys, text, where):
    ann = _lasher(tmp_path)
    _results(tmp_path / "r")
    (tmp_path / "r" / "b.txt").write_text(text)
    err = _error(capsys, "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"))
    assert f"{tmp_path / 'r' / 'b.txt'}{where}" in err


def test_unknown_layout_says_what_was_expected_where(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _results(tmp_path / "r")
    for dataset, expected in (("lasher", "expected lasher_gt/<seq>.txt"), ("gtot", "expected <seq>/groundTruth_v.txt"),
                              ("rgbt234", "expected <seq>/visible.txt"), ("vtuav", "expected <seq>/rgb.txt")):
        err = _error(capsys, "--dataset", dataset, "--annotations", str(tmp_path / "empty"), "--results", str(tmp_path / "r"),
                     "--out", str(tmp_path / "o"))
        assert str(tmp_path / "empty") in err and expected in err and "Traceback" not in err


def test_attributes_without_attribute_files_is_an_error(tmp_path, capsys):
    ann = _lasher(tmp_path)
    _results(tmp_path / "r")
    err = _error(capsys, "--dataset", "lasher", "--annotations", str(ann), "--results", str(tmp_path / "r"),
                 "--out", str(tmp_path / "o"), "--attributes")
    assert "AttriSeqsTxt" in err


def test_rgbt234_attributes_table_and_radar(shared, tmp_path):
    root = shared("data/annotations/rgbt234")
    from rgbtfuse.evaluation import load_groundtruth

    gt = load_groundtruth("rgbt234", root)
    for name, c in zip(gt.names, gt.boxes):
        _results(tmp_path / "r", names=(name,), rows=0)
        np.savetxt(tmp_path / "r" / f"{name}.txt", np.column_stack([c[:, :2] + 3, c[:, 2:] - c[:, :2]]), fmt="%d", delimiter=",")
    assert main(["eval", "--dataset", "rgbt234", "--annotations", str(root), "--results", str(tmp_path / "r"),
                 "--out", str(tmp_path / "o"), "--attributes"]) == 0
    doc = json.loads((tmp_path / "o" / "scores.json").read_text())
    assert set(doc["attributes"]) == {"BC", "CM", "DEF", "FM", "HO", "LI", "LR", "MB", "NO", "PO", "SC", "TC"}
    assert (tmp_path / "o" / "radar_MPR.png").stat().st_size > 0 and "| BC |" in (tmp_path / "o" / "attributes.md").read_text()
