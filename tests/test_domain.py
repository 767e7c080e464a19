"""Pure unit tests of taskmill.domain: tag rules and the Task aggregate, without any store."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from taskmill.domain import task_events as ev
from taskmill.domain.dedup import (
    DedupClaim,
    DedupClaimOpened,
    DedupKeyClaimed,
    DedupKeyReleased,
    dedup_claim_id,
)
from taskmill.domain.errors import IllegalTransition, InvalidStatus, InvalidSubmission
from taskmill.domain.spec import validate_spec
from taskmill.domain.status import ACTIVE_STATUSES, TERMINAL_STATUSES, TaskStatus
from taskmill.domain.tags import inherit_tags, validate_user_tags, with_system_tags
from taskmill.domain.task import Task
from taskmill.domain.trusted import trusted_uuid

S = TaskStatus
NOW = datetime(2030, 1, 1, tzinfo=UTC)


# -- tags --------------------------------------------------------------------------------------


def test_inherit_tags_overrides_parent_with_own() -> None:
    parent = {"profile": "dr", "zone": "eu", "taskmill.type": "transfer", "taskmill.group": "g"}

    merged = inherit_tags(parent, {"zone": "us", "part": "1"})

    assert merged == {"profile": "dr", "zone": "us", "part": "1"}


def test_inherit_tags_does_not_change_its_inputs() -> None:
    parent = {"a": "1"}
    own = {"b": "2"}

    inherit_tags(parent, own)

    assert parent == {"a": "1"}
    assert own == {"b": "2"}


def test_inherit_tags_counts_the_merged_user_tags() -> None:
    parent = {f"k{i}": "v" for i in range(31)} | {"taskmill.type": "t", "taskmill.group": "g"}

    assert len(inherit_tags(parent, {"k0": "override", "new": "x"})) == 32
    with pytest.raises(InvalidSubmission) as caught:
        inherit_tags(parent, {"new": "x", "newer": "y"})
    assert caught.value.field == "tags"
    assert caught.value.limit == 32


def test_validate_user_tags_returns_a_plain_copy() -> None:
    tags = {"a": "1"}

    checked = validate_user_tags(tags)

    assert checked == tags
    assert checked is not tags
    assert type(checked) is dict


@pytest.mark.parametrize(
    ("tags", "field", "limit"),
    [
        ({"": "v"}, "tags['']", 64),
        ({"k" * 65: "v"}, f"tags[{'k' * 65!r}]", 64),
        ({"k": "v" * 257}, "tags['k']", 256),
        ({f"k{i}": "" for i in range(33)}, "tags", 32),
        ({"taskmill.x": "v"}, "tags['taskmill.x']", None),
        ({"k": 1}, "tags['k']", None),
    ],
    ids=["empty-key", "long-key", "long-value", "too-many", "reserved", "non-string"],
)
def test_validate_user_tags_rejects(tags: dict[str, Any], field: str, limit: int | None) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        validate_user_tags(tags)

    assert caught.value.field == field
    assert caught.value.limit == limit


def test_validate_user_tags_accepts_the_limits() -> None:
    tags = {"k" * 64: "v" * 256} | {f"k{i}": "" for i in range(31)}

    assert validate_user_tags(tags) == tags


def test_with_system_tags_adds_type_and_group() -> None:
    assert with_system_tags({"a": "1"}, "copy", None) == {"a": "1", "taskmill.type": "copy"}
    assert with_system_tags({}, "copy", "g") == {"taskmill.type": "copy", "taskmill.group": "g"}


def test_invalid_submission_at_index_keeps_the_details() -> None:
    error = InvalidSubmission("priority", "out of range", limit=(0, 255))

    indexed = error.at_index(3)

    assert (indexed.field, indexed.limit, indexed.index) == ("priority", (0, 255), 3)
    assert str(indexed).startswith("submission #3: priority")


# -- statuses ----------------------------------------------------------------------------------


def test_status_values_are_lower_snake_case() -> None:
    assert [s.value for s in S] == [
        "pending",
        "blocked",
        "running",
        "waiting",
        "completed",
        "failed",
        "dead_letter",
        "cancelled",
        "expired",
    ]


def test_terminal_and_active_statuses_partition_all() -> None:
    assert set(S) == TERMINAL_STATUSES | ACTIVE_STATUSES
    assert not TERMINAL_STATUSES & ACTIVE_STATUSES
    assert {s for s in S if s.is_terminal} == {
        S.COMPLETED,
        S.FAILED,
        S.DEAD_LETTER,
        S.CANCELLED,
        S.EXPIRED,
    }


def test_status_parse() -> None:
    assert TaskStatus.parse("dead_letter") is S.DEAD_LETTER
    assert TaskStatus.parse(S.RUNNING) is S.RUNNING
    with pytest.raises(InvalidStatus):
        TaskStatus.parse("PENDING")


# -- the Task aggregate ------------------------------------------------------------------------


def _task(now: datetime = NOW, **fields: Any) -> Task:
    spec = validate_spec(task_type=fields.pop("task_type", "job"), **fields)
    return Task.submit(uuid4(), spec, spec.tags, now=now)


def _events(task: Task) -> list[str]:
    return [type(e).__name__ for e in task.pending_events]


def _replay(task: Task) -> Task:
    replayed: Any = None
    for event in task.pending_events:
        replayed = event.mutate(replayed)
    return replayed  # type: ignore[no-any-return]


def test_submitted_task_is_pending_with_system_tags() -> None:
    task = _task(tags={"a": "1"}, group="g")

    assert task.status is S.PENDING
    assert task.tags == {"a": "1", "taskmill.type": "job", "taskmill.group": "g"}
    assert _events(task) == ["TaskSubmitted"]


def test_run_after_in_the_future_is_blocked_in_the_past_pending() -> None:
    assert _task(run_after=NOW + timedelta(seconds=1)).status is S.BLOCKED
    assert _task(run_after=NOW - timedelta(seconds=1)).status is S.PENDING
    assert _task(run_after=NOW).status is S.PENDING


def test_full_lifecycle_events() -> None:
    task = _task()
    task.start(now=NOW, worker_id="w")
    task.fail("x", now=NOW)
    task.start(now=NOW)
    task.requeue(now=NOW, reason="lost")
    task.start(now=NOW)
    task.complete(now=NOW)

    assert _events(task) == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskRetrying",
        "TaskStarted",
        "TaskRequeued",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert task.status is S.COMPLETED
    assert task.attempts == 2


def test_replaying_the_events_rebuilds_the_same_state() -> None:
    task = _task(tags={"a": "1"}, max_retries=1)
    task.start(now=NOW)
    task.fail("x", now=NOW, retry_at=NOW + timedelta(minutes=1))
    task.unblock(now=NOW)
    task.start(now=NOW)

    replayed = _replay(task)

    for name in ("status", "attempts", "tags", "last_error", "run_after", "max_retries"):
        assert getattr(replayed, name) == getattr(task, name), name
    assert replayed.version == task.version


@pytest.mark.parametrize("max_retries", [0, 2])
def test_dead_letter_after_retries(max_retries: int) -> None:
    task = _task(max_retries=max_retries)
    for _ in range(max_retries):
        task.start(now=NOW)
        task.fail("x", now=NOW)
        assert task.status is S.PENDING
    task.start(now=NOW)

    task.fail("last", now=NOW)

    assert task.status is S.DEAD_LETTER
    assert task.last_error == "last"


def test_retry_at_in_the_future_blocks() -> None:
    task = _task()
    task.start(now=NOW)

    task.fail("x", now=NOW, retry_at=NOW + timedelta(seconds=5))

    assert task.status is S.BLOCKED


def test_permanent_failure() -> None:
    task = _task(max_retries=10)
    task.start(now=NOW)

    task.fail("x", now=NOW, permanent=True)

    assert task.status is S.FAILED


def _in(status: TaskStatus) -> Task:
    fields: dict[str, Any] = {"max_retries": 0} if status is S.DEAD_LETTER else {}
    task = _task(run_after=NOW + timedelta(hours=1) if status is S.BLOCKED else None, **fields)
    if status in (S.RUNNING, S.COMPLETED, S.FAILED, S.DEAD_LETTER, S.WAITING):
        task.start(now=NOW)
    if status is S.WAITING:
        task.record_child(uuid4(), now=NOW)
        task.complete(now=NOW)
    if status is S.COMPLETED:
        task.complete(now=NOW)
    if status is S.FAILED:
        task.fail("x", now=NOW, permanent=True)
    if status is S.DEAD_LETTER:
        task.fail("x", now=NOW)  # no retries left
    if status is S.CANCELLED:
        task.cancel(now=NOW)
    if status is S.EXPIRED:
        task.expire(now=NOW)
    assert task.status is status
    return task


COMMANDS: dict[str, tuple[Any, set[TaskStatus]]] = {
    "start": (lambda t: t.start(now=NOW), {S.PENDING}),
    "unblock": (lambda t: t.unblock(now=NOW), {S.BLOCKED}),
    "requeue": (lambda t: t.requeue(now=NOW, reason="r"), {S.RUNNING}),
    "complete": (lambda t: t.complete(now=NOW), {S.RUNNING}),
    "fail": (lambda t: t.fail("e", now=NOW), {S.RUNNING}),
    "cancel": (lambda t: t.cancel(now=NOW), set(ACTIVE_STATUSES)),
    "expire": (lambda t: t.expire(now=NOW), set(ACTIVE_STATUSES)),
    "spawn": (lambda t: t.record_child(uuid4(), now=NOW), set(ACTIVE_STATUSES)),
}
REACHABLE = list(S)
"""Every status: `_in` reaches each one (and fails loudly for a new status it cannot)."""


@pytest.mark.parametrize("status", REACHABLE, ids=str)
@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_transition_table(command: str, status: TaskStatus) -> None:
    run, allowed = COMMANDS[command]
    task = _in(status)
    before = len(task.pending_events)

    if status in allowed:
        run(task)
        assert len(task.pending_events) == before + 1
    else:
        with pytest.raises(IllegalTransition) as caught:
            run(task)
        assert caught.value.status == status.value
        assert len(task.pending_events) == before
        assert task.status is status


def test_complete_with_unfinished_children_waits_then_finalizes() -> None:
    task = _task()
    child = uuid4()
    task.record_child(child, now=NOW)
    task.start(now=NOW)

    task.complete(now=NOW)
    assert task.status is S.WAITING
    assert not task.ready_to_finalize

    task.record_child_finished(child, S.COMPLETED, now=NOW)
    assert task.ready_to_finalize
    task.finalize(now=NOW)
    assert task.status is S.COMPLETED


@pytest.mark.parametrize("child_status", [S.FAILED, S.DEAD_LETTER, S.EXPIRED])
def test_failed_child_fails_the_parent_on_finalize(child_status: TaskStatus) -> None:
    task = _task()
    child = uuid4()
    task.record_child(child, now=NOW)
    task.start(now=NOW)
    task.complete(now=NOW)

    task.record_child_finished(child, child_status, now=NOW)
    task.finalize(now=NOW)

    assert task.status is S.FAILED
    assert task.last_error


def test_finalize_with_unfinished_children_is_illegal() -> None:
    task = _task()
    task.record_child(uuid4(), now=NOW)
    task.start(now=NOW)
    task.complete(now=NOW)

    with pytest.raises(IllegalTransition):
        task.finalize(now=NOW)


def test_child_finished_twice_is_recorded_once() -> None:
    task = _task()
    child = uuid4()
    task.record_child(child, now=NOW)

    task.record_child_finished(child, S.COMPLETED, now=NOW)
    task.record_child_finished(child, S.COMPLETED, now=NOW)
    task.record_child_finished(uuid4(), S.COMPLETED, now=NOW)

    assert _events(task).count("ChildFinished") == 1


def test_requeue_gives_the_attempt_back() -> None:
    task = _task()
    task.start(now=NOW)

    task.requeue(now=NOW, reason="lost")

    assert task.attempts == 0
    assert task.status is S.PENDING


def test_requeue_held_by_a_worker_refuses_a_task_another_worker_claimed_since() -> None:
    """`recover_dead_workers` requeues a dead worker's task only while that worker holds it."""
    task = _task()
    task.start(now=NOW, worker_id="host:1:dead")
    task.requeue(now=NOW, reason="lease expired")
    task.start(now=NOW, worker_id="host:2:live")

    with pytest.raises(IllegalTransition):
        task.requeue(now=NOW, reason="worker died", held_by="host:1:dead")
    assert task.status is S.RUNNING and task.worker_id == "host:2:live"

    task.requeue(now=NOW, reason="worker died", held_by="host:2:live")
    assert task.status is S.PENDING


