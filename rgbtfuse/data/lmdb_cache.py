"""An LMDB cache of pysot-style context crops of both modalities, and its index.

Layout of ``OUT/``: ``crops.lmdb/`` (the LMDB) and ``index.json``. LMDB keys:

* ``<seq>/<frame:06d>/rgb`` and ``.../ir``: one crop each. Value ``b"R" + <HHB h w c> + pixels``
  (``codec: raw``; a crop whose three channels are equal, e.g. a thermal frame, is stored as one
  channel) or ``b"J" + JPEG`` (``codec: jpeg``, ~10x smaller, decoded on read);
* ``__params__``: the crop options (a resumed build must use the same);
* ``__done__/<seq>/<chunk>``: committed in the same transaction as the crops of that chunk of
  frames, with their boxes; a killed build resumes from the chunks without a marker;
* ``__crc__/<seq>/<chunk>``: the CRC-32 of every crop value of that chunk (``prepare --verify``
  finds bit flips). Before opening, the file size is checked against LMDB's header: a truncated
  file is reported by name instead of killing the reader with SIGBUS, and ``prepare`` rebuilds it.

``index.json`` (written last, atomically) lists every sequence with its cached frames and the
frame-space box ``x, y, w, h`` the crop was centred on; it depends only on the data and options,
so an interrupted-and-resumed build has the same index as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import lmdb
import numpy as np
from tqdm import tqdm

from rgbtfuse.atomic import atomic_write
from rgbtfuse.data.context_crop import context_crop
from rgbtfuse.data.datasets import open_dataset
from rgbtfuse.data.sequence import Sequence
from rgbtfuse.errors import ConfigError, DatasetLayoutError, RgbtfuseError
from rgbtfuse.imageio import check_same_size, read_image

FORMAT = "rgbtfuse-crops/1"
MODALITIES = ("rgb", "ir")
CHUNK = 16  # frames per transaction (the unit of resumption)
_RAW_HEAD = struct.Struct("<HHB")
PSEUDO_BOXES = ("random", "salient")


@dataclass(frozen=True)
class CropParams:
    instance_size: int = 511
    exemplar_size: int = 127
    context: float = 0.5
    codec: str = "raw"  # raw | jpeg
    jpeg_quality: int = 95
    every: int = 1  # keep every n-th annotated frame
    pseudo: str = "random"  # still pairs without boxes: random | salient (see pseudo_box / salient_box)

    def __post_init__(self) -> None:
        if self.codec not in ("raw", "jpeg"):
            raise ConfigError(f"codec must be 'raw' or 'jpeg', got {self.codec!r}")
        if self.pseudo not in PSEUDO_BOXES:
            raise ConfigError(f"pseudo must be one of {', '.join(PSEUDO_BOXES)}, got {self.pseudo!r}")
        if self.every < 1 or self.instance_size < self.exemplar_size:
            raise ConfigError(f"invalid crop options {self}")


# --- entry encoding --------------------------------------------------------------------------
def encode_crop(crop: np.ndarray, params: CropParams) -> bytes:
    if crop.ndim == 3 and np.array_equal(crop[..., 0], crop[..., 1]) and np.array_equal(crop[..., 0], crop[..., 2]):
        crop = crop[..., 0]  # gray in three channels: store once, lossless
    if params.codec == "jpeg":
        return b"J" + cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])[1].tobytes()
    h, w = crop.shape[:2]
    return b"R" + _RAW_HEAD.pack(h, w, 1 if crop.ndim == 2 else crop.shape[2]) + np.ascontiguousarray(crop).tobytes()


def decode_crop(value: bytes | memoryview) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR crop (one-channel entries are replicated); never a view of ``value``."""
    tag = bytes(value[:1])
    if tag == b"R":
        h, w, c = _RAW_HEAD.unpack(bytes(value[1 : 1 + _RAW_HEAD.size]))
        img = np.frombuffer(value, np.uint8, h * w * c, 1 + _RAW_HEAD.size).reshape(h, w, c)
        if c == 3:
            return img.copy()  # writable, and independent of the LMDB buffer (np.repeat below copies)
    elif tag == b"J":
        img = cv2.imdecode(np.frombuffer(value, np.uint8, offset=1), cv2.IMREAD_UNCHANGED)
        img = img[..., None] if img.ndim == 2 else img
    else:
        raise DatasetLayoutError(f"crop cache entry has unknown codec tag {tag!r}")
    return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2BGR) if img.shape[2] == 1 else img  # 10x faster than np.repeat


