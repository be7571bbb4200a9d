"""Readers for the on-disk layouts of RGB-T tracking datasets (one sequence folder each).

Conventions (see docs/datasets.md): boxes are taken from the files as they are, as 0-based
``x, y, w, h`` (every dataset here has boxes touching ``x = 0`` or ``y = 0``, so none is
1-based); GTOT corners give ``w = x2 - x1`` as GTOT's own ``init.txt`` does; rows with
``w <= 0`` or ``h <= 0`` (LasHeR's ``0,0,0,0`` for an absent target) are invalid and NaN.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rgbtfuse.data.annotations import corner_rows, read_numeric_rows, region_rows, with_validity, xywh_rows
from rgbtfuse.data.sequence import Sequence, register_reader
from rgbtfuse.errors import AnnotationError, DatasetLayoutError, MissingFrameError
from rgbtfuse.imageio import list_images, natural_key, pair_folders, read_image

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _frames(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetLayoutError(f"{folder}: expected a folder of frames")
    images, _ = list_images(folder)
    return sorted(images, key=lambda p: natural_key(p.name))


def _frame_numbers(frames: list[Path]) -> dict[int, Path] | None:
    """Frames keyed by the last number in their name; None when names are not numbered uniquely."""
    by_number = {}
    for p in frames:
        m = _LAST_NUMBER.search(p.stem)
        if m is None or int(m.group(1)) in by_number:
            return None
        by_number[int(m.group(1))] = p
    return by_number


def _name_like(example: Path, number: int) -> str:
    """``example``'s file name with its frame number replaced (``00012v.png`` → ``00057v.png``)."""
    m = _LAST_NUMBER.search(example.stem)
    digits = str(number).zfill(len(m.group(1)))
    return example.stem[: m.start(1)] + digits + example.stem[m.end(1) :] + example.suffix


def aligned_frames(rgb_dir: Path, ir_dir: Path, n_rows: int | None, gt_file: Path | None) -> tuple[list[Path], list[Path]]:
    """RGB/IR frames paired by frame number, one per ground-truth row.

    A frame absent in either folder raises :class:`MissingFrameError` naming the file expected;
    frames beyond the ground truth raise :class:`DatasetLayoutError` naming the ground-truth file.
    """
    rgb, ir = _frames(rgb_dir), _frames(ir_dir)
    if not rgb and not ir:
        raise DatasetLayoutError(f"{rgb_dir}, {ir_dir}: no frames")
    rgb_num, ir_num = _frame_numbers(rgb), _frame_numbers(ir)
    if rgb_num is not None and ir_num is not None and rgb and ir:
        first = min(min(rgb_num), min(ir_num))
        count = n_rows if n_rows is not None else max(max(rgb_num), max(ir_num)) - first + 1
        expected = range(first, first + count)
        for folder, by_number, example in ((rgb_dir, rgb_num, rgb[0]), (ir_dir, ir_num, ir[0])):
            for n in expected:
                if n not in by_number:
                    rows = f" ({gt_file.name} has {n_rows} lines)" if gt_file is not None else ""
                    raise MissingFrameError(f"{folder / _name_like(example, n)}: frame {n} missing{rows}")
            extra = sorted(set(by_number) - set(expected))
            if extra:
                raise DatasetLayoutError(
                    f"{gt_file}: {n_rows} lines but {folder} has {len(by_number)} frames "
                    f"(first without ground truth: {by_number[extra[0]].name})"
                )
        return [rgb_num[n] for n in expected], [ir_num[n] for n in expected]
    # names without frame numbers: pair in natural order
    for folder, frames in ((rgb_dir, rgb), (ir_dir, ir)):
        if n_rows is not None and len(frames) != n_rows:
            raise MissingFrameError(f"{folder}: {len(frames)} frames but {gt_file} has {n_rows} lines")
    if len(rgb) != len(ir):
        raise MissingFrameError(f"{rgb_dir} has {len(rgb)} frames but {ir_dir} has {len(ir)}")
    return rgb, ir


