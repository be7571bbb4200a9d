"""Ground truth for evaluation, from a dataset folder in its real layout or from a toolkit's GT-only copy.

Boxes are read exactly as the toolkits read them (no validity filtering: the protocols' edge
rules decide what an empty or border box counts as). Layouts accepted per benchmark:

* ``gtot``: ``<root>/[groundtruth/]<seq>/groundTruth_v.txt`` + ``groundTruth_i.txt`` (corners);
  sequences from ``SequencesName.txt`` or the sub-folders.
* ``rgbt234``: ``<root>/[rgbt234_gt/]<seq>/visible.txt`` + ``infrared.txt``; sequences from
  ``attr_txt/SequencesName.txt``/``SequencesName.txt``; attributes ``attr_txt/<ATTR>.txt``.
* ``lasher``: ``<root>/lasher_gt/<seq>.txt`` (toolkit copy) or ``<root>/<seq>/visible.txt``
  (else ``init.txt``); sequences from ``lashertest.txt``/``testingsetList.txt``; attributes
  ``AttriSeqsTxt/<seq>.txt`` in the order of ``Attributes_order.txt``.
* ``vtuav``: ``<root>/<seq>/rgb.txt`` + ``ir.txt`` (a box every 10th frame), or ``<root>`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rgbtfuse.errors import DatasetLayoutError
from rgbtfuse.evaluation.protocols import get_protocol, xywh_to_corners
from rgbtfuse.evaluation.textrows import read_rows
from rgbtfuse.imageio import natural_key

LASHER_ATTRIBUTES = ("NO", "PO", "TO", "HO", "MB", "LI", "HI", "AIV", "LR", "DEF", "BC", "SA", "CM", "TC", "FL", "OV", "FM", "SV", "ARC")


@dataclass
class GroundTruth:
    """Per-sequence ground truth in the protocol's form (corners for GTOT/RGBT234/VTUAV, else x,y,w,h)."""

    dataset: str
    root: Path
    names: list[str]
    files: list[Path]  # the visible ground-truth file of each sequence (named in errors)
    boxes: list[np.ndarray]
    ir_boxes: list[np.ndarray] | None
    attributes: dict[str, list[str]] = field(default_factory=dict)  # attribute -> sequences having it


def _rows(path: Path) -> np.ndarray:
    return read_rows(path, (4,), DatasetLayoutError, "ground-truth file")


def _list(root: Path, candidates: tuple[str, ...]) -> list[str] | None:
    for name in candidates:
        path = root / name
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
            if names:
                return names
    return None


def _subfolders(base: Path, marker: str) -> list[str]:
    return sorted((d.name for d in base.iterdir() if d.is_dir() and (d / marker).is_file()), key=natural_key)


def load_groundtruth(dataset: str, root: str | Path, sequences: list[str] | None = None) -> GroundTruth:
    """Ground truth of every sequence of ``dataset`` under ``root`` (layout detected, errors say what was expected where).

    ``sequences`` overrides the dataset's sequence list.
    """
    protocol = get_protocol(dataset)
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: annotation folder not found")
    loader = {"gtot": _gtot, "rgbt234": _rgbt234, "lasher": _lasher, "vtuav": _vtuav}[dataset]
    gt = loader(root, sequences)
    if protocol.gt_corners and dataset != "gtot":
        gt.boxes = [xywh_to_corners(b) for b in gt.boxes]
        gt.ir_boxes = None if gt.ir_boxes is None else [xywh_to_corners(b) for b in gt.ir_boxes]
    return gt


def _paired(dataset: str, root: Path, names: list[str], base: Path, v_name: str, i_name: str) -> GroundTruth:
    files, boxes, ir_boxes = [], [], []
    for name in names:
        v, i = base / name / v_name, base / name / i_name
        if not v.is_file():
            raise DatasetLayoutError(f"{v}: ground truth of sequence {name} not found (expected {base}/<seq>/{v_name})")
        files.append(v)
        boxes.append(_rows(v))
        if not i.is_file():
            raise DatasetLayoutError(f"{i}: infrared ground truth of sequence {name} not found")
        ir_boxes.append(_rows(i))
        if len(ir_boxes[-1]) != len(boxes[-1]):
            raise DatasetLayoutError(f"{i}: {len(ir_boxes[-1])} lines but {v.name} has {len(boxes[-1])}")
    return GroundTruth(dataset, root, names, files, boxes, ir_boxes)


