"""TraX server: N initialisations in one process vs one process per initialisation.

The toolkit's multistart experiment initialises the tracker once per anchor; a server that must
be restarted for each (``restart = true`` in trackers.ini, or a server that cannot re-initialise)
pays interpreter start, imports and model loading every time. This drives
``python -m rgbtfuse.trackers.vot.trax_server`` with a TraX client both ways, on the same frames
(``../shared/data/rgbt/vtuav_bus1`` converted to VOT), interleaved, and prints JSON.

    python benchmarks/vot_restart.py --builtin static
    python benchmarks/vot_restart.py --config experiments/nanotrack_v2_add.yaml \
        --weights ../shared/weights/nanotrack/pretrained/nanotrackv2.pth --runs 12 --frames 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rgbtfuse.data import load_sequence  # noqa: E402
from rgbtfuse.data.vot_writer import write_vot_sequence  # noqa: E402


class Server:
    def __init__(self, args: list[str]):
        from trax.client import Client

        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-m", "rgbtfuse.trackers.vot.trax_server", *args], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.client = Client(stream=(self.proc.stdin.fileno(), self.proc.stdout.fileno()), log=lambda _: None)

    def run(self, frames: list[dict], box) -> None:
        from trax.image import FileImage
        from trax.region import Rectangle

        images = [{c: FileImage.create(str(p)) for c, p in f.items()} for f in frames]
        self.client.initialize(images[0], [(Rectangle.create(*box), {})], {})
        for image in images[1:]:
            self.client.frame(image, {}, [])

    def close(self) -> None:
        self.client.quit()
        self.proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builtin", choices=("oracle", "static"))
    parser.add_argument("--config")
    parser.add_argument("--weights")
    parser.add_argument("--runs", type=int, default=12, help="initialisations")
    parser.add_argument("--frames", type=int, default=5, help="frames per run, initialisation included")
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "rgbt" / "vtuav_bus1")
    args = parser.parse_args()
    server_args = ["--builtin", args.builtin] if args.builtin else ["--config", args.config, "--device", "cpu"]
    if args.weights:
        server_args += ["--weights", args.weights]

    with tempfile.TemporaryDirectory() as tmp:
        seq = load_sequence(args.source)
        folder = write_vot_sequence(seq, Path(tmp), link=True)
        n = len(seq)
        frames = [{"color": folder / "color" / f"{i + 1:08d}.jpg", "ir": folder / "ir" / f"{i + 1:08d}.jpg"} for i in range(n)]
        box = tuple(seq.boxes[seq.first_valid()])
        starts = [seq.first_valid()] * args.runs
        timings = {"one_process": [], "process_per_init": []}
        for _ in range(2):  # interleaved repeats
            t0 = time.perf_counter()
            server = Server(server_args)
            for s in starts:
                server.run(frames[s:s + args.frames], box)
            server.close()
            timings["one_process"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for s in starts:
                server = Server(server_args)
                server.run(frames[s:s + args.frames], box)
                server.close()
            timings["process_per_init"].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in timings.items()}
    print(json.dumps({
        "tracker": args.builtin or Path(args.config).stem, "runs": args.runs, "frames_per_run": args.frames,
        "seconds_best_of_2": best, "restart_cost_ratio": best["process_per_init"] / best["one_process"],
    }, indent=2))


if __name__ == "__main__":
    main()
