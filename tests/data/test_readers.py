"""Dataset readers on the real ground-truth files, with frame trees generated in each dataset's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbtfuse.data import load_sequence, open_dataset
from rgbtfuse.data.readers import mask_box
from rgbtfuse.errors import AnnotationError, DatasetLayoutError, MissingFrameError

_TINY = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()


def _write_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(_TINY)


def _rows(path: Path) -> np.ndarray:
    text = path.read_text().replace(",", " ").split("\n")
    return np.array([[float(v) for v in line.split()] for line in text if line.strip()])


def _gtot_seq(shared, root: Path, name: str) -> Path:
    src = shared(f"data/annotations/gtot/groundtruth/{name}")
    seq = root / name
    seq.mkdir(parents=True)
    for f in ("groundTruth_v.txt", "groundTruth_i.txt", "init.txt"):
        shutil.copy(src / f, seq / f)
    n = len(_rows(src / "init.txt"))
    _write_frames(seq / "v", [f"{k:05d}v.png" for k in range(1, n + 1)])
    _write_frames(seq / "i", [f"{k:05d}i.png" for k in range(1, n + 1)])
    return seq


def _rgbt234_seq(shared, root: Path, name: str) -> Path:
    src = shared(f"data/annotations/rgbt234/rgbt234_gt/{name}")
    seq = root / name
    seq.mkdir(parents=True)
    for f in ("visible.txt", "infrared.txt", "init.txt"):
        shutil.copy(src / f, seq / f)
    n = len(_rows(src / "init.txt"))
    _write_frames(seq / "visible", [f"{k:05d}v.jpg" for k in range(1, n + 1)])
    _write_frames(seq / "infrared", [f"{k:05d}i.jpg" for k in range(1, n + 1)])
    return seq


def _lasher_seq(shared, root: Path, name: str) -> Path:
    gt = shared(f"data/annotations/lasher/lasher_gt/{name}.txt")
    seq = root / name
    seq.mkdir(parents=True)
    shutil.copy(gt, seq / "init.txt")  # the toolkit's single (aligned) box file
    n = len(_rows(gt))
    _write_frames(seq / "visible", [f"v{k:03d}.jpg" for k in range(n)])
    _write_frames(seq / "infrared", [f"i{k:03d}.jpg" for k in range(n)])
    return seq


# --- GTOT ---------------------------------------------------------------------------------
def test_gtot_corners_match_init_txt(shared, tmp_path):
    seq = load_sequence(_gtot_seq(shared, tmp_path, "BlackCar"))
    init = _rows(seq.root / "init.txt")
    assert seq.layout == "gtot" and len(seq) == len(init) == 115
    np.testing.assert_array_equal(seq.boxes, init)  # w = x2 - x1, as GTOT's own init.txt
    corners_i = _rows(seq.root / "groundTruth_i.txt")
    np.testing.assert_array_equal(seq.ir_boxes[:, 2], corners_i[:, 2] - corners_i[:, 0])
    assert seq.valid.all()
    assert seq.rgb_frames[0].name == "00001v.png" and seq.ir_frames[-1].name == "00115i.png"


def test_gtot_dataset_uses_sequence_list(shared, tmp_path):
    names = ["BlackCar", "Minibus"]
    for n in names:
        _gtot_seq(shared, tmp_path, n)
    (tmp_path / "SequencesName.txt").write_text("Minibus\nBlackCar\n")
    ds = open_dataset("gtot", tmp_path)
    assert ds.names == ["Minibus", "BlackCar"]
    assert [len(s) for s in ds] == [190, 115]
    # the real list names 50 sequences: the first one absent here is reported with file:line
    shutil.copy(shared("data/annotations/gtot/SequencesName.txt"), tmp_path / "SequencesName.txt")
    with pytest.raises(DatasetLayoutError, match=r"SequencesName.txt:2: sequence folder .*BlackSwan1 not found"):
        open_dataset("gtot", tmp_path)


def test_gtot_malformed_line_names_file_and_line(shared, tmp_path):
    seq = _gtot_seq(shared, tmp_path, "BlackCar")
    lines = (seq / "groundTruth_v.txt").read_text().splitlines()
    lines[6] = "209 155 3o9 218"
    (seq / "groundTruth_v.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"groundTruth_v.txt:7: not a list of numbers"):
        load_sequence(seq)


def test_gtot_missing_frame_is_named(shared, tmp_path):
    seq = _gtot_seq(shared, tmp_path, "BlackCar")
    (seq / "i" / "00057i.png").unlink()
    with pytest.raises(MissingFrameError, match=r"i/00057i.png: frame 57 missing"):
        load_sequence(seq)
    (seq / "i" / "00057i.png").write_bytes(_TINY)
    (seq / "v" / "00115v.png").unlink()  # the last frame: ground truth has one line too many
    with pytest.raises(MissingFrameError, match=r"v/00115v.png: frame 115 missing \(groundTruth_v.txt has 115 lines\)"):
        load_sequence(seq)


# --- RGBT234 --------------------------------------------------------------------------------
def test_rgbt234_visible_and_infrared(shared, tmp_path):
    seq = load_sequence(_rgbt234_seq(shared, tmp_path, "car10"))
    assert seq.layout == "rgbt234" and len(seq) == 212
    np.testing.assert_array_equal(seq.boxes, _rows(seq.root / "visible.txt"))
    np.testing.assert_array_equal(seq.ir_boxes, _rows(seq.root / "infrared.txt"))
    assert seq.rgb_frames[9].name == "00010v.jpg" and seq.ir_frames[9].name == "00010i.jpg"


def test_rgbt234_dataset_extra_frame_and_list(shared, tmp_path):
    for n in ("afterrain", "baby"):
        _rgbt234_seq(shared, tmp_path, n)
    ds = open_dataset("rgbt234", tmp_path)  # no list file: the sequence folders, in natural order
    assert ds.names == ["afterrain", "baby"] and len(ds["baby"]) == 659
    _write_frames(tmp_path / "baby" / "infrared", ["00660i.jpg"])
    with pytest.raises(DatasetLayoutError, match=r"visible.txt: 659 lines but .*infrared has 660 frames"):
        ds["baby"]


def test_rgbt234_malformed_line(shared, tmp_path):
    seq = _rgbt234_seq(shared, tmp_path, "afterrain")
    with open(seq / "infrared.txt", "a") as fh:
        fh.write("1,2,3\n")
    with pytest.raises(AnnotationError, match=r"infrared.txt:124: expected 4 values, got 3"):
        load_sequence(seq)


# --- LasHeR ---------------------------------------------------------------------------------
def test_lasher_test_split(shared, tmp_path):
    listed = shared("data/annotations/lasher/lashertest.txt").read_text().split()
    names = listed[:3]
    for n in names:
        _lasher_seq(shared, tmp_path, n)
    (tmp_path / "lashertest.txt").write_text("\r\n".join(names) + "\r\n")  # the real file has CRLF
    ds = open_dataset("lasher", tmp_path)
    assert ds.names == names
    for seq, n in zip(ds, names):
        gt = _rows(shared(f"data/annotations/lasher/lasher_gt/{n}.txt"))
        assert seq.layout == "lasher" and len(seq) == len(gt)
        np.testing.assert_array_equal(seq.boxes, gt)
    shutil.copy(shared("data/annotations/lasher/lashertest.txt"), tmp_path / "lashertest.txt")
    with pytest.raises(DatasetLayoutError, match=rf"lashertest.txt:4: sequence folder .*{listed[3]} not found"):
        open_dataset("lasher", tmp_path)


def test_lasher_absent_target_rows_are_invalid(shared, tmp_path):
    seq = load_sequence(_lasher_seq(shared, tmp_path, "2girlup"))
    gt = _rows(seq.root / "init.txt")
    absent = (gt[:, 2] <= 0) | (gt[:, 3] <= 0)
    assert absent[223] and absent.sum() > 0
    np.testing.assert_array_equal(seq.valid, ~absent)
    assert np.isnan(seq.boxes[absent]).all()
    np.testing.assert_array_equal(seq.boxes[~absent], gt[~absent])


# --- VOT-RGBT, VTUAV, pairs -------------------------------------------------------------------
def test_vot_rectangles_and_polygons(tmp_path):
    _write_frames(tmp_path / "color", [f"{k:08d}.jpg" for k in range(1, 4)])
    _write_frames(tmp_path / "ir", [f"{k:08d}.jpg" for k in range(1, 4)])
    (tmp_path / "groundtruth.txt").write_text(
        "10.5,20,30,40\n1,2,11,2,11,7,1,7\n0,0,0,0\n"
    )
    seq = load_sequence(tmp_path)
    assert seq.layout == "vot-rgbt"
    np.testing.assert_array_equal(seq.boxes[:2], [[10.5, 20, 30, 40], [1, 2, 10, 5]])
    assert seq.valid.tolist() == [True, True, False]
    np.testing.assert_array_equal(seq.attributes["polygon"][1], [1, 2, 11, 2, 11, 7, 1, 7])


def test_vtuav_dataset_from_one_sequence(shared):
    ds = open_dataset("vtuav", shared("data/rgbt/vtuav_bus1"))
    assert ds.names == ["vtuav_bus1"]
    seq = next(iter(ds))
    assert seq.valid.sum() == 11 and seq.ir_frames[0].parent.name == "ir_gray"


def test_pairs_are_static_without_boxes(tmp_path):
    _write_frames(tmp_path / "ir", ["a.png", "b.png"])
    _write_frames(tmp_path / "vi", ["a.png", "b.png"])
    seq = load_sequence(tmp_path)
    assert seq.layout == "pairs" and seq.static and not seq.valid.any()
    assert [p.name for p in seq.ir_frames] == ["a.png", "b.png"]


def test_unknown_dataset_layout_says_what_was_expected(tmp_path):
    (tmp_path / "seq1").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"no gtot sequences; expected <seq>/v/, <seq>/i/"):
        open_dataset("gtot", tmp_path)
    with pytest.raises(DatasetLayoutError, match="expected RGB/, T/, GT/"):
        open_dataset("vt821", tmp_path)
    with pytest.raises(DatasetLayoutError, match="expected ground truth visible.txt or init.txt"):
        _write_frames(tmp_path / "s" / "visible", ["00001v.jpg"])
        _write_frames(tmp_path / "s" / "infrared", ["00001i.jpg"])
        load_sequence(tmp_path / "s")


# --- VT821 / VT1000 -------------------------------------------------------------------------------
def _vt_tree(root: Path, mask_ext: str) -> dict[str, tuple[int, int, int, int]]:
    rects = {"1": (5, 7, 20, 11), "2": (0, 0, 64, 48), "10": (30, 40, 1, 1)}
    for d in ("RGB", "T", "GT"):
        (root / d).mkdir(parents=True)
    for name, (x, y, w, h) in rects.items():
        mask = np.zeros((48, 64), np.uint8)
        mask[y : y + h, x : x + w] = 255
        cv2.imwrite(str(root / "GT" / f"{name}{mask_ext}"), mask)
        (root / "RGB" / f"{name}.jpg").write_bytes(_TINY)
        (root / "T" / f"{name}.jpg").write_bytes(_TINY)
    cv2.imwrite(str(root / "GT" / f"3{mask_ext}"), np.zeros((48, 64), np.uint8))  # empty mask
    (root / "RGB" / "3.jpg").write_bytes(_TINY)
    (root / "T" / "3.jpg").write_bytes(_TINY)
    return rects


@pytest.mark.parametrize("name,mask_ext", [("vt821", ".jpg"), ("vt1000", ".png")])
def test_vt_boxes_from_masks(tmp_path, name, mask_ext):
    rects = _vt_tree(tmp_path / name.upper(), mask_ext)
    ds = open_dataset(name, tmp_path / name.upper())
    seq = next(iter(ds))
    assert seq.static and seq.layout == name
    assert [p.stem for p in seq.rgb_frames] == ["1", "2", "3", "10"]
    assert [p.stem for p in seq.ir_frames] == ["1", "2", "3", "10"]
    for stem in ["1", "2", "10"]:
        j = [p.stem for p in seq.rgb_frames].index(stem)
        np.testing.assert_allclose(seq.boxes[j], rects[stem])
    assert seq.valid.tolist() == [True, True, False, True]


def test_vt_missing_mask_and_thermal(tmp_path):
    _vt_tree(tmp_path, ".png")
    (tmp_path / "GT" / "2.png").unlink()
    with pytest.raises(MissingFrameError, match=r"GT: no mask for 2.jpg"):
        load_sequence(tmp_path, "vt821")
    (tmp_path / "T" / "10.jpg").unlink()
    with pytest.raises(Exception, match=r"only in .*RGB: 10.jpg"):
        load_sequence(tmp_path, "vt821")


def test_mask_box_threshold_ignores_jpeg_noise(tmp_path):
    mask = np.zeros((30, 30), np.uint8)
    mask[10:20, 5:8] = 255
    mask[0, 0] = 60  # compression ringing stays below the threshold
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    np.testing.assert_array_equal(mask_box(tmp_path / "m.png"), [5, 10, 3, 10])


def test_vot_reader_on_a_synthetic_scene(tmp_path):
    from rgbtfuse.data.synthetic import Failure, SceneConfig, write_vot_sequence

    cfg = SceneConfig(frames=8, width=96, height=72, target_size=(16, 12), failures=[Failure("night", 2, 5)])
    seq = load_sequence(write_vot_sequence(cfg, tmp_path / "scene"))
    assert seq.layout == "vot-rgbt" and len(seq) == 8 and seq.fps == 30
    np.testing.assert_allclose(seq.boxes, _rows(seq.root / "groundtruth.txt"))
    assert seq.attributes["night"].tolist() == [False, False, True, True, True, False, False, False]
    assert seq.ir_frames[0].name == "00000001.png" and seq.rgb_frames[0].name == "00000001.jpg"
