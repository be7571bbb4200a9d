"""Process-wide settings for CPU inference.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves blocks above its mmap
threshold (≤ 32 MB) with fresh ``mmap`` pages and unmaps them on ``free``, so every large feature
map of every image is page-faulted and zeroed by the kernel again: a 50 MB tensor costs ~16 ms of
page faults on this project's 2-core reference machine, about as much as a 64-channel 3×3
convolution over it. :func:`retain_freed_memory` keeps freed blocks in the heap for reuse (the
effect PyTorch's CPU tuning guide gets from jemalloc/tcmalloc). The ``rgbtfuse`` command calls it;
library users call it once at start-up. Set ``RGBTFUSE_RETAIN_FREED_MEMORY=0`` to opt out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap. Larger ones stay mmap-ed: retaining them too saves
#: little more time (768×576: 2.31 s vs 2.23 s per NestFuse pair) but fragments the heap
#: (before the decoder ran in row bands, NestFuse at 1024×1024: 3.4 GB peak RSS, 4.5 GB with a 1 GiB
#: threshold, 3.2 GB untuned)
MMAP_THRESHOLD = 128 << 20
#: free heap memory above this is returned to the system; below it is kept for the next image
TRIM_THRESHOLD = (1 << 31) - 1  # mallopt takes a C int

_retained = False


def retain_freed_memory() -> bool:
    """Keep freed tensor memory in the process heap (glibc); returns whether it is in effect.

    Peak memory is unchanged; the resident size stays near the peak instead of dropping after
    each image. A no-op (``False``) on other C libraries, or with ``RGBTFUSE_RETAIN_FREED_MEMORY=0``.
    """
    global _retained
    if _retained:
        return True
    if os.environ.get("RGBTFUSE_RETAIN_FREED_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _retained = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _retained


#: torch CPU threads of the ``rgbtfuse`` commands unless ``--threads`` says otherwise. On a shared
#: 2-core machine (load average ≈ 4.5 from other jobs) NanoTrack v2 fused tracking of bus1 at 1080p
#: ran at 22 ms/frame with 1 thread and 333 ms/frame with 2 (36 vs 972 ms/frame with one more
#: busy process): OpenMP threads spin at every layer while their sibling is descheduled. One
#: thread also makes every run of a command use the same float summation order.
DEFAULT_THREADS = 1


_MANAGED = {"threads": False}


def threads_managed() -> bool:
    """Whether the process handed torch's thread count to rgbtfuse (:func:`set_threads` was called):
    only then may library code switch it for a moment (nuclear-norm pooling's LAPACK calls)."""
    return _MANAGED["threads"]


def set_threads(threads: int | None = None) -> int:
    """Opt-in: set torch's CPU thread count (``None``: :data:`DEFAULT_THREADS`); returns it.

    Process-wide, so only the command line (or a library user, once at start-up) calls it; it
    also lets library code run LAPACK single-threaded inside a call (:func:`threads_managed`).
    """
    from rgbtfuse.errors import ConfigError

    n = DEFAULT_THREADS if threads is None else int(threads)
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    import torch  # here: commands that never compute start without torch

    torch.set_num_threads(n)
    _MANAGED["threads"] = True
    return n
