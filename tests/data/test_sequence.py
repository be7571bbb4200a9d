"""Sequence interface and the VTUAV reader on the real bus1 sample."""

from __future__ import annotations

import numpy as np
import pytest

from rgbtfuse.data import detect_layout, load_sequence
from rgbtfuse.errors import AnnotationError, DatasetLayoutError


def test_vtuav_bus1(shared):
    root = shared("data/rgbt/vtuav_bus1")
    seq = load_sequence(root)
    assert seq.layout == "vtuav" and len(seq) == 101
    assert np.flatnonzero(seq.valid).tolist() == list(range(0, 101, 10))
    np.testing.assert_array_equal(seq.boxes[0], [585, 94, 66, 83])
    np.testing.assert_array_equal(seq.ir_boxes[0], [582, 88, 67, 80])
    assert np.isnan(seq.boxes[5]).all()
    assert seq.first_valid() == 0


def test_unknown_layout(tmp_path):
    with pytest.raises(DatasetLayoutError, match="unknown sequence layout"):
        detect_layout(tmp_path)


def test_malformed_vtuav_line_names_file_and_line(tmp_path):
    for d in ("rgb", "ir"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "000000.jpg").write_bytes(b"")
    (tmp_path / "rgb.txt").write_text("1 2 3 4\n1 2 x 4\n")
    with pytest.raises(AnnotationError, match=r"rgb.txt:2"):
        load_sequence(tmp_path)
