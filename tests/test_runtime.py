"""rgbtfuse.runtime: freed tensor memory stays in the heap (no page faults for the next image)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning is glibc-only")

_PROBE = textwrap.dedent(
    """
    import resource, sys, torch
    from rgbtfuse.runtime import retain_freed_memory
    retained = retain_freed_memory()
    n = 48 << 18  # a 48 MB float32 tensor: above glibc's default mmap threshold
    faults = []
    for _ in range(24):  # glibc's heap takes a few aligned allocations to settle (holes left by memalign)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(n).fill_(1)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(retained, retain_freed_memory(), max(faults[-6:]), min(faults[-6:]))
    """
)


def _probe(env_value: str | None) -> tuple[bool, bool, int, int]:
    """(retained, retained on a second call, most and fewest page faults per allocation once settled)"""
    env = {k: v for k, v in os.environ.items() if k != "RGBTFUSE_RETAIN_FREED_MEMORY"}
    if env_value is not None:
        env["RGBTFUSE_RETAIN_FREED_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", out[1] == "True", int(out[2]), int(out[3])


@glibc_only
def test_retained_memory_is_reused_without_page_faults():
    retained, again, most, _ = _probe(None)
    assert retained and again
    assert most < 1000  # a fresh 48 MB mapping costs ~12,000 faults of 4 KB pages


@glibc_only
def test_opt_out_keeps_the_c_library_defaults():
    retained, _, _, fewest = _probe("0")
    assert not retained
    assert fewest > 5000
