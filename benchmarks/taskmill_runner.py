"""The workloads on taskmill, through its public API only."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from benchmarks.workload import TaskRow, batches, to_submission
from taskmill import Scheduler, TaskQuery, TaskStatus

BATCH_SIZE = 1_000


def open_store(folder: Path) -> Scheduler:
    return Scheduler.open(folder)


def submit_each(scheduler: Scheduler, rows: list[TaskRow]) -> None:
    """W1: one `submit` per task, each durable on its own."""
    for row in rows:
        scheduler.submit(to_submission(row))


def submit_batches(scheduler: Scheduler, rows: list[TaskRow]) -> None:
    """W1b: `submit_batch` of 1,000 tasks per call."""
    for batch in batches(rows, BATCH_SIZE):
        scheduler.submit_batch([to_submission(row) for row in batch])


def filter_ids(scheduler: Scheduler, key: str, value: str, limit: int | None) -> list[UUID]:
    """W2: ids of pending tasks with the tag (the API returns full records; we keep the ids)."""
    query = TaskQuery().with_tag(key, value).with_status(TaskStatus.PENDING)
    if limit is not None:
        query = query.limit(limit)
    return [record.id for record in scheduler.query_tasks(query)]


def count_by_tag(scheduler: Scheduler, key: str) -> list[tuple[str, int]]:
    """W3: pending tasks per value of the tag."""
    return scheduler.count_by_tag(key, status=TaskStatus.PENDING)


def rebuild(scheduler: Scheduler) -> int:
    """W6: replay the whole log into a fresh view; the number of events replayed."""
    return scheduler.rebuild_views()
