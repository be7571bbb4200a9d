"""Image reading/writing with clear errors, and pairing of IR/visible folders by file name."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from rgbtfuse.atomic import atomic_write
from rgbtfuse.errors import ConfigError, ImageReadError, PairingError, SizeMismatchError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path, mode: str = "unchanged") -> np.ndarray:
    """Read an 8-bit image as ``(H, W)`` gray or ``(H, W, 3)`` BGR uint8.

    ``mode``: ``"gray"`` (converted with OpenCV's BT.601 weights), ``"bgr"`` (gray replicated to
    3 channels), or ``"unchanged"`` (gray stays 2-D, colour stays BGR, alpha is dropped).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(path, "file not found")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ImageReadError(path, "corrupt or not an image")
    if img.dtype != np.uint8:
        # 16-bit thermal frames are scaled to 8 bits, as every fusion paper's loader does
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if mode == "gray":
        return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if mode == "bgr":
        return img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if mode == "unchanged":
        return img
    raise ValueError(f"unknown read mode {mode!r}")


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write ``image`` atomically; the format follows the file extension."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ImageReadError(path, "OpenCV could not encode the image in this format")
    return atomic_write(path, lambda tmp: buf.tofile(str(tmp)))


def check_same_size(path_a: str | Path, img_a: np.ndarray, path_b: str | Path, img_b: np.ndarray, hint: str = "") -> None:
    """Raise :class:`SizeMismatchError` naming both files unless the images are the same size."""
    if img_a.shape[:2] != img_b.shape[:2]:
        raise SizeMismatchError(path_a, img_a.shape, path_b, img_b.shape, hint)


def list_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Return ``(images, others)``: image files and non-image files of a folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PairingError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in files if is_image_file(p)], [p for p in files if not is_image_file(p)]


def pair_folders(ir_dir: str | Path, vis_dir: str | Path) -> list[tuple[Path, Path]]:
    """Pair images of two folders by file stem (``ir/3.png`` ↔ ``vi/3.jpg``), in natural order.

    Raises :class:`PairingError` listing every file that has no partner, and every stem that
    names two images of one folder (``ir/10.jpg`` and ``ir/10.png``: which one to pair is a guess).
    """
    ir_imgs, _ = list_images(ir_dir)
    vis_imgs, _ = list_images(vis_dir)
    ambiguous = []
    for folder, imgs in ((ir_dir, ir_imgs), (vis_dir, vis_imgs)):
        by_stem: dict[str, list[str]] = {}
        for p in imgs:
            by_stem.setdefault(p.stem, []).append(p.name)
        ambiguous += [", ".join(names) + f" in {folder}" for stem, names in by_stem.items() if len(names) > 1]
    if ambiguous:
        raise PairingError("ambiguous pairs (one name, several images): " + "; ".join(ambiguous))
    ir_by, vis_by = {p.stem: p for p in ir_imgs}, {p.stem: p for p in vis_imgs}
    only_ir = sorted(set(ir_by) - set(vis_by))
    only_vis = sorted(set(vis_by) - set(ir_by))
    if only_ir or only_vis:
        parts = []
        if only_ir:
            parts.append(f"only in {ir_dir}: " + ", ".join(ir_by[s].name for s in only_ir))
        if only_vis:
            parts.append(f"only in {vis_dir}: " + ", ".join(vis_by[s].name for s in only_vis))
        raise PairingError("unpaired files: " + "; ".join(parts))
    if not ir_by:
        raise PairingError(f"no images in {ir_dir} and {vis_dir}")
    return [(ir_by[s], vis_by[s]) for s in sorted(ir_by, key=natural_key)]


def natural_key(name: str) -> tuple:
    """Sort key that puts ``2`` before ``10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


def check_output_apart(out_dir: str | Path, inputs: dict[str, str | Path]) -> None:
    """Refuse an output folder that is, lies inside or contains an input folder, or is the folder of
    an input file.

    ``inputs`` maps the option name to its path, for the message. Written files could otherwise
    replace inputs of the same name.
    """
    out = Path(out_dir).resolve()
    for option, path in inputs.items():
        folder = Path(path).resolve()
        nested = folder.is_dir()  # a single input file is only at risk when written next to itself
        folder = folder if nested else folder.parent
        if out == folder or (nested and (folder in out.parents or out in folder.parents)):
            relation = "is" if out == folder else ("is inside" if folder in out.parents else "contains")
            raise ConfigError(f"--out {out_dir} {relation} the folder of {option} {path}: outputs could overwrite inputs; choose another --out")
