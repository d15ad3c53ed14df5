"""A per-repository exclusive lock: fcntl across processes, re-entrant within a thread.

Two consolidations for one repository must not interleave (both would allocate the
same version number, or accept in the wrong order). `flock` gives that across
processes and is released by the kernel when a holder dies, so a killed
consolidation never leaves the repository locked. flock locks belong to an open file
description, so a second `open` in the same process would deadlock against the first;
a process-wide registry keyed by the lock file's path therefore counts re-entries and
serialises threads before the flock is taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

POLL_S = 0.05


@dataclass
class _LockState:
    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    fd: int | None = None


_registry_guard = threading.Lock()
_registry: dict[str, _LockState] = {}


def _state(path: Path) -> _LockState:
    with _registry_guard:
        return _registry.setdefault(str(path.resolve()), _LockState())


def holder_pid(path: Path) -> int | None:
    """The pid the current (or last) holder wrote into the lock file, if readable."""
    try:
        return int(path.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def exclusive(
    path: Path, timeout: float | None = None, on_busy: Callable[[Path], Exception] | None = None
) -> Iterator[None]:
    """Hold the lock at `path` (created if missing) for the duration of the block.

    `timeout=None` waits as long as it takes; otherwise the exception made by
    `on_busy(path)` (default TimeoutError) is raised once `timeout` seconds have passed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _state(path)
    deadline = None if timeout is None else time.monotonic() + timeout

    def busy() -> Exception:
        return on_busy(path) if on_busy else TimeoutError(f"lock {path} is held")

    if not state.thread_lock.acquire(timeout=-1 if timeout is None else timeout):
        raise busy()
    try:
        if state.depth == 0:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _flock(fd, deadline, busy)
            except BaseException:
                os.close(fd)
                raise
            # The pid is for humans reading a "busy" message; the lock is the flock.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            state.fd = fd
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
            if state.depth == 0 and state.fd is not None:
                fcntl.flock(state.fd, fcntl.LOCK_UN)
                os.close(state.fd)
                state.fd = None
    finally:
        state.thread_lock.release()


def _flock(fd: int, deadline: float | None, busy: Callable[[], Exception]) -> None:
    if deadline is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise busy() from None
            time.sleep(POLL_S)
