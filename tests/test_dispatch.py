"""The dispatch loop through the public API: order, run_after, executors and their context,
children and finalizers, and how `run_until_idle` / `run(stop_event)` end."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import (
    IllegalTransition,
    InvalidSubmission,
    Scheduler,
    TaskQuery,
    TaskRecord,
    TaskStatus,
    TaskSubmission,
)
from taskmill.runtime.context import TaskContext
from taskmill.runtime.registry import PermanentError

RunIdle = Callable[..., float]


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


def _events(scheduler: Scheduler, task_id: UUID) -> list[str]:
    return [entry.event for entry in scheduler.history(task_id)]


def _started_at(scheduler: Scheduler, task_id: UUID) -> datetime:
    starts = [e.timestamp for e in scheduler.history(task_id) if e.event == "TaskStarted"]
    assert len(starts) == 1, starts
    return starts[0]


# -- order -------------------------------------------------------------------------------------


def test_one_slot_runs_tasks_by_priority_then_oldest_first(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=1)
    ran: list[str] = []

    @scheduler.executor("job")
    def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.payload)

    plan = [("c", 5), ("a", 0), ("d", 5), ("x", 255), ("b", 0), ("e", 5), ("f", 128), ("y", 255)]
    ids = {
        name: scheduler.submit(TaskSubmission("job", payload=name, priority=p)).task_id
        for name, p in plan
    }

    run_idle(scheduler)

    expected = ["a", "b", "c", "d", "e", "f", "x", "y"]
    assert ran == expected
    starts = sorted(ids, key=lambda name: _started_at(scheduler, ids[name]))
    assert starts == expected, "TaskStarted timestamps in the log disagree with the order"
    assert all(_record(scheduler, i).status is TaskStatus.COMPLETED for i in ids.values())


def test_a_more_urgent_task_submitted_later_overtakes_older_pending_ones(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=1)
    ran: list[str] = []

    @scheduler.executor("job")
    def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.payload)
        if ctx.task.payload == "first":
            scheduler.submit(TaskSubmission("job", payload="urgent", priority=0))

    scheduler.submit(TaskSubmission("job", payload="first", priority=1))
    for n in range(3):
        scheduler.submit(TaskSubmission("job", payload=f"old{n}", priority=100))

    run_idle(scheduler)

    assert ran == ["first", "urgent", "old0", "old1", "old2"]


# -- run_after ---------------------------------------------------------------------------------


def test_run_after_keeps_a_task_blocked_until_due_then_it_runs(
    live: Scheduler, run_idle: RunIdle
) -> None:
    ran_at: dict[str, datetime] = {}

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ran_at[ctx.task.payload] = datetime.now(UTC)

    due = datetime.now(UTC) + timedelta(seconds=0.5)
    later = live.submit(TaskSubmission("job", payload="later", run_after=due)).task_id
    now = live.submit(TaskSubmission("job", payload="now")).task_id
    assert _record(live, later).status is TaskStatus.BLOCKED

    run_idle(live)

    assert ran_at["later"] >= due
    assert ran_at["now"] < due, "a task due now waited for the blocked one"
    assert _started_at(live, later) >= due
    assert _events(live, later) == [
        "TaskSubmitted",
        "TaskUnblocked",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert _record(live, later).status is TaskStatus.COMPLETED
    assert _record(live, now).status is TaskStatus.COMPLETED


def test_run_until_idle_does_not_wait_for_a_task_due_far_in_the_future(
    live: Scheduler, run_idle: RunIdle
) -> None:
    ran: list[UUID] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.id)

    far = live.submit(
        TaskSubmission("job", run_after=datetime.now(UTC) + timedelta(hours=2))
    ).task_id

    assert run_idle(live, 10) < 5

    assert ran == []
    assert _record(live, far).status is TaskStatus.BLOCKED


# -- executors and their context ---------------------------------------------------------------


def test_async_and_sync_executors_both_run(live: Scheduler, run_idle: RunIdle) -> None:
    threads: dict[str, str] = {}

    @live.executor("async-job")
    async def async_job(ctx: TaskContext) -> None:
        await asyncio.sleep(0.01)
        threads["async"] = threading.current_thread().name

    @live.executor("sync-job")
    def sync_job(ctx: TaskContext) -> None:
        time.sleep(0.01)
        threads["sync"] = threading.current_thread().name

    a = live.submit(TaskSubmission("async-job")).task_id
    s = live.submit(TaskSubmission("sync-job")).task_id

    run_idle(live)

    assert _record(live, a).status is TaskStatus.COMPLETED
    assert _record(live, s).status is TaskStatus.COMPLETED
    assert threads["sync"] != threads["async"], "the plain executor did not run in a thread pool"


def test_sync_executors_run_in_parallel_threads(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    scheduler = open_live(max_concurrency=4)
    barrier = threading.Barrier(4, timeout=5)

    @scheduler.executor("job")
    def job(ctx: TaskContext) -> None:
        barrier.wait()  # only passes if all four run at the same time

    ids = [scheduler.submit(TaskSubmission("job")).task_id for _ in range(4)]

    run_idle(scheduler)

    assert [_record(scheduler, i).status for i in ids] == [TaskStatus.COMPLETED] * 4


def test_executor_sees_its_tasks_tags_payload_id_and_attempt(
    live: Scheduler, run_idle: RunIdle
) -> None:
    seen: dict[str, Any] = {}

    @live.executor("file-transfer")
    async def transfer(ctx: TaskContext) -> None:
        seen.update(
            id=ctx.task.id,
            tags=dict(ctx.task.tags),
            payload=ctx.task.payload,
            attempt=ctx.attempt,
            attempts=ctx.task.attempts,
            status=ctx.task.status,
        )

    payload = {"src": "a/b.bin", "parts": [1, 2, 3], "nested": {"ok": True}}
    task_id = live.submit(
        TaskSubmission("file-transfer", payload=payload, group="s3://play")
        .tag("profile", "dr")
        .tag("zone", "eu")
    ).task_id

    run_idle(live)

    assert seen["id"] == task_id
    assert seen["payload"] == payload
    assert seen["tags"] == {
        "profile": "dr",
        "zone": "eu",
        "taskmill.type": "file-transfer",
        "taskmill.group": "s3://play",
    }
    assert seen["attempt"] == 1
    assert seen["attempts"] == 1
    assert seen["status"] is TaskStatus.RUNNING


def test_record_io_adds_up_into_actual_io(live: Scheduler, run_idle: RunIdle) -> None:
    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.record_io(net_tx_bytes=4096, read_bytes=10)
        ctx.record_io(net_tx_bytes=1000)
        ctx.record_io(write_bytes=7, net_rx_bytes=3)

    task_id = live.submit(TaskSubmission("job")).task_id

    run_idle(live)

    record = _record(live, task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.actual_io.model_dump() == {
        "read_bytes": 10,
        "write_bytes": 7,
        "net_rx_bytes": 3,
        "net_tx_bytes": 5096,
    }
    completed = live.history(task_id)[-1]
    assert completed.event == "TaskCompleted"
    assert completed.data["actual_io"]["net_tx_bytes"] == 5096


def test_record_io_rejects_an_unknown_figure_and_the_attempt_fails(
    live: Scheduler, run_idle: RunIdle
) -> None:
    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.record_io(disk_bytes=1)

    task_id = live.submit(TaskSubmission("job", max_retries=0)).task_id

    run_idle(live)

    record = _record(live, task_id)
    assert record.status is TaskStatus.DEAD_LETTER
    assert record.last_error is not None and "disk_bytes" in record.last_error


@pytest.mark.parametrize(
    "figures",
    [{"write_bytes": -7}, {"read_bytes": 1.5}, {"read_bytes": True}, {"net_tx_bytes": 2**63}],
    ids=repr,
)
def test_record_io_rejects_a_bad_figure_whole_and_the_task_still_ends(
    live: Scheduler, run_idle: RunIdle, figures: dict[str, Any]
) -> None:
    seen: list[dict[str, int]] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.record_io(read_bytes=5)
        try:
            ctx.record_io(net_rx_bytes=1, **figures)
        finally:
            seen.append(dict(ctx.io))

    task_id = live.submit(TaskSubmission("job", max_retries=0)).task_id

    run_idle(live)

    assert seen == [{"read_bytes": 5}]  # nothing of the rejected call was kept
    record = _record(live, task_id)
    assert record.status is TaskStatus.DEAD_LETTER  # the executor raised: the attempt failed
    assert record.last_error is not None and record.last_error.startswith("ValueError: record_io")


def test_spawn_rejects_what_is_not_a_submission_and_spawns_nothing(
    live: Scheduler, run_idle: RunIdle
) -> None:
    errors: list[BaseException] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        try:
            ctx.spawn({"task_type": "part"})  # type: ignore[arg-type]
        except InvalidSubmission as error:
            errors.append(error)

    task_id = live.submit(TaskSubmission("job")).task_id

    run_idle(live)

    assert len(errors) == 1 and "TaskSubmission" in str(errors[0])
    assert _record(live, task_id).status is TaskStatus.COMPLETED
    assert "ChildSpawned" not in _events(live, task_id)


def test_an_error_recording_outcomes_keeps_them_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that is not a conflict (a locked database, say) stops the loop; the outcomes
    it had gathered are not lost: the next run records them."""
    from taskmill.application.task_log import TaskLog

    real = TaskLog.step
    failures = {"left": 1}

    def broken(self: TaskLog, commands: Any, *args: Any, **kwargs: Any) -> Any:
        if failures["left"] and commands:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return real(self, commands, *args, **kwargs)

    monkeypatch.setattr(TaskLog, "step", broken)
    with Scheduler.open(tmp_path, poll_seconds=0.01) as scheduler:
        runs: list[UUID] = []

        @scheduler.executor("job")
        def job(ctx: TaskContext) -> None:
            runs.append(ctx.task.id)

        task_ids = [scheduler.submit(TaskSubmission("job")).task_id for _ in range(3)]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            scheduler.run_until_idle()
        scheduler.run_until_idle()

        assert sorted(runs) == sorted(task_ids)  # each ran once: none was run again
        for task_id in task_ids:
            assert _record(scheduler, task_id).status is TaskStatus.COMPLETED