# -- dedup claims ------------------------------------------------------------------------------


def test_dedup_claim_id_depends_on_type_and_key() -> None:
    assert dedup_claim_id("copy", "k") == dedup_claim_id("copy", "k")
    assert dedup_claim_id("copy", "k") != dedup_claim_id("delete", "k")
    assert dedup_claim_id("copy", "k") != dedup_claim_id("copy", "K")
    assert isinstance(dedup_claim_id("copy", "k"), UUID)


def test_dedup_claim_is_released_only_by_its_holder() -> None:
    holder, other = uuid4(), uuid4()
    claim = DedupClaim.open("copy", "k", holder, now=NOW)

    claim.release(other, now=NOW)
    assert claim.holder == holder

    claim.release(holder, now=NOW)
    assert claim.holder is None

    claim.claim(other, now=NOW)
    assert claim.holder == other


# -- stable topics -----------------------------------------------------------------------------


def _stored_classes() -> list[type]:
    events = [
        value
        for value in vars(ev).values()
        if isinstance(value, type) and issubclass(value, ev.TaskEvent) and value is not ev.TaskEvent
    ]
    return [*events, Task, DedupClaim, DedupClaimOpened, DedupKeyClaimed, DedupKeyReleased]


@pytest.mark.parametrize("cls", _stored_classes(), ids=lambda c: c.__name__)
def test_every_stored_class_has_an_explicit_stable_topic(cls: type) -> None:
    topic = cls.__dict__.get("TOPIC")

    assert topic, f"{cls.__name__} has no TOPIC of its own"
    assert topic.startswith("taskmill.")
    assert get_topic(cls) == topic


