"""A validated description of a task to create: what `TaskSubmitted` records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from taskmill.domain.errors import InvalidSubmission
from taskmill.domain.io_figures import IO_FIELDS, MAX_IO_FIGURE, ZERO_IO, IOFigures
from taskmill.domain.tags import MAX_VALUE_LENGTH, require_utf8, validate_user_tags
from taskmill.domain.trusted import construct_trusted

MIN_PRIORITY = 0
MAX_PRIORITY = 255
DEFAULT_PRIORITY = 128
DEFAULT_MAX_RETRIES = 3
MAX_RETRIES_LIMIT = 1000
MAX_TYPE_LENGTH = 128
MAX_DEDUP_KEY_LENGTH = 1024
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_TTL_SECONDS = 100 * 366 * 86_400
"""A century: far enough for any deadline, near enough that every moment computed from one
(submission + ttl) stays inside what `datetime` can hold."""
LATEST_RUN_AFTER = datetime(9000, 1, 1, tzinfo=UTC)
"""`run_after` must come before this, so that the moments derived from it (a lease, a retry's
backoff) stay inside what `datetime` can hold."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything that identifies a task, checked once at the boundary."""

    task_type: str
    priority: int
    group: str | None
    dedup_key: str | None
    parent_id: UUID | None
    tags: dict[str, str]
    payload: Any
    max_retries: int
    ttl_seconds: float | None
    run_after: datetime | None
    expected_io: IOFigures
    fail_on_child_failure: bool = True


def validate_spec(
    *,
    task_type: object,
    priority: object = DEFAULT_PRIORITY,
    group: object = None,
    dedup_key: object = None,
    parent_id: object = None,
    tags: Mapping[str, str] | None = None,
    payload: object = None,
    max_retries: object = DEFAULT_MAX_RETRIES,
    ttl_seconds: object = None,
    run_after: object = None,
    expected_io: Mapping[str, int] | IOFigures | None = None,
    fail_on_child_failure: object = True,
) -> TaskSpec:
    """Check every field of a submission; raise `InvalidSubmission` naming the first bad one."""
    return TaskSpec(
        task_type=_task_type(task_type),
        priority=_integer("priority", priority, MIN_PRIORITY, MAX_PRIORITY),
        group=None if group is None else check_text("group", group, 1, MAX_VALUE_LENGTH),
        dedup_key=None
        if dedup_key is None
        else check_text("dedup_key", dedup_key, 1, MAX_DEDUP_KEY_LENGTH),
        parent_id=_uuid("parent_id", parent_id),
        tags=validate_user_tags(tags or {}),
        payload=_payload(payload),
        max_retries=_integer("max_retries", max_retries, 0, MAX_RETRIES_LIMIT),
        ttl_seconds=_ttl(ttl_seconds),
        run_after=_run_after(run_after),
        expected_io=check_io("expected_io", expected_io),
        fail_on_child_failure=check_flag("fail_on_child_failure", fail_on_child_failure),
    )


def check_text(field: str, value: object, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise InvalidSubmission(field, f"must be a string, got {type(value).__name__}")
    if not low <= len(value) <= high:
        raise InvalidSubmission(
            field, f"is {len(value)} characters, must be {low}-{high}", limit=high
        )
    require_utf8(field, value)
    return value


def _task_type(value: object) -> str:
    task_type = check_text("task_type", value, 1, MAX_TYPE_LENGTH)
    if "\x00" in task_type:
        # A dedup claim is named by type NUL key: a NUL in the type could alias another's.
        raise InvalidSubmission("task_type", "must not contain a NUL character")
    return task_type


def _integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSubmission(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidSubmission(field, f"{value} is out of range {low}-{high}", limit=(low, high))
    return value


def check_flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidSubmission(field, f"must be True or False, got {value!r}")
    return value


def _uuid(field: str, value: object) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidSubmission(field, f"{value!r} is not a task id (UUID)")


def _payload(value: object) -> Any:
    try:
        encoded = orjson.dumps(value)
    except TypeError as error:
        raise InvalidSubmission("payload", f"is not JSON-serialisable: {error}") from None
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise InvalidSubmission(
            "payload",
            f"is {len(encoded)} bytes as JSON, at most {MAX_PAYLOAD_BYTES} allowed",
            limit=MAX_PAYLOAD_BYTES,
        )
    # Store exactly what a reload gives back (tuples become lists, and so on).
    return orjson.loads(encoded)


def _ttl(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidSubmission("ttl", f"must be a positive number of seconds, got {value!r}")
    if not value <= MAX_TTL_SECONDS:  # also rejects inf and nan
        raise InvalidSubmission(
            "ttl",
            f"{value!r} s is more than {MAX_TTL_SECONDS} s (100 years)",
            limit=MAX_TTL_SECONDS,
        )
    return float(value)


def _run_after(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidSubmission("run_after", f"must be a datetime, got {type(value).__name__}")
    try:
        moment = as_utc(value)
    except (OverflowError, ValueError):  # a naive moment at the edge of `datetime`'s range:
        # local time to UTC crosses it (Python 3.11 raises OverflowError, 3.12 ValueError)
        raise InvalidSubmission("run_after", f"{value!r} is out of range") from None
    if not moment < LATEST_RUN_AFTER:
        raise InvalidSubmission(
            "run_after", f"must be before {LATEST_RUN_AFTER.isoformat()}, got {moment.isoformat()}"
        )
    return moment


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime means local time. Stored moments are all UTC,
    so the views can compare them as text."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC)


def check_io(field: str, value: object) -> IOFigures:
    if value is None:
        return ZERO_IO
    if isinstance(value, IOFigures):
        return value
    if not isinstance(value, Mapping):
        raise InvalidSubmission(field, f"expected a mapping of figures, got {value!r}")
    figures = dict.fromkeys(IO_FIELDS, 0)
    for name, amount in value.items():
        if name not in figures:
            raise InvalidSubmission(f"{field}.{name}", f"unknown figure (known: {IO_FIELDS})")
        figures[name] = int(_integer(f"{field}.{name}", amount, 0, MAX_IO_FIGURE))  # plain int
    return construct_trusted(IOFigures, figures)  # every figure is checked just above
