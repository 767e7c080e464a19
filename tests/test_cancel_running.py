"""Cancelling work that is running: async executors are cancelled, sync ones see
`ctx.cancelled`, `cancel_where` reaches every match, parents take their children with them, and
nothing an executor does after its task was cancelled changes the task."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from taskmill import Scheduler, TaskQuery, TaskRecord, TaskStatus, TaskSubmission
from taskmill.runtime.context import TaskContext

CANCEL_NOTICE_SECONDS = 1.0


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


def _status(scheduler: Scheduler, task_id: UUID) -> TaskStatus:
    return _record(scheduler, task_id).status


def _events(scheduler: Scheduler, task_id: UUID) -> list[str]:
    return [entry.event for entry in scheduler.history(task_id)]


async def _until(condition: Callable[[], bool], seconds: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.01)


def _serve(scheduler: Scheduler, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run the dispatch loop while `scenario` runs in the same event loop; stop it after."""

    async def main() -> Any:
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run(stop))
        try:
            return await asyncio.wait_for(scenario(), 20)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)

    return asyncio.run(main())


def test_cancelling_a_running_async_executor_cancels_it(live: Scheduler) -> None:
    started = asyncio.Event()
    seen: list[str] = []

    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("finished")

    task_id = live.submit(TaskSubmission("job")).task_id

    async def scenario() -> float:
        await asyncio.wait_for(started.wait(), 5)
        assert _status(live, task_id) is TaskStatus.RUNNING
        live.cancel(task_id, reason="user asked")
        cancelled_at = time.monotonic()
        await _until(lambda: bool(seen), CANCEL_NOTICE_SECONDS + 1, "CancelledError")
        return time.monotonic() - cancelled_at

    latency = _serve(live, scenario)

    assert seen == ["cancelled"]
    assert latency < CANCEL_NOTICE_SECONDS
    record = _record(live, task_id)
    assert record.status is TaskStatus.CANCELLED
    history = live.history(task_id)
    assert [e.event for e in history] == ["TaskSubmitted", "TaskStarted", "TaskCancelled"]
    assert history[-1].data["reason"] == "user asked"


def test_a_sync_executor_sees_ctx_cancelled_within_a_second(live: Scheduler) -> None:
    started = threading.Event()
    noticed: list[float] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        started.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ctx.cancelled:
                noticed.append(time.monotonic())
                return
            time.sleep(0.01)

    task_id = live.submit(TaskSubmission("job")).task_id

    async def scenario() -> float:
        await _until(started.is_set, 5, "executor start")
        assert not noticed
        live.cancel(task_id)
        cancelled_at = time.monotonic()
        await _until(lambda: bool(noticed), CANCEL_NOTICE_SECONDS + 1, "ctx.cancelled")
        return noticed[0] - cancelled_at

    latency = _serve(live, scenario)

    assert latency < CANCEL_NOTICE_SECONDS
    assert _status(live, task_id) is TaskStatus.CANCELLED
    assert _events(live, task_id) == ["TaskSubmitted", "TaskStarted", "TaskCancelled"]


