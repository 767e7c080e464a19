"""What queries return: immutable pydantic records."""

from __future__ import annotations

from collections.abc import Mapping
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
    def from_row(cls, row: Any) -> TaskRecord:
        """`row` is an `sqlite3.Row` (or any mapping) of the tasks table."""
        # Trusted path: rows were written from validated events, so skip re-validation.
        return construct_trusted(
            cls,
            dict(
                id=trusted_uuid(row["id"]),
                task_type=row["task_type"],
                status=_STATUS[row["status"]],
                priority=row["priority"],
                group=row["group_key"],
                dedup_key=row["dedup_key"],
                parent_id=None if row["parent_id"] is None else trusted_uuid(row["parent_id"]),
                tags=orjson.loads(row["tags"]),
                payload=orjson.loads(row["payload"]),
                attempts=row["attempts"],
                max_retries=row["max_retries"],
                ttl_seconds=row["ttl_seconds"],
                expected_io=_io(row, "expected"),
                actual_io=_io(row, "actual"),
                submitted_at=datetime.fromisoformat(row["submitted_at"]),
                started_at=_moment(row["started_at"]),
                finished_at=_moment(row["finished_at"]),
                run_after=_moment(row["run_after"]),
                expires_at=_moment(row["expires_at"]),
                last_error=row["last_error"],
                worker_id=row["worker_id"],
                lease_expires_at=_moment(row["lease_expires_at"]),
                children_total=row["children_total"],
                children_unfinished=row["children_unfinished"],
                sequence=row["seq"],
            ),
        )


class HistoryEntry(BaseModel):
    """One event of a task's stream, for audits."""

    model_config = ConfigDict(frozen=True)

    version: int
    event: str
    timestamp: datetime
    data: dict[str, Any]


def _io(row: Any, prefix: str) -> IOFigures:
    return construct_trusted(
        IOFigures,
        {
            "read_bytes": row[f"{prefix}_read_bytes"],
            "write_bytes": row[f"{prefix}_write_bytes"],
            "net_rx_bytes": row[f"{prefix}_net_rx_bytes"],
            "net_tx_bytes": row[f"{prefix}_net_tx_bytes"],
        },
    )


_STATUS: dict[str, TaskStatus] = {status.value: status for status in TaskStatus}


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