def _gtot(root: Path, override: list[str] | None) -> GroundTruth:
    base = root / "groundtruth" if (root / "groundtruth").is_dir() else root
    names = override or _list(root, ("SequencesName.txt",)) or _subfolders(base, "groundTruth_v.txt")
    if not names:
        raise DatasetLayoutError(f"{root}: no GTOT ground truth; expected <seq>/groundTruth_v.txt and groundTruth_i.txt "
                                 f"under {root} or {root / 'groundtruth'} (and optionally SequencesName.txt)")
    return _paired("gtot", root, names, base, "groundTruth_v.txt", "groundTruth_i.txt")


def _rgbt234(root: Path, override: list[str] | None) -> GroundTruth:
    base = root / "rgbt234_gt" if (root / "rgbt234_gt").is_dir() else root
    names = override or _list(root, ("attr_txt/SequencesName.txt", "SequencesName.txt")) or _subfolders(base, "visible.txt")
    if not names:
        raise DatasetLayoutError(f"{root}: no RGBT234 ground truth; expected <seq>/visible.txt and infrared.txt "
                                 f"under {root} or {root / 'rgbt234_gt'} (and attr_txt/SequencesName.txt)")
    gt = _paired("rgbt234", root, names, base, "visible.txt", "infrared.txt")
    attr_dir = root / "attr_txt"
    if attr_dir.is_dir() and (attr_dir / "SequencesName.txt").is_file():
        order = _list(attr_dir, ("SequencesName.txt",))
        for path in sorted(attr_dir.glob("*.txt")):
            if path.name == "SequencesName.txt":
                continue
            flags = read_rows(path, (1,), DatasetLayoutError, "attribute file").ravel()
            if len(flags) != len(order):
                raise DatasetLayoutError(f"{path}: {len(flags)} lines but {attr_dir / 'SequencesName.txt'} lists {len(order)} sequences")
            gt.attributes[path.stem] = [n for n, f in zip(order, flags) if f and n in names]
    return gt


def _lasher(root: Path, override: list[str] | None) -> GroundTruth:
    names = override or _list(root, ("lashertest.txt", "testingsetList.txt"))
    if (root / "lasher_gt").is_dir():
        base = root / "lasher_gt"
        names = names or sorted((p.stem for p in base.glob("*.txt")), key=natural_key)
        files = [base / f"{n}.txt" for n in names]
    else:
        names = names or [d.name for d in sorted(root.iterdir(), key=lambda d: natural_key(d.name))
                          if d.is_dir() and ((d / "visible.txt").is_file() or (d / "init.txt").is_file())]
        files = [root / n / "visible.txt" if (root / n / "visible.txt").is_file() else root / n / "init.txt" for n in names]
    if not names:
        raise DatasetLayoutError(f"{root}: no LasHeR ground truth; expected lasher_gt/<seq>.txt (toolkit copy) or "
                                 f"<seq>/visible.txt (dataset), and lashertest.txt")
    for name, path in zip(names, files):
        if not path.is_file():
            raise DatasetLayoutError(f"{path}: ground truth of sequence {name} not found")
    gt = GroundTruth("lasher", root, names, files, [_rows(p) for p in files], None)
    attr_dir = next((d for d in (root / "AttriSeqsTxt", root.parent / "AttriSeqsTxt") if d.is_dir()), None)
    if attr_dir is not None:
        order_file = attr_dir.parent / "Attributes_order.txt"
        order = ([a.strip() for a in order_file.read_text().replace("\n", ",").split(",") if a.strip()]
                 if order_file.is_file() else list(LASHER_ATTRIBUTES))
        gt.attributes = {a: [] for a in order}
        for name in names:
            path = attr_dir / f"{name}.txt"
            flags = read_rows(path, (len(order),), DatasetLayoutError, "attribute file").ravel()
            for a, f in zip(order, flags):
                if f == 1:
                    gt.attributes[a].append(name)
    return gt


def _vtuav(root: Path, override: list[str] | None) -> GroundTruth:
    if (root / "rgb.txt").is_file():
        base, names = root.parent, [root.name]
    else:
        base, names = root, override or _subfolders(root, "rgb.txt")
    if not names:
        raise DatasetLayoutError(f"{root}: no VTUAV ground truth; expected <seq>/rgb.txt and <seq>/ir.txt (or {root}/rgb.txt)")
    return _paired("vtuav", root, names, base, "rgb.txt", "ir.txt")
