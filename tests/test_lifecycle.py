"""The task lifecycle through the Scheduler's commands, and the audit history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from taskmill import (
    IllegalTransition,
    IOFigures,
    Scheduler,
    TaskNotFound,
    TaskRecord,
    TaskStatus,
    TaskSubmission,
)

S = TaskStatus


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


# -- the happy path ----------------------------------------------------------------------------


def test_start_makes_a_task_running(scheduler: Scheduler, add, clock) -> None:
    task_id = add()
    clock.advance(3)

    scheduler.start(task_id, worker_id="worker-1")

    record = _record(scheduler, task_id)
    assert record.status is S.RUNNING
    assert record.attempts == 1
    assert record.started_at == clock.now
    assert record.worker_id == "worker-1"


def test_complete_finishes_a_running_task(scheduler: Scheduler, running, clock) -> None:
    task_id = running()
    clock.advance(7)

    scheduler.complete(task_id, actual_io={"read_bytes": 5, "net_tx_bytes": 9})

    record = _record(scheduler, task_id)
    assert record.status is S.COMPLETED
    assert record.finished_at == clock.now
    assert record.actual_io == IOFigures(read_bytes=5, net_tx_bytes=9)


def test_every_io_figure_reaches_its_own_field_of_the_record(scheduler: Scheduler, add) -> None:
    """Records are read from the view's row by position: four different figures each way
    catch a swap between any two of them."""
    task_id = add(
        expected_io={"read_bytes": 1, "write_bytes": 2, "net_rx_bytes": 3, "net_tx_bytes": 4}
    )
    scheduler.start(task_id)
    scheduler.complete(
        task_id, actual_io={"read_bytes": 5, "write_bytes": 6, "net_rx_bytes": 7, "net_tx_bytes": 8}
    )

    record = _record(scheduler, task_id)
    assert record.expected_io == IOFigures(
        read_bytes=1, write_bytes=2, net_rx_bytes=3, net_tx_bytes=4
    )
    assert record.actual_io == IOFigures(
        read_bytes=5, write_bytes=6, net_rx_bytes=7, net_tx_bytes=8
    )
    assert [r.id for r in scheduler.query_tasks()] == [task_id]
    assert scheduler.query_tasks()[0] == record


def test_cancel_a_pending_task(scheduler: Scheduler, add) -> None:
    task_id = add()

    scheduler.cancel(task_id, reason="not needed")

    assert _record(scheduler, task_id).status is S.CANCELLED
    assert scheduler.history(task_id)[-1].data["reason"] == "not needed"


def test_cancel_a_running_task(scheduler: Scheduler, running) -> None:
    task_id = running()

    scheduler.cancel(task_id)

    assert _record(scheduler, task_id).status is S.CANCELLED


@pytest.mark.parametrize("state", ["pending", "blocked", "running"])
def test_expire_an_unfinished_task(scheduler: Scheduler, add, clock, state: str) -> None:
    run_after = clock.now + timedelta(hours=1) if state == "blocked" else None
    task_id = add(ttl=60, run_after=run_after)
    if state == "running":
        scheduler.start(task_id)
    clock.advance(61)

    scheduler.expire(task_id)

    record = _record(scheduler, task_id)
    assert record.status is S.EXPIRED
    assert record.finished_at == clock.now


def test_unblock_makes_a_blocked_task_pending(scheduler: Scheduler, add, clock) -> None:
    task_id = add(run_after=clock.now + timedelta(minutes=1))
    assert _record(scheduler, task_id).status is S.BLOCKED

    scheduler.unblock(task_id)

    assert _record(scheduler, task_id).status is S.PENDING
    scheduler.start(task_id)
    assert _record(scheduler, task_id).status is S.RUNNING


def test_requeue_puts_a_running_task_back_without_an_attempt(scheduler: Scheduler, running) -> None:
    task_id = running()

    scheduler.requeue(task_id, reason="worker died")

    record = _record(scheduler, task_id)
    assert record.status is S.PENDING
    assert record.attempts == 0
    assert record.worker_id is None


# -- failures and retries ----------------------------------------------------------------------


def test_fail_with_retries_left_goes_back_to_pending(scheduler: Scheduler, running) -> None:
    task_id = running()

    scheduler.fail(task_id, "timeout")

    record = _record(scheduler, task_id)
    assert record.status is S.PENDING
    assert record.attempts == 1
    assert record.last_error == "timeout"


def test_attempts_are_counted_across_retries(scheduler: Scheduler, add) -> None:
    task_id = add(max_retries=5)
    for attempt in (1, 2, 3):
        scheduler.start(task_id)
        assert _record(scheduler, task_id).attempts == attempt
        scheduler.fail(task_id, f"error {attempt}")

    record = _record(scheduler, task_id)
    assert record.attempts == 3
    assert record.last_error == "error 3"


def test_fail_with_retry_at_in_the_future_is_blocked(scheduler: Scheduler, running, clock) -> None:
    task_id = running()
    retry_at = clock.now + timedelta(seconds=30)

    scheduler.fail(task_id, "throttled", retry_at=retry_at)

    record = _record(scheduler, task_id)
    assert record.status is S.BLOCKED
    assert record.run_after == retry_at
    scheduler.unblock(task_id)
    assert _record(scheduler, task_id).status is S.PENDING


def test_fail_with_retry_at_in_the_past_is_pending(scheduler: Scheduler, running, clock) -> None:
    task_id = running()

    scheduler.fail(task_id, "throttled", retry_at=clock.now - timedelta(seconds=1))

    assert _record(scheduler, task_id).status is S.PENDING


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_dead_letter_after_max_retries_plus_one_failures(
    scheduler: Scheduler, add, max_retries: int
) -> None:
    task_id = add(max_retries=max_retries)
    for _ in range(max_retries):
        scheduler.start(task_id)
        scheduler.fail(task_id, "again")
        assert _record(scheduler, task_id).status is S.PENDING

    scheduler.start(task_id)
    scheduler.fail(task_id, "last")

    record = _record(scheduler, task_id)
    assert record.status is S.DEAD_LETTER
    assert record.attempts == max_retries + 1
    assert record.last_error == "last"
    assert record.finished_at is not None


def test_permanent_failure_fails_at_once(scheduler: Scheduler, running) -> None:
    task_id = running(max_retries=5)

    scheduler.fail(task_id, "bad input", permanent=True)

    record = _record(scheduler, task_id)
    assert record.status is S.FAILED
    assert record.last_error == "bad input"
    assert record.attempts == 1


def test_requeue_does_not_consume_an_attempt(scheduler: Scheduler, add) -> None:
    task_id = add(max_retries=1)
    for _ in range(3):
        scheduler.start(task_id)
        scheduler.requeue(task_id, reason="lease lost")
    scheduler.start(task_id)
    assert _record(scheduler, task_id).attempts == 1

    scheduler.fail(task_id, "first real failure")

    assert _record(scheduler, task_id).status is S.PENDING


# -- illegal transitions -----------------------------------------------------------------------


def _pending(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    return add()


def _running(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    task_id = add()
    s.start(task_id)
    return task_id


def _completed(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    task_id = _running(s, add)
    s.complete(task_id)
    return task_id


def _cancelled(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    task_id = add()
    s.cancel(task_id)
    return task_id


def _failed(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    task_id = _running(s, add)
    s.fail(task_id, "x", permanent=True)
    return task_id


ILLEGAL = [
    ("complete-pending", _pending, lambda s, t: s.complete(t), "pending"),
    ("fail-pending", _pending, lambda s, t: s.fail(t, "x"), "pending"),
    ("requeue-pending", _pending, lambda s, t: s.requeue(t, reason="x"), "pending"),
    ("unblock-pending", _pending, lambda s, t: s.unblock(t), "pending"),
    ("start-running", _running, lambda s, t: s.start(t), "running"),
    ("start-completed", _completed, lambda s, t: s.start(t), "completed"),
    ("complete-completed", _completed, lambda s, t: s.complete(t), "completed"),
    ("cancel-completed", _completed, lambda s, t: s.cancel(t), "completed"),
    ("expire-completed", _completed, lambda s, t: s.expire(t), "completed"),
    ("cancel-cancelled", _cancelled, lambda s, t: s.cancel(t), "cancelled"),
    ("start-cancelled", _cancelled, lambda s, t: s.start(t), "cancelled"),
    ("start-failed", _failed, lambda s, t: s.start(t), "failed"),
]


@pytest.mark.parametrize(
    ("setup", "action", "status"),
    [case[1:] for case in ILLEGAL],
    ids=[case[0] for case in ILLEGAL],
)
def test_illegal_transition_raises_and_appends_nothing(
    scheduler: Scheduler, add, setup, action, status: str
) -> None:
    task_id = setup(scheduler, add)
    position = scheduler.log_position
    before = _record(scheduler, task_id)

    with pytest.raises(IllegalTransition) as caught:
        action(scheduler, task_id)

    assert caught.value.task_id == task_id
    assert caught.value.status == status
    assert status in str(caught.value)
    assert scheduler.log_position == position
    assert _record(scheduler, task_id) == before


@pytest.mark.parametrize(
    "command",
    [
        lambda s, t: s.start(t),
        lambda s, t: s.complete(t),
        lambda s, t: s.cancel(t),
        lambda s, t: s.expire(t),
    ],
    ids=["start", "complete", "cancel", "expire"],
)
def test_commands_on_an_unknown_task_raise_task_not_found(scheduler: Scheduler, command) -> None:
    missing = uuid4()

    with pytest.raises(TaskNotFound) as caught:
        command(scheduler, missing)

    assert caught.value.task_id == missing
    assert scheduler.log_position == 0


# -- history -----------------------------------------------------------------------------------


def test_history_lists_every_event_in_order_with_timestamps(scheduler: Scheduler, clock) -> None:
    moments = [clock.now]
    task_id = scheduler.submit(TaskSubmission("job")).task_id
    steps = [
        lambda: scheduler.start(task_id),
        lambda: scheduler.fail(task_id, "flaky"),
        lambda: scheduler.start(task_id),
        lambda: scheduler.requeue(task_id, reason="lease lost"),
        lambda: scheduler.start(task_id),
        lambda: scheduler.complete(task_id),
    ]
    for step in steps:
        moments.append(clock.advance(10))
        step()

    history = scheduler.history(task_id)

    assert [h.event for h in history] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskRetrying",
        "TaskStarted",
        "TaskRequeued",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert [h.version for h in history] == list(range(1, 8))
    assert [h.timestamp for h in history] == moments
    assert history[2].data["error"] == "flaky"
    assert history[4].data["reason"] == "lease lost"


def test_history_accepts_the_id_as_a_string(scheduler: Scheduler, add) -> None:
    task_id = add()

    assert scheduler.history(str(task_id)) == scheduler.history(task_id)


def test_history_of_an_unknown_task_raises(scheduler: Scheduler) -> None:
    with pytest.raises(TaskNotFound):
        scheduler.history(uuid4())


def test_task_of_an_unknown_id_is_none(scheduler: Scheduler, add) -> None:
    add()

    assert scheduler.task(uuid4()) is None


def test_illegal_transition_leaves_history_unchanged(scheduler: Scheduler, add) -> None:
    task_id = add()
    history = scheduler.history(task_id)

    with pytest.raises(IllegalTransition):
        scheduler.complete(task_id)

    assert scheduler.history(task_id) == history


def test_retry_at_in_another_zone_is_the_same_instant(tmp_path: Path) -> None:
    """A retry time given with an offset (or naive, meaning local) is stored as UTC, so the
    dispatcher's text comparisons of due times stay right."""
    with Scheduler.open(tmp_path) as scheduler:
        task_id = scheduler.submit(TaskSubmission("job", max_retries=2)).task_id
        scheduler.start(task_id)
        later = datetime.now(UTC) + timedelta(hours=1)
        scheduler.fail(task_id, "x", retry_at=later.astimezone(timezone(timedelta(hours=2))))
        record = scheduler.task(task_id)
        assert record is not None and record.run_after == later
        assert record.run_after.utcoffset() == timedelta(0)


def test_view_path_follows_a_rebuild_by_another_handle(tmp_path: Path) -> None:
    with Scheduler.open(tmp_path) as first, Scheduler.open(tmp_path) as second:
        first.submit(TaskSubmission("job"))
        second.rebuild_views()
        assert first.view_path.exists()
        assert first.view_path == second.view_path
