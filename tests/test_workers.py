"""Several worker processes on one store, and workers that die or freeze mid-task. Everything is
checked from the log (task histories): each task ran once, no group limit was exceeded, and an
abandoned task was requeued without using up an attempt."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from conftest import FakeClock

from taskmill import Scheduler, TaskRecord, TaskStatus, TaskSubmission
from taskmill.runtime.context import TaskContext

WORKER = Path(__file__).parent / "workers" / "worker.py"
RunIdle = Callable[..., float]


class Worker:
    """One `tests/workers/worker.py` process."""

    def __init__(self, store: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(store), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self, seconds: float) -> tuple[str, str]:
        """Wait for a clean exit; return (stdout, stderr)."""
        try:
            out, err = self.process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.process.communicate()
            pytest.fail(f"worker {self.pid} did not finish in {seconds} s:\n{err[-3000:]}")
        assert self.process.returncode == 0, f"worker {self.pid} failed:\n{err[-3000:]}"
        return out, err

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def kill(self) -> None:
        """SIGKILL, and reap it (a zombie still counts as a live process)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def workers(store: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*args: str) -> Worker:
        worker = Worker(store, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()
        for stream in (worker.process.stdout, worker.process.stderr):
            if stream is not None:
                stream.close()


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.02)


def _running_on(scheduler: Scheduler, task_id: UUID, worker: Worker) -> bool:
    record = _record(scheduler, task_id)
    return record.status is TaskStatus.RUNNING and f":{worker.pid}:" in (record.worker_id or "")


# -- many workers, one store ---------------------------------------------------------------------


def test_four_worker_processes_run_every_task_once_within_group_limits(
    open_live: Callable[..., Scheduler],
    workers: Callable[..., Worker],
    log_intervals: Any,
) -> None:
    scheduler = open_live()
    for group in ("s3://a", "s3://b"):
        scheduler.set_group_limit(group, 2)
    # A task due in 50 s keeps every worker's run_until_idle waiting until all are up and the
    # work is in; cancelling it lets them go idle once the work is done.
    guard = scheduler.submit(
        TaskSubmission("noop", run_after=datetime.now(UTC) + timedelta(seconds=50))
    ).task_id
    procs = [workers("--concurrency", "2") for _ in range(4)]
    worker_ids = set()
    for proc in procs:
        assert proc.process.stdout is not None
        worker_ids.add(proc.process.stdout.readline().strip())
    assert len(worker_ids) == 4
    submissions = [
        TaskSubmission(
            "noop",
            group="s3://a" if n % 2 else "s3://b",
            priority=n % 3,
            payload={"sleep": 0.005} if n % 5 == 0 else {},
        ).tag("n", str(n))
        for n in range(400)
    ]
    ids = [result.task_id for result in scheduler.submit_batch(submissions)]

    _wait_for(
        lambda: scheduler.status_counts().get(TaskStatus.COMPLETED) == 400, 60, "400 completed"
    )
    scheduler.cancel(guard)
    for proc in procs:
        proc.finish(30)

    assert scheduler.status_counts() == {TaskStatus.COMPLETED: 400, TaskStatus.CANCELLED: 1}
    for task_id in ids:
        events = [e.event for e in scheduler.history(task_id)]
        assert events.count("TaskCompleted") == 1, events
        assert events[-1] == "TaskCompleted", events
        # Every start after the first follows a requeue: no task was claimed twice at once.
        last = None
        for event in events:
            if event == "TaskStarted":
                assert last in (None, "TaskRequeued"), events
            if event in ("TaskStarted", "TaskRequeued"):
                last = event
        assert _record(scheduler, task_id).attempts == 1
    intervals = log_intervals.of(scheduler, ids)
    assert len(intervals) >= 400
    assert {i.worker_id for i in intervals} <= worker_ids
    per_worker = {w: sum(i.worker_id == w for i in intervals) for w in worker_ids}
    print("tasks per worker:", sorted(per_worker.values()))
    assert sum(n > 0 for n in per_worker.values()) >= 2, f"one process did all: {per_worker}"
    overlap = log_intervals.by_group(intervals)
    assert overlap["s3://a"] <= 2
    assert overlap["s3://b"] <= 2


# -- a worker killed mid-task --------------------------------------------------------------------


