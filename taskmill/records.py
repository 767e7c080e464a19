"""What queries return: immutable pydantic records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict

from taskmill.domain.io_figures import IOFigures
from taskmill.domain.status import TaskStatus
from taskmill.domain.trusted import construct_trusted, trusted_uuid


class SubmitResult(BaseModel):
    """The id of the submitted task; `inserted` is False when an active task held the dedup key."""

    model_config = ConfigDict(frozen=True)

    task_id: UUID
    inserted: bool


class TaskRecord(BaseModel):
    """A task's current state as the operational view holds it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    task_type: str
    status: TaskStatus
    priority: int
    group: str | None
    dedup_key: str | None
    parent_id: UUID | None
    tags: Mapping[str, str]
    payload: Any
    attempts: int
    max_retries: int
    ttl_seconds: float | None
    expected_io: IOFigures
    actual_io: IOFigures
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime | None
    expires_at: datetime | None
    last_error: str | None
    worker_id: str | None
    lease_expires_at: datetime | None
    children_total: int
    children_unfinished: int
    sequence: int
    """Log position of the submission: the tie-breaker of the (priority, submission) order."""

    @property
    def user_tags(self) -> dict[str, str]:
        """The tags without the system's `taskmill.*` ones."""
        return {k: v for k, v in self.tags.items() if not k.startswith("taskmill.")}

    @classmethod
    def from_columns(cls, row: Sequence[Any]) -> TaskRecord:
        """`row` holds the tasks table's `TASK_COLUMNS`, in that order (read.sql's
        `task_columns`). Positional: an `sqlite3.Row` looks names up one column at a time, and
        this runs for every record a query returns."""
        (
            task_id, seq, task_type, status, priority, group, dedup_key, parent_id, payload,
            tags, attempts, max_retries, ttl_seconds,
            expected_read, expected_write, expected_rx, expected_tx,
            actual_read, actual_write, actual_rx, actual_tx,
            submitted_at, started_at, finished_at, run_after, expires_at, last_error, worker_id,
            lease_expires_at, children_total, children_unfinished,
        ) = row  # fmt: skip
        # Trusted path: rows were written from validated events, so skip re-validation.
        return construct_trusted(
            cls,
            {
                "id": trusted_uuid(task_id),
                "task_type": task_type,
                "status": _STATUS[status],
                "priority": priority,
                "group": group,
                "dedup_key": dedup_key,
                "parent_id": None if parent_id is None else trusted_uuid(parent_id),
                "tags": orjson.loads(tags),
                "payload": orjson.loads(payload),
                "attempts": attempts,
                "max_retries": max_retries,
                "ttl_seconds": ttl_seconds,
                "expected_io": _io(expected_read, expected_write, expected_rx, expected_tx),
                "actual_io": _io(actual_read, actual_write, actual_rx, actual_tx),
                "submitted_at": datetime.fromisoformat(submitted_at),
                "started_at": _moment(started_at),
                "finished_at": _moment(finished_at),
                "run_after": _moment(run_after),
                "expires_at": _moment(expires_at),
                "last_error": last_error,
                "worker_id": worker_id,
                "lease_expires_at": _moment(lease_expires_at),
                "children_total": children_total,
                "children_unfinished": children_unfinished,
                "sequence": seq,
            },
        )


TASK_COLUMNS = (
    "id", "seq", "task_type", "status", "priority", "group_key", "dedup_key", "parent_id",
    "payload", "tags", "attempts", "max_retries", "ttl_seconds",
    "expected_read_bytes", "expected_write_bytes", "expected_net_rx_bytes",
    "expected_net_tx_bytes",
    "actual_read_bytes", "actual_write_bytes", "actual_net_rx_bytes", "actual_net_tx_bytes",
    "submitted_at", "started_at", "finished_at", "run_after", "expires_at", "last_error",
    "worker_id", "lease_expires_at", "children_total", "children_unfinished",
)  # fmt: skip
"""The columns `TaskRecord.from_columns` takes, in its order (tests check read.sql's)."""


class HistoryEntry(BaseModel):
    """One event of a task's stream, for audits."""

    model_config = ConfigDict(frozen=True)

    version: int
    event: str
    timestamp: datetime
    data: dict[str, Any]


def _io(read: int, write: int, rx: int, tx: int) -> IOFigures:
    return construct_trusted(
        IOFigures,
        {"read_bytes": read, "write_bytes": write, "net_rx_bytes": rx, "net_tx_bytes": tx},
    )


_STATUS: dict[str, TaskStatus] = {status.value: status for status in TaskStatus}


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
