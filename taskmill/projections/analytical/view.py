"""The analytical view's DuckDB file: sharing it between processes, following the log, rebuilding.

DuckDB lets one process at a time have a database file open for writing and refuses every
other open meanwhile, read-only ones included. So a process opens the file only while it holds
an exclusive file lock (`analytics.lock`), keeps it open while it is busy (warm caches for
repeated queries), and closes it when idle for `idle_seconds` or as soon as another process asks
for it. Ad-hoc readers (notebooks, `taskmill sql`) never open the live file for long: they get a
private copy, taken under the lock right after a catch-up (see `copy_to`).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from taskmill.infrastructure.clock import utc_now
from taskmill.infrastructure.durable_files import replace_durably
from taskmill.infrastructure.file_lock import FileLock
from taskmill.infrastructure.gc_pause import gc_paused
from taskmill.projections.analytical.migrations import migrate
from taskmill.projections.analytical.projector import SQL, AnalyticalPage
from taskmill.projections.operational.event_source import EventSource

if TYPE_CHECKING:
    import duckdb  # imported when a view is opened: processes that never aggregate skip it

T = TypeVar("T")

FILE_NAME = "analytics.duckdb"
LOCK_NAME = "analytics.lock"
PAGE_SIZE = 5_000
REBUILD_PAGE_SIZE = 20_000
IDLE_SECONDS = 1.0
LOCK_TIMEOUT_SECONDS = 30.0
WATCH_SECONDS = 0.02
"""How often an idle holder checks whether another process asked for the file."""

Reader = Callable[["duckdb.DuckDBPyConnection", dict[str, str]], T]
"""A query over the view: gets the connection and the tag key -> generated column map."""


def open_database(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect(str(path), read_only=read_only)
    connection.execute("SET TimeZone = 'UTC'")
    return connection


class AnalyticalView:
    """One process's handle on the analytical view. Thread-safe."""

    def __init__(
        self,
        folder: Path,
        application_name: str,
        *,
        idle_seconds: float = IDLE_SECONDS,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ):
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._path = folder / FILE_NAME
        self._application_name = application_name
        self._file_lock = FileLock(folder / LOCK_NAME)
        self._idle_seconds = idle_seconds
        self._lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._tag_columns: dict[str, str] = {}
        self._last_use = 0.0
        self._watcher: threading.Thread | None = None
        self._held_position: int | None = None
        """The file's position, known while this process holds the file (None otherwise)."""
        self._checked_at: datetime | None = None
        """When this process last found the view at the log's head (for bounded staleness)."""

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._mutex:
            self._close()

    # -- reading -----------------------------------------------------------------------------------

    def read(
        self, source: EventSource, reader: Reader[T], max_staleness: timedelta | None = None
    ) -> T:
        """Catch up (unless the view is fresher than `max_staleness`), then run `reader`."""
        with self._session() as connection:
            self._catch_up(connection, source, max_staleness)
            return reader(connection, dict(self._tag_columns))

    def catch_up(self, source: EventSource) -> int:
        """Apply everything the log has beyond the view; return the view's position."""
        with self._session() as connection:
            self._catch_up(connection, source, None)
            return self._position(connection)[0]

    def position(self) -> int:
        with self._session() as connection:
            return self._position(connection)[0]

    def copy_to(
        self, target: Path, source: EventSource, max_staleness: timedelta | None = None
    ) -> int:
        """Catch up, then copy the whole database to `target` (a consistent, private file that
        any number of readers can open while the live file keeps changing). Returns its
        position."""
        with self._session() as connection:
            self._catch_up(connection, source, max_staleness)
            connection.execute("CHECKPOINT")  # everything in the main file, nothing in the WAL
            shutil.copyfile(self._path, target)
            return self._position(connection)[0]

    # -- rebuilding --------------------------------------------------------------------------------

    def rebuild(
        self, source: EventSource, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Replay the whole log into a new file without holding the lock, then (under it) bring
        that file to the head and swap it in. Returns the number of events replayed."""
        fresh = self._folder / f"analytics-{uuid.uuid4().hex[:12]}.building"
        connection = open_database(fresh)
        try:
            migrate(connection)
            columns: dict[str, str] = {}
            applied = _follow(
                connection, self._application_name, source, columns, REBUILD_PAGE_SIZE, progress
            )
            with self._mutex:
                self._close()
                self._file_lock.acquire(self._lock_timeout)
                try:
                    applied += _follow(
                        connection, self._application_name, source, columns, REBUILD_PAGE_SIZE
                    )
                    connection.close()
                    replace_durably(fresh, self._path)
                    with contextlib.suppress(FileNotFoundError):
                        Path(f"{self._path}.wal").unlink()
                finally:
                    self._file_lock.release()
        finally:
            connection.close()
            for leftover in (fresh, Path(f"{fresh}.wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        return applied

    # -- the file and its lock ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._mutex:
            if self._connection is None:
                self._open()
            assert self._connection is not None
            try:
                yield self._connection
            except BaseException:
                self._close()  # never keep a connection whose transaction state is unknown
                raise
            if self._file_lock.wanted_elsewhere():
                self._close(yielding=True)
            else:
                self._last_use = time.monotonic()
                self._watch()

    def _open(self) -> None:
        self._file_lock.acquire(self._lock_timeout)
        try:
            connection = open_database(self._path)
            try:
                migrate(connection)
                self._tag_columns = dict(connection.execute(SQL["tag_columns"]).fetchall())
            except BaseException:
                connection.close()
                raise
        except BaseException:
            self._file_lock.release()
            raise
        self._connection = connection

    def _close(self, *, yielding: bool = False) -> None:
        self._held_position = None
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            finally:
                self._file_lock.release(yielding=yielding)

    def _watch(self) -> None:
        """Close the file once idle, or at once when another process asks for it."""
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._watcher = threading.Thread(target=self._watch_loop, daemon=True, name="analytics")
        self._watcher.start()

    def _watch_loop(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            with self._mutex:
                if self._connection is None:
                    return
                if self._file_lock.wanted_elsewhere():
                    self._close(yielding=True)
                    return
                if time.monotonic() - self._last_use >= self._idle_seconds:
                    self._close()
                    return

    # -- following the log -------------------------------------------------------------------------

    def _position(self, connection: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None]:
        row = connection.execute(
            SQL["position"], {"application_name": self._application_name}
        ).fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def _catch_up(
        self,
        connection: duckdb.DuckDBPyConnection,
        source: EventSource,
        max_staleness: timedelta | None,
    ) -> None:
        now = utc_now()
        if max_staleness is not None:
            _, caught_up_at = self._position(connection)
            latest = max(
                (m for m in (caught_up_at, self._checked_at) if m is not None), default=None
            )
            if latest is not None and now - latest <= max_staleness:
                return
        # While this process holds the file nobody else writes it, so the position it last saw
        # is still the file's: when the log has nothing newer, skip asking the file.
        if self._held_position is not None and source.head() <= self._held_position:
            self._checked_at = now
            return
        try:
            _follow(connection, self._application_name, source, self._tag_columns, PAGE_SIZE)
        except BaseException:
            # A rolled-back page may have added tag columns: forget them, re-read on reopen.
            self._close()
            raise
        self._held_position = self._position(connection)[0]
        self._checked_at = now


def _follow(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    source: EventSource,
    tag_columns: dict[str, str],
    page_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Apply the log beyond the file's position, one transaction (rows + position) per page."""
    head = source.head()
    row = connection.execute(SQL["position"], {"application_name": name}).fetchone()
    position = 0 if row is None else int(row[0])
    applied = 0
    while position < head:
        with gc_paused():
            page = source.read(position, page_size)
            if not page:
                break
            _apply_page(connection, name, page, tag_columns)
        applied += len(page)
        position = page[-1][0]
        if progress is not None:
            progress(position, head)
    return applied


def _apply_page(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    page: list[tuple[int, Any]],
    tag_columns: dict[str, str],
) -> None:
    before = dict(tag_columns)
    connection.execute("BEGIN TRANSACTION")
    try:
        AnalyticalPage(connection, tag_columns).apply(page)
        connection.execute(
            SQL["set_position"],
            {
                "application_name": name,
                "notification_id": page[-1][0],
                "caught_up_at": utc_now(),
            },
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        tag_columns.clear()
        tag_columns.update(before)
        raise
