"""Child tasks: inherited tags, parents that wait, failures and cancellation that propagate."""

from __future__ import annotations

from uuid import UUID

import pytest

from taskmill import InvalidSubmission, Scheduler, TaskQuery, TaskRecord, TaskStatus, TaskSubmission


def _record(scheduler: Scheduler, task_id: UUID) -> TaskRecord:
    record = scheduler.task(task_id)
    assert record is not None
    return record


def _status(scheduler: Scheduler, task_id: UUID) -> TaskStatus:
    return _record(scheduler, task_id).status


def _child(scheduler: Scheduler, parent: UUID, task_type: str = "child", **kwargs: object) -> UUID:
    return scheduler.submit(TaskSubmission(task_type, **kwargs).parent(parent)).task_id  # type: ignore[arg-type]


def _finish(scheduler: Scheduler, task_id: UUID) -> None:
    scheduler.start(task_id)
    scheduler.complete(task_id)


def test_child_inherits_parent_tags_and_overrides_its_own(scheduler: Scheduler) -> None:
    parent = scheduler.submit(
        TaskSubmission("transfer", tags={"profile": "dr", "zone": "eu", "owner": "ops"})
    ).task_id

    child = scheduler.submit(
        TaskSubmission("chunk").parent(parent).tag("zone", "us").tag("part", "1")
    ).task_id

    record = _record(scheduler, child)
    assert record.parent_id == parent
    assert record.user_tags == {"profile": "dr", "zone": "us", "owner": "ops", "part": "1"}
    assert _record(scheduler, parent).user_tags == {"profile": "dr", "zone": "eu", "owner": "ops"}