def test_an_error_message_that_is_not_valid_unicode_is_logged_escaped(
    live: Scheduler, run_idle: RunIdle
) -> None:
    """A lone surrogate in an executor's error must not make its batch of outcomes
    unstorable (the other tasks' results went with it)."""

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        if ctx.task.payload == "bad":
            raise ValueError("broken \ud800 text")

    bad = live.submit(TaskSubmission("job", payload="bad", max_retries=0)).task_id
    good = [live.submit(TaskSubmission("job")).task_id for _ in range(3)]

    run_idle(live)

    record = _record(live, bad)
    assert record.status is TaskStatus.DEAD_LETTER
    assert record.last_error == "ValueError: broken \\ud800 text"
    assert all(_record(live, task_id).status is TaskStatus.COMPLETED for task_id in good)


# -- children and finalizers -------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_spawned_children_inherit_tags_and_the_parent_waits_then_is_finalised(
    live: Scheduler, run_idle: RunIdle, flavour: str
) -> None:
    child_ran: list[datetime] = []

    def spawn_parts(ctx: TaskContext) -> None:
        for part in range(3):
            ctx.spawn(TaskSubmission("upload-part").tag("part", str(part)).tag("zone", "us"))
        ctx.record_io(net_tx_bytes=1)

    if flavour == "async":

        @live.executor("transfer")
        async def transfer_async(ctx: TaskContext) -> None:
            spawn_parts(ctx)

    else:
        live.executor("transfer")(spawn_parts)

    @live.executor("upload-part")
    async def part(ctx: TaskContext) -> None:
        await asyncio.sleep(0.05)
        child_ran.append(datetime.now(UTC))

    parent = live.submit(TaskSubmission("transfer", tags={"profile": "dr", "zone": "eu"})).task_id

    run_idle(live)

    children = live.query_tasks(TaskQuery().with_parent(parent))
    assert len(children) == 3
    assert sorted(c.tags["part"] for c in children) == ["0", "1", "2"]
    for child in children:
        assert child.parent_id == parent
        assert child.user_tags == {"profile": "dr", "zone": "us", "part": child.tags["part"]}
        assert child.tags["taskmill.type"] == "upload-part"
        assert child.status is TaskStatus.COMPLETED

    record = _record(live, parent)
    assert record.status is TaskStatus.COMPLETED
    assert record.children_total == 3 and record.children_unfinished == 0
    events = _events(live, parent)
    assert events.count("ChildSpawned") == 3
    assert "TaskCompleted" not in events
    assert events.index("TaskAwaitingChildren") < events.index("TaskFinalized")
    assert events[-1] == "TaskFinalized"
    finalized = live.history(parent)[-1]
    assert finalized.data["status"] == "completed"
    last_child_end = max(live.history(c.id)[-1].timestamp for c in children)
    assert finalized.timestamp >= last_child_end
    assert len(child_ran) == 3


