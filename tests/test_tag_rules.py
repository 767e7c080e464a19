"""Bad input: a typed error naming the field and the limit, and nothing persisted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from taskmill import (
    InvalidStatus,
    InvalidSubmission,
    Scheduler,
    TaskmillError,
    TaskQuery,
    TaskSubmission,
)


def _rejected(scheduler: Scheduler, submission: TaskSubmission) -> InvalidSubmission:
    """Submit, expect `InvalidSubmission`, and check that nothing at all was persisted."""
    position = scheduler.log_position
    before = scheduler.query_tasks()
    with pytest.raises(InvalidSubmission) as caught:
        scheduler.submit(submission)
    assert scheduler.log_position == position
    assert scheduler.query_tasks() == before
    return caught.value


def _tags(n: int) -> dict[str, str]:
    return {f"key{i}": f"value{i}" for i in range(n)}


# -- tag keys ----------------------------------------------------------------------------------


def test_empty_key_is_rejected(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job").tag("", "v"))

    assert error.field == "tags['']"
    assert "1-64" in str(error)
    assert scheduler.query_tasks() == []


def test_key_of_65_characters_is_rejected(scheduler: Scheduler) -> None:
    key = "k" * 65
    error = _rejected(scheduler, TaskSubmission("job").tag(key, "v"))

    assert key in error.field
    assert error.limit == 64
    assert "64" in str(error)
    assert scheduler.query_tasks() == []


@pytest.mark.parametrize("length", [1, 64])
def test_key_of_1_to_64_characters_is_accepted(scheduler: Scheduler, length: int) -> None:
    key = "k" * length
    task_id = scheduler.submit(TaskSubmission("job").tag(key, "v")).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {key: "v"}


def test_key_length_counts_characters_not_bytes(scheduler: Scheduler) -> None:
    key = "é" * 64  # 128 bytes in UTF-8
    task_id = scheduler.submit(TaskSubmission("job").tag(key, "v")).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {key: "v"}


def test_non_string_key_is_rejected(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job", tags={7: "v"}))  # type: ignore[dict-item]

    assert error.field.startswith("tags")
    assert "7" in str(error)


# -- tag values --------------------------------------------------------------------------------


def test_value_of_257_characters_is_rejected(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job").tag("note", "x" * 257))

    assert error.field == "tags['note']"
    assert error.limit == 256
    assert "256" in str(error)
    assert scheduler.query_tasks() == []


@pytest.mark.parametrize("length", [0, 256])
def test_value_of_0_to_256_characters_is_accepted(scheduler: Scheduler, length: int) -> None:
    value = "x" * length
    task_id = scheduler.submit(TaskSubmission("job").tag("note", value)).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {"note": value}


@pytest.mark.parametrize("value", [1, None, 2.5, b"bytes", ["list"]], ids=repr)
def test_non_string_value_is_rejected(scheduler: Scheduler, value: object) -> None:
    error = _rejected(scheduler, TaskSubmission("job").tag("k", value))  # type: ignore[arg-type]

    assert error.field == "tags['k']"
    assert "not a string" in str(error)
    assert scheduler.query_tasks() == []


# -- number of tags ----------------------------------------------------------------------------


def test_33_user_tags_are_rejected(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job", tags=_tags(33)))

    assert error.field == "tags"
    assert error.limit == 32
    assert "32" in str(error)
    assert scheduler.query_tasks() == []


def test_32_user_tags_are_accepted(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job", tags=_tags(32))).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == _tags(32)


def test_system_tags_do_not_count_towards_the_32(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(TaskSubmission("job", group="g", tags=_tags(32))).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert len(record.tags) == 34


# -- case and reserved keys --------------------------------------------------------------------


def test_keys_are_case_sensitive(scheduler: Scheduler) -> None:
    task_id = scheduler.submit(
        TaskSubmission("job").tag("Profile", "upper").tag("profile", "lower")
    ).task_id

    record = scheduler.task(task_id)

    assert record is not None
    assert record.user_tags == {"Profile": "upper", "profile": "lower"}
    assert scheduler.count_by_tag("profile") == [("lower", 1)]
    assert scheduler.count_by_tag("Profile") == [("upper", 1)]
    assert scheduler.query_tasks(TaskQuery().with_tag("profile", "upper")) == []
    assert [r.id for r in scheduler.query_tasks(TaskQuery().with_tag("Profile", "upper"))] == [
        task_id
    ]
    assert {"Profile", "profile"} <= set(scheduler.tag_keys())


@pytest.mark.parametrize("key", ["taskmill.type", "taskmill.group", "taskmill.anything"])
def test_reserved_prefix_is_rejected(scheduler: Scheduler, key: str) -> None:
    error = _rejected(scheduler, TaskSubmission("job").tag(key, "mine"))

    assert error.field == f"tags[{key!r}]"
    assert "taskmill." in str(error)
    assert "reserved" in str(error)
    assert scheduler.query_tasks() == []


def test_a_bad_tag_among_good_ones_rejects_the_task(scheduler: Scheduler) -> None:
    submission = TaskSubmission("job").tag("good", "v").tag("bad", "x" * 300).tag("fine", "v")

    error = _rejected(scheduler, submission)

    assert error.field == "tags['bad']"
    assert scheduler.tag_keys() == []


# -- other fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", [-1, 256])
def test_priority_out_of_range_is_rejected(scheduler: Scheduler, priority: int) -> None:
    error = _rejected(scheduler, TaskSubmission("job").priority(priority))

    assert error.field == "priority"
    assert "0-255" in str(error)
    assert scheduler.query_tasks() == []


@pytest.mark.parametrize("priority", [0, 255])
def test_priority_bounds_are_accepted(scheduler: Scheduler, priority: int) -> None:
    record = scheduler.task(scheduler.submit(TaskSubmission("job", priority=priority)).task_id)

    assert record is not None
    assert record.priority == priority


@pytest.mark.parametrize("priority", ["high", 1.5, True], ids=repr)
def test_priority_must_be_an_integer(scheduler: Scheduler, priority: object) -> None:
    error = _rejected(scheduler, TaskSubmission("job", priority=priority))  # type: ignore[arg-type]

    assert error.field == "priority"


@pytest.mark.parametrize("payload", [object(), {1: "int key"}, {"s": {1, 2}}], ids=repr)
def test_unserialisable_payload_is_rejected(scheduler: Scheduler, payload: object) -> None:
    error = _rejected(scheduler, TaskSubmission("job").payload_json(payload))

    assert error.field == "payload"
    assert "JSON" in str(error)
    assert scheduler.query_tasks() == []


def test_payload_over_one_mebibyte_is_rejected(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job").payload_json("x" * (1024 * 1024)))

    assert error.field == "payload"
    assert error.limit == 1024 * 1024
    assert str(1024 * 1024) in str(error)


@pytest.mark.parametrize("parent", ["not-a-uuid", 12345], ids=repr)
def test_malformed_parent_id_is_rejected(scheduler: Scheduler, parent: object) -> None:
    error = _rejected(scheduler, TaskSubmission("job", parent=parent))  # type: ignore[arg-type]

    assert error.field == "parent_id"
    assert scheduler.query_tasks() == []


def test_unknown_parent_id_is_rejected(scheduler: Scheduler) -> None:
    missing = uuid4()

    error = _rejected(scheduler, TaskSubmission("job").parent(missing))

    assert error.field == "parent_id"
    assert str(missing) in str(error)
    assert scheduler.query_tasks() == []


@pytest.mark.parametrize("retries", [-1, 1001])
def test_max_retries_out_of_range_is_rejected(scheduler: Scheduler, retries: int) -> None:
    error = _rejected(scheduler, TaskSubmission("job").max_retries(retries))

    assert error.field == "max_retries"


@pytest.mark.parametrize("task_type", ["", "t" * 129])
def test_task_type_length_is_checked(scheduler: Scheduler, task_type: str) -> None:
    error = _rejected(scheduler, TaskSubmission(task_type))

    assert error.field == "task_type"


def test_task_type_may_not_hold_a_nul(scheduler: Scheduler) -> None:
    # A dedup claim is named by type and key joined with a NUL: ("a\0b", "c") must not alias
    # ("a", "b\0c").
    scheduler.submit(TaskSubmission("a").dedup_key("b\x00c"))

    error = _rejected(scheduler, TaskSubmission("a\x00b").dedup_key("c"))

    assert error.field == "task_type"
    assert "NUL" in str(error)


@pytest.mark.parametrize("ttl", [0, -5, float("nan")], ids=repr)
def test_ttl_must_be_positive(scheduler: Scheduler, ttl: float) -> None:
    error = _rejected(scheduler, TaskSubmission("job").ttl(ttl))

    assert error.field == "ttl"


@pytest.mark.parametrize("ttl", [1e12, float("inf"), 100 * 366 * 86_400 + 1], ids=repr)
def test_ttl_beyond_a_century_is_rejected_and_the_store_stays_usable(
    scheduler: Scheduler, open_scheduler: Callable[..., Scheduler], ttl: float
) -> None:
    error = _rejected(scheduler, TaskSubmission("job").ttl(ttl))

    assert error.field == "ttl"
    assert error.limit == 100 * 366 * 86_400
    assert open_scheduler().query_tasks() == []  # a new view applies every event of the log


def test_a_ttl_of_a_century_is_accepted(scheduler: Scheduler) -> None:
    out = scheduler.submit(TaskSubmission("job").ttl(100 * 366 * 86_400))

    assert scheduler.task(out.task_id).ttl_seconds == 100 * 366 * 86_400


def test_run_after_must_be_a_datetime(scheduler: Scheduler) -> None:
    error = _rejected(scheduler, TaskSubmission("job", run_after="tomorrow"))  # type: ignore[arg-type]

    assert error.field == "run_after"
    assert "must be a datetime" in str(error)


@pytest.mark.parametrize(
    "moment",
    [datetime(9000, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59), datetime.max],
    ids=str,
)
def test_run_after_at_the_edge_of_time_is_rejected(scheduler: Scheduler, moment: datetime) -> None:
    error = _rejected(scheduler, TaskSubmission("job").run_after(moment))

    assert error.field == "run_after"


def test_submission_errors_are_typed() -> None:
    assert issubclass(InvalidSubmission, TaskmillError)
    assert issubclass(InvalidSubmission, ValueError)
    assert issubclass(InvalidStatus, TaskmillError)


# -- statuses ----------------------------------------------------------------------------------


def test_unknown_status_in_a_query_is_rejected() -> None:
    with pytest.raises(InvalidStatus) as caught:
        TaskQuery().with_status("nope")

    assert caught.value.value == "nope"
    assert "pending" in str(caught.value)


def test_unknown_status_in_count_by_tag_is_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidStatus):
        scheduler.count_by_tag("profile", status="nope")


def test_status_names_are_accepted_as_strings(scheduler: Scheduler) -> None:
    scheduler.submit(TaskSubmission("job"))

    assert len(scheduler.query_tasks(TaskQuery().with_status("pending"))) == 1
    assert scheduler.query_tasks(TaskQuery().with_status("dead_letter")) == []
    assert scheduler.count_by_tag("taskmill.type", status="pending") == [("job", 1)]


@pytest.mark.parametrize(
    ("submission", "field"),
    [
        (TaskSubmission("job").tag("k", "bad\ud800"), "tags['k']"),
        (TaskSubmission("job").tag("k\udfff", "v"), "tags['k\\udfff']"),
        (TaskSubmission("job\ud800"), "task_type"),
        (TaskSubmission("job").group("g\ud800"), "group"),
        (TaskSubmission("job").dedup_key("d\ud800"), "dedup_key"),
    ],
    ids=["tag value", "tag key", "task type", "group", "dedup key"],
)
def test_text_that_is_not_valid_unicode_is_rejected(
    scheduler: Scheduler, submission: TaskSubmission, field: str
) -> None:
    error = _rejected(scheduler, submission)

    assert error.field == field
    assert "surrogate" in str(error)


def test_text_beyond_ascii_is_accepted(scheduler: Scheduler) -> None:
    out = scheduler.submit(TaskSubmission("jöb").tag("clé", "值 🚀").group("grüppe"))

    record = scheduler.task(out.task_id)
    assert record is not None and record.tags["clé"] == "值 🚀" and record.group == "grüppe"


@pytest.mark.parametrize("field", ["tags", "expected_io"])
def test_tags_and_expected_io_must_be_mappings(field: str) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        TaskSubmission("job", **{field: 5})  # type: ignore[arg-type]

    assert caught.value.field == field
    assert "expected a mapping" in str(caught.value)
