"""Limits: `max_concurrency` per process, persisted per-group limits (checked both live and by
replaying the log), and TTLs that expire tasks not started in time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from taskmill import (
    GroupFull,
    InvalidQuery,
    Scheduler,
    TaskRecord,
    TaskStatus,
    TaskSubmission,
)
from taskmill.runtime.context import TaskContext

RunIdle = Callable[..., float]


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


class Gauge:
    """Counts executors running at once (overall and per group); remembers the highest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: dict[str | None, int] = {}
        self.peak: dict[str | None, int] = {}

    def enter(self, *keys: str | None) -> None:
        with self._lock:
            for key in keys:
                self.now[key] = self.now.get(key, 0) + 1
                self.peak[key] = max(self.peak.get(key, 0), self.now[key])

    def leave(self, *keys: str | None) -> None:
        with self._lock:
            for key in keys:
                self.now[key] -= 1


# -- max_concurrency -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_max_concurrency_is_never_exceeded(
    open_live: Callable[..., Scheduler], run_idle: RunIdle, log_intervals: Any, flavour: str
) -> None:
    scheduler = open_live(max_concurrency=3)
    gauge = Gauge()

    if flavour == "async":

        @scheduler.executor("job")
        async def job_async(ctx: TaskContext) -> None:
            gauge.enter(None)
            await asyncio.sleep(0.02)
            gauge.leave(None)

    else:

        @scheduler.executor("job")
        def job_sync(ctx: TaskContext) -> None:
            gauge.enter(None)
            time.sleep(0.02)
            gauge.leave(None)

    ids = [s.task_id for s in scheduler.submit_batch(TaskSubmission("job") for _ in range(30))]

    run_idle(scheduler)

    assert all(_record(scheduler, i).status is TaskStatus.COMPLETED for i in ids)
    assert gauge.peak[None] == 3  # reached (the loop does run tasks side by side), never above
    intervals = log_intervals.of(scheduler, ids)
    assert len(intervals) == 30
    assert log_intervals.max_overlap(intervals) <= 3


def test_max_concurrency_counts_finalizers_and_children_too(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=2)
    gauge = Gauge()

    @scheduler.executor("parent")
    def parent(ctx: TaskContext) -> None:
        gauge.enter(None)
        for _ in range(3):
            ctx.spawn(TaskSubmission("child"))
        time.sleep(0.02)
        gauge.leave(None)

    @scheduler.executor("child")
    def child(ctx: TaskContext) -> None:
        gauge.enter(None)
        time.sleep(0.02)
        gauge.leave(None)

    @scheduler.finalizer("parent")
    def finish(ctx: TaskContext) -> None:
        gauge.enter(None)
        time.sleep(0.02)
        gauge.leave(None)

    ids = [scheduler.submit(TaskSubmission("parent")).task_id for _ in range(4)]

    run_idle(scheduler)

    assert all(_record(scheduler, i).status is TaskStatus.COMPLETED for i in ids)
    assert gauge.peak[None] == 2  # four parents pending at once: two run side by side, no more


# -- group limits --------------------------------------------------------------------------------


def test_group_limit_is_never_exceeded_live_and_in_the_log(
    open_live: Callable[..., Scheduler], run_idle: RunIdle, log_intervals: Any
) -> None:
    scheduler = open_live(max_concurrency=8)
    scheduler.set_group_limit("s3://play", 2)
    gauge = Gauge()

    @scheduler.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        group = ctx.task.group
        gauge.enter(group)
        time.sleep(0.03)
        gauge.leave(group)

    limited = [
        s.task_id
        for s in scheduler.submit_batch(
            TaskSubmission("transfer", group="s3://play") for _ in range(16)
        )
    ]
    free = [
        s.task_id
        for s in scheduler.submit_batch(
            TaskSubmission("transfer", group="file://local") for _ in range(12)
        )
    ]

    run_idle(scheduler)

    assert all(_record(scheduler, i).status is TaskStatus.COMPLETED for i in limited + free)
    assert gauge.peak["s3://play"] == 2
    assert gauge.peak["file://local"] > 2, "a limit on one group held back another group"
    overlap = log_intervals.by_group(log_intervals.of(scheduler, limited + free))
    assert overlap["s3://play"] <= 2
    assert overlap["file://local"] > 2


