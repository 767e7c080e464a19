"""taskmill: a persistent, priority-aware task scheduler whose state is an append-only event log."""

from taskmill.aggregate import AggregateRow, TaskAggregate
from taskmill.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidQuery,
    InvalidStatus,
    InvalidSubmission,
    TaskmillError,
    TaskNotFound,
)
from taskmill.domain.group_slots import GroupFull
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.status import TaskStatus
from taskmill.feed.models import SchedulerEvent
from taskmill.infrastructure.event_store import InvalidStoreConfig, StoreNotFound
from taskmill.infrastructure.file_lock import LockTimeout
from taskmill.query import TaskQuery
from taskmill.records import HistoryEntry, SubmitResult, TaskRecord
from taskmill.runtime.context import TaskContext
from taskmill.runtime.registry import PermanentError, RetryPolicy
from taskmill.scheduler import Scheduler
from taskmill.snapshot import GroupStats, RunningTask, SchedulerSnapshot, TagStats
from taskmill.submission import TaskSubmission

__all__ = [
    "AggregateRow",
    "ConcurrencyConflict",
    "GroupFull",
    "GroupStats",
    "HistoryEntry",
    "IOFigures",
    "IllegalTransition",
    "InvalidQuery",
    "InvalidStatus",
    "InvalidStoreConfig",
    "InvalidSubmission",
    "LockTimeout",
    "PermanentError",
    "RetryPolicy",
    "RunningTask",
    "Scheduler",
    "SchedulerEvent",
    "SchedulerSnapshot",
    "StoreNotFound",
    "SubmitResult",
    "TagStats",
    "TaskAggregate",
    "TaskContext",
    "TaskNotFound",
    "TaskQuery",
    "TaskRecord",
    "TaskStatus",
    "TaskSubmission",
    "TaskmillError",
]