def test_a_failed_child_fails_its_parent(live: Scheduler, run_idle: RunIdle) -> None:
    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        ctx.spawn(TaskSubmission("part", payload="ok"))
        ctx.spawn(TaskSubmission("part", payload="bad"))

    @live.executor("part")
    def part(ctx: TaskContext) -> None:
        if ctx.task.payload == "bad":
            raise PermanentError("corrupt part")

    parent = live.submit(TaskSubmission("transfer")).task_id

    run_idle(live)

    record = _record(live, parent)
    assert record.status is TaskStatus.FAILED
    assert record.last_error is not None and "1 child" in record.last_error


def test_finalizer_runs_once_after_every_child_is_terminal(
    live: Scheduler, run_idle: RunIdle
) -> None:
    calls: list[dict[str, Any]] = []

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        for delay in (0.02, 0.1, 0.2):
            ctx.spawn(TaskSubmission("part", payload=delay))

    @live.executor("part")
    async def part(ctx: TaskContext) -> None:
        await asyncio.sleep(ctx.task.payload)

    @live.finalizer("transfer")
    async def finish(ctx: TaskContext) -> None:
        children = live.query_tasks(TaskQuery().with_parent(ctx.task.id))
        calls.append(
            {
                "task": ctx.task.id,
                "status": ctx.task.status,
                "children": sorted(c.status.value for c in children),
            }
        )

    parent = live.submit(TaskSubmission("transfer")).task_id

    run_idle(live)

    assert calls == [{"task": parent, "status": TaskStatus.WAITING, "children": ["completed"] * 3}]
    assert _record(live, parent).status is TaskStatus.COMPLETED
    events = _events(live, parent)
    assert events.count("TaskFinalized") == 1 and events[-1] == "TaskFinalized"


