"""Atomic file writes: a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rgbtfuse.errors import OutputError

#: write failures that are the destination's fault (full, read-only, forbidden), not a bug
_DESTINATION_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR, errno.EEXIST}


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise _named(path, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _default_mode())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno not in _DESTINATION_ERRNOS:
            raise
        raise _named(path, exc) from exc
    except RuntimeError as exc:
        # torch.save reports a short write (disk full) as "unexpected pos" / "file write failed"
        if "unexpected pos" not in str(exc) and "write failed" not in str(exc):
            raise
        raise OutputError(f"{path}: writing failed, the disk is probably full ({str(exc).splitlines()[0][:200]})") from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` left by processes that no longer run (killed with
    SIGKILL, power loss); a temporary's name carries its writer's process id."""
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _named(path: Path, exc: OSError) -> OutputError:
    reason = "no space left on the device" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
    return OutputError(f"{path}: cannot write ({reason})")


def _default_mode() -> int:
    """``0o666`` minus the process umask: the mode ``open()`` would have given a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | Path, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` that never leaves a truncated checkpoint behind."""
    import torch  # here, so that commands that never save checkpoints start without torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
