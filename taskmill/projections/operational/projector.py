"""Turns task events into row changes of the operational view (inside the caller's transaction)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from taskmill.domain import task_events as ev
from taskmill.domain.status import TERMINAL_STATUSES, TaskStatus
from taskmill.projections.operational.phase import phase_of
from taskmill.projections.sql_files import load_statements

SQL = load_statements("taskmill.projections.operational.sql", "write.sql")


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class PageProjector:
    """Applies one page of events; tag counters are summed in memory and written once per page."""

    def __init__(
        self, cursor: sqlite3.Cursor, tags: MutableMapping[str, dict[str, str]] | None = None
    ):
        self._cursor = cursor
        self._tags = {} if tags is None else tags
        """Tags per task id: immutable, so a cache shared across pages can never be stale."""
        self._counts: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        """Tag counter changes of the page (`Counter` would fill a missing key in Python)."""
        self._new_tasks: list[tuple[Any, ...]] = []
        self._new_tags: list[tuple[str, str, str, str, int, int]] = []

    def apply_all(self, events: Sequence[tuple[int, Any]]) -> None:
        self._prefetch_tags(events)
        for notification_id, event in events:
            self.apply(notification_id, event)

    def apply(self, notification_id: int, event: Any) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, notification_id, event)

    def _prefetch_tags(self, events: Sequence[tuple[int, Any]]) -> None:
        """Read the tags of every task whose status the page changes and that the cache lacks,
        in one statement rather than one per event (a process that did not submit the tasks it
        runs, or a rebuild's page of starts, would otherwise ask once per task). Tags never
        change, so reading them before the page's own rows change is safe; tasks the page
        submits are not in the table yet and come from their submission."""
        cached = self._tags
        wanted = {
            task_id
            for _, event in events
            if type(event) in _CHANGES_STATUS
            and (task_id := str(event.originator_id)) not in cached
        }
        if not wanted:
            return
        rows = self._cursor.execute(
            SQL["tags_of_tasks"], {"ids": orjson.dumps(list(wanted)).decode()}
        )
        for task_id, tags in rows:
            cached[task_id] = orjson.loads(tags)

    def flush(self) -> None:
        """Write what the page buffered: new tasks and tags, then the tag counter changes."""
        self._insert_new_tasks()
        changed = [(k, v, s, n) for (k, v, s), n in self._counts.items() if n]
        if changed:
            self._cursor.executemany(SQL["add_tag_count"], changed)
            emptied = [(k, v, s) for k, v, s, n in changed if n < 0]
            if emptied:
                self._cursor.executemany(SQL["drop_empty_tag_count"], emptied)
        self._counts.clear()

    def _insert_new_tasks(self) -> None:
        """New tasks are buffered and inserted in bulk, before anything that may read them."""
        if self._new_tasks:
            self._cursor.executemany(SQL["insert_task"], self._new_tasks)
            self._cursor.executemany(SQL["insert_tag"], self._new_tags)
            self._new_tasks.clear()
            self._new_tags.clear()

    # -- handlers ------------------------------------------------------------------------------

    def _submitted(self, seq: int, e: ev.TaskSubmitted) -> None:
        task_id = str(e.originator_id)
        expires_at = (
            None if e.ttl_seconds is None else e.timestamp + timedelta(seconds=e.ttl_seconds)
        )
        io = e.expected_io
        # In `insert_task`'s order: a tuple binds faster than a dict of named parameters, and
        # this runs once per submission, in every rebuild too.
        self._new_tasks.append(
            (
                task_id,
                seq,
                e.task_type,
                e.status.value,
                e.priority,
                e.group,
                e.dedup_key,
                None if e.parent_id is None else str(e.parent_id),
                orjson.dumps(e.payload).decode(),
                orjson.dumps(e.tags).decode(),
                e.max_retries,
                e.ttl_seconds,
                io.read_bytes,
                io.write_bytes,
                io.net_rx_bytes,
                io.net_tx_bytes,
                e.timestamp.isoformat(),
                iso(e.run_after),
                iso(expires_at),
                e.originator_version,
            )
        )
        status, priority, counts = e.status.value, e.priority, self._counts
        phase = phase_of(status)
        tags = self._tags[task_id] = e.tags
        self._new_tags += [(task_id, k, v, phase, priority, seq) for k, v in tags.items()]
        for k, v in tags.items():
            counts[(k, v, status)] += 1

    def _move(self, e: ev.TaskEvent, new_status: TaskStatus, task_id: str | None = None) -> None:
        """Keep the counters in step with the task's status, and the tag rows' phase once it
        ends (moves between unfinished statuses leave the tag rows alone). `task_id` is the
        event's id as text, when the caller has it already."""
        self._insert_new_tasks()
        if task_id is None:
            task_id = str(e.originator_id)
        old = _STATUS_BEFORE.get(type(e))
        tags = self._tags.get(task_id)
        if old is None or tags is None:
            row = self._cursor.execute(SQL["task_status_and_tags"], {"id": task_id}).fetchone()
            if row is None:
                return
            old, tags = row[0], orjson.loads(row[1])
            self._tags[task_id] = tags
        new = new_status.value  # an enum property: read once, not twice per tag
        if old == new:
            return
        counts = self._counts
        for k, v in tags.items():
            counts[(k, v, old)] -= 1
            counts[(k, v, new)] += 1
        if new_status in TERMINAL_STATUSES:
            self._cursor.execute(SQL["set_tag_phase"], (new, task_id))
            # An ended task's status never moves again: its tags need no place in the cache.
            self._tags.pop(task_id, None)

    def _update(self, name: str, e: ev.TaskEvent, **params: Any) -> None:
        self._insert_new_tasks()
        params["id"] = str(e.originator_id)
        params["version"] = e.originator_version
        self._cursor.execute(SQL[name], params)

    def _unblocked(self, _: int, e: ev.TaskUnblocked) -> None:
        self._move(e, TaskStatus.PENDING)
        self._update("set_status", e, status=TaskStatus.PENDING.value)

    # Starts and completions are most of a busy log: their statements are bound from tuples
    # and the task id is turned into text once, not in each step.

    def _started(self, _: int, e: ev.TaskStarted) -> None:
        task_id = str(e.originator_id)
        self._move(e, TaskStatus.RUNNING, task_id)
        self._cursor.execute(
            SQL["started"],
            (
                _RUNNING,
                e.attempt,
                e.timestamp.isoformat(),
                e.worker_id,
                iso(e.lease_expires_at),
                e.originator_version,
                task_id,
            ),
        )

    def _lease_renewed(self, _: int, e: ev.TaskLeaseRenewed) -> None:
        self._update("lease_renewed", e, lease_expires_at=iso(e.lease_expires_at))

    def _requeued(self, _: int, e: ev.TaskRequeued) -> None:
        self._move(e, TaskStatus.PENDING)
        self._update("requeued", e, status=TaskStatus.PENDING.value)

    def _completed(self, _: int, e: ev.TaskCompleted) -> None:
        self._attempt_succeeded(e, TaskStatus.COMPLETED, e.timestamp.isoformat())

    def _awaiting(self, _: int, e: ev.TaskAwaitingChildren) -> None:
        self._attempt_succeeded(e, TaskStatus.WAITING, None)

    def _attempt_succeeded(
        self,
        e: ev.TaskCompleted | ev.TaskAwaitingChildren,
        status: TaskStatus,
        finished_at: str | None,
    ) -> None:
        task_id = str(e.originator_id)
        self._move(e, status, task_id)
        io = e.actual_io
        self._cursor.execute(
            SQL["attempt_succeeded"],
            (
                status.value,
                finished_at,
                io.read_bytes,
                io.write_bytes,
                io.net_rx_bytes,
                io.net_tx_bytes,
                e.originator_version,
                task_id,
            ),
        )

    def _retrying(self, _: int, e: ev.TaskRetrying) -> None:
        self._move(e, e.status)
        self._update("retrying", e, status=e.status.value, error=e.error, retry_at=iso(e.retry_at))

    def _ended(self, status: TaskStatus, e: ev.TaskEvent, error: str | None = None) -> None:
        self._move(e, status)
        self._update("ended", e, status=status.value, at=iso(e.timestamp), error=error)

    def _failed(self, _: int, e: ev.TaskFailed) -> None:
        self._ended(TaskStatus.FAILED, e, e.error)

    def _dead_lettered(self, _: int, e: ev.TaskDeadLettered) -> None:
        self._ended(TaskStatus.DEAD_LETTER, e, e.error)

    def _cancelled(self, _: int, e: ev.TaskCancelled) -> None:
        self._ended(TaskStatus.CANCELLED, e)

    def _expired(self, _: int, e: ev.TaskExpired) -> None:
        self._ended(TaskStatus.EXPIRED, e)

    def _finalized(self, _: int, e: ev.TaskFinalized) -> None:
        self._ended(e.status, e, e.error)

    def _child_spawned(self, _: int, e: ev.ChildSpawned) -> None:
        self._update("child_spawned", e)

    def _child_finished(self, _: int, e: ev.ChildFinished) -> None:
        self._update("child_finished", e)


_RUNNING = TaskStatus.RUNNING.value

_STATUS_BEFORE: dict[type, str] = {
    ev.TaskUnblocked: TaskStatus.BLOCKED.value,
    ev.TaskStarted: TaskStatus.PENDING.value,
    ev.TaskRequeued: TaskStatus.RUNNING.value,
    ev.TaskCompleted: TaskStatus.RUNNING.value,
    ev.TaskAwaitingChildren: TaskStatus.RUNNING.value,
    ev.TaskRetrying: TaskStatus.RUNNING.value,
    ev.TaskFailed: TaskStatus.RUNNING.value,
    ev.TaskDeadLettered: TaskStatus.RUNNING.value,
    ev.TaskFinalized: TaskStatus.WAITING.value,
}
"""The status each event can only leave (the Task aggregate enforces it); cancel and expire
can leave any, so for them the view is asked."""

_CHANGES_STATUS: frozenset[type] = frozenset({*_STATUS_BEFORE, ev.TaskCancelled, ev.TaskExpired})
"""The events whose handler moves the task's tag counters (`PageProjector._move`)."""

_HANDLERS: dict[type, Any] = {
    ev.TaskSubmitted: PageProjector._submitted,
    ev.TaskUnblocked: PageProjector._unblocked,
    ev.TaskStarted: PageProjector._started,
    ev.TaskLeaseRenewed: PageProjector._lease_renewed,
    ev.TaskRequeued: PageProjector._requeued,
    ev.TaskCompleted: PageProjector._completed,
    ev.TaskAwaitingChildren: PageProjector._awaiting,
    ev.TaskRetrying: PageProjector._retrying,
    ev.TaskFailed: PageProjector._failed,
    ev.TaskDeadLettered: PageProjector._dead_lettered,
    ev.TaskCancelled: PageProjector._cancelled,
    ev.TaskExpired: PageProjector._expired,
    ev.TaskFinalized: PageProjector._finalized,
    ev.ChildSpawned: PageProjector._child_spawned,
    ev.ChildFinished: PageProjector._child_finished,
}
