"""Everything that can happen to a task, in the past tense. Each `apply` is a pure state change."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from taskmill.domain.base import CreationEvent, DomainEvent
from taskmill.domain.io_figures import ZERO_IO, IOFigures
from taskmill.domain.status import TaskStatus

if TYPE_CHECKING:
    from taskmill.domain.task import Task


class TaskEvent(DomainEvent):
    """An event in one task's stream."""

    def apply(self, task: Task) -> None:
        raise NotImplementedError


class TaskSubmitted(CreationEvent, TaskEvent):
    """A task was accepted. Captures its identity, final tags included, once and for all."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskSubmitted"

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
    status: TaskStatus
    fail_on_child_failure: bool = True

    def apply(self, task: Task) -> None:
        task.task_type = self.task_type
        task.priority = self.priority
        task.group = self.group
        task.dedup_key = self.dedup_key
        task.parent_id = self.parent_id
        task.tags = dict(self.tags)
        task.payload = self.payload
        task.max_retries = self.max_retries
        task.ttl_seconds = self.ttl_seconds
        task.run_after = self.run_after
        task.expected_io = self.expected_io
        task.fail_on_child_failure = self.fail_on_child_failure
        task.actual_io = ZERO_IO  # frozen: one shared instance, not a validation per task
        task.status = self.status
        task.attempts = 0
        task.started_at = None
        task.finished_at = None
        task.last_error = None
        task.worker_id = None
        task.lease_expires_at = None
        task.children = []
        task.unfinished_children = set()
        task.failed_children = 0
        task.finalizer_worker = None
        task.finalizer_lease_expires_at = None
        task.awaits_finalizer = False


class TaskUnblocked(TaskEvent):
    """The task's `run_after` time came: it may now be started."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskUnblocked"

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.PENDING


class TaskStarted(TaskEvent):
    """A worker claimed the task and began an attempt."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskStarted"

    attempt: int
    worker_id: str | None = None
    lease_expires_at: datetime | None = None

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.RUNNING
        task.attempts = self.attempt
        task.started_at = self.timestamp
        task.worker_id = self.worker_id
        task.lease_expires_at = self.lease_expires_at


class TaskLeaseRenewed(TaskEvent):
    """The worker running the task is alive: its claim holds until `lease_expires_at`."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskLeaseRenewed"

    lease_expires_at: datetime

    def apply(self, task: Task) -> None:
        task.lease_expires_at = self.lease_expires_at


class TaskRequeued(TaskEvent):
    """A running attempt was abandoned (its worker died or lost its lease); it does not count."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskRequeued"

    reason: str

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.PENDING
        task.attempts -= 1
        task.worker_id = None
        task.lease_expires_at = None


class TaskCompleted(TaskEvent):
    """The attempt succeeded and the task has no unfinished children."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskCompleted"

    actual_io: IOFigures = IOFigures()

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.COMPLETED
        task.actual_io = self.actual_io
        task.finished_at = self.timestamp
        task.lease_expires_at = None


class TaskAwaitingChildren(TaskEvent):
    """The attempt succeeded; the task waits for the children it spawned."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskAwaitingChildren"

    actual_io: IOFigures = IOFigures()
    awaits_finalizer: bool = False
    """The process that completed the attempt has a finalizer for the task's type: the task
    waits for that finalizer, whichever process ends its last child. (False in events
    written before this field: then each process decides by its own finalizers.)"""

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.WAITING
        task.awaits_finalizer = self.awaits_finalizer
        task.actual_io = self.actual_io
        task.lease_expires_at = None


class TaskRetrying(TaskEvent):
    """The attempt failed with retries left: back to pending (or blocked until `retry_at`)."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskRetrying"

    error: str
    retry_at: datetime | None
    status: TaskStatus

    def apply(self, task: Task) -> None:
        task.status = self.status
        task.last_error = self.error
        task.run_after = self.retry_at
        task.worker_id = None
        task.lease_expires_at = None


class TaskFailed(TaskEvent):
    """The task failed for good (a permanent error, or its children failed)."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskFailed"

    error: str

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.FAILED
        task.last_error = self.error
        task.finished_at = self.timestamp
        task.lease_expires_at = None


class TaskDeadLettered(TaskEvent):
    """The last allowed attempt failed."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskDeadLettered"

    error: str

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.DEAD_LETTER
        task.last_error = self.error
        task.finished_at = self.timestamp
        task.lease_expires_at = None


class TaskCancelled(TaskEvent):
    """The task was cancelled before it finished."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskCancelled"

    reason: str | None = None

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.CANCELLED
        task.finished_at = self.timestamp
        task.lease_expires_at = None


class TaskExpired(TaskEvent):
    """The task's TTL ran out before it finished."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskExpired"

    def apply(self, task: Task) -> None:
        task.status = TaskStatus.EXPIRED
        task.finished_at = self.timestamp
        task.lease_expires_at = None


class ChildSpawned(TaskEvent):
    """The task spawned a child task; it will wait for it before finishing."""

    TOPIC: ClassVar[str] = "taskmill.task:ChildSpawned"

    child_id: UUID

    def apply(self, task: Task) -> None:
        task.children.append(self.child_id)
        task.unfinished_children.add(self.child_id)


class ChildFinished(TaskEvent):
    """One of the task's children reached a terminal status."""

    TOPIC: ClassVar[str] = "taskmill.task:ChildFinished"

    child_id: UUID
    status: TaskStatus

    def apply(self, task: Task) -> None:
        task.unfinished_children.discard(self.child_id)
        if self.status in CHILD_FAILURE_STATUSES:
            task.failed_children += 1


class TaskFinalizerStarted(TaskEvent):
    """A worker claimed the waiting parent to run its finalizer (until its lease runs out)."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskFinalizerStarted"

    worker_id: str
    lease_expires_at: datetime

    def apply(self, task: Task) -> None:
        task.finalizer_worker = self.worker_id
        task.finalizer_lease_expires_at = self.lease_expires_at


class TaskFinalized(TaskEvent):
    """Every child finished: the waiting parent is completed or failed."""

    TOPIC: ClassVar[str] = "taskmill.task:TaskFinalized"

    status: TaskStatus
    error: str | None = None

    def apply(self, task: Task) -> None:
        task.status = self.status
        if self.error is not None:
            task.last_error = self.error
        task.finished_at = self.timestamp


CHILD_FAILURE_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.DEAD_LETTER, TaskStatus.EXPIRED})
