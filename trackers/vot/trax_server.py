"""TraX server (vot-trax 4) running any experiment yaml or a built-in test tracker.

    python -m rgbtfuse.trackers.vot.trax_server --config experiments/nanotrack_v2_add.yaml --weights W.pth
    python -m rgbtfuse.trackers.vot.trax_server --model runs/nanotrack_v2_l1_onnx   # rgbtfuse export output (onnxruntime)
    python -m rgbtfuse.trackers.vot.trax_server --builtin oracle

The model is built once per process; every ``initialize`` request re-initialises the same
tracker, so the toolkit's multistart runs (many initialisations per sequence) do not pay for a
process restart and a model load each time. Rectangle and polygon regions are accepted
(polygons become axis-aligned boxes, pysot's convention); each reply carries a ``confidence``
property. A region that cannot be used (empty, non-finite, a mask) gets an error reply — an
empty region with an ``error`` property — and the session goes on; frames before a successful
initialisation get the same, and so does a frame whose image is missing or corrupt or whose RGB and
IR sizes differ (the reason also goes to stderr, the toolkit's log). Anything else that goes wrong
ends the session with the reason, which the toolkit writes to its log.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rgbtfuse.errors import RgbtfuseError
from rgbtfuse.runtime import DEFAULT_THREADS, retain_freed_memory, set_threads
from rgbtfuse.trackers.vot.frame_trackers import BUILTIN, CHANNELS_BY_MODE, FrameTracker, load_experiment_tracker, load_onnx_tracker
from rgbtfuse.trackers.vot.regions import Box, RegionError, checked_box, polygon_to_box


def region_to_box(region) -> Box:
    """``(x, y, w, h)`` of a TraX rectangle or polygon; :class:`RegionError` otherwise."""
    from trax import Region

    if region.type == Region.RECTANGLE:
        return checked_box(*region.bounds())
    if region.type == Region.POLYGON:
        return polygon_to_box([region.get(i) for i in range(region.size())])
    raise RegionError(f"unsupported region type {region.type!r} (rectangle or polygon expected)")


def _reply_region(box: Box | None):
    from trax import Rectangle

    # "no target" is an empty rectangle: the toolkit rejects special regions from a tracker
    return Rectangle.create(0, 0, 0, 0) if box is None else Rectangle.create(*box)


def serve(tracker: FrameTracker) -> None:
    """Answer TraX requests on stdin/stdout (or ``TRAX_SOCKET``) until the client quits."""
    from trax import Image, Region, Server, TraxStatus

    ready = False
    with Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH], list(tracker.channels),
                tracker_name=tracker.name, tracker_family="rgbtfuse") as server:
        while True:
            request = server.wait()
            if request.type == TraxStatus.QUIT:
                break
            frames = {channel: Path(image.path()) for channel, image in request.image.items()}
            missing = [c for c in tracker.channels if c not in frames]
            if request.type == TraxStatus.INITIALIZE:
                ready = False
                try:
                    if missing:
                        raise RegionError(f"the request has no {', '.join(missing)} image")
                    if len(request.objects) != 1:
                        raise RegionError(f"expected one object to track, got {len(request.objects)}")
                    box = region_to_box(request.objects[0][0])
                    tracker.init(frames, box)
                except (RegionError, RgbtfuseError) as exc:
                    print(f"trax_server: initialisation rejected: {exc}", file=sys.stderr, flush=True)
                    server.status([(_reply_region(None), {"error": str(exc)})])
                    continue
                ready = True
                server.status([(_reply_region(box), {"confidence": "1"})])
            elif not ready:
                server.status([(_reply_region(None), {"error": "not initialised"})])
            else:
                try:
                    if missing:
                        raise RegionError(f"the request has no {', '.join(missing)} image")
                    box, confidence = tracker.track(frames)
                except (RegionError, RgbtfuseError) as exc:  # a bad frame: reported, the session goes on
                    print(f"trax_server: frame rejected: {exc}", file=sys.stderr, flush=True)
                    server.status([(_reply_region(None), {"error": str(exc)})])
                    continue
                server.status([(_reply_region(box), {"confidence": f"{confidence:.6f}"})])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rgbtfuse.trackers.vot.trax_server", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", type=Path, help="experiment yaml (built with rgbtfuse.trackers.builder.build_tracker)")
    which.add_argument("--model", type=Path, help="exported model folder (rgbtfuse export), run by onnxruntime")
    which.add_argument("--builtin", choices=sorted(BUILTIN), help="a test tracker: ground-truth oracle or static box")
    parser.add_argument("--weights", help="tracker checkpoint (overrides the yaml)")
    parser.add_argument("--fusion-weights", help="fusion-module checkpoint (overrides the yaml)")
    parser.add_argument("--mode", choices=sorted(CHANNELS_BY_MODE), help="rgb / ir / fused / decision (overrides the yaml)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--channels", choices=sorted(CHANNELS_BY_MODE), default="fused",
                        help="channels a built-in tracker declares (rgb: color, ir: ir, fused: both)")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"torch CPU threads (default: {DEFAULT_THREADS}, the fastest on a machine busy with other jobs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    retain_freed_memory()
    try:
        if not args.builtin:  # the built-in test trackers never compute (and start without torch)
            set_threads(args.threads)
        if args.builtin:
            tracker: FrameTracker = BUILTIN[args.builtin](CHANNELS_BY_MODE[args.channels])
        elif args.model:
            tracker = load_onnx_tracker(args.model, args.mode, args.device)
        else:
            tracker = load_experiment_tracker(args.config, args.weights, args.fusion_weights, args.mode, args.device)
    except RgbtfuseError as exc:
        print(f"trax_server: error: {exc}", file=sys.stderr)
        return 1
    serve(tracker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
