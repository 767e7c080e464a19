"""Submitting single tasks through the public API."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from taskmill import (
    InvalidSubmission,
    IOFigures,
    Scheduler,
    SubmitResult,
    TaskQuery,
    TaskStatus,
    TaskSubmission,
)


def test_submit_returns_a_uuid_and_inserted(scheduler: Scheduler) -> None:
    result = scheduler.submit(TaskSubmission("job"))

    assert isinstance(result, SubmitResult)
    assert isinstance(result.task_id, UUID)
    assert result.inserted is True


def test_each_submission_gets_its_own_id(scheduler: Scheduler) -> None:
    first = scheduler.submit(TaskSubmission("job"))
    second = scheduler.submit(TaskSubmission("job"))

    assert first.task_id != second.task_id
    assert len(scheduler.query_tasks()) == 2


def test_task_ids_are_time_ordered_uuids_from_the_submission_time(
    scheduler: Scheduler, clock
) -> None:
    submitted_at = clock.now
    ids = []
    for _ in range(3):
        ids.append(scheduler.submit(TaskSubmission("job")).task_id)
        clock.advance(0.002)
    ids += [r.task_id for r in scheduler.submit_batch([TaskSubmission("job")] * 50)]
    parent = ids[0]
    ids.append(scheduler.submit(TaskSubmission("part").parent(parent)).task_id)

    assert {task_id.version for task_id in ids} == {7}
    assert len(set(ids)) == len(ids)  # 74 random bits keep ids apart within one millisecond
    assert ids[0].int >> 80 == int(submitted_at.timestamp()) * 1000  # the clock, in ms
    assert ids[:3] == sorted(ids[:3])  # later submissions sort later
    assert all(later.int >> 80 == ids[3].int >> 80 for later in ids[3:])  # one clock reading


def test_submitted_task_is_found_by_id(scheduler: Scheduler, clock) -> None:
    task_id = scheduler.submit(TaskSubmission("job")).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.id == task_id
    assert record.task_type == "job"
    assert record.submitted_at == clock.now


def test_fluent_methods_return_the_submission() -> None:
    submission = TaskSubmission("job")

    assert submission.tag("a", "b") is submission
    assert submission.tags({"c": "d"}) is submission
    assert submission.priority(1) is submission
    assert submission.group("g") is submission
    assert submission.dedup_key("k") is submission
    assert submission.payload_json({}) is submission
    assert submission.expected_io(read_bytes=1) is submission
    assert submission.max_retries(1) is submission
    assert submission.ttl(10) is submission


def _comparable(scheduler: Scheduler, task_id: UUID) -> dict[str, object]:
    record = scheduler.task(task_id)
    assert record is not None
    return record.model_dump(exclude={"id", "sequence"})


def test_keyword_and_fluent_construction_are_equivalent(scheduler: Scheduler, clock) -> None:
    run_after = clock.now + timedelta(hours=1)
    fluent = (
        TaskSubmission("file-transfer")
        .tag("profile", "disaster-recovery")
        .tag("object_key", "data/2024/report.csv")
        .priority(64)
        .group("s3://play.min.io")
        .dedup_key("data/2024/report.csv")
        .expected_io(net_tx_bytes=1_048_576)
        .payload_json({"plan": "copy"})
        .max_retries(5)
        .ttl(600)
        .run_after(run_after)
    )
    keyword = TaskSubmission(
        "file-transfer",
        tags={"profile": "disaster-recovery", "object_key": "data/2024/report.csv"},
        priority=64,
        group="s3://play.min.io",
        dedup_key="data/2024/report.csv-kw",
        expected_io={"net_tx_bytes": 1_048_576},
        payload={"plan": "copy"},
        max_retries=5,
        ttl=600,
        run_after=run_after,
    )

    fluent_record = _comparable(scheduler, scheduler.submit(fluent).task_id)
    keyword_record = _comparable(scheduler, scheduler.submit(keyword).task_id)

    assert keyword_record.pop("dedup_key") == "data/2024/report.csv-kw"
    assert fluent_record.pop("dedup_key") == "data/2024/report.csv"
    assert fluent_record == keyword_record
    assert fluent_record["priority"] == 64
    assert fluent_record["max_retries"] == 5


def test_defaults(scheduler: Scheduler) -> None:
    record = scheduler.task(scheduler.submit(TaskSubmission("job")).task_id)

    assert record is not None
    assert record.priority == 128
    assert record.max_retries == 3
    assert record.status is TaskStatus.PENDING
    assert record.attempts == 0
    assert record.group is None
    assert record.dedup_key is None
    assert record.parent_id is None
    assert record.payload is None
    assert record.ttl_seconds is None
    assert record.expires_at is None
    assert record.run_after is None
    assert record.started_at is None
    assert record.finished_at is None
    assert record.last_error is None
    assert record.expected_io == IOFigures()
    assert record.actual_io == IOFigures()
    assert dict(record.tags) == {"taskmill.type": "job"}
    assert record.user_tags == {}


@pytest.mark.parametrize(
    "payload",
    [
        {"plan": "...", "nested": {"list": [1, 2.5, None, True, "x"]}},
        [1, "two", {"three": 3}],
        "just text ünïcødé ✓",
        42,
        -1.5,
        True,
        None,
        {},
    ],
    ids=["dict", "list", "str", "int", "float", "bool", "none", "empty"],
)
def test_payload_round_trips(scheduler: Scheduler, payload: object) -> None:
    task_id = scheduler.submit(TaskSubmission("job").payload_json(payload)).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.payload == payload


def test_payload_keyword_and_history_agree(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job", payload={"a": [1, 2]})).task_id

    (submitted,) = scheduler.history(task_id)

    assert submitted.data["payload"] == {"a": [1, 2]}


def test_tuple_payload_comes_back_as_json_list(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job", payload={"pair": (1, 2)})).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.payload == {"pair": [1, 2]}


def test_expected_io_is_recorded(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(
        TaskSubmission("job").expected_io(read_bytes=10, net_tx_bytes=1_048_576)
    ).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.expected_io == IOFigures(read_bytes=10, net_tx_bytes=1_048_576)
    assert record.actual_io == IOFigures()


def test_expected_io_unknown_figure_is_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit(TaskSubmission("job").expected_io(cpu_seconds=3))

    assert caught.value.field == "expected_io.cpu_seconds"
    assert scheduler.log_position == 0


def test_expected_io_negative_is_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit(TaskSubmission("job").expected_io(read_bytes=-1))

    assert caught.value.field == "expected_io.read_bytes"
    assert scheduler.log_position == 0


def test_group_adds_the_group_system_tag(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job").group("s3://play.min.io")).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.group == "s3://play.min.io"
    assert record.tags["taskmill.group"] == "s3://play.min.io"
    assert "taskmill.group" not in record.user_tags


def test_no_group_means_no_group_tag(scheduler: Scheduler) -> None:
    record = scheduler.task(scheduler.submit(TaskSubmission("job")).task_id)

    assert record is not None
    assert "taskmill.group" not in record.tags


def test_type_adds_the_type_system_tag(scheduler: Scheduler) -> None:
    record = scheduler.task(scheduler.submit(TaskSubmission("file-transfer")).task_id)

    assert record is not None
    assert record.tags["taskmill.type"] == "file-transfer"


def test_system_tags_filter_and_count_like_any_tag(scheduler: Scheduler) -> None:
    scheduler.submit_batch(
        [
            TaskSubmission("copy", group="east"),
            TaskSubmission("copy", group="west"),
            TaskSubmission("copy", group="east"),
            TaskSubmission("delete"),
        ]
    )

    copies = scheduler.query_tasks(TaskQuery().with_tag("taskmill.type", "copy"))

    assert [r.task_type for r in copies] == ["copy"] * 3
    assert scheduler.count_by_tag("taskmill.group") == [("east", 2), ("west", 1)]
    assert scheduler.count_by_tag("taskmill.type") == [("copy", 3), ("delete", 1)]


def test_user_tags_are_stored_with_the_task(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(
        TaskSubmission("job").tag("profile", "dr").tags({"zone": "eu", "empty": ""})
    ).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {"profile": "dr", "zone": "eu", "empty": ""}


def test_later_tag_call_replaces_the_earlier_value(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job").tag("k", "first").tag("k", "second")).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {"k": "second"}


def test_run_after_in_the_future_is_blocked(scheduler: Scheduler, clock) -> None:
    later = clock.now + timedelta(minutes=5)
    task_id = scheduler.submit(TaskSubmission("job").run_after(later)).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.status is TaskStatus.BLOCKED
    assert record.run_after == later


def test_run_after_in_the_past_is_pending(scheduler: Scheduler, clock) -> None:
    earlier = clock.now - timedelta(minutes=5)
    task_id = scheduler.submit(TaskSubmission("job").run_after(earlier)).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.status is TaskStatus.PENDING
    assert record.run_after == earlier


def test_ttl_sets_expiry_from_submission(scheduler: Scheduler, clock) -> None:
    task_id = scheduler.submit(TaskSubmission("job").ttl(90)).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.ttl_seconds == 90
    assert record.expires_at == clock.now + timedelta(seconds=90)


def test_submitted_event_holds_the_final_tags(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job", group="g").tag("k", "v")).task_id

    (submitted,) = scheduler.history(task_id)

    assert submitted.event == "TaskSubmitted"
    assert submitted.data["tags"] == {"k": "v", "taskmill.type": "job", "taskmill.group": "g"}