def _first_file(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


# --- GTOT ----------------------------------------------------------------------------------
def _is_gtot(root: Path) -> bool:
    return (root / "v").is_dir() and (root / "i").is_dir()


@register_reader("gtot", _is_gtot)
def read_gtot(root: Path) -> Sequence:
    """GTOT: ``v/``, ``i/``, corner boxes ``groundTruth_v.txt``/``groundTruth_i.txt`` (``init.txt`` = x y w h)."""
    if (root / "groundTruth_v.txt").is_file():
        boxes = corner_rows(root / "groundTruth_v.txt")
        gt = root / "groundTruth_v.txt"
    elif (root / "init.txt").is_file():
        gt = root / "init.txt"
        boxes = xywh_rows(gt)
    else:
        raise DatasetLayoutError(f"{root}: expected GTOT ground truth groundTruth_v.txt (x1 y1 x2 y2) or init.txt")
    ir_boxes = corner_rows(root / "groundTruth_i.txt") if (root / "groundTruth_i.txt").is_file() else None
    if ir_boxes is not None and len(ir_boxes) != len(boxes):
        raise AnnotationError(root / "groundTruth_i.txt", None, f"{len(ir_boxes)} lines but {gt.name} has {len(boxes)}")
    rgb, ir = aligned_frames(root / "v", root / "i", len(boxes), gt)
    boxes, valid = with_validity(boxes)
    return Sequence(root.name, root, rgb, ir, boxes, valid, "gtot", ir_boxes=None if ir_boxes is None else with_validity(ir_boxes)[0])


# --- RGBT234 / LasHeR -----------------------------------------------------------------------
def _is_visible_infrared(root: Path) -> bool:
    return (root / "visible").is_dir() and (root / "infrared").is_dir()


def _is_lasher(root: Path) -> bool:
    # LasHeR names frames v000.jpg; RGBT234 names them 00001v.jpg
    if not _is_visible_infrared(root):
        return False
    first = next((p.name for p in (root / "visible").iterdir() if p.is_file()), "")
    return re.fullmatch(r"v\d+\.\w+", first) is not None


def _read_visible_infrared(root: Path, layout: str) -> Sequence:
    gt = _first_file(root, ("visible.txt", "init.txt"))
    if gt is None:
        raise DatasetLayoutError(f"{root}: expected ground truth visible.txt or init.txt (x,y,w,h per line)")
    boxes = xywh_rows(gt)
    ir_gt = root / "infrared.txt"
    ir_boxes = xywh_rows(ir_gt) if ir_gt.is_file() else None
    if ir_boxes is not None and len(ir_boxes) != len(boxes):
        raise AnnotationError(ir_gt, None, f"{len(ir_boxes)} lines but {gt.name} has {len(boxes)}")
    rgb, ir = aligned_frames(root / "visible", root / "infrared", len(boxes), gt)
    boxes, valid = with_validity(boxes)
    return Sequence(root.name, root, rgb, ir, boxes, valid, layout, ir_boxes=None if ir_boxes is None else with_validity(ir_boxes)[0])


@register_reader("lasher", _is_lasher)
def read_lasher(root: Path) -> Sequence:
    """LasHeR: ``visible/v000.jpg…``, ``infrared/i000.jpg…``, ``visible.txt``/``infrared.txt``/``init.txt``."""
    return _read_visible_infrared(root, "lasher")


@register_reader("rgbt234", _is_visible_infrared)
def read_rgbt234(root: Path) -> Sequence:
    """RGBT234: ``visible/00001v.jpg…``, ``infrared/00001i.jpg…``, ``visible.txt``, ``infrared.txt``, ``init.txt``."""
    return _read_visible_infrared(root, "rgbt234")


# --- VOT-RGBT --------------------------------------------------------------------------------
def _is_vot(root: Path) -> bool:
    return (root / "color").is_dir() and (root / "ir").is_dir()


@register_reader("vot-rgbt", _is_vot)
def read_vot_rgbt(root: Path) -> Sequence:
    """VOT-RGBT: ``color/``, ``ir/``, ``groundtruth.txt`` with rectangles or 4-corner polygons;
    ``*.tag`` files become boolean ``attributes``, ``fps`` comes from the ``sequence`` file."""
    gt = root / "groundtruth.txt"
    if not gt.is_file():
        raise DatasetLayoutError(f"{root}: expected {gt.name} (VOT regions, one per line)")
    boxes, polygons = region_rows(gt)
    rgb, ir = aligned_frames(root / "color", root / "ir", len(boxes), gt)
    boxes, valid = with_validity(boxes)
    attributes = {} if polygons is None else {"polygon": polygons}
    for tag in sorted(root.glob("*.tag")):  # per-frame 0/1 flags (occlusion.tag, ...); VOT may omit trailing zeros
        flags = np.zeros(len(boxes), bool)
        values = np.asarray(read_numeric_rows(tag, 1), dtype=np.float64).ravel()[: len(boxes)]
        flags[: len(values)] = values != 0
        attributes[tag.stem] = flags
    return Sequence(root.name, root, rgb, ir, boxes, valid, "vot-rgbt", fps=_vot_fps(root / "sequence"), attributes=attributes)


def _vot_fps(meta: Path) -> float | None:
    """``fps=`` from a VOT ``sequence`` metadata file, if any."""
    if not meta.is_file():
        return None
    for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "fps":
            try:
                return float(value)
            except ValueError:
                raise AnnotationError(meta, None, f"fps is not a number: {value!r}") from None
    return None


# --- VT821 / VT1000 (RGB-T salient-object sets) ---------------------------------------------
def _is_vt(root: Path) -> bool:
    return all((root / d).is_dir() for d in ("RGB", "T", "GT"))


def mask_box(mask_path: Path) -> np.ndarray:
    """Tight ``x y w h`` box (pixel-inclusive: ``w = x_max - x_min + 1``) of a mask's foreground (> 127).

    Masks are often JPEG, so a threshold is used rather than ``!= 0``; all foreground pixels
    count (several salient parts make one target). An empty mask gives a NaN box.
    """
    fg = read_image(mask_path, "gray") > 127
    cols, rows = np.flatnonzero(fg.any(axis=0)), np.flatnonzero(fg.any(axis=1))
    if cols.size == 0:
        return np.full(4, np.nan)
    return np.array([cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1], dtype=np.float64)


def _read_vt(root: Path, layout: str) -> Sequence:
    pairs = pair_folders(root / "T", root / "RGB")
    masks = {p.stem: p for p in list_images(root / "GT")[0]}
    missing = [rgb.name for _, rgb in pairs if rgb.stem not in masks]
    if missing:
        raise MissingFrameError(f"{root / 'GT'}: no mask for {', '.join(missing[:5])}" + (" …" if len(missing) > 5 else ""))
    boxes = np.stack([mask_box(masks[rgb.stem]) for _, rgb in pairs])
    boxes, valid = with_validity(boxes)
    ir, rgb = [p[0] for p in pairs], [p[1] for p in pairs]
    return Sequence(root.name, root, rgb, ir, boxes, valid, layout, static=True)


@register_reader("vt821", _is_vt)
def read_vt821(root: Path) -> Sequence:
    """VT821: ``RGB/``, ``T/``, ``GT/`` (mask) per image, paired by file stem; boxes from the masks."""
    return _read_vt(root, "vt821")


@register_reader("vt1000", lambda root: False)  # same layout as VT821: chosen by name only
def read_vt1000(root: Path) -> Sequence:
    """VT1000: ``RGB/``, ``T/``, ``GT/`` like VT821."""
    return _read_vt(root, "vt1000")


# --- VTUAV ---------------------------------------------------------------------------------
def _vtuav_ir_dir(root: Path) -> Path:
    return next((root / d for d in ("ir", "ir_gray") if (root / d).is_dir()), root / "ir")


def _is_vtuav(root: Path) -> bool:
    return (root / "rgb").is_dir() and _vtuav_ir_dir(root).is_dir() and not _is_vt(root)


@register_reader("vtuav", _is_vtuav)
def read_vtuav(root: Path, every: int = 10) -> Sequence:
    """VTUAV: ``rgb/``, ``ir/`` (or ``ir_gray/``), ``rgb.txt``/``ir.txt`` with one box every ``every`` frames."""
    rgb, ir = aligned_frames(root / "rgb", _vtuav_ir_dir(root), None, None)
    n = len(rgb)
    boxes = np.full((n, 4), np.nan)
    ir_boxes = np.full((n, 4), np.nan)
    for path, target in ((root / "rgb.txt", boxes), (root / "ir.txt", ir_boxes)):
        if not path.is_file():
            if target is ir_boxes:
                ir_boxes = None
                continue
            raise DatasetLayoutError(f"{root}: expected sparse ground truth {path.name}")
        rows = xywh_rows(path)
        frames = np.arange(len(rows)) * every
        if len(rows) and frames[-1] >= n:
            raise AnnotationError(path, len(rows), f"box for frame {frames[-1]} but only {n} frames")
        target[frames] = rows
    boxes, valid = with_validity(boxes)
    return Sequence(root.name, root, rgb, ir, boxes, valid, "vtuav", ir_boxes=None if ir_boxes is None else with_validity(ir_boxes)[0])


# --- aligned pair folders (image fusion sets) -----------------------------------------------
def _is_pairs(root: Path) -> bool:
    return (root / "ir").is_dir() and (root / "vi").is_dir()


@register_reader("pairs", _is_pairs)
def read_pairs(root: Path) -> Sequence:
    """Aligned still pairs ``ir/NAME`` ↔ ``vi/NAME`` without boxes (all frames invalid)."""
    pairs = pair_folders(root / "ir", root / "vi")
    n = len(pairs)
    return Sequence(
        root.name, root, [p[1] for p in pairs], [p[0] for p in pairs],
        np.full((n, 4), np.nan), np.zeros(n, bool), "pairs", static=True,
    )