def test_group_limit_holds_across_two_schedulers_on_one_store(
    open_live: Callable[..., Scheduler], log_intervals: Any
) -> None:
    """Each scheduler runs its own type, both in one group: they must share its one slot."""
    first = open_live(max_concurrency=4)
    second = open_live(max_concurrency=4)
    first.set_group_limit("g", 1)
    gauge = Gauge()

    def job(ctx: TaskContext) -> None:
        gauge.enter("g")
        time.sleep(0.01)
        gauge.leave("g")

    first.executor("a")(job)
    second.executor("b")(job)
    ids = [
        s.task_id
        for s in first.submit_batch(
            TaskSubmission("a" if n % 2 else "b", group="g") for n in range(20)
        )
    ]
    errors: list[BaseException] = []

    def work(scheduler: Scheduler) -> None:
        try:
            scheduler.run_until_idle()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "run_until_idle did not return"
    assert errors == []

    assert all(_record(first, i).status is TaskStatus.COMPLETED for i in ids)
    assert gauge.peak["g"] == 1
    intervals = log_intervals.of(first, ids)
    assert {i.worker_id for i in intervals} == {first.worker_id, second.worker_id}
    assert log_intervals.max_overlap(intervals) <= 1


def test_group_limit_getter_and_lifting_it(live: Scheduler) -> None:
    assert live.group_limit("never-set") is None

    live.set_group_limit("g", 2)
    assert live.group_limit("g") == 2
    live.set_group_limit("g", 5)
    assert live.group_limit("g") == 5
    live.set_group_limit("g", None)
    assert live.group_limit("g") is None
    assert live.group_limit("other") is None


def test_a_groups_first_limit_counts_the_tasks_already_running_in_it(
    scheduler: Scheduler,
) -> None:
    """Before any limit, a group's tasks start without taking a slot: the first limit must
    still count the two already running, in this group only."""
    in_g = [scheduler.submit(TaskSubmission("job").group("g")).task_id for _ in range(3)]
    in_h = scheduler.submit(TaskSubmission("job").group("h")).task_id
    scheduler.start(in_g[0])
    scheduler.start(in_g[1])
    scheduler.start(in_h)

    scheduler.set_group_limit("g", 1)

    with pytest.raises(GroupFull):
        scheduler.start(in_g[2])
    scheduler.complete(in_g[0])
    with pytest.raises(GroupFull):  # one of the two still holds the only slot
        scheduler.start(in_g[2])
    scheduler.complete(in_g[1])
    scheduler.start(in_g[2])
    assert _record(scheduler, in_g[2]).status is TaskStatus.RUNNING
    scheduler.set_group_limit("h", 1)  # h's running task holds h's slot, not g's
    with pytest.raises(GroupFull):
        scheduler.start(scheduler.submit(TaskSubmission("job").group("h")).task_id)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_group_limit_must_be_a_positive_integer(live: Scheduler, bad: Any) -> None:
    live.set_group_limit("g", 3)

    with pytest.raises(InvalidQuery, match="limit"):
        live.set_group_limit("g", bad)

    assert live.group_limit("g") == 3


def test_group_limit_persists_for_another_scheduler_on_the_same_folder(
    open_live: Callable[..., Scheduler], run_idle: RunIdle, log_intervals: Any
) -> None:
    first = open_live()
    first.set_group_limit("s3://play", 2)
    first.close()

    second = open_live(max_concurrency=8)
    assert second.group_limit("s3://play") == 2
    gauge = Gauge()

    @second.executor("job")
    async def job(ctx: TaskContext) -> None:
        gauge.enter("g")
        await asyncio.sleep(0.02)
        gauge.leave("g")

    ids = [
        s.task_id
        for s in second.submit_batch(TaskSubmission("job", group="s3://play") for _ in range(10))
    ]

    run_idle(second)

    assert gauge.peak["g"] == 2
    assert log_intervals.max_overlap(log_intervals.of(second, ids)) <= 2