def test_a_cancel_from_another_scheduler_on_the_store_reaches_the_executor(
    open_live: Callable[..., Scheduler],
) -> None:
    worker = open_live()
    other = open_live()  # as another process would
    started = asyncio.Event()
    seen: list[str] = []

    @worker.executor("job")
    async def job(ctx: TaskContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task_id = worker.submit(TaskSubmission("job")).task_id

    async def scenario() -> None:
        await asyncio.wait_for(started.wait(), 5)
        other.cancel(task_id)
        await _until(lambda: bool(seen), CANCEL_NOTICE_SECONDS + 1, "CancelledError")

    _serve(worker, scenario)

    assert seen == ["cancelled"]
    assert _status(worker, task_id) is TaskStatus.CANCELLED


def test_cancel_where_cancels_every_match_running_or_not(
    open_live: Callable[..., Scheduler],
) -> None:
    scheduler = open_live(max_concurrency=2)
    running: set[UUID] = set()
    interrupted: set[UUID] = set()
    completed: list[UUID] = []

    @scheduler.executor("job")
    async def job(ctx: TaskContext) -> None:
        if ctx.task.tags["batch"] == "doomed":
            running.add(ctx.task.id)
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                interrupted.add(ctx.task.id)
                raise
        completed.append(ctx.task.id)

    doomed = [
        s.task_id
        for s in scheduler.submit_batch(
            TaskSubmission("job", priority=0).tag("batch", "doomed") for _ in range(5)
        )
    ]
    spared = [
        s.task_id
        for s in scheduler.submit_batch(
            TaskSubmission("job", priority=200).tag("batch", "spared") for _ in range(3)
        )
    ]

    async def scenario() -> int:
        await _until(lambda: len(running) == 2, 5, "two doomed tasks running")
        count = scheduler.cancel_where(TaskQuery().with_tag("batch", "doomed"), reason="purge")
        await _until(lambda: len(completed) == 3, 5, "the spared tasks")
        await _until(lambda: interrupted == running, 2, "cancellation of the running ones")
        return count

    count = _serve(scheduler, scenario)

    assert count == 5
    assert {_status(scheduler, i) for i in doomed} == {TaskStatus.CANCELLED}
    assert sorted(completed) == sorted(spared)
    assert {_status(scheduler, i) for i in spared} == {TaskStatus.COMPLETED}
    assert len(running) == 2 and interrupted == running, "only the running ones were started"
    for task_id in doomed:
        assert scheduler.history(task_id)[-1].data["reason"] == "purge"


def test_cancel_where_counts_children_cancelled_with_a_matching_parent(live: Scheduler) -> None:
    """Children inherit tags, so a tag query matches a parent and its children; cancelling
    the parent first cancels the children too, and they are still matches the call cancelled."""
    parent = live.submit(TaskSubmission("transfer").tag("profile", "dr")).task_id
    children = [live.submit(TaskSubmission("part").parent(parent)).task_id for _ in range(2)]
    matches = live.query_tasks(TaskQuery().with_tag("profile", "dr"))
    assert {m.id for m in matches} == {parent, *children}

    count = live.cancel_where(TaskQuery().with_tag("profile", "dr"))

    assert {_status(live, i) for i in (parent, *children)} == {TaskStatus.CANCELLED}
    assert count == 3


def test_cancelling_a_parent_cancels_its_running_and_pending_children(
    open_live: Callable[..., Scheduler],
) -> None:
    scheduler = open_live(max_concurrency=2)
    child_running: set[UUID] = set()
    child_interrupted: set[UUID] = set()
    finalized: list[UUID] = []

    @scheduler.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        for n in range(4):
            ctx.spawn(TaskSubmission("part", payload=n))

    @scheduler.executor("part")
    async def part(ctx: TaskContext) -> None:
        child_running.add(ctx.task.id)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            child_interrupted.add(ctx.task.id)
            raise

    @scheduler.finalizer("transfer")
    def finish(ctx: TaskContext) -> None:
        finalized.append(ctx.task.id)

    parent = scheduler.submit(TaskSubmission("transfer")).task_id

    async def scenario() -> None:
        await _until(lambda: len(child_running) == 2, 5, "two children running")
        assert _status(scheduler, parent) is TaskStatus.WAITING
        scheduler.cancel(parent)
        await _until(lambda: child_interrupted == child_running, 2, "children cancelled")
        await asyncio.sleep(0.3)  # a chance to (wrongly) start the pending children

    _serve(scheduler, scenario)

    children = scheduler.query_tasks(TaskQuery().with_parent(parent))
    assert len(children) == 4
    assert {c.status for c in children} == {TaskStatus.CANCELLED}
    assert len(child_running) == 2, "a child of a cancelled parent was started"
    assert _status(scheduler, parent) is TaskStatus.CANCELLED
    assert finalized == []
    assert "TaskFinalized" not in _events(scheduler, parent)


def test_a_sync_executor_finishing_after_cancel_does_not_change_the_task(
    open_live: Callable[..., Scheduler],
) -> None:
    scheduler = open_live(max_concurrency=4)
    release = threading.Event()
    started: set[str] = set()
    returned: list[str] = []

    @scheduler.executor("job")
    def job(ctx: TaskContext) -> None:
        started.add(ctx.task.payload)
        release.wait(10)  # ignores ctx.cancelled on purpose
        returned.append(ctx.task.payload)
        if ctx.task.payload == "raises":
            raise RuntimeError("late failure")
        ctx.record_io(write_bytes=99)

    quick = scheduler.submit(TaskSubmission("job", payload="quick")).task_id
    slow = scheduler.submit(TaskSubmission("job", payload="slow")).task_id
    raises = scheduler.submit(TaskSubmission("job", payload="raises", max_retries=3)).task_id

    async def scenario() -> None:
        await _until(lambda: len(started) == 3, 5, "three executors started")
        for task_id in (quick, slow, raises):
            scheduler.cancel(task_id)
        # "quick" returns before the loop noticed; the others after it did.
        release.set()
        await _until(lambda: len(returned) == 3, 5, "executors returned")
        await asyncio.sleep(0.3)

    _serve(scheduler, scenario)

    for task_id in (quick, slow, raises):
        record = _record(scheduler, task_id)
        assert record.status is TaskStatus.CANCELLED
        assert record.actual_io.write_bytes == 0
        assert _events(scheduler, task_id) == ["TaskSubmitted", "TaskStarted", "TaskCancelled"]


def test_a_sync_executor_returning_long_after_cancel_is_ignored(live: Scheduler) -> None:
    started = threading.Event()

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        started.set()
        time.sleep(0.6)  # well past the loop noticing the cancellation

    task_id = live.submit(TaskSubmission("job")).task_id

    async def scenario() -> None:
        await _until(started.is_set, 5, "executor start")
        live.cancel(task_id)

    _serve(live, scenario)  # stopping drains the executor, then records outcomes

    assert _status(live, task_id) is TaskStatus.CANCELLED
    assert _events(live, task_id) == ["TaskSubmitted", "TaskStarted", "TaskCancelled"]


def test_an_async_executor_swallowing_the_cancellation_does_not_complete_the_task(
    live: Scheduler,
) -> None:
    started = asyncio.Event()
    outcomes: list[str] = []

    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcomes.append("swallowed")
        ctx.record_io(read_bytes=1)

    task_id = live.submit(TaskSubmission("job")).task_id

    async def scenario() -> None:
        await asyncio.wait_for(started.wait(), 5)
        live.cancel(task_id)
        await _until(lambda: bool(outcomes), 2, "cancellation delivered")
        await asyncio.sleep(0.3)

    _serve(live, scenario)

    assert _status(live, task_id) is TaskStatus.CANCELLED
    assert _events(live, task_id) == ["TaskSubmitted", "TaskStarted", "TaskCancelled"]


def test_a_pending_cancelled_task_never_runs(
    live: Scheduler, run_idle: Callable[..., float]
) -> None:
    ran: list[UUID] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.id)

    doomed = live.submit(TaskSubmission("job")).task_id
    kept = live.submit(TaskSubmission("job")).task_id
    live.cancel(doomed)

    run_idle(live)

    assert ran == [kept]
    assert _events(live, doomed) == ["TaskSubmitted", "TaskCancelled"]


