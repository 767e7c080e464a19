"""What `Scheduler.events()` and `Scheduler.aevents()` yield: one frozen pydantic model per kind
of change, each carrying the task's id, type and tags, its time and its log position.

`position` is the event's position in the durable log (pass the last one you saw as
`from_position` to resume); it is None only for `TaskProgress`, which is live and never logged.
`type` names the class and is the discriminator of `AnySchedulerEvent` (for parsing JSON back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeAlias
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from taskmill.domain.io_figures import IOFigures
from taskmill.domain.status import TaskStatus


class SchedulerEvent(BaseModel):
    """Base of every feed event: what every consumer needs to filter and display it."""

    model_config = ConfigDict(frozen=True)

    type: str
    position: int | None
    """Log position (resume after it); None for live-only `TaskProgress`."""
    task_id: UUID
    task_type: str
    tags: dict[str, str]
    """All the task's tags, the system `taskmill.*` ones included (they never change)."""
    timestamp: datetime

    @property
    def user_tags(self) -> dict[str, str]:
        """The tags without the system's `taskmill.*` ones."""
        return {k: v for k, v in self.tags.items() if not k.startswith("taskmill.")}


class TaskSubmitted(SchedulerEvent):
    """A task was accepted (`status` is pending, or blocked until `run_after`)."""

    type: Literal["TaskSubmitted"] = "TaskSubmitted"
    priority: int
    group: str | None = None
    parent_id: UUID | None = None
    dedup_key: str | None = None
    status: TaskStatus
    run_after: datetime | None = None


class TaskUnblocked(SchedulerEvent):
    """A blocked task's `run_after` time came: it is pending now."""

    type: Literal["TaskUnblocked"] = "TaskUnblocked"


class TaskStarted(SchedulerEvent):
    """A worker claimed the task and began attempt number `attempt` (1 for the first)."""

    type: Literal["TaskStarted"] = "TaskStarted"
    attempt: int
    worker_id: str | None = None
    lease_expires_at: datetime | None = None


class TaskProgress(SchedulerEvent):
    """An executor in this process called `ctx.progress(...)`. Live only: `position` is None
    and it is not in the log (nor in `events()`, `history()` or another process's feed)."""

    type: Literal["TaskProgress"] = "TaskProgress"
    position: None = None
    attempt: int
    worker_id: str | None = None
    fraction: float | None = None
    message: str | None = None


class TaskRequeued(SchedulerEvent):
    """A running attempt was abandoned (its worker died or lost its lease); not counted."""

    type: Literal["TaskRequeued"] = "TaskRequeued"
    reason: str


class TaskCompleted(SchedulerEvent):
    """The task succeeded (it spawned no unfinished children)."""

    type: Literal["TaskCompleted"] = "TaskCompleted"
    actual_io: IOFigures = IOFigures()


class TaskWaiting(SchedulerEvent):
    """The attempt succeeded; the task now waits for the children it spawned
    (the log's `TaskAwaitingChildren`). `TaskFinalized` follows when they are all done."""

    type: Literal["TaskWaiting"] = "TaskWaiting"
    actual_io: IOFigures = IOFigures()


class TaskRetrying(SchedulerEvent):
    """The attempt failed with retries left: back to `status` pending, or blocked until
    `retry_at`."""

    type: Literal["TaskRetrying"] = "TaskRetrying"
    error: str
    retry_at: datetime | None = None
    status: TaskStatus


class TaskFailed(SchedulerEvent):
    """The task failed for good (a permanent error, e.g. the executor raised `PermanentError`)."""

    type: Literal["TaskFailed"] = "TaskFailed"
    error: str


class TaskDeadLettered(SchedulerEvent):
    """The last allowed attempt failed."""

    type: Literal["TaskDeadLettered"] = "TaskDeadLettered"
    error: str


class TaskCancelled(SchedulerEvent):
    """The task was cancelled before it finished (also when its parent was)."""

    type: Literal["TaskCancelled"] = "TaskCancelled"
    reason: str | None = None


class TaskExpired(SchedulerEvent):
    """The task's TTL ran out before it finished."""

    type: Literal["TaskExpired"] = "TaskExpired"


class ChildSpawned(SchedulerEvent):
    """The task (the parent: `task_id`, `tags` are its own) spawned `child_id`."""

    type: Literal["ChildSpawned"] = "ChildSpawned"
    child_id: UUID


class TaskFinalized(SchedulerEvent):
    """Every child of a waiting parent finished: it ended `status` completed, or failed with
    `error`."""

    type: Literal["TaskFinalized"] = "TaskFinalized"
    status: TaskStatus
    error: str | None = None


FEED_EVENT_CLASSES: tuple[type[SchedulerEvent], ...] = (
    TaskSubmitted,
    TaskUnblocked,
    TaskStarted,
    TaskProgress,
    TaskRequeued,
    TaskCompleted,
    TaskWaiting,
    TaskRetrying,
    TaskFailed,
    TaskDeadLettered,
    TaskCancelled,
    TaskExpired,
    ChildSpawned,
    TaskFinalized,
)
EVENT_TYPES: frozenset[str] = frozenset(cls.__name__ for cls in FEED_EVENT_CLASSES)
"""The `type` names a feed can be filtered by."""

AnySchedulerEvent: TypeAlias = Annotated[
    TaskSubmitted
    | TaskUnblocked
    | TaskStarted
    | TaskProgress
    | TaskRequeued
    | TaskCompleted
    | TaskWaiting
    | TaskRetrying
    | TaskFailed
    | TaskDeadLettered
    | TaskCancelled
    | TaskExpired
    | ChildSpawned
    | TaskFinalized,
    Field(discriminator="type"),
]
"""Any feed event, discriminated by `type`: `parse_event(json.loads(line))` rebuilds it."""

_ADAPTER: TypeAdapter[AnySchedulerEvent] = TypeAdapter(AnySchedulerEvent)


def parse_event(data: object) -> SchedulerEvent:
    """Rebuild a feed event from `event.model_dump(mode="json")` (or its JSON text)."""
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
