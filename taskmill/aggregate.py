"""`TaskAggregate`: what `Scheduler.aggregate_tasks` computes. Fluent; every method returns self.

Group by tags (and optionally status or type), filter, and compute count plus sum/avg/min/max
over a fixed set of numeric task fields. Every argument is checked when it is given; values are
always bound as parameters, never pasted into SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from taskmill import arguments
from taskmill.domain.errors import InvalidQuery
from taskmill.domain.status import TaskStatus
from taskmill.projections.analytical.queries import NUMERIC_FIELDS, AggregateResult, AggregateSpec

__all__ = ["NUMERIC_FIELDS", "AggregateRow", "TaskAggregate"]


class TaskAggregate:
    """Groups are ANDed combinations of the chosen tag values (tasks lacking a tag fall in the
    None group for it); tag filters are ANDed, several statuses or types ORed. Every row has
    `count`; add `sum`, `avg`, `min`, `max` of fields in `NUMERIC_FIELDS`."""

    __slots__ = (
        "_as_of",
        "_from",
        "_group_status",
        "_group_tags",
        "_group_type",
        "_measures",
        "_statuses",
        "_tags",
        "_types",
        "_until",
    )

    def __init__(self) -> None:
        self._group_tags: list[str] = []
        self._group_status = False
        self._group_type = False
        self._measures: list[tuple[str, str]] = []
        self._tags: list[tuple[str, str]] = []
        self._statuses: list[TaskStatus] = []
        self._types: list[str] = []
        self._from: datetime | None = None
        self._until: datetime | None = None
        self._as_of: datetime | None = None

    # -- grouping ----------------------------------------------------------------------------------

    def group_by_tag(self, key: str) -> TaskAggregate:
        """One group per value of the tag `key` (None for tasks without it)."""
        arguments.non_empty_text("group_by_tag", key)
        if key in self._group_tags:
            raise InvalidQuery(f"group_by_tag: already grouped by {key!r}")
        self._group_tags.append(key)
        return self

    def group_by_status(self) -> TaskAggregate:
        """Also one group per status (`row.status`)."""
        self._group_status = True
        return self

    def group_by_type(self) -> TaskAggregate:
        """Also one group per task type (`row.task_type`)."""
        self._group_type = True
        return self

    # -- measures ----------------------------------------------------------------------------------

    def count(self) -> TaskAggregate:
        """Every row has `count`; this only says so explicitly."""
        return self

    def sum(self, field: str) -> TaskAggregate:
        return self._measure("sum", field)

    def avg(self, field: str) -> TaskAggregate:
        return self._measure("avg", field)

    def min(self, field: str) -> TaskAggregate:
        return self._measure("min", field)

    def max(self, field: str) -> TaskAggregate:
        return self._measure("max", field)

    def _measure(self, function: str, field: str) -> TaskAggregate:
        if field not in NUMERIC_FIELDS:
            raise InvalidQuery(
                f"{function}: unknown field {field!r} (allowed: {', '.join(NUMERIC_FIELDS)})"
            )
        if (function, field) not in self._measures:
            self._measures.append((function, field))
        return self

    # -- filters -----------------------------------------------------------------------------------

    def with_tag(self, key: str, value: str) -> TaskAggregate:
        arguments.non_empty_text("with_tag key", key)
        if not isinstance(value, str):
            raise InvalidQuery(f"with_tag value: expected a string, got {value!r}")
        self._tags.append((key, value))
        return self

    def with_status(self, *statuses: TaskStatus | str) -> TaskAggregate:
        self._statuses.extend(TaskStatus.parse(s) for s in statuses)
        return self

    def with_type(self, *task_types: str) -> TaskAggregate:
        for task_type in task_types:
            arguments.non_empty_text("with_type", task_type)
        self._types.extend(task_types)
        return self

    def submitted_between(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> TaskAggregate:
        """Only tasks submitted at or after `start` and before `end` (either may be None)."""
        self._from = None if start is None else arguments.moment("submitted_between start", start)
        self._until = None if end is None else arguments.moment("submitted_between end", end)
        if self._from is not None and self._until is not None and self._until < self._from:
            raise InvalidQuery("submitted_between: end is before start")
        return self

    def as_of(self, moment: datetime) -> TaskAggregate:
        """Answer for the state every task was in at `moment`: tasks submitted later are left
        out; status, attempts, actual bytes and durations are those it had then."""
        self._as_of = arguments.moment("as_of", moment)
        return self

    def to_spec(self) -> AggregateSpec:
        return AggregateSpec(
            group_tags=tuple(self._group_tags),
            group_status=self._group_status,
            group_type=self._group_type,
            measures=tuple(self._measures),
            tags=tuple(self._tags),
            statuses=tuple(s.value for s in self._statuses),
            task_types=tuple(self._types),
            submitted_from=self._from,
            submitted_until=self._until,
            as_of=self._as_of,
        )


class AggregateRow(BaseModel):
    """One group: its tag values (`group`, None where a task lacks the tag), `status` and
    `task_type` when grouped by them, `count`, and one attribute per measure, named
    `<function>_<field>` (e.g. `sum_expected_net_tx_bytes`; None when no task had a value)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    group: dict[str, str | None]
    count: int
    status: TaskStatus | None = None
    task_type: str | None = None

    @property
    def measures(self) -> dict[str, Any]:
        """The `<function>_<field>` values, by name."""
        return dict(self.__pydantic_extra__ or {})


def aggregate_rows(result: AggregateResult) -> list[AggregateRow]:
    """The view's result rows as `AggregateRow`s."""
    groups = len(result.group_tags)
    rows = []
    for values in result.rows:
        index = groups
        status = task_type = None
        if result.group_status:
            status = None if values[index] is None else TaskStatus(values[index])
            index += 1
        if result.group_type:
            task_type = values[index]
            index += 1
        measures = {
            f"{function}_{field}": value
            for (function, field), value in zip(result.measures, values[index + 1 :], strict=True)
        }
        rows.append(
            AggregateRow(
                group=dict(zip(result.group_tags, values[:groups], strict=True)),
                count=values[index],
                status=status,
                task_type=task_type,
                **measures,
            )
        )
    return rows