# --- planning ---------------------------------------------------------------------------------
def _frame_key(seq: str, frame: int, modality: str) -> bytes:
    return f"{seq}/{frame:06d}/{modality}".encode()


def _done_key(seq: str, chunk: int) -> bytes:
    return f"__done__/{seq}/{chunk:06d}".encode()


def _crc_key(seq: str, chunk: int) -> bytes:
    """``{crop key: crc32 of its stored value}`` of one chunk, so that --verify finds bit flips."""
    return f"__crc__/{seq}/{chunk:06d}".encode()


@dataclass
class _Chunk:
    seq: str
    index: int
    frames: list[int]
    rgb: list[str]
    ir: list[str]
    boxes: list[list[float] | None]  # None: pseudo target drawn from the image (no ground truth)


def _plan(seq: Sequence, params: CropParams) -> list[_Chunk]:
    if seq.valid.any():
        frames = np.flatnonzero(seq.valid)[:: params.every].tolist()
        boxes = [seq.boxes[f].tolist() for f in frames]
    elif seq.static:
        frames = list(range(0, len(seq), params.every))
        boxes = [None] * len(frames)
    else:
        return []
    return [
        _Chunk(
            seq.name, i // CHUNK, frames[i : i + CHUNK],
            [str(seq.rgb_frames[f]) for f in frames[i : i + CHUNK]],
            [str(seq.ir_frames[f]) for f in frames[i : i + CHUNK]],
            boxes[i : i + CHUNK],
        )
        for i in range(0, len(frames), CHUNK)
    ]


def pseudo_box(seq: str, frame_path: str, width: int, height: int) -> list[float]:
    """A target for still pairs without boxes: a region drawn from a generator seeded by the file name.

    Side 15-40 % of the image, anywhere inside it; deterministic, so rebuilds agree.
    """
    rng = np.random.default_rng(zlib.crc32(f"{seq}/{Path(frame_path).name}".encode()))
    w, h = (rng.uniform(0.15, 0.4, 2) * (width, height)).round()
    x, y = rng.uniform(0, 1, 2) * (width - w, height - h)
    return [float(round(x)), float(round(y)), float(w), float(h)]


