"""Speed of the full metric suite on the 40 TNO pairs, with DIDFuse's published outputs as the fused set.

Prints JSON: wall time of the whole suite with ``--workers`` processes (goal: < 60 s on 2 cores),
CPU seconds per metric summed over the pairs, and the means next to DIDFuse's TNO table row.

    python benchmarks/metrics_speed.py [--workers 2] [--metrics en mi ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rgbtfuse.imageio import read_image  # noqa: E402
from rgbtfuse.metrics import METRICS  # noqa: E402

SHARED = ROOT.parent / "shared"
TNO = SHARED / "data/fusion/tno40"
DIDFUSE = SHARED / "reference/didfuse_tno40"
# DIDFuse paper, Table 4 (TNO): EN, MI, SD, SF, VIF, AG
PAPER = {"en": 7.006, "mi": 2.347, "ag": 4.294}


def _time_pair(task: tuple[str, list[str]]) -> dict[str, tuple[float, float]]:
    stem, names = task
    ir = read_image(TNO / "ir" / f"{stem}.png", "gray")
    vis = read_image(TNO / "vi" / f"{stem}.png", "gray")
    fused = read_image(DIDFUSE / f"{stem}.png", "gray")
    out = {}
    for n in names:
        t0 = time.process_time()
        value = METRICS[n].fn(fused, ir, vis)
        out[n] = (value, time.process_time() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    args = parser.parse_args()
    if not TNO.is_dir() or not DIDFUSE.is_dir():
        sys.exit(f"needs {TNO} and {DIDFUSE} (../shared next to the repository)")
    stems = [str(k) for k in range(1, 41)]  # DIDFuse saved pair k of Test_data_TNO (IRk/VISk) as Fk
    tasks = [(s, args.metrics) for s in stems]
    # load pyrtools/pywt once per worker before timing (their import is not metric time)
    _time_pair(("1", ["vif", "fmi_w"]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(_time_pair, tasks))
    wall = time.perf_counter() - t0
    means = {n: sum(r[n][0] for r in results) / len(results) for n in args.metrics}
    cpu = {n: round(sum(r[n][1] for r in results), 2) for n in args.metrics}
    report = {
        "pairs": len(results),
        "pixels": sum(read_image(TNO / "ir" / f"{s}.png", "gray").size for s in stems),
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "wall_s": round(wall, 2),
        "goal_wall_s": 60,
        "cpu_s_per_metric": cpu,
        "cpu_s_total": round(sum(cpu.values()), 2),
        "mean": {n: round(v, 4) for n, v in means.items()},
        "didfuse_paper_tno": {n: {"paper": v, "measured": round(means[n], 4)} for n, v in PAPER.items() if n in means},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
