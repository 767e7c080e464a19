"""Task statuses and which of them a task can leave."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle; values are lower snake case."""

    PENDING = "pending"
    BLOCKED = "blocked"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @classmethod
    def parse(cls, value: str | TaskStatus) -> TaskStatus:
        """Turn user input into a status, or raise `InvalidStatus` naming the allowed values."""
        from taskmill.domain.errors import InvalidStatus

        try:
            return cls(value)
        except ValueError:
            raise InvalidStatus(value) from None


TERMINAL_STATUSES = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.DEAD_LETTER,
        TaskStatus.CANCELLED,
        TaskStatus.EXPIRED,
    }
)
ACTIVE_STATUSES = frozenset(set(TaskStatus) - TERMINAL_STATUSES)