def test_a_finalizer_cannot_record_io_and_the_parent_keeps_its_executors_figures(
    live: Scheduler, run_idle: RunIdle
) -> None:
    refused: list[str] = []

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        ctx.spawn(TaskSubmission("part"))
        ctx.record_io(write_bytes=7)

    @live.executor("part")
    def part(ctx: TaskContext) -> None:
        pass

    @live.finalizer("transfer")
    def finish(ctx: TaskContext) -> None:
        try:
            ctx.record_io(write_bytes=55)
        except ValueError as error:
            refused.append(str(error))

    parent = live.submit(TaskSubmission("transfer")).task_id

    run_idle(live)

    assert len(refused) == 1 and "a finalizer cannot record I/O" in refused[0]
    record = _record(live, parent)
    assert record.status is TaskStatus.COMPLETED
    assert record.actual_io.write_bytes == 7  # what the executor recorded, nothing lost silently


def test_a_raising_finalizer_fails_the_parent(live: Scheduler, run_idle: RunIdle) -> None:
    calls: list[UUID] = []

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        ctx.spawn(TaskSubmission("part"))

    @live.executor("part")
    def part(ctx: TaskContext) -> None:
        pass

    @live.finalizer("transfer")
    def finish(ctx: TaskContext) -> None:
        calls.append(ctx.task.id)
        raise RuntimeError("manifest upload refused")

    parent = live.submit(TaskSubmission("transfer")).task_id

    run_idle(live)

    assert calls == [parent]
    record = _record(live, parent)
    assert record.status is TaskStatus.FAILED
    assert record.last_error is not None and "manifest upload refused" in record.last_error
    finalized = live.history(parent)[-1]
    assert finalized.event == "TaskFinalized"
    assert finalized.data["status"] == "failed"