def test_child_type_tag_is_its_own_type(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id

    child = _child(scheduler, parent, "chunk")

    assert _record(scheduler, child).tags["taskmill.type"] == "chunk"


def test_child_submitted_event_holds_the_final_tags(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer", tags={"a": "1", "b": "2"})).task_id

    child = scheduler.submit(TaskSubmission("chunk").parent(parent).tag("b", "3")).task_id

    submitted = scheduler.history(child)[0]
    assert submitted.event == "TaskSubmitted"
    assert submitted.data["tags"] == {"a": "1", "b": "3", "taskmill.type": "chunk"}
    assert submitted.data["parent_id"] == str(parent)


def test_inherited_tags_are_queryable_on_the_child(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer", tags={"profile": "dr"})).task_id
    child = _child(scheduler, parent)

    found = scheduler.query_tasks(TaskQuery().with_tag("profile", "dr"))

    assert [r.id for r in found] == [parent, child]
    assert scheduler.count_by_tag("profile") == [("dr", 2)]


def test_parent_history_records_the_spawn(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id

    child = _child(scheduler, parent)

    spawned = [h for h in scheduler.history(parent) if h.event == "ChildSpawned"]
    assert [UUID(h.data["child_id"]) for h in spawned] == [child]
    record = _record(scheduler, parent)
    assert (record.children_total, record.children_unfinished) == (1, 1)


def test_children_are_found_by_parent(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    other = scheduler.submit(TaskSubmission("transfer")).task_id
    children = [_child(scheduler, parent) for _ in range(3)]
    _child(scheduler, other)

    found = scheduler.query_tasks(TaskQuery().with_parent(parent))

    assert [r.id for r in found] == children


def test_parent_completing_with_an_unfinished_child_waits(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    _child(scheduler, parent)

    _finish(scheduler, parent)

    record = _record(scheduler, parent)
    assert record.status is TaskStatus.WAITING
    assert record.finished_at is None


def test_waiting_parent_completes_when_its_child_completes(scheduler: Scheduler, clock) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    child = _child(scheduler, parent)
    _finish(scheduler, parent)
    clock.advance(5)

    _finish(scheduler, child)

    record = _record(scheduler, parent)
    assert record.status is TaskStatus.COMPLETED
    assert record.finished_at == clock.now
    assert record.children_unfinished == 0
    events = [h.event for h in scheduler.history(parent)]
    assert events[-2:] == ["ChildFinished", "TaskFinalized"]


def test_parent_waits_for_every_child(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    first, second = _child(scheduler, parent), _child(scheduler, parent)
    _finish(scheduler, parent)

    _finish(scheduler, first)
    assert _status(scheduler, parent) is TaskStatus.WAITING

    _finish(scheduler, second)
    assert _status(scheduler, parent) is TaskStatus.COMPLETED


def test_parent_whose_children_already_finished_completes_directly(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    child = _child(scheduler, parent)
    _finish(scheduler, child)

    _finish(scheduler, parent)

    assert _status(scheduler, parent) is TaskStatus.COMPLETED


def test_failed_child_fails_the_waiting_parent(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    child = _child(scheduler, parent)
    _finish(scheduler, parent)
    scheduler.start(child)

    scheduler.fail(child, "disk full", permanent=True)

    record = _record(scheduler, parent)
    assert record.status is TaskStatus.FAILED
    assert record.last_error == "1 child task(s) failed"
    assert record.finished_at is not None


def test_dead_lettered_child_fails_the_waiting_parent(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    child = _child(scheduler, parent, max_retries=0)
    _finish(scheduler, parent)
    scheduler.start(child)

    scheduler.fail(child, "boom")

    assert _status(scheduler, child) is TaskStatus.DEAD_LETTER
    assert _status(scheduler, parent) is TaskStatus.FAILED


def test_child_that_failed_before_the_parent_completed_still_fails_it(
    scheduler: Scheduler,
) -> None:
    """The outcome must not depend on whether the child ended before or after the parent's
    own attempt: a parent with a failed child is FAILED either way."""
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    child = _child(scheduler, parent)
    scheduler.start(parent)
    scheduler.start(child)
    scheduler.fail(child, "disk full", permanent=True)

    scheduler.complete(parent)

    record = _record(scheduler, parent)
    assert record.status is TaskStatus.FAILED
    assert record.last_error


def test_cancelling_the_parent_cancels_its_unfinished_children(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    done = _child(scheduler, parent)
    _finish(scheduler, done)
    pending = _child(scheduler, parent)
    running = _child(scheduler, parent)
    scheduler.start(running)
    grandchild = _child(scheduler, pending, "part")

    scheduler.cancel(parent, reason="operator")

    assert _status(scheduler, parent) is TaskStatus.CANCELLED
    assert _status(scheduler, pending) is TaskStatus.CANCELLED
    assert _status(scheduler, running) is TaskStatus.CANCELLED
    assert _status(scheduler, grandchild) is TaskStatus.CANCELLED
    assert _status(scheduler, done) is TaskStatus.COMPLETED


def test_cancelling_a_child_leaves_the_parent_running(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    scheduler.start(parent)
    child = _child(scheduler, parent)

    scheduler.cancel(child)

    assert _status(scheduler, parent) is TaskStatus.RUNNING
    assert _record(scheduler, parent).children_unfinished == 0


@pytest.mark.parametrize("end", ["complete", "cancel"])
def test_child_of_a_terminal_task_is_rejected(scheduler: Scheduler, end: str) -> None:
    parent = scheduler.submit(TaskSubmission("transfer")).task_id
    if end == "complete":
        _finish(scheduler, parent)
    else:
        scheduler.cancel(parent)
    position = scheduler.log_position

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit(TaskSubmission("chunk").parent(parent))

    assert caught.value.field == "parent_id"
    assert scheduler.log_position == position
    assert [r.id for r in scheduler.query_tasks()] == [parent]


def test_inheriting_past_32_tags_is_rejected(scheduler: Scheduler) -> None:
    tags = {f"k{i}": "v" for i in range(32)}
    parent = scheduler.submit(TaskSubmission("transfer", tags=tags)).task_id
    position = scheduler.log_position

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit(TaskSubmission("chunk").parent(parent).tag("one-more", "x"))

    assert caught.value.field == "tags"
    assert caught.value.limit == 32
    assert "32" in str(caught.value)
    assert scheduler.log_position == position
    assert _record(scheduler, parent).children_total == 0


def test_overriding_an_inherited_tag_does_not_count_twice(scheduler: Scheduler) -> None:
    tags = {f"k{i}": "v" for i in range(32)}
    parent = scheduler.submit(TaskSubmission("transfer", tags=tags)).task_id

    child = scheduler.submit(TaskSubmission("chunk").parent(parent).tag("k0", "mine")).task_id

    assert _record(scheduler, child).user_tags == {**tags, "k0": "mine"}


@pytest.mark.parametrize("policy", [True, False])
def test_the_parents_policy_decides_whether_a_failed_child_fails_it(
    scheduler: Scheduler, policy: bool
) -> None:
    parent = scheduler.submit(TaskSubmission("batch", fail_on_child_failure=policy)).task_id
    scheduler.start(parent)
    child = scheduler.submit(TaskSubmission("part").parent(parent)).task_id
    scheduler.complete(parent)
    scheduler.start(child)
    scheduler.fail(child, "disk full", permanent=True)
    record = scheduler.task(parent)
    assert record is not None
    assert record.status is (TaskStatus.FAILED if policy else TaskStatus.COMPLETED)
    finalized = [e for e in scheduler.history(parent) if e.event == "TaskFinalized"]
    assert finalized[0].data["status"] == record.status.value


def test_the_fluent_policy_equals_the_keyword(scheduler: Scheduler) -> None:
    fluent = TaskSubmission("batch").fail_on_child_failure(False).to_spec()
    keyword = TaskSubmission("batch", fail_on_child_failure=False).to_spec()
    assert fluent == keyword and fluent.fail_on_child_failure is False


def test_the_policy_must_be_a_boolean(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidSubmission) as error:
        scheduler.submit(TaskSubmission("batch", fail_on_child_failure="no"))  # type: ignore[arg-type]
    assert error.value.field == "fail_on_child_failure"
    assert scheduler.log_position == 0
