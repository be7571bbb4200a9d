"""Which sequences a benchmark run covers, how they are split between machines, and the files it writes.

Per sequence the run writes (atomically, the box file last, so its presence marks the sequence done):

* ``<seq>.txt`` — one line per frame in the format the dataset's toolkit reads: GTOT's and
  RGBT234's eight corner values ``x1 y1 x2 y1 x2 y2 x1 y2`` (``x2 = x + w``, what their
  ``corner2rect.m`` expects), else ``x,y,w,h`` (LasHeR ``eval_tracker.m``, VTUAV ``rect``, VOT);
  the first frame holds the initialisation box; frames before it ``nan``;
* ``scores/<seq>.txt`` — the head's best score per frame; ``times/<seq>.txt`` — tracker ms per frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rgbtfuse.errors import ConfigError

# benchmark name -> rgbtfuse.data dataset name
DATASETS = {"gtot": "gtot", "rgbt234": "rgbt234", "lasher": "lasher", "vtuav": "vtuav", "vot": "vot-rgbt"}
CORNER_FORMAT = ("gtot", "rgbt234")
# --split NAME -> the sub-folder of the dataset root holding that split, where the dataset has one
SPLIT_FOLDERS = {"lasher": {"test": "testingset", "train": "trainingset"}, "vtuav": {"test": "test"}}


def parse_shard(text: str | None, env: dict[str, str] | None = None) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)``; without it ``RANK``/``WORLD_SIZE`` (torchrun, SLURM wrappers), else ``(0, 1)``."""
    env = os.environ if env is None else env
    if text is None:
        if "RANK" in env and "WORLD_SIZE" in env:
            text = f"{env['RANK']}/{env['WORLD_SIZE']}"
        else:
            return 0, 1
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N")
    return i, n


def split_root(dataset: str, root: Path, split: str | None) -> Path:
    """The folder of ``split`` under ``root`` (LasHeR ``testingset``, VTUAV ``test``) when it exists, else ``root``."""
    if split is None:
        return root
    folder = SPLIT_FOLDERS.get(dataset, {}).get(split)
    return root / folder if folder and (root / folder).is_dir() else root


def shard_names(names: list[str], shard: tuple[int, int]) -> list[str]:
    """Every N-th sequence from the I-th: shards are disjoint and together cover all sequences."""
    index, count = shard
    return names[index::count]


def result_lines(dataset: str, boxes: np.ndarray) -> str:
    """The ``<seq>.txt`` text for ``(N, 4)`` ``x, y, w, h`` boxes (NaN where not tracked)."""
    if dataset in CORNER_FORMAT:
        x1, y1 = boxes[:, 0], boxes[:, 1]
        x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
        rows, sep = np.column_stack([x1, y1, x2, y1, x2, y2, x1, y2]), " "
    else:
        rows, sep = boxes, ","
    return "".join(sep.join(f"{v:.4f}" for v in row) + "\n" for row in rows)


def values_lines(values: np.ndarray) -> str:
    return "".join(f"{v:.6f}\n" for v in values)
