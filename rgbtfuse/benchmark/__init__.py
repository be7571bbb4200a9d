"""Benchmark runs (``rgbtfuse test``): every sequence of a dataset through the tracking loop, toolkit-format results."""

from rgbtfuse.benchmark.plan import DATASETS, parse_shard, result_lines, shard_names
from rgbtfuse.benchmark.run import RunSummary, run_dataset

__all__ = ["DATASETS", "RunSummary", "parse_shard", "result_lines", "run_dataset", "shard_names"]