def test_lifting_a_group_limit_lets_the_group_run_wide(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=6)
    scheduler.set_group_limit("g", 1)
    scheduler.set_group_limit("g", None)
    gauge = Gauge()

    @scheduler.executor("job")
    async def job(ctx: TaskContext) -> None:
        gauge.enter("g")
        await asyncio.sleep(0.05)
        gauge.leave("g")

    scheduler.submit_batch(TaskSubmission("job", group="g") for _ in range(6))

    run_idle(scheduler)

    assert gauge.peak["g"] > 1


def test_a_full_group_does_not_starve_tasks_of_other_groups(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    """Many urgent tasks of a limited group ahead in the order must not hold back the rest."""
    scheduler = open_live(max_concurrency=4)
    scheduler.set_group_limit("busy", 1)
    other_done: list[float] = []
    began = time.monotonic()

    @scheduler.executor("job")
    async def job(ctx: TaskContext) -> None:
        if ctx.task.group == "busy":
            await asyncio.sleep(0.05)
        else:
            other_done.append(time.monotonic() - began)

    scheduler.submit_batch(TaskSubmission("job", group="busy", priority=0) for _ in range(30))
    scheduler.submit_batch(TaskSubmission("job", group="quiet", priority=200) for _ in range(3))

    run_idle(scheduler, 30)

    assert len(other_done) == 3
    assert max(other_done) < 0.3, "tasks of a free group waited behind a full one"


# -- TTL -----------------------------------------------------------------------------------------


def test_a_task_kept_pending_past_its_ttl_expires_and_never_runs(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=4)
    scheduler.set_group_limit("g", 1)
    ran: list[str] = []

    @scheduler.executor("job")
    async def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.payload)
        if ctx.task.payload == "blocker":
            await asyncio.sleep(0.8)

    blocker = scheduler.submit(TaskSubmission("job", payload="blocker", group="g", priority=0))
    short = scheduler.submit(TaskSubmission("job", payload="short", group="g", ttl=0.3))
    long = scheduler.submit(TaskSubmission("job", payload="long", group="g", ttl=30))

    run_idle(scheduler)

    assert ran == ["blocker", "long"]
    assert _record(scheduler, blocker.task_id).status is TaskStatus.COMPLETED
    record = _record(scheduler, short.task_id)
    assert record.status is TaskStatus.EXPIRED
    assert record.attempts == 0
    events = [e.event for e in scheduler.history(short.task_id)]
    assert events == ["TaskSubmitted", "TaskExpired"]
    expired_at = scheduler.history(short.task_id)[-1].timestamp
    assert expired_at >= record.submitted_at + timedelta(seconds=0.3)
    assert _record(scheduler, long.task_id).status is TaskStatus.COMPLETED


def test_housekeeping_expires_an_overdue_task_no_executor_handles(
    live: Scheduler, run_idle: RunIdle
) -> None:
    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        pass

    orphan = live.submit(TaskSubmission("nobody-runs-this", ttl=0.2)).task_id
    fresh = live.submit(TaskSubmission("nobody-runs-this", ttl=60)).task_id
    time.sleep(0.3)

    run_idle(live)

    assert _record(live, orphan).status is TaskStatus.EXPIRED
    assert _record(live, fresh).status is TaskStatus.PENDING


def test_a_blocked_task_whose_ttl_runs_out_before_run_after_expires(
    live: Scheduler, run_idle: RunIdle
) -> None:
    ran: list[UUID] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.id)

    task_id = live.submit(
        TaskSubmission("job", ttl=0.2, run_after=datetime.now(UTC) + timedelta(seconds=0.6))
    ).task_id

    run_idle(live)

    assert ran == []
    assert _record(live, task_id).status is TaskStatus.EXPIRED


def test_ttl_only_bounds_the_wait_a_started_task_may_outlive_it(
    live: Scheduler, run_idle: RunIdle
) -> None:
    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        await asyncio.sleep(0.6)

    task_id = live.submit(TaskSubmission("job", ttl=0.2)).task_id

    run_idle(live)

    assert _record(live, task_id).status is TaskStatus.COMPLETED
    assert [e.event for e in live.history(task_id)][-1] == "TaskCompleted"