def test_a_cancelled_task_frees_its_group_slot(
    open_live: Callable[..., Scheduler],
) -> None:
    scheduler = open_live(max_concurrency=4)
    scheduler.set_group_limit("g", 1)
    started: list[str] = []
    interrupted: list[str] = []

    @scheduler.executor("job")
    async def job(ctx: TaskContext) -> None:
        started.append(ctx.task.payload)
        if ctx.task.payload == "hog":
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                interrupted.append("hog")
                raise

    hog = scheduler.submit(TaskSubmission("job", payload="hog", group="g", priority=0)).task_id
    nxt = scheduler.submit(TaskSubmission("job", payload="next", group="g")).task_id

    async def scenario() -> None:
        await _until(lambda: started == ["hog"], 5, "hog running")
        await asyncio.sleep(0.1)
        assert _status(scheduler, nxt) is TaskStatus.PENDING
        scheduler.cancel(hog)
        await _until(lambda: _status(scheduler, nxt) is TaskStatus.COMPLETED, 3, "next ran")
        await _until(lambda: interrupted == ["hog"], 2, "hog cancelled")

    _serve(scheduler, scenario)

    assert started == ["hog", "next"]


def test_stopping_right_after_a_cancel_still_cancels_the_executor(live: Scheduler) -> None:
    """`run(stop)` lets running executors finish, but one whose task was just cancelled is
    not running any more as far as the log goes: it must be cancelled, not awaited."""
    started = asyncio.Event()
    seen: list[str] = []

    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        started.set()
        try:
            await asyncio.sleep(3)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("ran to the end")

    task_id = live.submit(TaskSubmission("job")).task_id

    async def main() -> float:
        stop = asyncio.Event()
        runner = asyncio.create_task(live.run(stop))
        await asyncio.wait_for(started.wait(), 5)
        live.cancel(task_id)
        stop.set()  # before the loop's next look at cancellations
        began = time.monotonic()
        await asyncio.wait_for(runner, 15)
        return time.monotonic() - began

    took = asyncio.run(main())

    assert seen == ["cancelled"]
    assert took < 2
    assert _status(live, task_id) is TaskStatus.CANCELLED
