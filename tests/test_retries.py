"""Failures: retried with exponential backoff until `max_retries`, then dead-lettered; a
`PermanentError` fails at once; every attempt's error text is in the log."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from taskmill import InvalidQuery, Scheduler, TaskRecord, TaskStatus, TaskSubmission
from taskmill.records import HistoryEntry
from taskmill.runtime.context import TaskContext
from taskmill.runtime.registry import PermanentError, RetryPolicy

RunIdle = Callable[..., float]
FAST = RetryPolicy(base_seconds=0.01, jitter=0)


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


def _of(history: list[HistoryEntry], event: str) -> list[HistoryEntry]:
    return [entry for entry in history if entry.event == event]


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_retryable_failures_retry_until_max_retries_then_dead_letter(
    live: Scheduler, run_idle: RunIdle, flavour: str
) -> None:
    attempts_seen: list[int] = []

    def fail(ctx: TaskContext) -> None:
        attempts_seen.append(ctx.attempt)
        raise ConnectionError(f"endpoint unreachable on attempt {ctx.attempt}")

    if flavour == "async":

        @live.executor("job", retry=FAST)
        async def job(ctx: TaskContext) -> None:
            fail(ctx)

    else:
        live.executor("job", retry=FAST)(fail)

    task_id = live.submit(TaskSubmission("job", max_retries=2)).task_id

    run_idle(live)

    assert attempts_seen == [1, 2, 3]
    record = _record(live, task_id)
    assert record.status is TaskStatus.DEAD_LETTER
    assert record.attempts == 3
    assert record.last_error == "ConnectionError: endpoint unreachable on attempt 3"
    history = live.history(task_id)
    assert [e.event for e in history] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskRetrying",
        "TaskUnblocked",
        "TaskStarted",
        "TaskRetrying",
        "TaskUnblocked",
        "TaskStarted",
        "TaskDeadLettered",
    ]
    errors = [e.data["error"] for e in _of(history, "TaskRetrying")]
    assert errors == [
        "ConnectionError: endpoint unreachable on attempt 1",
        "ConnectionError: endpoint unreachable on attempt 2",
    ]
    assert _of(history, "TaskDeadLettered")[0].data["error"] == record.last_error
    assert [e.data["attempt"] for e in _of(history, "TaskStarted")] == [1, 2, 3]


def test_retries_back_off_exponentially_and_do_not_start_early(
    live: Scheduler, run_idle: RunIdle
) -> None:
    policy = RetryPolicy(base_seconds=0.1, multiplier=3.0, jitter=0)

    @live.executor("job", retry=policy)
    def job(ctx: TaskContext) -> None:
        raise ValueError("nope")

    task_id = live.submit(TaskSubmission("job", max_retries=2)).task_id

    run_idle(live)

    history = live.history(task_id)
    retrying = _of(history, "TaskRetrying")
    starts = _of(history, "TaskStarted")
    assert len(retrying) == 2 and len(starts) == 3
    delays = [
        (datetime.fromisoformat(e.data["retry_at"]) - e.timestamp).total_seconds() for e in retrying
    ]
    assert delays == pytest.approx([0.1, 0.3], abs=0.002)
    for retry, next_start in zip(retrying, starts[1:], strict=True):
        assert retry.data["status"] == "blocked"
        assert next_start.timestamp >= datetime.fromisoformat(retry.data["retry_at"])


def test_a_retried_task_can_succeed_on_a_later_attempt(live: Scheduler, run_idle: RunIdle) -> None:
    @live.executor("flaky", retry=FAST)
    async def flaky(ctx: TaskContext) -> None:
        await asyncio.sleep(0)
        if ctx.attempt < 3:
            raise TimeoutError(f"slow network #{ctx.attempt}")
        ctx.record_io(read_bytes=5)

    task_id = live.submit(TaskSubmission("flaky", max_retries=5)).task_id

    run_idle(live)

    record = _record(live, task_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.attempts == 3
    assert record.actual_io.read_bytes == 5
    history = live.history(task_id)
    assert [e.data["error"] for e in _of(history, "TaskRetrying")] == [
        "TimeoutError: slow network #1",
        "TimeoutError: slow network #2",
    ]
    assert history[-1].event == "TaskCompleted"


def test_no_retries_means_the_first_failure_dead_letters(
    live: Scheduler, run_idle: RunIdle
) -> None:
    @live.executor("job", retry=FAST)
    def job(ctx: TaskContext) -> None:
        raise KeyError("missing")

    task_id = live.submit(TaskSubmission("job", max_retries=0)).task_id

    run_idle(live)

    record = _record(live, task_id)
    assert record.status is TaskStatus.DEAD_LETTER
    assert record.attempts == 1
    assert [e.event for e in live.history(task_id)] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskDeadLettered",
    ]


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_permanent_error_fails_at_once_without_retrying(
    live: Scheduler, run_idle: RunIdle, flavour: str
) -> None:
    calls: list[int] = []

    def refuse(ctx: TaskContext) -> None:
        calls.append(ctx.attempt)
        raise PermanentError("403 Forbidden: bucket policy denies writes")

    if flavour == "async":

        @live.executor("job", retry=FAST)
        async def job(ctx: TaskContext) -> None:
            refuse(ctx)

    else:
        live.executor("job", retry=FAST)(refuse)

    task_id = live.submit(TaskSubmission("job", max_retries=5)).task_id

    run_idle(live)

    assert calls == [1]
    record = _record(live, task_id)
    assert record.status is TaskStatus.FAILED
    assert record.attempts == 1
    assert record.last_error is not None and "403 Forbidden" in record.last_error
    history = live.history(task_id)
    assert [e.event for e in history] == ["TaskSubmitted", "TaskStarted", "TaskFailed"]
    assert "bucket policy denies writes" in history[-1].data["error"]


def test_a_subclass_of_permanent_error_is_permanent_too(live: Scheduler, run_idle: RunIdle) -> None:
    class BadInput(PermanentError):
        pass

    @live.executor("job", retry=FAST)
    def job(ctx: TaskContext) -> None:
        raise BadInput("payload is not a path")

    task_id = live.submit(TaskSubmission("job", max_retries=3)).task_id

    run_idle(live)

    assert _record(live, task_id).status is TaskStatus.FAILED
    assert _record(live, task_id).attempts == 1


def test_each_type_uses_its_own_retry_policy(live: Scheduler, run_idle: RunIdle) -> None:
    @live.executor("quick", retry=RetryPolicy(base_seconds=0.01, jitter=0))
    def quick(ctx: TaskContext) -> None:
        raise ValueError("q")

    @live.executor("patient", retry=RetryPolicy(base_seconds=0.25, jitter=0))
    def patient(ctx: TaskContext) -> None:
        raise ValueError("p")

    q = live.submit(TaskSubmission("quick", max_retries=1)).task_id
    p = live.submit(TaskSubmission("patient", max_retries=1)).task_id

    run_idle(live)

    for task_id, expected in ((q, 0.01), (p, 0.25)):
        (retry,) = _of(live.history(task_id), "TaskRetrying")
        delay = (datetime.fromisoformat(retry.data["retry_at"]) - retry.timestamp).total_seconds()
        assert delay == pytest.approx(expected, abs=0.002)
        assert _record(live, task_id).status is TaskStatus.DEAD_LETTER


def test_a_long_error_message_is_kept_but_bounded(live: Scheduler, run_idle: RunIdle) -> None:
    @live.executor("job", retry=FAST)
    def job(ctx: TaskContext) -> None:
        raise RuntimeError("x" * 100_000)

    task_id = live.submit(TaskSubmission("job", max_retries=0)).task_id

    run_idle(live)

    error = _record(live, task_id).last_error
    assert error is not None and error.startswith("RuntimeError: xxx")
    assert 100 < len(error) <= 10_000


# -- the policy itself ---------------------------------------------------------------------------


def test_retry_policy_delay_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(base_seconds=1.0, multiplier=2.0, max_seconds=10.0, jitter=0)

    assert [policy.delay(a) for a in (1, 2, 3, 4, 5, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_retry_policy_jitter_stays_within_its_spread_and_varies() -> None:
    policy = RetryPolicy(base_seconds=2.0, multiplier=2.0, jitter=0.25)
    rng = random.Random(7)

    delays = [policy.delay(2, rng) for _ in range(200)]

    assert all(3.0 <= d <= 5.0 for d in delays)
    assert max(delays) - min(delays) > 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_seconds", -1.0),
        ("base_seconds", float("nan")),
        ("multiplier", 0.5),
        ("multiplier", float("inf")),
        ("max_seconds", 10**9),
        ("jitter", 1.5),
        ("jitter", True),
        ("max_seconds", "300"),
    ],
    ids=repr,
)
def test_a_retry_policy_with_a_bad_field_is_a_typed_error(field: str, value: object) -> None:
    with pytest.raises(InvalidQuery, match=f"RetryPolicy.{field}"):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


def test_a_steep_retry_policy_is_capped_at_any_attempt() -> None:
    policy = RetryPolicy(base_seconds=1.0, multiplier=1_000.0, max_seconds=60.0, jitter=0)

    assert policy.delay(1_001) == 60.0  # 1000.0**1000 overflows a float: the cap still holds


def test_retry_at_is_in_the_future_by_the_policy_delay(live: Scheduler, run_idle: RunIdle) -> None:
    """A retry is never scheduled in the past, whatever the jitter."""

    @live.executor("job", retry=RetryPolicy(base_seconds=0.05, jitter=0.9))
    def job(ctx: TaskContext) -> None:
        raise ValueError("again")

    ids = [live.submit(TaskSubmission("job", max_retries=1)).task_id for _ in range(5)]
    before = datetime.now(UTC) - timedelta(seconds=1)

    run_idle(live)

    for task_id in ids:
        (retry,) = _of(live.history(task_id), "TaskRetrying")
        retry_at = datetime.fromisoformat(retry.data["retry_at"])
        assert before < retry.timestamp <= retry_at <= retry.timestamp + timedelta(seconds=0.1)