def test_a_task_without_children_completes_without_its_finalizer(
    live: Scheduler, run_idle: RunIdle
) -> None:
    calls: list[UUID] = []

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        pass

    @live.finalizer("transfer")
    def finish(ctx: TaskContext) -> None:
        calls.append(ctx.task.id)

    task_id = live.submit(TaskSubmission("transfer")).task_id

    run_idle(live)

    assert _record(live, task_id).status is TaskStatus.COMPLETED
    assert _events(live, task_id)[-1] == "TaskCompleted"
    assert calls == []


# -- how the loop ends -------------------------------------------------------------------------


def test_run_until_idle_returns_when_nothing_is_runnable(
    live: Scheduler, run_idle: RunIdle
) -> None:
    assert run_idle(live, 10) < 3  # nothing at all

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        pass

    done = [live.submit(TaskSubmission("job")).task_id for _ in range(5)]
    nobody = live.submit(TaskSubmission("no-executor")).task_id

    assert run_idle(live, 10) < 5

    assert all(_record(live, i).status is TaskStatus.COMPLETED for i in done)
    assert _record(live, nobody).status is TaskStatus.PENDING


def test_a_worker_keeps_no_finished_task_in_its_caches(live: Scheduler, run_idle: RunIdle) -> None:
    """A finished task never changes again, so the worker drops it from its caches (the
    commands' aggregates, the view's tags) and its memory does not grow with the work done; a
    later command on one reads it back from the log."""

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        pass

    done = [live.submit(TaskSubmission("job", tags={"n": str(i)})).task_id for i in range(20)]
    waiting = live.submit(TaskSubmission("no-executor", tags={"n": "x"})).task_id

    run_idle(live)

    commands_cache, tags_cache = set(live._log._cache), set(live._view._tags)
    assert waiting in commands_cache and str(waiting) in tags_cache
    assert not commands_cache & set(done)
    assert not tags_cache & {str(i) for i in done}
    with pytest.raises(IllegalTransition) as refused:
        live.cancel(done[0])
    assert refused.value.status == "completed"
    assert live.count_by_tag("n", status=TaskStatus.COMPLETED) == [
        (str(i), 1) for i in sorted(range(20), key=str)
    ]


def test_run_until_idle_also_runs_the_work_executors_submit(
    live: Scheduler, run_idle: RunIdle
) -> None:
    @live.executor("countdown")
    def countdown(ctx: TaskContext) -> None:
        if ctx.task.payload > 0:
            live.submit(TaskSubmission("countdown", payload=ctx.task.payload - 1))

    live.submit(TaskSubmission("countdown", payload=5))

    run_idle(live)

    done = live.query_tasks(TaskQuery().with_type("countdown"))
    assert sorted(r.payload for r in done) == [0, 1, 2, 3, 4, 5]
    assert {r.status for r in done} == {TaskStatus.COMPLETED}