def test_a_task_left_running_by_a_killed_worker_runs_again_and_completes_once(
    open_live: Callable[..., Scheduler],
    workers: Callable[..., Worker],
    run_idle: RunIdle,
) -> None:
    scheduler = open_live()
    scheduler.set_group_limit("g", 1)
    victim = scheduler.submit(TaskSubmission("block", group="g", priority=0, max_retries=0))
    queued = scheduler.submit(TaskSubmission("noop", group="g", priority=1))
    worker = workers("--block", "60")
    _wait_for(lambda: _running_on(scheduler, victim.task_id, worker), 15, "victim running")

    worker.signal(signal.SIGKILL)
    worker.kill()  # reap it

    restarted = open_live()  # recovers tasks of dead local workers on open
    record = _record(restarted, victim.task_id)
    assert record.status is TaskStatus.PENDING
    assert record.attempts == 0
    assert record.worker_id is None
    runs: list[UUID] = []

    @restarted.executor("block")
    def block(ctx: TaskContext) -> None:
        runs.append(ctx.task.id)

    @restarted.executor("noop")
    def noop(ctx: TaskContext) -> None:
        runs.append(ctx.task.id)

    run_idle(restarted)

    assert runs == [victim.task_id, queued.task_id]
    record = _record(restarted, victim.task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.attempts == 1
    history = restarted.history(victim.task_id)
    assert [e.event for e in history] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskRequeued",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert history[2].data["reason"] == "worker died"
    assert f":{worker.pid}:" in history[1].data["worker_id"]
    assert history[3].data["worker_id"] == restarted.worker_id
    assert [e.data["attempt"] for e in history if e.event == "TaskStarted"] == [1, 1]
    assert restarted.status_counts() == {TaskStatus.COMPLETED: 2}


def test_recovery_does_not_touch_tasks_of_live_workers(
    open_live: Callable[..., Scheduler], workers: Callable[..., Worker]
) -> None:
    scheduler = open_live()
    task_id = scheduler.submit(TaskSubmission("block")).task_id
    worker = workers("--block", "60")
    _wait_for(lambda: _running_on(scheduler, task_id, worker), 15, "task running")

    other = open_live()
    assert other.recover_dead_workers() == 0

    assert _running_on(other, task_id, worker)
    assert "TaskRequeued" not in [e.event for e in other.history(task_id)]


def test_recover_dead_workers_requeues_the_tasks_of_dead_local_workers_and_counts_them(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)  # exited and reaped: its pid names no process now
    host = socket.gethostname()
    dead_worker = f"{host}:{process.pid}:0badc0de"
    lease = clock.now + timedelta(hours=1)  # far off: only the dead pid can explain a requeue

    def started(worker_id: str) -> UUID:
        task_id = scheduler.submit(TaskSubmission("job", max_retries=0)).task_id
        scheduler.start(task_id, worker_id=worker_id, lease_expires_at=lease)
        return task_id

    orphans = [started(dead_worker), started(f"{host}:{process.pid}:feedface")]
    kept = {
        "this process": started(scheduler.worker_id),
        "another host": started(f"{host}-elsewhere.invalid:{process.pid}:0badc0de"),
        "not host:pid:random": started("worker-7"),
    }
    waiting = scheduler.submit(TaskSubmission("job")).task_id
    before = scheduler.log_position

    assert scheduler.recover_dead_workers() == 2

    assert scheduler.log_position == before + 2  # one TaskRequeued per orphan, nothing else
    for task_id in orphans:
        record = _record(scheduler, task_id)
        assert record.status is TaskStatus.PENDING
        assert record.attempts == 0  # the attempt is not counted
        assert record.worker_id is None
        last = scheduler.history(task_id)[-1]
        assert last.event == "TaskRequeued"
        assert last.data["reason"] == "worker died"
    for what, task_id in kept.items():
        assert _record(scheduler, task_id).status is TaskStatus.RUNNING, what
    assert _record(scheduler, waiting).status is TaskStatus.PENDING
    # Nothing is left to recover, and the requeued tasks run again (once, and complete).
    assert scheduler.recover_dead_workers() == 0
    assert scheduler.log_position == before + 2
    for task_id in orphans:
        scheduler.start(task_id, worker_id=scheduler.worker_id, lease_expires_at=lease)
        scheduler.complete(task_id)
        record = _record(scheduler, task_id)
        assert (record.status, record.attempts) == (TaskStatus.COMPLETED, 1)


# -- leases --------------------------------------------------------------------------------------


def test_a_frozen_workers_lease_runs_out_and_the_task_is_requeued(
    open_live: Callable[..., Scheduler],
    workers: Callable[..., Worker],
    run_idle: RunIdle,
) -> None:
    scheduler = open_live()
    task_id = scheduler.submit(TaskSubmission("block", max_retries=0)).task_id
    # The lease leaves the worker a second of slack to renew it: CI machines are busy.
    worker = workers("--block", "60", "--lease", "2.0")
    _wait_for(lambda: _running_on(scheduler, task_id, worker), 15, "task running")
    first_lease = _record(scheduler, task_id).lease_expires_at
    assert first_lease is not None

    # Alive: the worker renews its lease, and nobody else's housekeeping takes the task.
    time.sleep(2.6)
    watcher = open_live()
    run_idle(watcher)
    assert _running_on(watcher, task_id, worker)
    renewed = _record(watcher, task_id).lease_expires_at
    assert renewed is not None and renewed > first_lease
    assert "TaskLeaseRenewed" in [e.event for e in watcher.history(task_id)]

    # Frozen (alive but not renewing): once the lease runs out another worker takes over.
    worker.signal(signal.SIGSTOP)
    _wait_for(
        lambda: datetime.now(UTC) > (_record(watcher, task_id).lease_expires_at or first_lease),
        5,
        "lease expiry",
    )
    time.sleep(0.05)
    taker = open_live()
    assert _running_on(taker, task_id, worker), "a frozen (not dead) worker was recovered"
    runs: list[int] = []

    @taker.executor("block")
    def block(ctx: TaskContext) -> None:
        runs.append(ctx.attempt)

    run_idle(taker)

    worker.kill()
    assert runs == [1]
    record = _record(taker, task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.attempts == 1
    events = [e for e in taker.history(task_id) if e.event != "TaskLeaseRenewed"]
    assert [e.event for e in events] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskRequeued",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert events[2].data["reason"] == "lease expired"
    assert events[3].data["worker_id"] == taker.worker_id


def test_a_worker_that_lost_its_lease_cannot_complete_the_task_another_worker_holds(
    open_live: Callable[..., Scheduler], workers: Callable[..., Worker]
) -> None:
    """A frozen worker wakes up after its task was requeued and claimed by another worker: its
    late result must not complete the task under the new holder's feet."""
    scheduler = open_live()
    task_id = scheduler.submit(TaskSubmission("block", max_retries=0)).task_id
    stale = workers("--block", "2.0", "--lease", "0.5")
    _wait_for(lambda: _running_on(scheduler, task_id, stale), 15, "task running")
    stale.signal(signal.SIGSTOP)
    lease = _record(scheduler, task_id).lease_expires_at
    assert lease is not None
    _wait_for(lambda: datetime.now(UTC) > lease, 5, "lease expiry")
    time.sleep(0.05)

    holder = open_live()
    release = threading.Event()
    finished_at: list[datetime] = []

    @holder.executor("block")
    def block(ctx: TaskContext) -> None:
        release.wait(15)
        finished_at.append(datetime.now(UTC))

    async def scenario() -> TaskStatus:
        stop = asyncio.Event()
        runner = asyncio.create_task(holder.run(stop))
        try:
            for _ in range(500):
                if _record(holder, task_id).worker_id == holder.worker_id:
                    break
                await asyncio.sleep(0.01)
            assert _record(holder, task_id).worker_id == holder.worker_id
            stale.signal(signal.SIGCONT)
            await asyncio.to_thread(stale.finish, 15)  # its executor returns, it records, exits
            status_while_held = _record(holder, task_id).status
        finally:
            release.set()
            stop.set()
            await asyncio.wait_for(runner, 10)
        return status_while_held

    status_while_held = asyncio.run(scenario())

    assert status_while_held is TaskStatus.RUNNING, "the stale worker completed the task"
    history = holder.history(task_id)
    completed = [e for e in history if e.event == "TaskCompleted"]
    assert len(completed) == 1
    assert completed[0].timestamp >= finished_at[0]


def test_a_stopping_worker_keeps_renewing_the_lease_of_the_task_it_finishes(
    open_live: Callable[..., Scheduler], run_idle: RunIdle
) -> None:
    """`run(stop)` lets running executors finish; meanwhile their claims must stay alive, or
    another worker requeues and runs the task a second time."""
    worker = open_live(lease_seconds=2.0)  # a second of slack to renew on a busy machine
    other = open_live()
    runs: list[str] = []
    started = threading.Event()

    @worker.executor("job")
    def long_job(ctx: TaskContext) -> None:
        runs.append("worker")
        started.set()
        time.sleep(3.5)

    @other.executor("job")
    def job(ctx: TaskContext) -> None:
        runs.append("other")

    task_id = worker.submit(TaskSubmission("job")).task_id
    other_ran: list[float] = []

    def other_worker() -> None:
        time.sleep(2.5)  # past the first lease, well before the job ends
        other_ran.append(run_idle(other))

    async def scenario() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        await asyncio.to_thread(started.wait, 5)
        stop.set()  # stop while the job runs: the loop drains it
        thread = threading.Thread(target=other_worker, daemon=True)
        thread.start()
        await asyncio.wait_for(runner, 10)
        await asyncio.to_thread(thread.join, 10)

    asyncio.run(scenario())

    assert other_ran, "the other worker did not run"
    assert runs == ["worker"], "the task ran twice"
    events = [e.event for e in other.history(task_id)]
    assert "TaskRequeued" not in events
    assert _record(other, task_id).status is TaskStatus.COMPLETED
