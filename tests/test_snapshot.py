"""`Scheduler.snapshot()` through the public API: counts per status, `stats_by_tag` (equal to
`count_by_tag` per status, iterable as pairs), groups against their limits, running tasks with
the live progress of executors in this process, and one consistent read of the view."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from taskmill import InvalidQuery, Scheduler, TaskStatus, TaskSubmission
from taskmill.runtime.context import TaskContext
from taskmill.snapshot import GroupStats, RunningTask, SchedulerSnapshot, TagStats

PROFILES = {"dr": 6, "prod": 4, "test": 1}


def wall_clock() -> datetime:
    return datetime.now(UTC)


def workload(scheduler: Scheduler) -> dict[str, list[UUID]]:
    """Tasks per profile, walked into every status."""
    ids: dict[str, list[UUID]] = {}
    for profile, count in PROFILES.items():
        for n in range(count):
            submission = TaskSubmission("transfer", max_retries=0).tag("profile", profile)
            submission.tag("n", str(n))
            ids.setdefault(profile, []).append(scheduler.submit(submission).task_id)
    dr = ids["dr"]
    for task_id in dr[:5]:
        scheduler.start(task_id)
    scheduler.complete(dr[0])
    scheduler.fail(dr[1], "boom", permanent=True)
    scheduler.fail(dr[2], "boom")  # no retries: dead letter
    scheduler.cancel(dr[3])
    scheduler.expire(ids["prod"][0])
    scheduler.start(ids["prod"][1])
    scheduler.submit(TaskSubmission("part", parent=ids["prod"][1]))  # inherits profile=prod
    scheduler.complete(ids["prod"][1])  # waiting for its child
    scheduler.submit(
        TaskSubmission("transfer", run_after=datetime(2100, 1, 1, tzinfo=UTC)).tag(
            "profile", "test"
        )
    )  # blocked
    return ids


def test_counts_per_status_match_the_view(scheduler: Scheduler) -> None:
    workload(scheduler)

    snapshot = scheduler.snapshot()

    assert set(snapshot.counts) == set(TaskStatus)
    assert {s: n for s, n in snapshot.counts.items() if n} == scheduler.status_counts()
    assert snapshot.counts[TaskStatus.RUNNING] == 1
    assert snapshot.counts[TaskStatus.WAITING] == 1
    assert snapshot.counts[TaskStatus.BLOCKED] == 1
    assert snapshot.total == sum(PROFILES.values()) + 2
    assert snapshot.position == scheduler.log_position == scheduler.view_position
    assert snapshot.taken_at.tzinfo is not None


def test_stats_by_tag_equals_count_by_tag_for_every_status(scheduler: Scheduler) -> None:
    workload(scheduler)
    snapshot = scheduler.snapshot()

    for key in ("profile", "n", "taskmill.type"):
        stats = dict(snapshot.stats_by_tag(key))
        for status in TaskStatus:
            expected = dict(scheduler.count_by_tag(key, status=status))
            actual = {
                v: getattr(s, status.value) for v, s in stats.items() if getattr(s, status.value)
            }
            assert actual == expected, (key, status)
        assert {v: s.total for v, s in stats.items()} == dict(scheduler.count_by_tag(key))

    profile = snapshot.stats_by_tag("profile")
    assert profile["dr"] == TagStats(
        running=1, pending=1, completed=1, failed=1, dead_letter=1, cancelled=1
    )
    assert profile["prod"] == TagStats(pending=3, waiting=1, expired=1)  # the child is pending
    assert profile["test"] == TagStats(pending=1, blocked=1)
    assert snapshot.stats_by_tag("no-such-key").items() == []


def test_iterating_stats_by_tag_yields_value_stats_pairs(scheduler: Scheduler) -> None:
    workload(scheduler)
    snapshot = scheduler.snapshot()
    printed = []

    for profile, stats in snapshot.stats_by_tag("profile"):
        printed.append(f"{profile} {stats.running} {stats.pending}")

    assert printed == ["dr 1 1", "prod 0 3", "test 0 1"]  # largest total first
    view = snapshot.stats_by_tag("profile")
    assert list(view) == view.items() == list(dict(view).items())
    assert len(view) == 3 and "dr" in view and "nope" not in view
    assert view.get("nope") is None
    assert view.get("nope", TagStats()) == TagStats()
    assert view.keys() == ["dr", "prod", "test"]
    assert view["dr"].total == 6 and view["dr"].active == 2 and view["dr"].finished == 4
    with pytest.raises(KeyError):
        view["nope"]


def test_stats_by_tag_answers_as_of_the_snapshot_even_when_asked_later(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    scheduler, other = open_scheduler(), open_scheduler()
    first = scheduler.submit(TaskSubmission("job").tag("profile", "dr")).task_id
    snapshot = scheduler.snapshot()

    other.start(first)
    other.submit(TaskSubmission("job").tag("profile", "dr"))
    scheduler.submit(TaskSubmission("job").tag("profile", "prod"))

    # Asked after the changes, for a key not asked for before: still as of the snapshot.
    assert dict(snapshot.stats_by_tag("profile")) == {"dr": TagStats(pending=1)}
    assert snapshot.counts[TaskStatus.PENDING] == 1
    fresh = scheduler.snapshot()
    assert dict(fresh.stats_by_tag("profile")) == {
        "dr": TagStats(pending=1, running=1),
        "prod": TagStats(pending=1),
    }
    assert fresh.position > snapshot.position


def test_a_closed_snapshot_keeps_what_it_answered(scheduler: Scheduler) -> None:
    scheduler.submit(TaskSubmission("job").tag("profile", "dr").tag("region", "eu"))
    with scheduler.snapshot() as snapshot:
        asked = snapshot.stats_by_tag("profile")
    assert snapshot.stats_by_tag("profile") == asked
    with pytest.raises(InvalidQuery, match="closed"):
        snapshot.stats_by_tag("region")
    snapshot.close()  # twice is fine


def test_a_snapshot_catches_up_writes_of_other_processes(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    reader, writer = open_scheduler(), open_scheduler()
    for _ in range(3):
        writer.submit(TaskSubmission("job").tag("profile", "dr"))

    snapshot = reader.snapshot()

    assert snapshot.counts[TaskStatus.PENDING] == 3
    assert snapshot.position == writer.log_position
    assert snapshot.stats_by_tag("profile")["dr"].pending == 3


def test_groups_show_running_and_pending_against_their_limit(scheduler: Scheduler) -> None:
    scheduler.set_group_limit("s3://play.min.io", 2)
    limited = [
        scheduler.submit(TaskSubmission("upload", group="s3://play.min.io")).task_id
        for _ in range(4)
    ]
    free = [scheduler.submit(TaskSubmission("upload", group="local")).task_id for _ in range(2)]
    done = scheduler.submit(TaskSubmission("upload", group="finished")).task_id
    scheduler.start(limited[0])
    scheduler.start(limited[1])
    scheduler.start(free[0])
    scheduler.start(done)
    scheduler.complete(done)
    scheduler.submit(TaskSubmission("upload"))  # no group

    groups = scheduler.snapshot().groups

    assert groups == {
        "local": GroupStats(running=1, pending=1, limit=None),
        "s3://play.min.io": GroupStats(running=2, pending=2, limit=2),
    }
    assert groups["s3://play.min.io"].free == 0 and groups["local"].free is None


def test_running_tasks_of_other_processes_have_no_progress(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    scheduler, other = open_scheduler(), open_scheduler()
    task_id = other.submit(TaskSubmission("job", group="g").tag("profile", "dr")).task_id
    other.start(task_id, worker_id="elsewhere-1")

    (running,) = scheduler.snapshot().running

    assert running == RunningTask(
        task_id=task_id,
        task_type="job",
        tags={"profile": "dr", "taskmill.type": "job", "taskmill.group": "g"},
        group="g",
        attempt=1,
        started_at=running.started_at,
        worker_id="elsewhere-1",
        local=False,
        progress=None,
        message=None,
    )
    assert running.started_at is not None


def test_running_tasks_show_the_progress_of_executors_in_this_process(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    live = open_scheduler(clock=wall_clock, poll_seconds=0.01, max_concurrency=4)
    reported = {"dr": threading.Event(), "prod": threading.Event()}
    release = threading.Event()

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        profile = ctx.task.tags["profile"]
        if profile == "dr":
            ctx.progress(0.25, "uploading part 2/8")
        reported[profile].set()
        release.wait(10)

    quiet = live.submit(TaskSubmission("transfer").tag("profile", "prod")).task_id
    busy = live.submit(TaskSubmission("transfer").tag("profile", "dr")).task_id
    thread = threading.Thread(target=live.run_until_idle, daemon=True)
    thread.start()
    try:
        assert all(event.wait(10) for event in reported.values())
        snapshot = live.snapshot()
        elsewhere = open_scheduler(clock=wall_clock).snapshot()
    finally:
        release.set()
        thread.join(10)
    assert not thread.is_alive()

    running = {task.task_id: task for task in snapshot.running}
    assert set(running) == {quiet, busy}
    assert running[busy].progress == 0.25
    assert running[busy].message == "uploading part 2/8"
    assert running[busy].local and running[busy].worker_id == live.worker_id
    assert running[busy].tags == {"profile": "dr", "taskmill.type": "transfer"}
    assert running[busy].started_at is not None and running[busy].attempt == 1
    assert running[quiet].local and running[quiet].progress is None
    # Another process sees the same tasks running, without their progress.
    assert {t.task_id: (t.local, t.progress) for t in elsewhere.running} == {
        quiet: (False, None),
        busy: (False, None),
    }
    assert snapshot.stats_by_tag("profile")["dr"].running == 1
    assert live.snapshot().running == []


def test_a_snapshot_dumps_to_json(scheduler: Scheduler) -> None:
    workload(scheduler)
    scheduler.set_group_limit("g", 3)
    scheduler.submit(TaskSubmission("job", group="g"))
    snapshot = scheduler.snapshot()

    data: dict[str, Any] = json.loads(snapshot.model_dump_json())

    assert data["position"] == snapshot.position
    assert data["counts"]["running"] == 1
    assert data["groups"] == {"g": {"running": 0, "pending": 1, "limit": 3}}
    assert SchedulerSnapshot.model_validate(data).counts == snapshot.counts
