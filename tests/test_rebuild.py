"""`rebuild_views`: replaying the log gives the same view, and open schedulers keep working."""

from __future__ import annotations

import gc
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from taskmill import Scheduler, TaskQuery, TaskStatus, TaskSubmission
from taskmill.infrastructure.gc_pause import gc_paused

TAG_KEYS = ("profile", "zone", "taskmill.type", "taskmill.group")


def _populate(scheduler: Scheduler) -> None:
    """A log touching every kind of event: retries, children, cancels, duplicates."""
    batch = [
        TaskSubmission(
            "copy" if n % 3 else "delete",
            priority=n % 4,
            group=f"g{n % 2}",
            dedup_key=f"key-{n % 7}",
            tags={"profile": ["dr", "mirror", "archive"][n % 3], "zone": f"z{n % 5}"},
            payload={"n": n},
        )
        for n in range(30)
    ]
    ids = [r.task_id for r in scheduler.submit_batch(batch)]
    unique = list(dict.fromkeys(ids))
    scheduler.start(unique[0])
    scheduler.complete(unique[0], actual_io={"read_bytes": 10})
    scheduler.start(unique[1])
    scheduler.fail(unique[1], "flaky")
    scheduler.start(unique[2])
    scheduler.fail(unique[2], "fatal", permanent=True)
    scheduler.cancel(unique[3])
    scheduler.start(unique[4])
    scheduler.requeue(unique[4], reason="lease lost")
    parent = unique[5]
    children = [
        scheduler.submit(TaskSubmission("part").parent(parent).tag("zone", "child")).task_id
        for _ in range(3)
    ]
    scheduler.start(parent)
    scheduler.complete(parent)
    scheduler.start(children[0])
    scheduler.complete(children[0])
    scheduler.cancel(unique[6])  # a parent-less task; its dedup key can be reused
    scheduler.submit(TaskSubmission("copy", dedup_key="key-6", tags={"profile": "dr"}))


def _snapshot(scheduler: Scheduler) -> dict[str, Any]:
    return {
        "tasks": [r.model_dump() for r in scheduler.query_tasks()],
        "counts": {key: scheduler.count_by_tag(key) for key in TAG_KEYS},
        "counts_by_status": {
            (key, status): scheduler.count_by_tag(key, status=status)
            for key in TAG_KEYS
            for status in TaskStatus
        },
        "values": {key: scheduler.tag_values(key) for key in TAG_KEYS},
        "keys": scheduler.tag_keys(),
        "statuses": scheduler.status_counts(),
        "filtered": [
            r.id
            for r in scheduler.query_tasks(
                TaskQuery().with_tag("profile", "dr").with_status(TaskStatus.PENDING)
            )
        ],
    }


def test_rebuild_gives_the_same_view(scheduler: Scheduler) -> None:
    _populate(scheduler)
    before = _snapshot(scheduler)
    old_path = scheduler.view_path

    replayed = scheduler.rebuild_views()

    assert replayed == scheduler.log_position
    assert scheduler.view_position == scheduler.log_position
    assert _snapshot(scheduler) == before
    assert scheduler.view_path != old_path
    assert not old_path.exists()


def test_rebuild_twice_gives_the_same_view(scheduler: Scheduler) -> None:
    _populate(scheduler)
    before = _snapshot(scheduler)

    scheduler.rebuild_views()
    scheduler.rebuild_views()

    assert _snapshot(scheduler) == before


def test_rebuild_of_an_empty_log(scheduler: Scheduler) -> None:
    assert scheduler.rebuild_views() == 0
    assert scheduler.query_tasks() == []


def test_rebuild_reports_progress(scheduler: Scheduler) -> None:
    from taskmill.projections.operational.view import REBUILD_PAGE_SIZE

    scheduler.submit_batch([TaskSubmission("job") for _ in range(REBUILD_PAGE_SIZE * 2 + 100)])
    calls: list[tuple[int, int]] = []

    scheduler.rebuild_views(
        progress=lambda position, head: calls.append((position, head)), views=["operational"]
    )

    head = scheduler.log_position
    assert len(calls) == 3  # one call per page
    assert all(h == head for _, h in calls)
    positions = [p for p, _ in calls]
    assert positions == sorted(set(positions))
    assert positions[-1] == head


