"""Fast parsing of box files (commas, spaces or tabs, like MATLAB's ``dlmread``) with ``file:line`` errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgbtfuse.errors import RgbtfuseError

def read_rows(path: Path, allowed: tuple[int, ...], error: type[RgbtfuseError], what: str) -> np.ndarray:
    """``(N, C)`` float64 rows of ``path`` (blank lines skipped); every row must have the same ``C`` in ``allowed``.

    ``error(message)`` is raised naming ``path:line`` for a line that is not numbers or has a
    different number of values; ``what`` names the kind of file in the message.
    """
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    tokens = [line.split() for line in text.replace(",", " ").splitlines()]
    widths = [len(t) for t in tokens]
    ncol = next((w for w in widths if w), 0)
    if ncol == 0:
        raise error(f"{path}: empty {what}")
    if ncol not in allowed:
        first = next(i for i, w in enumerate(widths) if w) + 1
        raise error(f"{path}:{first}: expected {' or '.join(map(str, allowed))} values per line, got {ncol}")
    values = None
    if all(w == ncol or not w for w in widths):
        try:
            values = np.array([v for t in tokens for v in t], dtype=np.float64).reshape(-1, ncol)
        except ValueError:
            pass
    if values is None:
        for lineno, (line, t, w) in enumerate(zip(text.splitlines(), tokens, widths), 1):
            if not w:
                continue
            if w != ncol:
                raise error(f"{path}:{lineno}: {w} values but the first line has {ncol}: {line.strip()!r}")
            try:
                [float(v) for v in t]
            except ValueError:
                raise error(f"{path}:{lineno}: not a list of numbers: {line.strip()!r}") from None
        raise error(f"{path}: cannot be read as rows of numbers")
    return values
