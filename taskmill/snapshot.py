"""`SchedulerSnapshot`: the scheduler's state at one log position, read in one transaction.

A snapshot keeps its own read transaction on the operational view open, so everything it
answers (counts, running tasks, groups, and `stats_by_tag` for any key, even one asked for
later) describes the same moment: `position`. Close it (`close()`, or `with`) when you keep it
around; one that is garbage-collected closes by itself.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, overload
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, PrivateAttr

from taskmill.domain.errors import InvalidQuery
from taskmill.domain.status import TaskStatus
from taskmill.domain.trusted import construct_trusted
from taskmill.infrastructure.sqlite_wal import BUSY_TIMEOUT_SECONDS
from taskmill.projections.operational import queries
from taskmill.runtime.context import Progress

T = TypeVar("T")
D = TypeVar("D")


class ViewRead:
    """A private connection to the view with one read transaction held open: every query on
    it sees the view as it was at the first one. Thread-safe."""

    def __init__(self, path: Path):
        # mode=rw: never create a file (the view may just have been swapped by a rebuild).
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_SECONDS,
        )
        self._lock = threading.Lock()
        # Close as soon as the last reference goes: a connection is in a reference cycle with
        # its statement cache, so it would otherwise stay open until the cyclic GC ran.
        self._finalizer = weakref.finalize(self, self._connection.close)
        self._connection.execute("PRAGMA query_only=ON")
        self._connection.execute("BEGIN")

    def run(self, query: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._connection is None:
                raise InvalidQuery("the snapshot is closed")
            return query(self._connection)

    def close(self) -> None:
        with self._lock:
            self._connection = None
            self._finalizer()  # closes the connection (once), ending the read transaction


class TagStats(BaseModel):
    """How many tasks with one tag value are in each status."""

    model_config = ConfigDict(frozen=True)

    running: int = 0
    pending: int = 0
    blocked: int = 0
    waiting: int = 0
    completed: int = 0
    failed: int = 0
    dead_letter: int = 0
    cancelled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status().values())

    @property
    def active(self) -> int:
        """Not finished yet: pending, blocked, running or waiting."""
        return self.pending + self.blocked + self.running + self.waiting

    @property
    def finished(self) -> int:
        """In a terminal status."""
        return self.total - self.active

    def by_status(self) -> dict[TaskStatus, int]:
        return {status: getattr(self, status.value) for status in TaskStatus}


class TagStatsView:
    """`TagStats` per value of one tag, largest total first. Iterating yields
    `(value, stats)` pairs; `view[value]`, `view.get(value)`, `dict(view)` and `len(view)`
    work as on a dict."""

    def __init__(self, key: str, stats: Mapping[str, TagStats]):
        self.key = key
        ordered = sorted(stats.items(), key=lambda item: (-item[1].total, item[0]))
        self._stats: dict[str, TagStats] = dict(ordered)

    @classmethod
    def from_counts(cls, key: str, rows: list[tuple[str, str, int]]) -> TagStatsView:
        """From `(value, status, n)` rows."""
        return cls(key, tag_stats_from_rows(rows))

    def __iter__(self) -> Iterator[tuple[str, TagStats]]:
        return iter(list(self._stats.items()))

    def __getitem__(self, value: str) -> TagStats:
        return self._stats[value]

    def __contains__(self, value: object) -> bool:
        return value in self._stats

    def __len__(self) -> int:
        return len(self._stats)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TagStatsView):
            return self.key == other.key and self._stats == other._stats
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TagStatsView({self.key!r}, {self._stats!r})"

    @overload
    def get(self, value: str) -> TagStats | None: ...
    @overload
    def get(self, value: str, default: D) -> TagStats | D: ...
    def get(self, value: str, default: object = None) -> object:
        return self._stats.get(value, default)

    def keys(self) -> list[str]:
        return list(self._stats)

    def values(self) -> list[TagStats]:
        return list(self._stats.values())

    def items(self) -> list[tuple[str, TagStats]]:
        return list(self._stats.items())

    def to_dict(self) -> dict[str, TagStats]:
        return dict(self._stats)


class RunningTask(BaseModel):
    """A task in status running. `progress` and `message` are its executor's last
    `ctx.progress(...)` report when it runs in this process (`local`); None otherwise."""

    model_config = ConfigDict(frozen=True)

    task_id: UUID
    task_type: str
    tags: dict[str, str]
    group: str | None
    attempt: int
    started_at: datetime | None
    worker_id: str | None
    local: bool = False
    progress: float | None = None
    message: str | None = None


class GroupStats(BaseModel):
    """A group's running and pending tasks, and its limit (None: unlimited)."""

    model_config = ConfigDict(frozen=True)

    running: int = 0
    pending: int = 0
    limit: int | None = None

    @property
    def free(self) -> int | None:
        """Slots left, or None when the group is unlimited."""
        return None if self.limit is None else max(0, self.limit - self.running)


