"""A cross-process exclusive lock on a file, with a way for waiters to ask the holder to let go.

DuckDB lets one process at a time open a database file for writing, and then refuses every
other open, even read-only ones. Taking this lock before opening the file turns "Could not set
lock on file" errors into a short, bounded wait; a waiter touches a companion `.wanted` file so
a holder that keeps the file open between uses knows to close it promptly.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from taskmill.domain.errors import TaskmillError

POLL_SECONDS = 0.005
YIELD_SECONDS = 0.05
"""After letting go because another process asked, wait this long before taking the lock back,
so that the waiter (polling every `POLL_SECONDS`) gets its turn."""
WANTED_SLACK_NS = 20_000_000
"""File times can be a few milliseconds coarse: a request that far before the acquisition still
counts (its sender is most likely still waiting)."""


class LockTimeout(TaskmillError, TimeoutError):
    """Another process held the analytical view longer than the caller was willing to wait."""


class FileLock:
    """An exclusive `flock` on `path` (created if missing). Not re-entrant; one holder per
    instance. Separate instances conflict even within one process, like separate processes."""

    def __init__(self, path: Path):
        self._path = path
        self._wanted = path.with_name(path.name + ".wanted")
        self._fd: int | None = None
        self._acquired_ns = 0
        self._own_request_ns = -1
        self._yield_until = 0.0
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock; raise `LockTimeout` if it stays taken."""
        with self._mutex:
            if self._fd is not None:
                return
            pause = self._yield_until - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Ask again on every try: a busy holder may have let go and taken the
                    # lock back since the last request.
                    self._ask_holder_to_release()
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise LockTimeout(
                            f"the analytical view {self._path.parent} stayed locked by another "
                            f"process for {timeout:g} s"
                        ) from None
                    time.sleep(POLL_SECONDS)
            self._fd = fd
            self._acquired_ns = time.time_ns()

    def release(self, *, yielding: bool = False) -> None:
        """Let go; with `yielding` (another process asked), leave it a head start."""
        with self._mutex:
            if self._fd is None:
                return
            if yielding:
                self._yield_until = time.monotonic() + YIELD_SECONDS
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def wanted_elsewhere(self) -> bool:
        """Whether another holder-to-be asked for the lock since this one took it."""
        try:
            asked = self._wanted.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        return asked != self._own_request_ns and asked >= self._acquired_ns - WANTED_SLACK_NS

    def _ask_holder_to_release(self) -> None:
        self._wanted.touch()
        os.utime(self._wanted)
        self._own_request_ns = self._wanted.stat().st_mtime_ns
