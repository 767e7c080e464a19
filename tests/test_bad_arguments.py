"""Bad arguments to the public API: a typed error naming what was wrong, and nothing changed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import (
    InvalidQuery,
    InvalidStoreConfig,
    Scheduler,
    TaskmillError,
    TaskQuery,
    TaskStatus,
)

S = TaskStatus
Setup = Callable[[Scheduler, Callable[..., UUID]], UUID]


def _pending(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    return add()


def _blocked(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    return add(run_after=datetime(2100, 1, 1, tzinfo=UTC))  # the test clock is in 2030


def _running(s: Scheduler, add: Callable[..., UUID]) -> UUID:
    task_id = add()
    s.start(task_id)
    return task_id


# (id, setup, command on the task, error class, text the message must contain). Each command
# would be legal in the task's state but for the one bad argument.
BAD_COMMANDS: list[tuple[str, Setup, Callable[[Scheduler, UUID], Any], type[Exception], str]] = [
    (
        "complete-unknown-figure",
        _running,
        lambda s, t: s.complete(t, actual_io={"bogus": 1}),
        InvalidQuery,
        "actual_io.bogus: unknown figure",
    ),
    (
        "complete-negative-figure",
        _running,
        lambda s, t: s.complete(t, actual_io={"read_bytes": -1}),
        InvalidQuery,
        "actual_io.read_bytes",
    ),
    (
        "complete-too-large-figure",
        _running,
        lambda s, t: s.complete(t, actual_io={"net_tx_bytes": 2**64}),
        InvalidQuery,
        "actual_io.net_tx_bytes",
    ),
    (
        "complete-bool-figure",
        _running,
        lambda s, t: s.complete(t, actual_io={"read_bytes": True}),
        InvalidQuery,
        "actual_io.read_bytes",
    ),
    (
        "complete-figures-not-a-mapping",
        _running,
        lambda s, t: s.complete(t, actual_io=[("read_bytes", 1)]),
        InvalidQuery,
        "actual_io",
    ),
    ("fail-error-not-text", _running, lambda s, t: s.fail(t, 123), InvalidQuery, "error"),
    (
        "fail-error-not-unicode",
        _running,
        lambda s, t: s.fail(t, "bad \ud800"),
        InvalidQuery,
        "surrogate",
    ),
    (
        "cancel-reason-not-unicode",
        _running,
        lambda s, t: s.cancel(t, reason="\udfff"),
        InvalidQuery,
        "surrogate",
    ),
    (
        "fail-permanent-not-a-flag",
        _running,
        lambda s, t: s.fail(t, "x", permanent="yes"),
        InvalidQuery,
        "permanent",
    ),
    (
        "fail-retry-at-not-a-moment",
        _running,
        lambda s, t: s.fail(t, "x", retry_at="soon"),
        InvalidQuery,
        "retry_at",
    ),
    (
        "requeue-reason-not-text",
        _running,
        lambda s, t: s.requeue(t, reason=5),
        InvalidQuery,
        "reason",
    ),
    (
        "cancel-reason-not-text",
        _pending,
        lambda s, t: s.cancel(t, reason=5),
        InvalidQuery,
        "reason",
    ),
    (
        "start-worker-id-not-text",
        _pending,
        lambda s, t: s.start(t, worker_id=5),
        InvalidQuery,
        "worker_id",
    ),
    (
        "start-lease-not-a-moment",
        _pending,
        lambda s, t: s.start(t, lease_expires_at=30),
        InvalidQuery,
        "lease_expires_at",
    ),
    (
        "cancel-where-not-a-query",
        _pending,
        lambda s, t: s.cancel_where("x"),
        InvalidQuery,
        "TaskQuery",
    ),
    (
        "cancel-where-none",
        _pending,
        lambda s, t: s.cancel_where(None),
        InvalidQuery,
        "TaskQuery",
    ),
    (
        "cancel-where-reason-not-text",
        _pending,
        lambda s, t: s.cancel_where(TaskQuery(), reason=5),
        InvalidQuery,
        "reason",
    ),
]

# Every command taking a task id, each with arguments that are otherwise fine.
COMMANDS: list[tuple[str, Setup, Callable[[Scheduler, Any], Any], S]] = [
    ("start", _pending, lambda s, t: s.start(t, worker_id="w"), S.RUNNING),
    ("complete", _running, lambda s, t: s.complete(t, actual_io={"read_bytes": 3}), S.COMPLETED),
    ("fail", _running, lambda s, t: s.fail(t, "boom", permanent=True), S.FAILED),
    ("cancel", _pending, lambda s, t: s.cancel(t, reason="no"), S.CANCELLED),
    ("unblock", _blocked, lambda s, t: s.unblock(t), S.PENDING),
    ("expire", _pending, lambda s, t: s.expire(t), S.EXPIRED),
    ("requeue", _running, lambda s, t: s.requeue(t, reason="again"), S.PENDING),
]


def _state(scheduler: Scheduler, task_id: UUID) -> tuple[Any, ...]:
    """What a refused command must leave alone: the log's head, the task, its history."""
    return scheduler.log_position, scheduler.task(task_id), scheduler.history(task_id)


