"""Reading training pairs from the LMDB crop cache vs decoding the same crops from JPEG files.

Builds the cache of a real source (default ``../shared/data/rgbt/vtuav_bus1``), writes the same
crops as pysot-style JPEG files (``crop511/<seq>/<frame>.<modality>.jpg``, thermal crops as
one-channel JPEG), then times reading the four crops of the same seeded list of training pairs
(template + search, RGB + IR) both ways, interleaved, and prints JSON. Both sides are warmed
up first, so the page cache holds both.

    python benchmarks/data_speed.py [--source ../shared/data/fusion/flir_train180 --dataset pairs]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.data.lmdb_cache import CropCache, CropParams, build_cache  # noqa: E402
from rgbtfuse.data.sampling import PairConfig, PairSampler, RGBTPairDataset  # noqa: E402


def _write_jpeg_crops(cache: CropCache, folder: Path) -> int:
    size = 0
    for seq in cache.index["sequences"]:
        (folder / seq["name"]).mkdir(parents=True, exist_ok=True)
        for frame, *_ in seq["frames"]:
            for modality, crop in zip(("rgb", "ir"), cache.pair(seq["name"], frame)):
                path = folder / seq["name"] / f"{frame:06d}.{modality}.jpg"
                cv2.imwrite(str(path), crop[..., 0] if modality == "ir" else crop)
                size += path.stat().st_size
    return size


def _read_jpeg(folder: Path, seq: str, frame: int) -> list[np.ndarray]:
    out = []
    for modality in ("rgb", "ir"):
        img = cv2.imread(str(folder / seq / f"{frame:06d}.{modality}.jpg"), cv2.IMREAD_UNCHANGED)
        out.append(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(REPO.parent / "shared/data/rgbt/vtuav_bus1"))
    parser.add_argument("--dataset", default="vtuav")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not Path(args.source).is_dir():
        sys.exit(f"source {args.source} not found (../shared next to the repository)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        build_cache(args.dataset, args.source, tmp / "raw", CropParams(codec="raw"), progress=False)
        build_s = time.perf_counter() - t0
        build_cache(args.dataset, args.source, tmp / "jpeg_lmdb", CropParams(codec="jpeg"), progress=False)
        caches = {"lmdb_raw": CropCache(tmp / "raw"), "lmdb_jpeg": CropCache(tmp / "jpeg_lmdb")}
        jpeg_bytes = _write_jpeg_crops(caches["lmdb_raw"], tmp / "crop511")

        sampler = PairSampler([caches["lmdb_raw"]], frame_range=100)
        rng = np.random.default_rng(0)
        names = [s["name"] for s in caches["lmdb_raw"].index["sequences"]]
        refs = [sampler.sample(int(rng.integers(len(sampler.units))), rng)[:2] for _ in range(args.pairs)]
        refs = [((names[t[1]], t[2]), (names[s[1]], s[2])) for t, s in refs]

        readers = {
            "lmdb_raw": lambda seq, f: caches["lmdb_raw"].pair(seq, f),
            "lmdb_jpeg": lambda seq, f: caches["lmdb_jpeg"].pair(seq, f),
            "jpeg_files": lambda seq, f: _read_jpeg(tmp / "crop511", seq, f),
        }
        times: dict[str, list[float]] = {k: [] for k in readers}
        for rep in range(args.repeats + 1):  # the first pass warms up
            for name, read in readers.items():
                t0 = time.perf_counter()
                for (ts, tf), (ss, sf) in refs:
                    read(ts, tf)
                    read(ss, sf)
                if rep:
                    times[name].append((time.perf_counter() - t0) / len(refs) * 1e3)
        ms = {k: statistics.median(v) for k, v in times.items()}

        ds = RGBTPairDataset([tmp / "raw"], PairConfig(neg=0.0, pairs_per_epoch=50), seed=0)
        t0 = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        sample_ms = (time.perf_counter() - t0) / len(ds) * 1e3

        lmdb_bytes = {k: (tmp / d / "crops.lmdb" / "data.mdb").stat().st_size for k, d in (("lmdb_raw", "raw"), ("lmdb_jpeg", "jpeg_lmdb"))}
        frames = sum(len(s["frames"]) for s in caches["lmdb_raw"].index["sequences"])
    print(json.dumps({
        "source": args.source,
        "frames": frames,
        "pairs": args.pairs,
        "build_s_raw": round(build_s, 2),
        "ms_per_pair": {k: round(v, 3) for k, v in ms.items()},
        "speedup_lmdb_raw_vs_jpeg_files": round(ms["jpeg_files"] / ms["lmdb_raw"], 2),
        "speedup_lmdb_jpeg_vs_jpeg_files": round(ms["jpeg_files"] / ms["lmdb_jpeg"], 2),
        "bytes_per_frame": {
            **{k: v // frames for k, v in lmdb_bytes.items()},
            "jpeg_files": jpeg_bytes // frames,
        },
        "augmented_sample_ms": round(sample_ms, 2),
    }, indent=1))


if __name__ == "__main__":
    main()
