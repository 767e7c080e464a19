"""Turns one page of task events into column-wise writes to the analytical view.

A page is applied in three steps: read the current state of the tasks it touches that are
already in the view (one query), fold the events into those states in memory, then write new
tasks, their tags, the changed tasks and every state change, each as one bulk statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from taskmill.domain import task_events as ev
from taskmill.domain.io_figures import IO_FIELDS, IOFigures
from taskmill.domain.status import TaskStatus
from taskmill.projections.sql_files import load_statements

if TYPE_CHECKING:
    import duckdb  # imported when a view is opened: processes that never aggregate skip it

SQL = load_statements("taskmill.projections.analytical.sql", "write.sql")
MAX_TAG_COLUMNS = 256
"""Tag keys that get a column of their own in `tasks`; later keys are read from `task_tags`."""
_GENERATED_COLUMN = re.compile(r"^tag_[0-9]+$")


@dataclass(slots=True)
class TaskState:
    """The part of a task that changes after submission, as the view holds it."""

    status: str
    attempts: int
    submitted_at: datetime
    first_started_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    actual: tuple[int, int, int, int] = (0, 0, 0, 0)
    queue_ms: float | None = None
    duration_ms: float | None = None
    last_error: str | None = None
    position: int = 0
    changed: bool = field(default=False)


def _ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() * 1000.0


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class AnalyticalPage:
    """Applies one page of events inside the caller's transaction."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, tag_columns: dict[str, str]):
        self._connection = connection
        self._tag_columns = tag_columns
        """key -> generated column; shared with the view, extended here as keys appear."""
        self._new: dict[str, dict[str, Any]] = {}
        self._states: dict[str, TaskState] = {}
        self._tags: list[tuple[int, str, str, str]] = []
        self._changes: list[tuple[str, int, datetime, str, TaskState]] = []

    def apply(self, events: Iterable[tuple[int, Any]]) -> None:
        page = [(n, e) for n, e in events if isinstance(e, ev.TaskEvent)]
        self._load_states(page)
        for position, event in page:
            if isinstance(event, ev.TaskSubmitted):
                self._submitted(position, event)
            else:
                self._changed(position, event)
        self._write()

    # -- reading what the page builds on ---------------------------------------------------------

    def _load_states(self, page: list[tuple[int, Any]]) -> None:
        submitted = {str(e.originator_id) for _, e in page if isinstance(e, ev.TaskSubmitted)}
        wanted = {
            str(e.originator_id)
            for _, e in page
            if type(e) in _NEW_STATUS and str(e.originator_id) not in submitted
        }
        if not wanted:
            return
        rows = self._connection.execute(SQL["task_states"], {"task_ids": sorted(wanted)}).fetchall()
        for row in rows:
            self._states[row[0]] = TaskState(
                status=row[1],
                attempts=row[2],
                submitted_at=row[3],
                first_started_at=row[4],
                started_at=row[5],
                finished_at=row[6],
                actual=(row[7], row[8], row[9], row[10]),
                queue_ms=row[11],
                duration_ms=row[12],
                last_error=row[13],
            )

    # -- folding events ----------------------------------------------------------------------------

    def _submitted(self, position: int, e: ev.TaskSubmitted) -> None:
        task_id = str(e.originator_id)
        if task_id in self._new:
            return
        state = TaskState(status=e.status.value, attempts=0, submitted_at=e.timestamp)
        state.position = position
        expected = e.expected_io
        self._new[task_id] = {
            "seq": position,
            "task_type": e.task_type,
            "priority": e.priority,
            "group_key": e.group,
            "parent_id": None if e.parent_id is None else str(e.parent_id),
            "max_retries": e.max_retries,
            "expected": _io_tuple(expected),
            "tags": e.tags,
        }
        self._states[task_id] = state
        for key, value in e.tags.items():
            self._tags.append((position, task_id, key, value))
        self._changes.append((task_id, position, e.timestamp, "TaskSubmitted", _copy(state)))

    def _changed(self, position: int, e: Any) -> None:
        new_status = _NEW_STATUS.get(type(e))
        if new_status is None:
            return  # lease renewals, child bookkeeping: no change the analytics track
        task_id = str(e.originator_id)
        state = self._states.get(task_id)
        if state is None or position <= state.position:
            return
        status = e.status.value if new_status is _FROM_EVENT else new_status
        at: datetime = e.timestamp
        previous, state.status = state.status, status
        if isinstance(e, ev.TaskStarted):
            state.attempts = e.attempt
            state.started_at = at
            if state.first_started_at is None:
                state.first_started_at = at
                state.queue_ms = _ms(at, state.submitted_at)
        elif isinstance(e, ev.TaskRequeued):
            state.attempts -= 1
        elif isinstance(e, ev.TaskCompleted | ev.TaskAwaitingChildren):
            state.actual = _io_tuple(e.actual_io)
        if isinstance(e, ev.TaskRetrying | ev.TaskFailed | ev.TaskDeadLettered) or (
            isinstance(e, ev.TaskFinalized) and e.error is not None
        ):
            state.last_error = e.error
        if TaskStatus(status).is_terminal:
            state.finished_at = at
            if previous in _WORKING and state.started_at is not None:
                state.duration_ms = _ms(at, state.started_at)
        state.position = position
        state.changed = True
        self._changes.append((task_id, position, at, type(e).__name__, _copy(state)))

    # -- writing -----------------------------------------------------------------------------------

    def _write(self) -> None:
        self._ensure_tag_columns()
        self._insert_tasks()
        if self._tags:
            self._bulk(
                "insert_tags",
                {
                    "seq": [t[0] for t in self._tags],
                    "task_id": [t[1] for t in self._tags],
                    "key": [t[2] for t in self._tags],
                    "value": [t[3] for t in self._tags],
                },
            )
        updated = [
            (task_id, s)
            for task_id, s in self._states.items()
            if s.changed and task_id not in self._new
        ]
        if updated:
            self._bulk(
                "update_tasks",
                {
                    "task_id": [t for t, _ in updated],
                    **_state_columns([s for _, s in updated], with_position=True),
                },
            )
        if self._changes:
            states = [c[4] for c in self._changes]
            columns = _state_columns(states, with_position=False)
            columns.pop("first_started_at")
            columns.pop("started_at")
            columns.pop("finished_at")
            columns.pop("last_error")
            self._bulk(
                "insert_state_changes",
                {
                    "task_id": [c[0] for c in self._changes],
                    "position": [c[1] for c in self._changes],
                    "changed_at": [c[2].isoformat() for c in self._changes],
                    "event": [c[3] for c in self._changes],
                    **columns,
                },
            )

    def _ensure_tag_columns(self) -> None:
        for _, _, key, _ in self._tags:
            if key in self._tag_columns or len(self._tag_columns) >= MAX_TAG_COLUMNS:
                continue
            column = f"tag_{len(self._tag_columns) + 1}"
            assert _GENERATED_COLUMN.match(column)
            self._connection.execute(SQL["add_tag_column"].replace("{column}", column))
            self._connection.execute(
                SQL["register_tag_column"], {"key": key, "column_name": column}
            )
            self._tag_columns[key] = column

    def _insert_tasks(self) -> None:
        if not self._new:
            return
        ids = list(self._new)
        rows = [self._new[i] for i in ids]
        states = [self._states[i] for i in ids]
        columns: dict[str, list[Any]] = {
            "seq": [r["seq"] for r in rows],
            "task_id": ids,
            "task_type": [r["task_type"] for r in rows],
            "priority": [r["priority"] for r in rows],
            "group_key": [r["group_key"] for r in rows],
            "parent_id": [r["parent_id"] for r in rows],
            "max_retries": [r["max_retries"] for r in rows],
            "submitted_at": [s.submitted_at.isoformat() for s in states],
            **_state_columns(states, with_position=True),
        }
        for index, name in enumerate(IO_FIELDS):
            columns[f"expected_{name}"] = [r["expected"][index] for r in rows]
        used = sorted({k for r in rows for k in r["tags"] if k in self._tag_columns})
        tag_select = "".join(
            f",\n    unnest(c.{self._tag_columns[k]}) AS {self._tag_columns[k]}" for k in used
        )
        tag_shape = "".join(f', "{self._tag_columns[k]}": "VARCHAR[]"' for k in used)
        for key in used:
            columns[self._tag_columns[key]] = [r["tags"].get(key) for r in rows]
        statement = SQL["insert_tasks"].replace("{tag_select}", tag_select)
        statement = statement.replace("{tag_shape}", tag_shape)
        self._connection.execute(statement, {"columns": orjson.dumps(columns).decode()})

    def _bulk(self, name: str, columns: dict[str, list[Any]]) -> None:
        self._connection.execute(SQL[name], {"columns": orjson.dumps(columns).decode()})