@pytest.mark.parametrize(
    ("setup", "command", "error", "text"),
    [case[1:] for case in BAD_COMMANDS],
    ids=[case[0] for case in BAD_COMMANDS],
)
def test_a_bad_command_argument_is_a_typed_error_and_changes_nothing(
    scheduler: Scheduler, add, setup: Setup, command, error: type[Exception], text: str
) -> None:
    task_id = setup(scheduler, add)
    before = _state(scheduler, task_id)

    with pytest.raises(error, match=text) as caught:
        command(scheduler, task_id)

    assert isinstance(caught.value, TaskmillError)
    assert _state(scheduler, task_id) == before


@pytest.mark.parametrize(
    ("setup", "command", "status"),
    [case[1:] for case in COMMANDS],
    ids=[case[0] for case in COMMANDS],
)
def test_every_command_takes_a_task_id_as_text(
    scheduler: Scheduler, add, setup: Setup, command, status: S
) -> None:
    task_id = setup(scheduler, add)

    command(scheduler, str(task_id))

    record = scheduler.task(task_id)
    assert record is not None and record.status is status


@pytest.mark.parametrize("bad_id", ["nope", "", 123, None, b"\x00" * 16])
@pytest.mark.parametrize(
    "command", [case[2] for case in COMMANDS], ids=[case[0] for case in COMMANDS]
)
def test_a_malformed_task_id_is_the_error_task_gives(
    scheduler: Scheduler, add, command, bad_id: object
) -> None:
    task_id = _running(scheduler, add)
    before = _state(scheduler, task_id)
    with pytest.raises(InvalidQuery, match="not a task id") as expected:
        scheduler.task(bad_id)  # type: ignore[arg-type]

    with pytest.raises(InvalidQuery, match="not a task id") as caught:
        command(scheduler, bad_id)

    assert str(caught.value) == str(expected.value)
    assert _state(scheduler, task_id) == before


def test_cancel_by_text_id_cancels_the_task_and_its_children(scheduler: Scheduler, add) -> None:
    parent = _running(scheduler, add)
    child = add(parent=parent)

    scheduler.cancel(str(parent).upper(), reason="not needed")

    assert scheduler.task(parent).status is S.CANCELLED  # type: ignore[union-attr]
    assert scheduler.task(child).status is S.CANCELLED  # type: ignore[union-attr]
    cancelled = [e for e in scheduler.history(parent) if e.event == "TaskCancelled"]
    assert [e.data["reason"] for e in cancelled] == ["not needed"]


# -- queries and group limits ------------------------------------------------------------------