def salient_box(seq: str, frame_path: str, rgb: np.ndarray, ir: np.ndarray) -> list[float]:
    """A target for still pairs without boxes: a warm, compact blob (a car, a pedestrian) in the IR image.

    Saliency = how much warmer each pixel is than its surroundings: the IR gray image (lightly
    smoothed, σ 1.5) minus a Gaussian background of σ = 1/8 of the shorter side, clipped at 0.
    Thresholded at its 95th percentile (and at least 15 gray levels), the connected components
    (after a 7×7 closing) whose area is 0.3-15 % of the image, aspect 1/3-3 and fill ≥ 0.35 of
    their box, not touching the border, are ranked by mean saliency × √area; a generator seeded
    by the file name picks one of the best two (so rebuilds agree), and the box is grown by 10 %
    per side. The visible image is not used (``rgb`` only names the pair). Falls back to
    :func:`pseudo_box` when no component qualifies.
    """
    del rgb
    height, width = ir.shape[:2]
    rng = np.random.default_rng(zlib.crc32(f"salient/{seq}/{Path(frame_path).name}".encode()))
    gray = cv2.GaussianBlur((cv2.cvtColor(ir, cv2.COLOR_BGR2GRAY) if ir.ndim == 3 else ir).astype(np.float32), (0, 0), 1.5)
    saliency = np.maximum(gray - cv2.GaussianBlur(gray, (0, 0), min(width, height) / 8), 0)
    mask = (saliency >= max(float(np.percentile(saliency, 95)), 15.0)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    candidates = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if not 0.003 * width * height <= area <= 0.15 * width * height or not 1 / 3 <= w / h <= 3 or area < 0.35 * w * h:
            continue
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue
        candidates.append((float(saliency[labels == k].mean()) * area**0.5, x, y, w, h))
    if not candidates:
        return pseudo_box(seq, frame_path, width, height)
    candidates.sort(reverse=True)
    _, x, y, w, h = candidates[int(rng.integers(min(2, len(candidates))))]
    x0, y0 = max(0.0, x - 0.1 * w), max(0.0, y - 0.1 * h)
    x1, y1 = min(float(width), x + 1.1 * w), min(float(height), y + 1.1 * h)
    return [float(round(x0)), float(round(y0)), float(round(x1 - x0)), float(round(y1 - y0))]


def _crop_chunk(task: tuple[_Chunk, CropParams]) -> tuple[_Chunk, list[list[float]], dict[bytes, bytes]] | tuple[type, str]:
    """Crops of one chunk; a bad frame is returned as ``(error class, message)`` rather than
    raised, because our errors do not survive pickling back from a worker process."""
    try:
        return _crop_frames(*task)
    except RgbtfuseError as exc:
        return type(exc), str(exc)


def _raise(error: tuple[type, str]) -> None:
    exc = error[0].__new__(error[0])
    Exception.__init__(exc, error[1])
    raise exc


def _crop_frames(chunk: _Chunk, params: CropParams) -> tuple[_Chunk, list[list[float]], dict[bytes, bytes]]:
    entries: dict[bytes, bytes] = {}
    boxes = []
    for frame, rgb_path, ir_path, box in zip(chunk.frames, chunk.rgb, chunk.ir, chunk.boxes):
        rgb, ir = read_image(rgb_path), read_image(ir_path)
        check_same_size(rgb_path, rgb, ir_path, ir, "the RGB and IR frames must be registered to share one box")
        if box is None and params.pseudo == "salient":
            box = salient_box(chunk.seq, rgb_path, rgb, ir)
        elif box is None:
            box = pseudo_box(chunk.seq, rgb_path, rgb.shape[1], rgb.shape[0])
        boxes.append(box)
        for modality, image in (("rgb", rgb), ("ir", ir)):
            crop = context_crop(image, box, params.instance_size, params.exemplar_size, params.context)
            entries[_frame_key(chunk.seq, frame, modality)] = encode_crop(crop, params)
    return chunk, boxes, entries


# --- building ---------------------------------------------------------------------------------
#: LMDB's meta pages (pages 0 and 1) on 64-bit builds: magic and version, then the free and main
#: DB records (48 bytes each; the free DB's first field holds the page size), last page, txn id
_META = struct.Struct("<16xII8x8xI44x48xQQ")
_LMDB_MAGIC = 0xBEEFC0DE


def check_lmdb_file(env_dir: Path) -> None:
    """Raise :class:`DatasetLayoutError` unless ``env_dir/data.mdb`` holds every page its header uses.

    LMDB memory-maps the file: reading a page past the end of a truncated file is a SIGBUS that
    kills the process, so the size is checked against the newest meta page before opening.
    """
    data = env_dir / "data.mdb"
    try:
        size = data.stat().st_size
        with open(data, "rb") as fh:
            head = fh.read(2 * 65536)
    except OSError as exc:
        raise DatasetLayoutError(f"{data}: cannot be read ({exc.strerror})") from exc
    metas = []  # (txn id, page size, last page) of each valid meta page; the newest one counts
    offset = 0
    while offset + _META.size <= len(head):
        magic, _version, page_size, last_page, txn = _META.unpack_from(head, offset)
        if magic != _LMDB_MAGIC or page_size < 512 or (offset and offset != page_size):
            break
        metas.append((txn, page_size, last_page))
        if offset:
            break
        offset = page_size  # the second meta page
    if not metas:
        raise DatasetLayoutError(f"{data}: not an LMDB file (no valid header); delete {env_dir.parent} and rebuild it with rgbtfuse prepare")
    _txn, page_size, last_page = max(metas)
    needed = (last_page + 1) * page_size
    if size < needed:
        raise DatasetLayoutError(f"{data}: truncated ({size} bytes, its header needs {needed}); run rgbtfuse prepare again to rebuild it")


def _params_dict(params: CropParams) -> dict:
    """The stored crop options; the default ``pseudo: random`` is left out, so caches built before
    the option existed stay valid."""
    out = asdict(params)
    if out["pseudo"] == "random":
        del out["pseudo"]
    return out


def _open_env(path: Path, map_size: int, readonly: bool = False) -> lmdb.Environment:
    return lmdb.open(str(path), map_size=map_size, readonly=readonly, lock=not readonly, readahead=False, meminit=False, max_dbs=0)


_READERS: dict[tuple[int, str], lmdb.Environment] = {}  # (pid, path) → read-only env (LMDB allows one per process)


def _reader_env(path: Path) -> lmdb.Environment:
    key = (os.getpid(), str(path.resolve()))
    if key not in _READERS:
        for inherited in [k for k in _READERS if k[1] == key[1]]:  # opened by the parent before a fork
            _READERS.pop(inherited).close()
        check_lmdb_file(path)
        _READERS[key] = _open_env(path, 0, readonly=True)
    return _READERS[key]


def _close_reader(path: Path) -> None:
    env = _READERS.pop((os.getpid(), str(path.resolve())), None)
    if env is not None:
        env.close()


def _estimate_bytes(n_frames: int, params: CropParams) -> int:
    per_frame = 2 * params.instance_size**2 * 3 // (10 if params.codec == "jpeg" else 1)
    return int(n_frames * per_frame * 1.2) + (64 << 20)


def _commit(env: lmdb.Environment, items: dict[bytes, bytes]) -> None:
    while True:
        try:
            with env.begin(write=True) as txn:
                for k, v in items.items():
                    txn.put(k, v)
            return
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)


