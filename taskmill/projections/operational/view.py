"""The operational view's file: opening, migrating, following the log, rebuilding and swapping.

The live database is named by a small pointer file, so a rebuild can write a fresh file and swap
it in atomically while other processes keep reading; they notice the swap and reopen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from taskmill.infrastructure.bounded_cache import BoundedCache
from taskmill.infrastructure.durable_files import fsync_file, replace_durably
from taskmill.infrastructure.gc_pause import gc_paused
from taskmill.infrastructure.sqlite_wal import BUSY_TIMEOUT_SECONDS, enable_wal
from taskmill.projections.operational.event_source import EventSource
from taskmill.projections.operational.migrations import migrate
from taskmill.projections.operational.projector import SQL, PageProjector

PAGE_SIZE = 500
TAGS_CACHE_SIZE = 50_000
REBUILD_PAGE_SIZE = 2000
REBUILD_CACHE_KIB = 64 * 1024
_log = logging.getLogger("taskmill")
POINTER_NAME = "operational.current"
WAL_CHECKPOINT_PAGES = 10_000
"""Fold the view's WAL into its file once it holds this many pages (40 MiB at 4 KiB pages),
not SQLite's default 1,000: a dispatch cycle rewrites the same hot pages (tag counters, the
ends of the order indexes), and each checkpoint copies every page once and fsyncs twice."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for a rebuildable view: WAL, no fsync per commit, checkpoints every
    `WAL_CHECKPOINT_PAGES`, 5 s busy wait."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
    )
    enable_wal(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    return connection


class OperationalView:
    """One process's handle on the view. Thread-safe; every method catches up or reads."""

    def __init__(self, folder: Path, application_name: str):
        self._folder = folder
        self._application_name = application_name
        self._lock = threading.RLock()
        self._tags: BoundedCache[str, dict[str, str]] = BoundedCache(TAGS_CACHE_SIZE)
        self._deferred: list[tuple[int, Any]] = []
        """Events saved by this process, in log order, not yet applied (at most a page)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._pointer = folder / POINTER_NAME
        self._path, self._pointer_stamp = self._resolve_live_file()
        self._connection = connect(self._path)
        migrate(self._connection)

    @property
    def path(self) -> Path:
        """The live file (re-resolved: another process's rebuild may have swapped it)."""
        with self._lock:
            self._reopen_if_swapped()
            return self._path

    def close(self, source: EventSource | None = None) -> None:
        """Close the file, first applying deferred events when given their `source` (else
        the next reader, in any process, applies them from the log)."""
        with self._lock:
            try:
                if source is not None:
                    self._apply_deferred(source)
            finally:
                self._connection.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for queries (re-opened first if a rebuild swapped the file)."""
        with self._lock:
            self._reopen_if_swapped()
            yield self._connection

    # -- following the log ---------------------------------------------------------------------

    def position(self) -> int:
        with self._lock:
            self._reopen_if_swapped()
            return self._position(self._connection)

    def _position(self, connection: sqlite3.Connection) -> int:
        row = connection.execute(
            SQL["position"], {"application_name": self._application_name}
        ).fetchone()
        return 0 if row is None else int(row[0])

    def apply_page(self, events: list[tuple[int, Any]]) -> None:
        """Apply events whose position is past the view's, in one transaction with the position."""
        with self._lock:
            self._reopen_if_swapped()
            _apply_page(self._connection, self._application_name, events, tags=self._tags)

    def defer(self, events: list[tuple[int, Any]], source: EventSource) -> None:
        """Keep events this process just saved, to apply them from memory with the next read
        (every read catches up first) or once a page has gathered: a command pays for its log
        commit only, and many commands share one view transaction."""
        if not events:
            return
        with self._lock:
            self._deferred.extend(events)
            if len(self._deferred) >= PAGE_SIZE:
                try:
                    self._apply_deferred(source)
                except Exception:
                    # The command that saved these events succeeded: it must not raise as if
                    # it had not (a caller would submit again). The log has them, and the next
                    # read catches the view up from it, raising there if the trouble lasts.
                    _log.warning("taskmill: the view could not apply a page now", exc_info=True)

    def catch_up(self, source: EventSource) -> int:
        """Apply everything the log has beyond the view's position; return the new position."""
        with self._lock:
            self._apply_deferred(source)
            _, position = _catch_up(
                self._connection, self._application_name, source, tags=self._tags
            )
            return position

    def _apply_deferred(self, source: EventSource) -> None:
        """Apply the deferred events from memory if the view holds everything before them;
        otherwise (another process wrote in between) catch up from the log, which has them."""
        self._reopen_if_swapped()
        if not self._deferred:
            return
        # Threads hand over their events in the order their saves returned, not always the
        # log's; and another process may have written between two of ours.
        events = sorted(self._deferred, key=_position_of)
        self._deferred = []
        run = _gap_free_prefix(events)
        applied = _apply_page(
            self._connection, self._application_name, run, contiguous=True, tags=self._tags
        )
        if not applied or len(run) < len(events):
            _catch_up(self._connection, self._application_name, source, tags=self._tags)

    # -- rebuilding ----------------------------------------------------------------------------

    def rebuild(
        self, source: EventSource, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Replay the whole log into a new file, then swap it in. Returns the events applied."""
        with self._lock:
            self._deferred.clear()  # the replay reads them from the log
            fresh = self._folder / f"operational-{uuid.uuid4().hex[:12]}.db"
            # Nobody reads the new file until it is complete and swapped in, and a crash
            # mid-rebuild only leaves a file to delete: build it without journal or fsync.
            connection = sqlite3.connect(fresh, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=OFF")
                connection.execute("PRAGMA synchronous=OFF")
                connection.execute(f"PRAGMA cache_size=-{REBUILD_CACHE_KIB}")
                migrate(connection)
                # Building secondary indexes once over sorted data beats updating them row by
                # row during the replay.
                indexes = connection.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                ).fetchall()
                for name, _ in indexes:
                    connection.execute(f'DROP INDEX "{name}"')
                applied, _ = _catch_up(
                    connection, self._application_name, source, progress, REBUILD_PAGE_SIZE
                )
                for _, definition in indexes:
                    connection.execute(definition)
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()
            fsync_file(fresh)  # built without fsync: on disk before the pointer names it
            old = self._path
            _write_pointer(self._pointer, fresh.name)
            self._reopen_if_swapped()
            _remove_database(old)
            return applied

    def _resolve_live_file(self) -> tuple[Path, tuple[int, int]]:
        if not self._pointer.exists():
            # Publish a complete pointer atomically; if another process wins, use its file.
            temporary = self._pointer.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
            temporary.write_text(f"operational-{uuid.uuid4().hex[:12]}.db", encoding="utf-8")
            try:
                os.link(temporary, self._pointer)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        name = self._pointer.read_text(encoding="utf-8").strip()
        return self._folder / name, _stamp(self._pointer)

    def _reopen_if_swapped(self) -> None:
        stamp = _stamp(self._pointer)
        if stamp == self._pointer_stamp:
            return
        path, stamp = self._resolve_live_file()
        if path != self._path:
            self._connection.close()
            self._path = path
            self._connection = connect(path)
            migrate(self._connection)
        self._pointer_stamp = stamp


def _apply_page(
    connection: sqlite3.Connection,
    name: str,
    events: list[tuple[int, Any]],
    *,
    contiguous: bool = False,
    tags: MutableMapping[str, dict[str, str]] | None = None,
) -> bool:
    """Apply the events past the view's position. With `contiguous`, apply nothing and return
    False when events before these are still missing from the view."""
    if not events:
        return True
    # The page's rows die with it, so the cyclic collector has nothing to find here (see
    # gc_pause); a catch-up has paused it already, for its decoding too.
    with gc_paused():
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute(SQL["position"], {"application_name": name}).fetchone()
            position = 0 if row is None else int(row[0])
            if contiguous and events[0][0] > position + 1:
                connection.execute("ROLLBACK")
                return False
            fresh = [(nid, event) for nid, event in events if nid > position]
            if fresh:
                cursor = connection.cursor()
                projector = PageProjector(cursor, tags)
                projector.apply_all(fresh)
                projector.flush()
                cursor.execute(
                    SQL["set_position"],
                    {"application_name": name, "notification_id": fresh[-1][0]},
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return True


def _catch_up(
    connection: sqlite3.Connection,
    name: str,
    source: EventSource,
    progress: Callable[[int, int], None] | None = None,
    page_size: int | None = None,
    tags: MutableMapping[str, dict[str, str]] | None = None,
) -> tuple[int, int]:
    """Apply the log beyond the view's position, page by page: (events applied, position)."""
    head = source.head()
    row = connection.execute(SQL["position"], {"application_name": name}).fetchone()
    position = 0 if row is None else int(row[0])
    applied = 0
    size = PAGE_SIZE if page_size is None else page_size  # read now: tests vary it
    while position < head:
        with gc_paused():
            page = source.read(position, size)
            if not page:
                break
            _apply_page(connection, name, page, tags=tags)
        applied += len(page)
        position = page[-1][0]
        if progress is not None:
            progress(position, head)
    return applied, position


def _position_of(event: tuple[int, Any]) -> int:
    return event[0]


def _gap_free_prefix(events: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """The leading events whose positions follow each other without a gap."""
    end = 1
    while end < len(events) and events[end][0] == events[end - 1][0] + 1:
        end += 1
    return events[:end]


def _stamp(pointer: Path) -> tuple[int, int]:
    status = pointer.stat()
    return status.st_ino, status.st_mtime_ns


def _write_pointer(pointer: Path, name: str) -> None:
    temporary = pointer.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(name, encoding="utf-8")
    replace_durably(temporary, pointer)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
