"""`TaskContext`: what an executor sees of its task and can do while it runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from taskmill.domain.errors import InvalidSubmission
from taskmill.domain.io_figures import IO_FIELDS, MAX_IO_FIGURE
from taskmill.submission import TaskSubmission

if TYPE_CHECKING:
    from taskmill.records import SubmitResult, TaskRecord


@dataclass
class Progress:
    fraction: float | None = None
    message: str | None = None


@dataclass
class TaskContext:
    """Handed to executors and finalizers. Thread-safe."""

    task: TaskRecord
    _spawn: Callable[[TaskSubmission], SubmitResult]
    _on_progress: Callable[[TaskContext], None]
    _cancelled: bool = False
    """Set once by the dispatcher's thread, read by the executor's: a plain attribute is
    enough (one write, no waiting), and costs nothing to create, unlike a `threading.Event`
    (~15 us per task in the dispatch loop)."""
    io: dict[str, int] = field(default_factory=dict)
    progress_state: Progress = field(default_factory=Progress)
    finalizing: bool = False
    """Handed to a finalizer: the parent's attempt (and its I/O) was recorded already."""
    _io_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """`record_io` from several threads of one executor adds every figure (a lock costs
    ~0.1 us to create, unlike the `threading.Event` above)."""

    @property
    def attempt(self) -> int:
        return self.task.attempts

    @property
    def cancelled(self) -> bool:
        """True once the task was cancelled; long-running sync executors should check it."""
        return self._cancelled

    def progress(self, fraction: float | None = None, message: str | None = None) -> None:
        """Report progress (0.0-1.0 and/or a message). Live only: not written to the log."""
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress: fraction {fraction} is outside 0.0-1.0")
        self.progress_state = Progress(fraction, message)
        self._on_progress(self)

    def spawn(self, submission: TaskSubmission) -> SubmitResult:
        """Submit a child of this task; it inherits this task's tags (its own override them)."""
        if not isinstance(submission, TaskSubmission):
            raise InvalidSubmission(
                "submission", f"expected a TaskSubmission, got {type(submission).__name__}"
            )
        return self._spawn(submission.parent(self.task.id))

    def record_io(self, **figures: int) -> None:
        """Add to the task's actual I/O: read_bytes, write_bytes, net_rx_bytes, net_tx_bytes
        (whole bytes, not negative). A bad figure raises and adds none of them. A finalizer
        cannot: the parent's figures were recorded when its executor returned."""
        if self.finalizing:
            raise ValueError(
                "record_io: a finalizer cannot record I/O (the parent's figures were recorded "
                "when its executor returned; record it there, or in a child)"
            )
        for name, amount in figures.items():
            if name not in IO_FIELDS:
                raise ValueError(f"record_io: unknown figure {name!r} (known: {IO_FIELDS})")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise ValueError(f"record_io: {name} must be a whole number >= 0, got {amount!r}")
        with self._io_lock:
            totals = dict(self.io)
            for name, amount in figures.items():
                totals[name] = totals.get(name, 0) + amount
                if totals[name] > MAX_IO_FIGURE:
                    raise ValueError(f"record_io: {name} would exceed {MAX_IO_FIGURE} bytes")
            self.io = totals
