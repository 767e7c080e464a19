"""The workloads on taskmill, through its public API only."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from benchmarks.workload import TaskRow, batches, to_submission
from taskmill import Scheduler, TaskAggregate, TaskQuery, TaskStatus

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
    """W2: ids of pending tasks with the tag (`query_task_ids`: no records are built)."""
    query = TaskQuery().with_tag(key, value).with_status(TaskStatus.PENDING)
    if limit is not None:
        query = query.limit(limit)
    return scheduler.query_task_ids(query)


def count_by_tag(scheduler: Scheduler, key: str) -> list[tuple[str, int]]:
    """W3: pending tasks per value of the tag."""
    return scheduler.count_by_tag(key, status=TaskStatus.PENDING)


def count_by_tag_analytical(scheduler: Scheduler, key: str) -> list[tuple[str, int]]:
    """W3 answered by the DuckDB view instead (`aggregate_tasks`), in `count_by_tag`'s order."""
    rows = scheduler.aggregate_tasks(
        TaskAggregate().group_by_tag(key).with_status(TaskStatus.PENDING)
    )
    return [(str(r.group[key]), r.count) for r in rows if r.group[key] is not None]


def sum_by_tag(scheduler: Scheduler, key: str) -> list[tuple[str, int, int]]:
    """W4: pending tasks and their expected bytes per value of the tag."""
    rows = scheduler.aggregate_tasks(
        TaskAggregate()
        .group_by_tag(key)
        .sum("expected_net_tx_bytes")
        .with_status(TaskStatus.PENDING)
    )
    return [
        (str(r.group[key]), r.count, int(r.sum_expected_net_tx_bytes))
        for r in rows
        if r.group[key] is not None
    ]


def stats_by_tag(scheduler: Scheduler, key: str) -> dict[str, dict[str, int]]:
    """W7: a fresh snapshot's per-status counts for every value of the tag."""
    with scheduler.snapshot() as snapshot:
        return {
            value: {s.value: n for s, n in stats.by_status().items() if n}
            for value, stats in snapshot.stats_by_tag(key)
        }


def stats_by_tag_as_of(scheduler: Scheduler, key: str) -> dict[str, dict[str, int]]:
    """W7 answered by the DuckDB view: the same counts reconstructed `as_of` now."""
    with scheduler.snapshot() as snapshot:
        return {
            value: {s.value: n for s, n in stats.by_status().items() if n}
            for value, stats in snapshot.stats_by_tag(key, as_of=snapshot.taken_at)
        }


def start_some(scheduler: Scheduler, count: int) -> None:
    """Begin an attempt on `count` pending tasks (W7 measures while they run)."""
    query = TaskQuery().with_status(TaskStatus.PENDING).limit(count)
    for record in scheduler.query_tasks(query):
        scheduler.start(record.id)


def rebuild(scheduler: Scheduler, view: str) -> int:
    """W6: replay the whole log into a fresh view; the number of events replayed."""
    return scheduler.rebuild_views(views=[view])
