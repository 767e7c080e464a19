"""`submit_batch`: all tasks or none, results in order."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from taskmill import InvalidSubmission, Scheduler, TaskQuery, TaskStatus, TaskSubmission


def test_batch_results_come_back_in_submission_order(scheduler: Scheduler) -> None:
    results = scheduler.submit_batch(
        [TaskSubmission("job", payload={"n": n}).tag("n", str(n)) for n in range(50)]
    )

    assert len(results) == 50
    assert all(r.inserted for r in results)
    assert len({r.task_id for r in results}) == 50
    for n, result in enumerate(results):
        record = scheduler.task(result.task_id)
        assert record is not None
        assert record.payload == {"n": n}
        assert record.user_tags == {"n": str(n)}


def test_batch_keeps_submission_order_among_equal_priorities(scheduler: Scheduler) -> None:
    results = scheduler.submit_batch([TaskSubmission("job") for _ in range(10)])

    assert [r.id for r in scheduler.query_tasks()] == [r.task_id for r in results]


def test_batch_stores_every_tag_of_every_task(scheduler: Scheduler) -> None:
    batch = [TaskSubmission("job", tags={f"k{i}": f"v{n}" for i in range(5)}) for n in range(20)]

    scheduler.submit_batch(batch)

    for i in range(5):
        assert sorted(scheduler.count_by_tag(f"k{i}")) == sorted((f"v{n}", 1) for n in range(20))


def test_empty_batch_returns_nothing_and_writes_nothing(scheduler: Scheduler) -> None:
    assert scheduler.submit_batch([]) == []
    assert scheduler.log_position == 0


def test_batch_accepts_any_iterable(scheduler: Scheduler) -> None:
    results = scheduler.submit_batch(TaskSubmission("job") for _ in range(3))

    assert len(results) == 3
    assert len(scheduler.query_tasks()) == 3


BAD_THIRD: dict[str, Callable[[], object]] = {
    "tag-value": lambda: TaskSubmission("job").tag("k", "x" * 257),
    "reserved-key": lambda: TaskSubmission("job").tag("taskmill.type", "x"),
    "too-many-tags": lambda: TaskSubmission("job", tags={str(i): "" for i in range(33)}),
    "priority": lambda: TaskSubmission("job").priority(256),
    "payload": lambda: TaskSubmission("job").payload_json(object()),
    "unknown-parent": lambda: TaskSubmission("job").parent(uuid4()),
    "not-a-submission": lambda: {"task_type": "job"},
}


@pytest.mark.parametrize("bad", list(BAD_THIRD), ids=list(BAD_THIRD))
def test_one_bad_task_rejects_the_whole_batch(scheduler: Scheduler, bad: str) -> None:
    existing = scheduler.submit(TaskSubmission("job")).task_id
    position = scheduler.log_position
    batch = [TaskSubmission("job").tag("n", str(n)) for n in range(5)]
    batch[2] = BAD_THIRD[bad]()  # type: ignore[call-overload]

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit_batch(batch)

    assert caught.value.index == 2
    assert "#2" in str(caught.value)
    assert scheduler.log_position == position
    assert [r.id for r in scheduler.query_tasks()] == [existing]
    assert scheduler.count_by_tag("n") == []


def test_batch_error_names_the_field_of_the_bad_task(scheduler: Scheduler) -> None:
    batch = [TaskSubmission("job") for _ in range(5)]
    batch[2].tag("note", "x" * 300)

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit_batch(batch)

    assert caught.value.field == "tags['note']"
    assert caught.value.limit == 256


def test_batch_with_a_bad_child_persists_nothing(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("job", tags={f"k{i}": "" for i in range(32)}))
    position = scheduler.log_position
    batch = [
        TaskSubmission("child").parent(parent.task_id),
        TaskSubmission("child").parent(parent.task_id).tag("one-too-many", "x"),
    ]

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit_batch(batch)

    assert caught.value.index == 1
    assert scheduler.log_position == position
    assert len(scheduler.history(parent.task_id)) == 1
    record = scheduler.task(parent.task_id)
    assert record is not None
    assert record.children_total == 0


def test_in_batch_duplicates_share_the_first_id(scheduler: Scheduler) -> None:
    results = scheduler.submit_batch(
        [
            TaskSubmission("job", dedup_key="k", tags={"which": "first"}),
            TaskSubmission("job", dedup_key="other"),
            TaskSubmission("job", dedup_key="k", tags={"which": "second"}),
            TaskSubmission("job", dedup_key="k", tags={"which": "third"}),
        ]
    )

    assert [r.inserted for r in results] == [True, True, False, False]
    assert results[2].task_id == results[0].task_id
    assert results[3].task_id == results[0].task_id
    assert results[1].task_id != results[0].task_id
    holders = scheduler.query_tasks(TaskQuery().with_type("job"))
    assert len(holders) == 2
    assert scheduler.count_by_tag("which") == [("first", 1)]


def test_batch_duplicate_of_an_existing_task(scheduler: Scheduler) -> None:
    existing = scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id

    results = scheduler.submit_batch([TaskSubmission("job"), TaskSubmission("job", dedup_key="k")])

    assert results[1].task_id == existing
    assert results[1].inserted is False
    assert results[0].inserted is True
    assert len(scheduler.query_tasks()) == 2


def test_batch_of_children_spawns_each_on_the_parent(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("job", tags={"team": "a"})).task_id

    results = scheduler.submit_batch([TaskSubmission("part").parent(parent) for _ in range(4)])

    spawned = [h.data["child_id"] for h in scheduler.history(parent) if h.event == "ChildSpawned"]
    assert [UUID(c) for c in spawned] == [r.task_id for r in results]
    children = scheduler.query_tasks(TaskQuery().with_parent(parent))
    assert {c.id for c in children} == {r.task_id for r in results}
    assert all(c.user_tags == {"team": "a"} for c in children)
    assert all(c.status is TaskStatus.PENDING for c in children)


def test_a_rejected_batch_leaves_no_trace_in_later_commands(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("job")).task_id
    freed = scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id
    scheduler.start(freed)
    scheduler.complete(freed)  # its dedup claim is released, and stays cached for reuse
    position = scheduler.log_position

    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit_batch(
            [
                TaskSubmission("child").parent(parent),
                TaskSubmission("job", dedup_key="k"),
                TaskSubmission("job").parent(uuid4()),
            ]
        )

    assert caught.value.index == 2
    assert scheduler.log_position == position
    # The same scheduler (and its command cache) goes on as if the batch never happened.
    scheduler.start(parent)
    scheduler.complete(parent)
    record = scheduler.task(parent)
    assert record is not None
    assert record.status is TaskStatus.COMPLETED
    assert record.children_total == 0
    assert record.children_unfinished == 0
    assert scheduler.query_tasks(TaskQuery().with_parent(parent)) == []
    assert [h.event for h in scheduler.history(parent)] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskCompleted",
    ]
    again = scheduler.submit(TaskSubmission("job", dedup_key="k"))
    assert again.inserted is True
    assert again.task_id != freed
    assert scheduler.task(again.task_id) is not None
