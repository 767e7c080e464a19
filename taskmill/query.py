"""`TaskQuery`: which tasks `Scheduler.query_tasks` returns. Fluent; every method returns self."""

from __future__ import annotations

from uuid import UUID

from taskmill import arguments
from taskmill.domain.errors import InvalidQuery
from taskmill.domain.status import TaskStatus
from taskmill.projections.operational.queries import TaskFilter
from taskmill.records import TaskRecord


class TaskQuery:
    """Tag filters are ANDed; several statuses or types are ORed. Ordered by priority, then
    submission; every match unless `.limit(n)` is set (page with `.offset(n)` or `.after(rec)`)."""

    __slots__ = ("_after", "_limit", "_offset", "_parent", "_statuses", "_tags", "_types")

    def __init__(self) -> None:
        self._tags: list[tuple[str, str]] = []
        self._statuses: list[TaskStatus] = []
        self._types: list[str] = []
        self._parent: UUID | None = None
        self._limit: int | None = None
        self._offset = 0
        self._after: tuple[int, int] | None = None

    def with_tag(self, key: str, value: str) -> TaskQuery:
        arguments.non_empty_text("with_tag key", key)
        if not isinstance(value, str):
            raise InvalidQuery(f"with_tag value: expected a string, got {value!r}")
        self._tags.append((key, value))
        return self

    def with_status(self, *statuses: TaskStatus | str) -> TaskQuery:
        self._statuses.extend(TaskStatus.parse(s) for s in statuses)
        return self

    def with_type(self, *task_types: str) -> TaskQuery:
        for task_type in task_types:
            arguments.non_empty_text("with_type", task_type)
        self._types.extend(task_types)
        return self

    def with_parent(self, task_id: UUID | str) -> TaskQuery:
        self._parent = parse_task_id(task_id, "parent_id")
        return self

    def limit(self, n: int) -> TaskQuery:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidQuery(f"limit: must be a non-negative integer, got {n!r}")
        self._limit = n
        return self

    def offset(self, n: int) -> TaskQuery:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidQuery(f"offset: must be a non-negative integer, got {n!r}")
        self._offset = n
        return self

    def after(self, record: TaskRecord) -> TaskQuery:
        """Keyset paging: only tasks ordered after this one (stable while tasks are added)."""
        if not isinstance(record, TaskRecord):
            raise InvalidQuery(f"after: expected a TaskRecord, got {record!r}")
        self._after = (record.priority, record.sequence)
        return self

    def to_filter(self) -> TaskFilter:
        return TaskFilter(
            tags=tuple(self._tags),
            statuses=tuple(s.value for s in self._statuses),
            task_types=tuple(self._types),
            parent_id=None if self._parent is None else str(self._parent),
            after=self._after,
            limit=self._limit,
            offset=self._offset,
        )


def parse_task_id(value: object, field: str = "task_id") -> UUID:
    """A task id given as a UUID or its text; anything else raises `InvalidQuery`."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise InvalidQuery(f"{field}: {value!r} is not a task id (UUID)") from None