def _io_tuple(figures: IOFigures) -> tuple[int, int, int, int]:
    return (figures.read_bytes, figures.write_bytes, figures.net_rx_bytes, figures.net_tx_bytes)


def _copy(state: TaskState) -> TaskState:
    return TaskState(
        status=state.status,
        attempts=state.attempts,
        submitted_at=state.submitted_at,
        actual=state.actual,
        queue_ms=state.queue_ms,
        duration_ms=state.duration_ms,
    )


def _state_columns(states: list[TaskState], *, with_position: bool) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        "status": [s.status for s in states],
        "attempts": [s.attempts for s in states],
        "first_started_at": [_iso(s.first_started_at) for s in states],
        "started_at": [_iso(s.started_at) for s in states],
        "finished_at": [_iso(s.finished_at) for s in states],
        "queue_ms": [s.queue_ms for s in states],
        "duration_ms": [s.duration_ms for s in states],
        "last_error": [s.last_error for s in states],
    }
    for index, name in enumerate(IO_FIELDS):
        columns[f"actual_{name}"] = [s.actual[index] for s in states]
    if with_position:
        columns["position"] = [s.position for s in states]
    return columns


_WORKING = (TaskStatus.RUNNING.value, TaskStatus.WAITING.value)
"""A task finishing from these had an attempt under way: its duration is measured."""
_FROM_EVENT = "<the event's own status>"
_NEW_STATUS: dict[type, str] = {
    ev.TaskUnblocked: TaskStatus.PENDING.value,
    ev.TaskStarted: TaskStatus.RUNNING.value,
    ev.TaskRequeued: TaskStatus.PENDING.value,
    ev.TaskCompleted: TaskStatus.COMPLETED.value,
    ev.TaskAwaitingChildren: TaskStatus.WAITING.value,
    ev.TaskRetrying: _FROM_EVENT,
    ev.TaskFailed: TaskStatus.FAILED.value,
    ev.TaskDeadLettered: TaskStatus.DEAD_LETTER.value,
    ev.TaskCancelled: TaskStatus.CANCELLED.value,
    ev.TaskExpired: TaskStatus.EXPIRED.value,
    ev.TaskFinalized: _FROM_EVENT,
}
"""The status each state-changing event leaves the task in."""