def test_run_keeps_serving_until_the_stop_event_is_set(live: Scheduler) -> None:
    ran: list[str] = []
    finished: list[str] = []

    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        ran.append(ctx.task.payload)
        if ctx.task.payload == "slow":
            await asyncio.sleep(0.3)
        finished.append(ctx.task.payload)

    async def scenario() -> tuple[UUID, UUID, float]:
        stop = asyncio.Event()
        runner = asyncio.create_task(live.run(stop))
        await asyncio.sleep(0.2)  # idle: run() must not return on its own
        assert not runner.done()
        first = live.submit(TaskSubmission("job", payload="first")).task_id
        await _until(lambda: "first" in finished)
        slow = live.submit(TaskSubmission("job", payload="slow")).task_id
        await _until(lambda: "slow" in ran)
        stop.set()
        stopped = time.monotonic()
        await asyncio.wait_for(runner, 5)
        return first, slow, time.monotonic() - stopped

    first, slow, took = asyncio.run(asyncio.wait_for(scenario(), 15))

    assert took < 2
    assert _record(live, first).status is TaskStatus.COMPLETED
    # The executor running when stop was set was allowed to finish, and its outcome recorded.
    assert finished == ["first", "slow"]
    assert _record(live, slow).status is TaskStatus.COMPLETED

    late = live.submit(TaskSubmission("job", payload="after-stop")).task_id
    time.sleep(0.1)
    assert _record(live, late).status is TaskStatus.PENDING
    assert "after-stop" not in ran


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_a_finalizer_runs_once_when_two_schedulers_race_for_the_parent(tmp_path: Path) -> None:
    """Both schedulers see the ready parent; the finalizer claim lets only one run it."""
    calls: list[str] = []
    lock = threading.Lock()
    schedulers = [Scheduler.open(tmp_path, poll_seconds=0.01, max_concurrency=4) for _ in range(2)]
    try:
        for index, scheduler in enumerate(schedulers):

            @scheduler.executor("part")
            def part(ctx: TaskContext) -> None:
                pass

            @scheduler.executor("batch")
            def batch(ctx: TaskContext) -> None:
                for n in range(3):
                    ctx.spawn(TaskSubmission("part").tag("n", str(n)))

            @scheduler.finalizer("batch")
            def close(ctx: TaskContext, name: str = f"s{index}") -> None:
                with lock:
                    calls.append(name)

        parents = [schedulers[0].submit(TaskSubmission("batch")).task_id for _ in range(6)]
        threads = [threading.Thread(target=s.run_until_idle) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(not thread.is_alive() for thread in threads)
        assert len(calls) == len(parents)  # once per parent, whichever scheduler ran it
        for parent in parents:
            record = schedulers[1].task(parent)
            assert record is not None and record.status is TaskStatus.COMPLETED
    finally:
        for scheduler in schedulers:
            scheduler.close()


@pytest.mark.parametrize("last_child_end", ["run by another worker", "cancelled elsewhere"])
def test_a_finalizer_is_not_skipped_when_another_process_ends_the_last_child(
    open_live: Callable[..., Scheduler], run_idle: RunIdle, last_child_end: str
) -> None:
    """The process that ran the parent has its finalizer; a worker for the children only, or
    a script that cancels one, must leave the parent to that finalizer, not close it."""
    owner, other = open_live(), open_live()
    finalized: list[UUID] = []

    @owner.executor("batch")
    def batch(ctx: TaskContext) -> None:
        ctx.spawn(TaskSubmission("part"))

    @owner.finalizer("batch")
    def close(ctx: TaskContext) -> None:
        finalized.append(ctx.task.id)

    @other.executor("part")
    def part(ctx: TaskContext) -> None:
        pass

    parent = owner.submit(TaskSubmission("batch", fail_on_child_failure=False)).task_id
    run_idle(owner)  # runs the parent; its child is not a type this process runs
    (child,) = other.query_tasks(TaskQuery().with_parent(parent))
    assert _record(other, parent).status is TaskStatus.WAITING

    if last_child_end == "run by another worker":
        run_idle(other)
    else:
        other.cancel(child.id)

    assert _record(other, child.id).status.is_terminal
    assert _record(other, parent).status is TaskStatus.WAITING  # left for the finalizer
    assert finalized == []
    run_idle(owner)
    assert finalized == [parent]
    assert _record(owner, parent).status is TaskStatus.COMPLETED
    assert "TaskFinalizerStarted" in _events(owner, parent)


def test_a_parent_without_a_finalizer_is_closed_by_whichever_process_ends_its_last_child(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    owner, other = open_live(), open_live()

    @owner.executor("batch")
    def batch(ctx: TaskContext) -> None:
        ctx.spawn(TaskSubmission("part"))

    @other.executor("part")
    def part(ctx: TaskContext) -> None:
        pass

    parent = owner.submit(TaskSubmission("batch")).task_id
    run_idle(owner)
    run_idle(other)

    assert _record(owner, parent).status is TaskStatus.COMPLETED
    assert _events(owner, parent)[-1] == "TaskFinalized"


def test_a_renewal_that_lost_to_other_writers_is_tried_again_before_the_lease_lapses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first renewal of a running task's lease gives up (ConcurrencyConflict); the worker
    must try again at its next housekeeping, not wait as if it had renewed: its stored lease
    would lapse and another worker could run the task a second time."""
    from taskmill import ConcurrencyConflict
    from taskmill.application.task_log import TaskLog

    real = TaskLog.apply_each
    failures = {"left": 1}

    def flaky(self: TaskLog, commands: Any) -> Any:
        if failures["left"]:  # the first apply_each while the task runs is its renewal
            failures["left"] -= 1
            raise ConcurrencyConflict("gave up after 8 conflicting concurrent updates")
        return real(self, commands)

    monkeypatch.setattr(TaskLog, "apply_each", flaky)
    with Scheduler.open(tmp_path, poll_seconds=0.01, lease_seconds=2.0) as scheduler:

        @scheduler.executor("job")
        async def job(ctx: TaskContext) -> None:
            await asyncio.sleep(3.2)

        task_id = scheduler.submit(TaskSubmission("job")).task_id
        scheduler.run_until_idle()

        history = scheduler.history(task_id)
        assert failures["left"] == 0
        assert history[-1].event == "TaskCompleted"
        held_until = datetime.fromisoformat(history[1].data["lease_expires_at"])  # TaskStarted
        for entry in history[2:]:
            assert entry.timestamp < held_until, (entry.event, held_until)
            if entry.event == "TaskLeaseRenewed":
                held_until = datetime.fromisoformat(entry.data["lease_expires_at"])
        assert sum(e.event == "TaskLeaseRenewed" for e in history) >= 2


def test_the_loop_survives_writers_that_keep_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ConcurrencyConflict in housekeeping or outcome recording delays the work, it does not
    stop the loop or lose an outcome."""
    from taskmill import ConcurrencyConflict
    from taskmill.application.task_log import TaskLog

    real = TaskLog.step
    failures = {"left": 3}

    def flaky(self: TaskLog, commands: Any, *args: Any, **kwargs: Any) -> Any:
        if failures["left"] and commands:  # only cycles that record outcomes
            failures["left"] -= 1
            raise ConcurrencyConflict("gave up after 8 conflicting concurrent updates")
        return real(self, commands, *args, **kwargs)

    monkeypatch.setattr(TaskLog, "step", flaky)
    with Scheduler.open(tmp_path, poll_seconds=0.01) as scheduler:

        @scheduler.executor("job")
        def job(ctx: TaskContext) -> None:
            pass

        ids = [r.task_id for r in scheduler.submit_batch([TaskSubmission("job")] * 5)]
        scheduler.run_until_idle()
        assert failures["left"] == 0
        assert {scheduler.task(i).status for i in ids} == {TaskStatus.COMPLETED}  # type: ignore[union-attr]