def test_view_keeps_working_after_a_rebuild(scheduler: Scheduler) -> None:
    _populate(scheduler)
    scheduler.rebuild_views()

    task_id = scheduler.submit(TaskSubmission("job").tag("profile", "new")).task_id
    scheduler.start(task_id)

    assert scheduler.count_by_tag("profile", status=TaskStatus.RUNNING)[0] == ("new", 1)
    assert scheduler.view_position == scheduler.log_position


def test_another_open_scheduler_keeps_working_after_a_rebuild(open_scheduler) -> None:
    rebuilder = open_scheduler()
    other = open_scheduler()
    _populate(rebuilder)
    expected = _snapshot(rebuilder)
    assert _snapshot(other) == expected

    rebuilder.rebuild_views()

    assert _snapshot(other) == expected
    task_id = other.submit(TaskSubmission("job").tag("profile", "after")).task_id
    other.start(task_id)
    assert rebuilder.task(task_id) is not None
    assert rebuilder.count_by_tag("profile", status=TaskStatus.RUNNING) == [("after", 1)]
    assert _snapshot(other) == _snapshot(rebuilder)


def test_another_open_scheduler_keeps_working_after_two_quick_rebuilds(open_scheduler) -> None:
    rebuilder = open_scheduler()
    other = open_scheduler()
    _populate(rebuilder)
    other.query_tasks()

    rebuilder.rebuild_views()
    rebuilder.rebuild_views()

    task_id = other.submit(TaskSubmission("job").tag("profile", "after")).task_id
    assert rebuilder.task(task_id) is not None
    assert _snapshot(other) == _snapshot(rebuilder)


def _rebuild_in_another_process(folder: str, out: Any) -> None:
    with Scheduler.open(folder) as scheduler:
        out.put(scheduler.rebuild_views())


def test_open_scheduler_keeps_working_after_another_process_rebuilds(
    scheduler: Scheduler, store: Path
) -> None:
    _populate(scheduler)
    expected = _snapshot(scheduler)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_rebuild_in_another_process, args=(str(store), out))
    process.start()
    replayed = out.get(timeout=60)
    process.join(timeout=30)
    assert process.exitcode == 0
    assert replayed == scheduler.log_position

    assert _snapshot(scheduler) == expected
    task_id = scheduler.submit(TaskSubmission("job").tag("profile", "after")).task_id
    assert scheduler.task(task_id) is not None
    assert ("after", 1) in scheduler.count_by_tag("profile")


def test_rebuild_replays_into_both_views_by_default(scheduler: Scheduler) -> None:
    scheduler.submit_batch([TaskSubmission("job") for _ in range(5)])
    calls: list[tuple[int, int]] = []

    replayed = scheduler.rebuild_views(
        progress=lambda position, head: calls.append((position, head))
    )

    head = scheduler.log_position
    assert replayed == head
    assert calls == [(head, head), (head, head)]  # one page for each view


def test_rebuild_refuses_an_unknown_view(scheduler: Scheduler) -> None:
    import pytest

    from taskmill import InvalidQuery

    with pytest.raises(InvalidQuery):
        scheduler.rebuild_views(views=["operational", "cache"])


def test_replaying_the_log_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """Replay pauses Python's cyclic collector while it decodes and applies each page (see
    docs/performance.md), never while the caller's code runs: the progress callback sees it
    enabled, the process gets it back enabled, and a caller who disabled it keeps it so."""
    with Scheduler.open(tmp_path / "store") as scheduler:
        _populate(scheduler)
        seen: list[bool] = []
        scheduler.rebuild_views(lambda position, head: seen.append(gc.isenabled()))
        assert seen and all(seen)
        assert gc.isenabled()
        gc.disable()
        try:
            scheduler.rebuild_views()
            assert not gc.isenabled()
        finally:
            gc.enable()


def test_gc_paused_disables_the_collector_only_inside_and_only_if_it_was_enabled() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("the block failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
