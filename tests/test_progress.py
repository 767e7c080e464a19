"""`Scheduler.on_progress`: listeners called with the `TaskContext` of every `ctx.progress(...)`
report an executor of this scheduler makes, directly and in the executor's thread (see
docs/events.md, "Live progress is not durable")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskStatus, TaskSubmission
from taskmill.runtime.context import TaskContext

RunIdle = Callable[..., float]


class Reports:
    """What a listener was called with: (task id, fraction, message, thread, context), as of
    the call (the context's progress changes with later reports)."""

    def __init__(self) -> None:
        self.calls: list[tuple[UUID, float | None, str | None, int, TaskContext]] = []
        self._lock = threading.Lock()

    def __call__(self, context: TaskContext) -> None:
        state = context.progress_state
        with self._lock:
            self.calls.append(
                (context.task.id, state.fraction, state.message, threading.get_ident(), context)
            )

    def of(self, task_id: UUID) -> list[tuple[float | None, str | None]]:
        return [(fraction, message) for i, fraction, message, _, _ in self.calls if i == task_id]


def test_a_listener_gets_every_report_with_its_fraction_and_message_per_task(
    live: Scheduler, run_idle: RunIdle
) -> None:
    reports = Reports()
    live.on_progress(reports)
    seen: dict[UUID, tuple[int, TaskContext]] = {}

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        seen[ctx.task.id] = (threading.get_ident(), ctx)
        name = ctx.task.tags["name"]
        ctx.progress(0.0, f"{name}: starting")
        ctx.progress(0.5)  # a fraction alone
        ctx.progress(message=f"{name}: almost")  # a message alone
        ctx.progress(1.0, f"{name}: done")

    ids = {
        name: live.submit(TaskSubmission("transfer").tag("name", name)).task_id
        for name in ("a", "b")
    }
    run_idle(live)

    for name, task_id in ids.items():
        assert reports.of(task_id) == [
            (0.0, f"{name}: starting"),
            (0.5, None),
            (None, f"{name}: almost"),
            (1.0, f"{name}: done"),
        ]
        thread, context = seen[task_id]
        calls = [call for call in reports.calls if call[0] == task_id]
        # Called directly with the executor's own context, in the executor's thread.
        assert all(call[4] is context for call in calls)
        assert {call[3] for call in calls} == {thread}
        assert thread != threading.get_ident()  # a plain def runs in the thread pool
    assert len(reports.calls) == 8
    assert live.status_counts() == {TaskStatus.COMPLETED: 2}


def test_every_listener_is_called_and_async_executors_report_too(
    live: Scheduler, run_idle: RunIdle
) -> None:
    first, second = Reports(), Reports()
    live.on_progress(first)
    live.on_progress(second)

    @live.executor("job")
    async def job(ctx: TaskContext) -> None:
        ctx.progress(0.25, "a quarter")
        ctx.progress(0.75, "three quarters")

    task_id = live.submit(TaskSubmission("job")).task_id
    run_idle(live)

    expected = [(0.25, "a quarter"), (0.75, "three quarters")]
    assert first.of(task_id) == expected
    assert second.of(task_id) == expected
    record = live.task(task_id)
    assert record is not None and record.status is TaskStatus.COMPLETED


def test_a_listener_registered_after_reports_only_gets_later_ones(
    live: Scheduler, run_idle: RunIdle
) -> None:
    early, late = Reports(), Reports()
    live.on_progress(early)

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.progress(0.1, "before")
        live.on_progress(late)
        ctx.progress(0.9, "after")

    task_id = live.submit(TaskSubmission("job")).task_id
    run_idle(live)

    assert early.of(task_id) == [(0.1, "before"), (0.9, "after")]
    assert late.of(task_id) == [(0.9, "after")]


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_a_fraction_outside_0_1_raises_in_the_executor_and_reaches_no_listener(
    live: Scheduler, run_idle: RunIdle, fraction: float
) -> None:
    reports = Reports()
    live.on_progress(reports)
    errors: list[str] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.progress(0.5, "fine")
        try:
            ctx.progress(fraction, "out of range")
        except ValueError as error:
            errors.append(str(error))
        ctx.progress(0.6, "fine again")

    task_id = live.submit(TaskSubmission("job")).task_id
    run_idle(live)

    assert len(errors) == 1 and "outside 0.0-1.0" in errors[0]
    assert reports.of(task_id) == [(0.5, "fine"), (0.6, "fine again")]


def test_an_executor_that_lets_the_bad_fraction_raise_fails_its_attempt(
    live: Scheduler, run_idle: RunIdle
) -> None:
    reports = Reports()
    live.on_progress(reports)

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.progress(2.0)

    task_id = live.submit(TaskSubmission("job", max_retries=0)).task_id
    run_idle(live)

    assert reports.calls == []
    record = live.task(task_id)
    assert record is not None and record.status is TaskStatus.DEAD_LETTER
    assert "ValueError" in (record.last_error or "")


def test_progress_reaches_listeners_but_never_the_log(live: Scheduler, run_idle: RunIdle) -> None:
    reports = Reports()
    live.on_progress(reports)
    positions: list[int] = []

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        positions.append(live.log_position)
        for step in range(1, 6):
            ctx.progress(step / 5, f"step {step}")
        positions.append(live.log_position)

    task_id = live.submit(TaskSubmission("job")).task_id
    run_idle(live)

    assert len(reports.of(task_id)) == 5
    assert positions[0] == positions[1]  # five reports appended nothing
    assert [e.event for e in live.history(task_id)] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskCompleted",
    ]