BAD_QUERIES: list[tuple[str, Callable[[Scheduler], Any], str]] = [
    ("query-tasks-not-a-query", lambda s: s.query_tasks("x"), "TaskQuery"),
    ("query-task-ids-not-a-query", lambda s: s.query_task_ids(5), "TaskQuery"),
    ("with-parent-not-an-id", lambda s: TaskQuery().with_parent("nope"), "parent_id"),
    ("with-parent-number", lambda s: TaskQuery().with_parent(5), "parent_id"),
    ("with-tag-key-not-text", lambda s: TaskQuery().with_tag(1, "v"), "with_tag key"),
    ("with-tag-value-not-text", lambda s: TaskQuery().with_tag("k", 2), "with_tag value"),
    ("with-type-not-text", lambda s: TaskQuery().with_type(["job"]), "with_type"),
    ("after-not-a-record", lambda s: TaskQuery().after("x"), "after"),
    ("group-limit-group-not-text", lambda s: s.group_limit(5), "group"),
    ("set-group-limit-group-not-text", lambda s: s.set_group_limit(5, 3), "group"),
    ("set-group-limit-group-empty", lambda s: s.set_group_limit("", 3), "group"),
    ("set-group-limit-group-too-long", lambda s: s.set_group_limit("g" * 257, 3), "group"),
    ("set-group-limit-negative", lambda s: s.set_group_limit("g", -1), "limit"),
    ("set-group-limit-zero", lambda s: s.set_group_limit("g", 0), "limit"),
    ("set-group-limit-bool", lambda s: s.set_group_limit("g", True), "limit"),
    ("set-group-limit-too-large", lambda s: s.set_group_limit("g", 2**63), "limit"),
]


@pytest.mark.parametrize(
    ("call", "text"),
    [case[1:] for case in BAD_QUERIES],
    ids=[case[0] for case in BAD_QUERIES],
)
def test_a_bad_query_or_limit_argument_is_an_invalid_query_and_changes_nothing(
    scheduler: Scheduler, add, call, text: str
) -> None:
    task_id = add(group="g")
    scheduler.set_group_limit("g", 2)
    before = _state(scheduler, task_id)

    with pytest.raises(InvalidQuery, match=text):
        call(scheduler)

    assert _state(scheduler, task_id) == before
    assert scheduler.group_limit("g") == 2


def test_queries_still_take_none_and_parent_ids_as_text(scheduler: Scheduler, add) -> None:
    parent = add()
    child = add(parent=parent)

    assert [r.id for r in scheduler.query_tasks(None)] == [parent, child]
    assert scheduler.query_task_ids(None) == [parent, child]
    assert scheduler.query_task_ids(TaskQuery().with_parent(str(parent))) == [child]


# -- opening -----------------------------------------------------------------------------------

BAD_SECONDS = [-5, -0.5, 0, 0.0, math.nan, math.inf, -math.inf, 10**9, True, False, "1", None]


@pytest.mark.parametrize("value", BAD_SECONDS, ids=repr)
@pytest.mark.parametrize("keyword", ["lease_seconds", "poll_seconds"])
def test_open_refuses_a_bad_interval_before_creating_anything(
    tmp_path: Path, keyword: str, value: object
) -> None:
    folder = tmp_path / "new"

    with pytest.raises(InvalidStoreConfig, match=keyword):
        Scheduler.open(folder, **{keyword: value})

    assert not folder.exists()


@pytest.mark.parametrize("keyword", ["lease_seconds", "poll_seconds"])
def test_open_takes_whole_and_fractional_seconds(tmp_path: Path, keyword: str) -> None:
    for value in (1, 0.25):
        with Scheduler.open(tmp_path, **{keyword: value}):
            pass


@pytest.mark.parametrize("value", [math.inf, math.nan, 10**9])
def test_aevents_refuses_a_poll_interval_it_could_never_wait(
    scheduler: Scheduler, value: float
) -> None:
    async def first() -> Any:
        return [e async for e in scheduler.aevents(follow=False, poll_seconds=value)]

    with pytest.raises(InvalidQuery, match="poll_seconds"):
        asyncio.run(first())
