"""Peak resident memory of image-fusion inference vs image size; prints one JSON object.

Each (model, size, tile) runs in a fresh subprocess so ``ru_maxrss`` is that run's peak.
Random weights and images (memory does not depend on them).

    python benchmarks/fusion_memory.py --model lrrnet --sizes 360x270 768x576 2048x2048 --tile none 512
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: models that always fuse the whole image (global channel attention / pooling: no exact tiling)
UNTILED = ("nestfuse", "rfn_nest")

_CHILD = """
import resource, sys, time, numpy as np, torch
sys.path.insert(0, {root!r})
from rgbtfuse.image_fusion import create_model
from rgbtfuse.runtime import retain_freed_memory
retain_freed_memory()  # as the rgbtfuse command runs
m = create_model({model!r}{tile_arg})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rng = np.random.default_rng(0)
ir = rng.integers(0, 256, ({h}, {w}), dtype=np.uint8); vis = rng.integers(0, 256, ({h}, {w}), dtype=np.uint8)
t = time.perf_counter(); m.fuse_arrays(vis, ir); s = time.perf_counter() - t
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, s)
"""


def measure(model: str, w: int, h: int, tile: int | None) -> dict:
    tile_arg = "" if model in UNTILED else f", tile={tile}"
    code = _CHILD.format(root=str(ROOT), model=model, tile_arg=tile_arg, h=h, w=w)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    base_kb, peak_kb, seconds = int(out[0]), int(out[1]), float(out[2])
    return {"model": model, "size": f"{w}x{h}", "tile": tile, "peak_rss_mb": round(peak_kb / 1024),
            "import_rss_mb": round(base_kb / 1024), "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lrrnet")
    parser.add_argument("--sizes", nargs="+", default=["360x270", "768x576"], help="WxH")
    parser.add_argument("--tile", nargs="+", default=["none"], help="tile sides to try; 'none' = whole image")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        w, h = (int(v) for v in size.lower().split("x"))
        for tile in args.tile:
            rows.append(measure(args.model, w, h, None if tile == "none" else int(tile)))
    print(json.dumps({"benchmark": "fusion_memory", "results": rows}, indent=1))


if __name__ == "__main__":
    main()
