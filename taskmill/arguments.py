"""Checks of the arguments a user hands to the public API (commands, queries, settings).

A bad argument raises `InvalidQuery` (or the error the caller names) before anything runs, so
nothing changes. Where a submission has the same rule (a group name, I/O figures), the rule of
`taskmill.domain.spec` is applied and its breach reported as an `InvalidQuery`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from taskmill.domain import spec
from taskmill.domain.errors import InvalidQuery, InvalidSubmission, TaskmillError
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.limits import MAX_INTERVAL_SECONDS
from taskmill.domain.tags import MAX_VALUE_LENGTH, require_utf8

T = TypeVar("T")


def submission_rule(rule: Callable[..., T], field: str, *args: object) -> T:
    """A field check of `taskmill.domain.spec` applied to a command's argument: a breach is an
    `InvalidQuery` (the argument is not a submission), with the same text."""
    try:
        return rule(field, *args)
    except InvalidSubmission as error:
        raise InvalidQuery(str(error)) from None


def text(field: str, value: object) -> str:
    """Any string that can be stored (valid Unicode)."""
    if not isinstance(value, str):
        raise InvalidQuery(f"{field}: must be a string, got {type(value).__name__}")
    submission_rule(require_utf8, field, value)
    return value


def optional_text(field: str, value: object) -> str | None:
    return None if value is None else text(field, value)


def non_empty_text(field: str, value: object) -> None:
    """A string with at least one character (a tag key, a task type)."""
    if not isinstance(value, str) or not value:
        raise InvalidQuery(f"{field}: expected a non-empty string, got {value!r}")


def flag(field: str, value: object) -> bool:
    return submission_rule(spec.check_flag, field, value)


def group_name(value: object) -> str:
    """A group name, by the rule submissions follow (so one that no task can have is refused)."""
    return submission_rule(spec.check_text, "group", value, 1, MAX_VALUE_LENGTH)


def io_figures(field: str, value: object) -> IOFigures:
    return submission_rule(spec.check_io, field, value)


def seconds(field: str, value: object, error: Callable[[str], TaskmillError]) -> float:
    """A number of seconds > 0, finite and at most `MAX_INTERVAL_SECONDS`, else `error`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_INTERVAL_SECONDS  # also refuses nan
    ):
        raise error(
            f"{field}: must be a number of seconds > 0 and at most {MAX_INTERVAL_SECONDS} "
            f"(a year), got {value!r}"
        )
    return float(value)


def moment(field: str, value: object) -> datetime:
    """A datetime, as the same instant in UTC (a naive one means local time)."""
    if not isinstance(value, datetime):
        raise InvalidQuery(f"{field}: must be a datetime, got {type(value).__name__}")
    return spec.as_utc(value)


def staleness(value: object) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidQuery(f"max_staleness: expected a timedelta >= 0 or None, got {value!r}")
    return value


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