def build_cache(
    dataset: str,
    root: str | Path,
    out: str | Path,
    params: CropParams = CropParams(),
    workers: int = 0,
    list_file: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Crop every annotated frame of ``dataset`` at ``root`` into ``out``; resumes a partial build.

    Returns the index (also written to ``out/index.json``).
    """
    ds = open_dataset(dataset, root, list_file)
    sequences = list(ds)
    plans = {s.name: _plan(s, params) for s in sequences}
    n_frames = sum(len(c.frames) for chunks in plans.values() for c in chunks)
    if n_frames == 0:
        raise DatasetLayoutError(f"{root}: no annotated frames to crop in {dataset}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _close_reader(out / "crops.lmdb")
    if (out / "crops.lmdb" / "data.mdb").is_file():
        try:
            check_lmdb_file(out / "crops.lmdb")
        except DatasetLayoutError:  # corrupt: its crops cannot be trusted, rebuild from scratch
            shutil.rmtree(out / "crops.lmdb")
            (out / "index.json").unlink(missing_ok=True)
    env = _open_env(out / "crops.lmdb", _estimate_bytes(n_frames, params))
    try:
        params_json = json.dumps({"dataset": dataset, **_params_dict(params)}, sort_keys=True).encode()
        with env.begin() as txn:
            stored = txn.get(b"__params__")
        if stored is not None and stored != params_json:
            raise ConfigError(f"{out}: holds crops made with {stored.decode()}; use these options or a new --out")
        _commit(env, {b"__params__": params_json})
        with env.begin() as txn:
            pending = [c for chunks in plans.values() for c in chunks if txn.get(_done_key(c.seq, c.index)) is None]
        bar = tqdm(total=n_frames, initial=n_frames - sum(len(c.frames) for c in pending), unit="frame",
                   desc=f"prepare {dataset}", disable=not progress)
        tasks = ((c, params) for c in pending)
        with get_context().Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
            for result in pool.imap_unordered(_crop_chunk, tasks) if pool else map(_crop_chunk, tasks):
                if len(result) == 2:
                    _raise(result)
                _write_chunk(env, *result)
                bar.update(len(result[0].frames))
        bar.close()
        index = _assemble_index(env, dataset, sequences, plans, params)
    finally:
        env.close()
    atomic_write(out / "index.json", lambda tmp: tmp.write_text(json.dumps(index, indent=1)))
    return index


def _write_chunk(env: lmdb.Environment, chunk: _Chunk, boxes: list[list[float]], entries: dict[bytes, bytes]) -> None:
    marker = json.dumps([[f, *b] for f, b in zip(chunk.frames, boxes)]).encode()
    crcs = json.dumps({k.decode(): zlib.crc32(v) for k, v in entries.items()}).encode()
    _commit(env, {**entries, _crc_key(chunk.seq, chunk.index): crcs, _done_key(chunk.seq, chunk.index): marker})


def _assemble_index(env: lmdb.Environment, dataset: str, sequences: list[Sequence], plans: dict, params: CropParams) -> dict:
    entries = []
    with env.begin() as txn:
        for seq in sequences:
            frames = []
            for chunk in plans[seq.name]:
                frames += json.loads(txn.get(_done_key(chunk.seq, chunk.index)))
            if frames:
                entries.append({"name": seq.name, "layout": seq.layout, "static": seq.static, "frames": frames})
    return {"format": FORMAT, "dataset": dataset, "params": _params_dict(params), "sequences": entries}


# --- reading / verification -------------------------------------------------------------------
class CropCache:
    """Read access to a built cache; safe to use from DataLoader workers (opened per process)."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        index_path = self.out / "index.json"
        if not index_path.is_file():
            raise DatasetLayoutError(f"{self.out}: no index.json (build it with `rgbtfuse prepare`, or it is unfinished)")
        self.index = json.loads(index_path.read_text())
        if self.index.get("format") != FORMAT:
            raise DatasetLayoutError(f"{index_path}: not a {FORMAT} index")
        self.params = CropParams(**self.index["params"])

    @property
    def env(self) -> lmdb.Environment:
        """The read-only LMDB, opened once per process (so DataLoader workers open their own)."""
        return _reader_env(self.out / "crops.lmdb")

    def get(self, seq: str, frame: int, modality: str) -> np.ndarray:
        with self.env.begin(buffers=True) as txn:  # decode straight from the memory map: one copy
            value = txn.get(_frame_key(seq, frame, modality))
            if value is None:
                raise DatasetLayoutError(f"{self.out}: crop {seq}/{frame}/{modality} missing from the LMDB")
            return decode_crop(value)

    def pair(self, seq: str, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb, ir)`` crops of one frame, ``(S, S, 3)`` uint8 each."""
        return self.get(seq, frame, "rgb"), self.get(seq, frame, "ir")


def iter_keys(out: str | Path) -> Iterator[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of a cache, in key order (for comparisons)."""
    with _reader_env(Path(out) / "crops.lmdb").begin() as txn:
        yield from txn.cursor()


def verify_cache(out: str | Path, progress: bool = True) -> dict:
    """Check that every indexed crop is present, matches its stored checksum and decodes to the
    right size; report counts."""
    cache = CropCache(out)
    size = cache.params.instance_size
    n = 0
    crcs = _prefixed(cache.env, b"__crc__/")
    expected = {k: v for chunk in crcs.values() for k, v in json.loads(chunk).items()}
    frames = [(s["name"], f[0]) for s in cache.index["sequences"] for f in s["frames"]]
    for seq, frame in tqdm(frames, desc="verify", unit="frame", disable=not progress):
        for modality in MODALITIES:
            key = _frame_key(seq, frame, modality)
            with cache.env.begin(buffers=True) as txn:
                value = txn.get(key)
                crc = None if value is None else zlib.crc32(value)
            if key.decode() in expected and crc is not None and crc != expected[key.decode()]:
                raise DatasetLayoutError(
                    f"{out}: crop {seq}/{frame}/{modality} is corrupt (checksum mismatch); run rgbtfuse prepare again to rebuild it"
                )
            crop = cache.get(seq, frame, modality)
            if crop.shape != (size, size, 3):
                raise DatasetLayoutError(f"{out}: crop {seq}/{frame}/{modality} is {crop.shape}, expected ({size}, {size}, 3)")
            n += 1
    with cache.env.begin() as txn:
        stored = txn.stat()["entries"]
        cursor = txn.cursor()
        n_done = 0
        if cursor.set_range(b"__done__/"):
            for key in cursor.iternext(keys=True, values=False):
                if not key.startswith(b"__done__/"):
                    break
                n_done += 1
    extra = stored - n - n_done - len(crcs) - 1
    if extra:
        raise DatasetLayoutError(f"{out}: the LMDB holds {extra} entries not in index.json")
    return {"sequences": len(cache.index["sequences"]), "frames": len(frames), "crops": n}


def _prefixed(env: lmdb.Environment, prefix: bytes) -> dict[bytes, bytes]:
    with env.begin() as txn:
        cursor = txn.cursor()
        found: dict[bytes, bytes] = {}
        if cursor.set_range(prefix):
            for key, value in cursor:
                if not key.startswith(prefix):
                    break
                found[key] = value
        return found
