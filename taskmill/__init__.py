"""taskmill: a persistent, priority-aware task scheduler whose state is an append-only event log."""

from taskmill.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidQuery,
    InvalidStatus,
    InvalidSubmission,
    TaskmillError,
    TaskNotFound,
)
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.status import TaskStatus
from taskmill.infrastructure.event_store import InvalidStoreConfig, StoreNotFound
from taskmill.query import TaskQuery
from taskmill.records import HistoryEntry, SubmitResult, TaskRecord
from taskmill.runtime.context import TaskContext
from taskmill.runtime.registry import PermanentError, RetryPolicy
from taskmill.scheduler import Scheduler
from taskmill.submission import TaskSubmission

__all__ = [
    "ConcurrencyConflict",
    "HistoryEntry",
    "IOFigures",
    "IllegalTransition",
    "InvalidQuery",
    "InvalidStatus",
    "InvalidStoreConfig",
    "InvalidSubmission",
    "PermanentError",
    "RetryPolicy",
    "Scheduler",
    "StoreNotFound",
    "SubmitResult",
    "TaskContext",
    "TaskNotFound",
    "TaskQuery",
    "TaskRecord",
    "TaskStatus",
    "TaskSubmission",
    "TaskmillError",
]
