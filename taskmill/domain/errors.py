"""Typed errors. Each names what was wrong so a caller can react without parsing text."""

from __future__ import annotations

from typing import Any
from uuid import UUID


class TaskmillError(Exception):
    """Base class of every error taskmill raises on purpose."""


class InvalidSubmission(TaskmillError, ValueError):
    """A submission broke a rule; nothing was persisted."""

    def __init__(self, field: str, problem: str, *, limit: Any = None, index: int | None = None):
        self.field = field
        self.problem = problem
        self.limit = limit
        self.index = index
        where = f"submission #{index}: " if index is not None else ""
        super().__init__(f"{where}{field}: {problem}")

    def at_index(self, index: int) -> InvalidSubmission:
        """The same error, saying which submission of a batch it came from."""
        return InvalidSubmission(self.field, self.problem, limit=self.limit, index=index)


class InvalidStatus(TaskmillError, ValueError):
    """A status name that is not one of `TaskStatus`."""

    def __init__(self, value: object):
        from taskmill.domain.status import TaskStatus

        self.value = value
        allowed = ", ".join(s.value for s in TaskStatus)
        super().__init__(f"status: unknown status {value!r} (allowed: {allowed})")


class InvalidQuery(TaskmillError, ValueError):
    """An argument of a query, a command or a `RetryPolicy` that cannot be taken; the message
    names it. Nothing was changed."""


class TaskNotFound(TaskmillError, LookupError):
    """No task with that id exists in the log."""

    def __init__(self, task_id: UUID):
        self.task_id = task_id
        super().__init__(f"task {task_id} does not exist")


class IllegalTransition(TaskmillError):
    """The task's current status does not allow that command; nothing was appended."""

    def __init__(self, task_id: UUID, status: str, action: str):
        self.task_id = task_id
        self.status = status
        self.action = action
        super().__init__(f"task {task_id} is {status}: cannot {action}")


class ConcurrencyConflict(TaskmillError):
    """Another writer kept changing the same aggregates; the command gave up after retrying."""
