"""An exclusive lock on a folder (a run folder) while one process uses it.

The lock is ``flock`` on a sibling file ``.<folder name>.lock`` holding the owner's pid:
the OS releases it when its process ends, however it ends (a ``kill -9`` included), so a
lock is never stale; the file itself is removed on release. Locks are re-entrant within a
process (`sweep.run` holds a run's lock while `finetune` takes it again). POSIX only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError

#: lock file path -> [file descriptor, depth] of the locks this process holds
_HELD: dict[str, list[int]] = {}


def lock_path(folder: str | Path) -> Path:
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def _acquire(path: Path, folder: Path, wait: bool, what: str) -> int:
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise ConfigError(
                f"cannot write to {path.parent} ({err.strerror}); choose a writable "
                f"output folder (--output-dir) or fix its permissions"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"{what} {folder} is in use by another process (pid {owner}); wait for it to "
                f"finish, or give another output folder"
            ) from None
        try:  # the previous holder may have removed the file between our open and flock
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(fd).st_ino:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, wait: bool = False, what: str = "folder") -> Iterator[None]:
    """Hold the lock of `folder` for the block; if another process holds it, wait (`wait`)
    or raise `ConfigError` naming its pid."""
    path = lock_path(folder)
    key = str(path)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    fd = _acquire(path, Path(folder), wait, what)
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            path.unlink()  # still locked: a waiter re-checks the inode and retries
        os.close(fd)
