"""Fast parsing of box files (commas, spaces or tabs, like MATLAB's ``dlmread``) with ``file:line`` errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgbtfuse.errors import RgbtfuseError

_SEPARATORS = np.zeros(256, bool)
_SEPARATORS[[9, 10, 13, 32, 44]] = True  # tab, newline, carriage return, space, comma


def _tokens_per_line(raw: bytes) -> np.ndarray:
    """Number of values on each line, counted on the bytes (a value starts after a separator)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    sep = _SEPARATORS[b]
    start = ~sep
    start[1:] &= sep[:-1]
    # line breaks as str.splitlines() sees them: \n, \r\n, and a lone \r (some RGBT234 files have one)
    brk = b == 10
    brk[:-1] |= (b[:-1] == 13) & (b[1:] != 10)
    if b.size:
        brk[-1] |= b[-1] == 13
    line = np.cumsum(brk) - brk  # a break belongs to the line it ends
    return np.bincount(line[start], minlength=int(brk.sum()) + 1)


def read_rows(path: Path, allowed: tuple[int, ...], error: type[RgbtfuseError], what: str) -> np.ndarray:
    """``(N, C)`` float64 rows of ``path`` (blank lines skipped); every row must have the same ``C`` in ``allowed``.

    ``error(message)`` is raised naming ``path:line`` for a line that is not numbers or has a
    different number of values; ``what`` names the kind of file in the message.
    """
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    raw = path.read_bytes()
    widths = _tokens_per_line(raw)
    filled = np.flatnonzero(widths)
    if filled.size == 0:
        raise error(f"{path}: empty {what}")
    ncol = int(widths[filled[0]])
    if ncol not in allowed:
        raise error(f"{path}:{filled[0] + 1}: expected {' or '.join(map(str, allowed))} values per line, got {ncol}")
    text = raw.decode("utf-8", errors="replace")
    if (widths[filled] == ncol).all():
        try:
            values = np.fromstring(text.replace(",", " "), sep=" ")
        except ValueError:
            values = None
        if values is not None and values.size == filled.size * ncol:
            return values.reshape(-1, ncol)
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.replace(",", " ").split()
        if not tokens:
            continue
        if len(tokens) != ncol:
            raise error(f"{path}:{lineno}: {len(tokens)} values but the first line has {ncol}: {line.strip()!r}")
        try:
            [float(v) for v in tokens]
        except ValueError:
            raise error(f"{path}:{lineno}: not a list of numbers: {line.strip()!r}") from None
    raise error(f"{path}: cannot be read as rows of numbers")
