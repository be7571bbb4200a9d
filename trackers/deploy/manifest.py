"""``manifest.json`` of an exported model folder: what each file is, and its sha256.

Schema (format ``rgbtfuse-onnx``, version 1)::

    {"format": "rgbtfuse-onnx", "version": 1, "opset": 17,
     "model": "nanotrack" | "siamrpn", "mode": "rgb" | "ir" | "fused",
     "experiment": {...},                       # the experiment's model:/fusion: sections
     "track": {...},                            # TrackConfig fields (tracking hyper-parameters)
     "anchor": {...},                           # SiamRPN++ only: AnchorConfig fields
     "branches": {"template": {"file", "inputs": [{"name", "shape"}], "outputs": [...]},
                  "search":   {...}},
     "opencv": {"backbone": FILE, "neckhead": FILE},   # single-modality NanoTrack only
     "files": {FILE: {"sha256", "bytes"}},
     "verification": {BRANCH: max |onnxruntime - PyTorch| / max |PyTorch|}}

Reading parses JSON only (no code runs) and refuses a folder whose manifest is missing or
malformed, or any listed file that is missing or whose sha256 differs, naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rgbtfuse.atomic import atomic_write
from rgbtfuse.errors import WeightsError

FORMAT = "rgbtfuse-onnx"
VERSION = 1
MANIFEST = "manifest.json"
_REQUIRED = ("format", "version", "model", "mode", "track", "branches", "files")


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256(path), "bytes": path.stat().st_size}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``folder/manifest.json`` atomically (after every file it lists)."""
    text = json.dumps(manifest, indent=2) + "\n"
    return atomic_write(folder / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The checked manifest of a model folder; :class:`WeightsError` naming the bad file."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise WeightsError(f"{path}: not found — {folder} is not an exported model folder (rgbtfuse export --out)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise WeightsError(f"{path}: not an rgbtfuse ONNX manifest (format {FORMAT!r} expected)")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise WeightsError(f"{path}: missing keys {missing}")
    if manifest["version"] != VERSION:
        raise WeightsError(f"{path}: manifest version {manifest['version']!r}, this rgbtfuse reads version {VERSION}")
    files = manifest["files"]
    listed = {b.get("file") for b in manifest["branches"].values()} | set((manifest.get("opencv") or {}).values())
    unlisted = sorted(str(f) for f in listed if f not in files)
    if unlisted:
        raise WeightsError(f"{path}: files {unlisted} are used but have no sha256 entry")
    for name, entry in files.items():
        target = folder / name
        if Path(name).name != name:
            raise WeightsError(f"{path}: file name {name!r} must be a plain name inside the folder")
        if not target.is_file():
            raise WeightsError(f"{target}: listed in {MANIFEST} but missing")
        digest = sha256(target)
        if digest != entry.get("sha256"):
            raise WeightsError(f"{target}: sha256 {digest} does not match {MANIFEST} ({entry.get('sha256')}): the file was altered or truncated")
    return manifest
