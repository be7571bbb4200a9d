"""Write sequences as VOT-RGBT sequence folders the VOT toolkit reads offline.

One folder per sequence::

    NAME/color/00000001.jpg …   NAME/ir/00000001.jpg …   (original files copied, 1-based names)
    NAME/groundtruth.txt        x,y,w,h per frame; "nan,nan,nan,nan" where there is no box
    NAME/anchor.value           multistart anchors: 1 forward, -1 backward, 0 none
    NAME/sequence               channels.color / channels.ir patterns, fps, width, height, length

plus ``list.txt`` with the sequence names in the dataset folder. Sparse ground truth stays
sparse: frames without a box are written as NaN rectangles, which the toolkit reads as "no
target" (``Special(0)``); nothing is interpolated.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.data.sequence import Sequence, detect_layout, load_sequence
from rgbtfuse.errors import DatasetLayoutError
from rgbtfuse.imageio import read_image

DEFAULT_FPS = 30
DEFAULT_ANCHOR_EVERY = 50


def anchor_frames(valid: np.ndarray, every: int) -> np.ndarray:
    """``anchor.value`` per frame: an anchor every ``every`` frames on the first annotated frame.

    Anchors in the first half of the sequence run forward (1), the others backward (-1), as in
    the VOT multistart datasets; frames without ground truth cannot be anchors.
    """
    if every < 1:
        raise DatasetLayoutError(f"anchor spacing must be >= 1, got {every}")
    n = len(valid)
    values = np.zeros(n)
    candidates = np.flatnonzero(valid)
    for start in range(0, n, every):
        hits = candidates[(candidates >= start) & (candidates < start + every)]
        if hits.size:
            i = int(hits[0])
            values[i] = 1 if i < n / 2 else -1
    return values


def _copy_channel(frames: list[Path], folder: Path, link: bool) -> str:
    suffixes = {p.suffix.lower() for p in frames}
    if len(suffixes) != 1:
        raise DatasetLayoutError(f"{frames[0].parent}: frames have mixed file types {sorted(suffixes)}")
    suffix = suffixes.pop()
    folder.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(frames, 1):
        dst = folder / f"{i:08d}{suffix}"
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        if link:
            dst.symlink_to(src.resolve())
        else:
            shutil.copyfile(src, dst)
    return f"{folder.name}/%08d{suffix}"


def _box_line(box: np.ndarray, valid: bool) -> str:
    return ",".join(f"{v:.4f}".rstrip("0").rstrip(".") for v in box) if valid else "nan,nan,nan,nan"


def write_vot_sequence(seq: Sequence, dst: Path, anchor_every: int = DEFAULT_ANCHOR_EVERY,
                       link: bool = False, name: str | None = None) -> Path:
    """Write ``seq`` as ``dst/<name>``; returns the sequence folder."""
    seq.check_frames()
    if len(seq) == 0:
        raise DatasetLayoutError(f"{seq.root}: sequence has no frames")
    folder = Path(dst) / (name or seq.name)
    color = _copy_channel(seq.rgb_frames, folder / "color", link)
    ir = _copy_channel(seq.ir_frames, folder / "ir", link)
    height, width = read_image(seq.rgb_frames[0]).shape[:2]
    write_vot_metadata(folder, seq.boxes, seq.valid, (width, height), color, ir, seq.fps, anchor_every)
    return folder


def write_vot_metadata(folder: Path, boxes: np.ndarray, valid: np.ndarray, size: tuple[int, int], color: str, ir: str,
                       fps: float | None = None, anchor_every: int = DEFAULT_ANCHOR_EVERY,
                       tags: dict[str, np.ndarray] | None = None) -> None:
    """``groundtruth.txt``, ``anchor.value``, ``sequence`` and one ``<tag>.tag`` per entry of ``tags``
    (``(N,)`` bool) for frames already in ``folder``; ``color``/``ir`` are the channel patterns
    (``color/%08d.jpg``) and ``size`` is ``(width, height)``."""
    lines = [_box_line(b, v) for b, v in zip(boxes, valid)]
    atomic_write(folder / "groundtruth.txt", lambda p: p.write_text("\n".join(lines) + "\n"))
    anchors = anchor_frames(valid, anchor_every)
    atomic_write(folder / "anchor.value", lambda p: p.write_text("\n".join(f"{a:g}" for a in anchors) + "\n"))
    for tag, flags in (tags or {}).items():
        atomic_write(folder / f"{tag}.tag", lambda p, f=flags: p.write_text("".join(f"{int(v)}\n" for v in f)))
    meta = {
        "name": folder.name,
        "fps": round(fps or DEFAULT_FPS),
        "format": "default",
        "channel.default": "color",
        "channels.color": color,
        "channels.ir": ir,
        "width": size[0],
        "height": size[1],
        "length": len(boxes),
    }
    atomic_write(folder / "sequence", lambda p: p.write_text("".join(f"{k}={v}\n" for k, v in meta.items())))


def write_list(dst: Path, names: Iterable[str]) -> Path:
    """``list.txt`` of a VOT dataset folder; merges with the names already listed there."""
    path = Path(dst) / "list.txt"
    existing = path.read_text().split() if path.is_file() else []
    merged = existing + [n for n in names if n not in existing]
    return atomic_write(path, lambda p: p.write_text("\n".join(merged) + "\n"))


def find_sequences(src: Path) -> list[Path]:
    """``src`` itself when it is one sequence, else its sub-folders that look like sequences."""
    src = Path(src)
    if not src.is_dir():
        raise DatasetLayoutError(f"{src}: not a folder")
    try:
        detect_layout(src)
        return [src]
    except DatasetLayoutError:
        pass
    found = []
    for sub in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            detect_layout(sub)
        except DatasetLayoutError:
            continue
        found.append(sub)
    if not found:
        raise DatasetLayoutError(f"{src}: neither a sequence folder nor a dataset folder containing sequences")
    return found


def check_ascii_path(path: Path, what: str) -> None:
    """Refuse non-ASCII paths up front: vot-trax sends frame paths in a protocol that breaks on them
    (a protocol error, or a segfault of ``vot evaluate``)."""
    if not str(path).isascii():
        bad = "".join(sorted({c for c in str(path) if not c.isascii()}))
        raise DatasetLayoutError(f"{what} {path} has non-ASCII characters ({bad}), which the VOT toolkit's TraX "
                                 "protocol cannot carry; rename it or choose an ASCII path")


def convert_to_vot(src: Path, dst: Path, layout: str, anchor_every: int = DEFAULT_ANCHOR_EVERY,
                   link: bool = False, progress=None) -> list[Path]:
    """Convert every sequence of ``src`` (read with ``layout``) into VOT folders under ``dst``."""
    roots = find_sequences(src)
    dst = Path(dst)
    check_ascii_path(dst.resolve(), "the VOT dataset folder")
    for root in roots:
        check_ascii_path(Path(root.name), f"sequence folder {root}")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for root in roots if progress is None else progress(roots):
        seq = load_sequence(root, layout)
        written.append(write_vot_sequence(seq, dst, anchor_every, link))
    write_list(dst, [p.name for p in written])
    return written
