"""``rgbtfuse vot init|run``: VOT toolkit workspaces for rgbtfuse trackers, and their EAO/A/R table."""

from __future__ import annotations

import argparse
from pathlib import Path

from rgbtfuse.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    from rgbtfuse.trackers.vot.workspace import LOCAL_STACKS

    init = sub.add_parser("init", help="write config.yaml, trackers.ini and the stack of a VOT workspace")
    init.add_argument("--workspace", type=Path, required=True, help="workspace folder (created)")
    init.add_argument("--stack", required=True,
                      help=f"local stack ({', '.join(LOCAL_STACKS)}), a stack .yaml file, or an official toolkit "
                           "stack id such as vot2020/rgbtir (downloads its dataset; needs the network)")
    init.add_argument("--sequences", type=Path,
                      help="folder of VOT sequences with list.txt (from `rgbtfuse convert --to vot`); never downloaded")
    init.add_argument("--tracker", action="append", default=[], metavar="[NAME=]SPEC",
                      help="EXP.yaml[:WEIGHTS], or a test tracker: oracle (ground truth), static (never moves); repeatable")
    init.add_argument("--device", default="auto", help="device for the experiment trackers (auto, cpu, cuda)")
    init.add_argument("--mode", choices=("rgb", "ir", "fused", "decision"), help="modality override for every tracker")
    init.add_argument("--timeout", type=int, default=120, help="seconds the toolkit waits for a tracker reply")
    init.add_argument("--force", action="store_true", help="rewrite an existing workspace's config and trackers")

    run = sub.add_parser("run", help="vot evaluate + analysis + report, then print the EAO/A/R table")
    run.add_argument("--workspace", type=Path, required=True)
    run.add_argument("--tracker", action="append", default=None, metavar="NAME", help="only these trackers")
    run.add_argument("--force", action="store_true", help="re-run every tracker even if its results exist")
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")


def run(args: argparse.Namespace) -> int:
    if args.action == "init":
        from rgbtfuse.trackers.vot.workspace import TrackerSpec, init_workspace

        if args.timeout < 1:
            raise ConfigError("--timeout must be >= 1 second")
        specs = [TrackerSpec.parse(t) for t in args.tracker]
        ws = init_workspace(args.workspace, args.stack, args.sequences, specs, device=args.device,
                            mode=args.mode, timeout=args.timeout, force=args.force)
        print(f"VOT workspace ready: {ws} (trackers: {', '.join(s.name for s in specs)})")
        print(f"next: rgbtfuse vot run --workspace {ws}")
        return 0
    from rgbtfuse.trackers.vot.run import run_workspace

    summary = run_workspace(args.workspace, args.tracker, force=args.force, report=not args.no_report)
    print(summary["markdown"])
    print(f"written: {Path(summary['workspace']) / 'rgbtfuse_results.md'} and .json")
    if summary["report"]:
        print(f"HTML report: {summary['report']}")
    return 0