def _ready_parent(now: datetime) -> Task:
    parent = Task.submit(uuid4(), validate_spec(task_type="batch"), {}, now=now)
    parent.start(now=now, worker_id="w0")
    child = uuid4()
    parent.record_child(child, now=now)
    parent.complete(now=now)
    parent.record_child_finished(child, TaskStatus.COMPLETED, now=now)
    assert parent.ready_to_finalize
    return parent


def test_a_finalizer_claim_keeps_other_workers_out_until_its_lease_runs_out() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    parent = _ready_parent(now)
    parent.start_finalizer(now=now, worker_id="a", lease_expires_at=now + timedelta(seconds=30))
    with pytest.raises(IllegalTransition):
        parent.start_finalizer(now=now, worker_id="b", lease_expires_at=now + timedelta(seconds=30))
    with pytest.raises(IllegalTransition):
        parent.finalize(now=now, worker_id="b")
    later = now + timedelta(seconds=31)
    parent.start_finalizer(now=later, worker_id="b", lease_expires_at=later + timedelta(seconds=30))
    with pytest.raises(IllegalTransition):
        parent.finalize(now=later, worker_id="a")
    parent.finalize(now=later, worker_id="b")
    assert parent.status is TaskStatus.COMPLETED


# -- ids read back from our own storage ------------------------------------------------------


@given(st.uuids())
def test_trusted_uuid_equals_the_validating_constructor(value: UUID) -> None:
    for text in (str(value), value.hex):
        built = trusted_uuid(text)
        assert built == value and hash(built) == hash(value)
        assert str(built) == str(value) and built.version == value.version
        assert isinstance(built, UUID)
        assert pickle.loads(pickle.dumps(built)) == value


def test_trusted_uuid_takes_the_fast_path_on_this_interpreter() -> None:
    assert trusted_uuid is not UUID  # CPython 3.11-3.13 keep the `int` and `is_safe` slots