class SchedulerSnapshot(BaseModel):
    """The scheduler's state as of log position `position` (taken at `taken_at`).

    `counts` has every status (0 for none); `running` every running task, in any process;
    `groups` every group with pending or running tasks. `stats_by_tag(key)` answers from the
    same read of the view, also when called later, until the snapshot is closed.
    """

    model_config = ConfigDict(frozen=True)

    taken_at: datetime
    position: int
    counts: dict[TaskStatus, int]
    running: list[RunningTask]
    groups: dict[str, GroupStats]

    _read: ViewRead | None = PrivateAttr(default=None)
    _by_tag: dict[str, TagStatsView] = PrivateAttr(default_factory=dict)
    _history: Callable[[str, datetime], TagStatsView] | None = PrivateAttr(default=None)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def stats_by_tag(self, key: str, *, as_of: datetime | None = None) -> TagStatsView:
        """`TagStats` per value of the tag `key`, as of this snapshot's position:
        `for value, stats in snapshot.stats_by_tag("profile"): ...`. Keys asked for before
        `close()` stay available after it; asking for a new key then raises `InvalidQuery`.

        With `as_of`, the same counts for the state every task was in at that past instant,
        reconstructed from the analytical view's state changes (caught up to the log first)."""
        if not isinstance(key, str):
            raise InvalidQuery(f"key: expected a tag key (a string), got {key!r}")
        if as_of is not None:
            if not isinstance(as_of, datetime):
                raise InvalidQuery(f"as_of: expected a datetime, got {type(as_of).__name__}")
            if self._history is None:
                raise InvalidQuery("stats_by_tag(as_of=...): this snapshot has no history")
            return self._history(key, as_of)
        found = self._by_tag.get(key)
        if found is not None:
            return found
        if self._read is None:
            raise InvalidQuery(f"stats_by_tag({key!r}): the snapshot is closed")
        rows = self._read.run(lambda connection: queries.tag_stats(connection, key))
        found = TagStatsView(key, tag_stats_from_rows(rows))
        self._by_tag[key] = found
        return found

    def close(self) -> None:
        """End the snapshot's read of the view (it lets the view's write-ahead log shrink)."""
        read, self._read = self._read, None
        if read is not None:
            read.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def tag_stats_from_rows(rows: list[tuple[str, str, int]]) -> dict[str, TagStats]:
    """`(value, status, n)` rows of the tag counters as `TagStats` per value."""
    counts: dict[str, dict[str, int]] = {}
    for value, status, n in rows:
        counts.setdefault(value, {})[status] = n
    return {value: TagStats(**by_status) for value, by_status in counts.items()}


def take_snapshot(
    read: ViewRead,
    *,
    application_name: str,
    taken_at: datetime,
    local_progress: Mapping[UUID, Progress],
    group_limit: Callable[[str], int | None],
    history: Callable[[str, datetime], TagStatsView] | None = None,
) -> SchedulerSnapshot:
    """Read everything a snapshot holds in `read`'s transaction; the snapshot keeps `read`."""

    def everything(
        connection: sqlite3.Connection,
    ) -> tuple[int, dict[str, int], list[Any], list[tuple[str, str, int]]]:
        return (
            queries.view_position(connection, application_name),
            queries.status_counts(connection),
            queries.running_tasks(connection),
            queries.group_status_counts(connection),
        )

    position, counts, rows, group_rows = read.run(everything)
    running = []
    for task_id, task_type, tags, group, attempts, started_at, worker_id in rows:
        progress = local_progress.get(UUID(task_id))
        # Trusted path: the view's rows were written from validated events.
        running.append(
            construct_trusted(
                RunningTask,
                {
                    "task_id": UUID(task_id),
                    "task_type": task_type,
                    "tags": orjson.loads(tags),
                    "group": group,
                    "attempt": attempts,
                    "started_at": None
                    if started_at is None
                    else datetime.fromisoformat(started_at),
                    "worker_id": worker_id,
                    "local": progress is not None,
                    "progress": None if progress is None else progress.fraction,
                    "message": None if progress is None else progress.message,
                },
            )
        )
    per_group: dict[str, dict[str, int]] = {}
    for group, status, n in group_rows:
        per_group.setdefault(group, {})[status] = n
    groups = {
        group: GroupStats(
            running=by_status.get(TaskStatus.RUNNING.value, 0),
            pending=by_status.get(TaskStatus.PENDING.value, 0),
            limit=group_limit(group),
        )
        for group, by_status in sorted(per_group.items())
    }
    snapshot = SchedulerSnapshot(
        taken_at=taken_at,
        position=position,
        counts={status: counts.get(status.value, 0) for status in TaskStatus},
        running=running,
        groups=groups,
    )
    snapshot._read = read
    snapshot._history = history
    return snapshot
