"""Shared fixtures: a store folder, a controllable clock, and schedulers closed after each test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskSubmission
from taskmill.cli import main

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when told to; `Scheduler.open(..., clock=clock)`."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(autouse=True)
def _embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs on the embedded SQLite store, whatever the environment says."""
    monkeypatch.delenv("TASKMILL_EVENT_STORE", raising=False)
    monkeypatch.delenv("TASKMILL_HOME", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


# -- the command line, run in-process ---------------------------------------------------------


@dataclass
class Run:
    """What one `taskmill ...` invocation returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `taskmill ARGV...` in-process; tables are rendered 200 columns wide."""
    monkeypatch.setenv("COLUMNS", "200")

    def run_(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run_


@pytest.fixture
def cli(run: Any, store: Path) -> Any:
    """`run` on the test's store."""
    return lambda *argv: run("--store", str(store), *argv)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_scheduler(store: Path, clock: FakeClock) -> Iterator[Callable[..., Scheduler]]:
    """Opens more schedulers on the same folder (same clock by default); all closed after."""
    opened: list[Scheduler] = []

    def open_(folder: Path | None = None, **kwargs: Any) -> Scheduler:
        kwargs.setdefault("clock", clock)
        scheduler = Scheduler.open(folder or store, **kwargs)
        opened.append(scheduler)
        return scheduler

    yield open_
    for scheduler in opened:
        scheduler.close()


@pytest.fixture
def scheduler(open_scheduler: Callable[..., Scheduler]) -> Scheduler:
    return open_scheduler()


@pytest.fixture
def add(scheduler: Scheduler) -> Callable[..., UUID]:
    """Submit a task built from keyword arguments (type "job" unless given); return its id."""

    def add_(task_type: str = "job", **kwargs: Any) -> UUID:
        result = scheduler.submit(TaskSubmission(task_type, **kwargs))
        assert result.inserted
        return result.task_id

    return add_


@pytest.fixture
def running(scheduler: Scheduler, add: Callable[..., UUID]) -> Callable[..., UUID]:
    """Submit a task and start it; return its id."""

    def running_(task_type: str = "job", **kwargs: Any) -> UUID:
        task_id = add(task_type, **kwargs)
        scheduler.start(task_id)
        return task_id

    return running_


# -- dispatch: schedulers on the wall clock, and the running intervals the log records ---------

REAL_CLOCK_POLL_SECONDS = 0.01
END_OF_ATTEMPT = frozenset(
    {
        "TaskCompleted",
        "TaskAwaitingChildren",
        "TaskRetrying",
        "TaskFailed",
        "TaskDeadLettered",
        "TaskCancelled",
        "TaskExpired",
        "TaskRequeued",
    }
)
"""Events that end a running attempt (and free its group slot)."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def open_live(open_scheduler: Callable[..., Scheduler]) -> Callable[..., Scheduler]:
    """Like `open_scheduler`, but on the wall clock and polling every 10 ms (for dispatch)."""

    def open_(folder: Path | None = None, **kwargs: Any) -> Scheduler:
        kwargs.setdefault("clock", wall_clock)
        kwargs.setdefault("poll_seconds", REAL_CLOCK_POLL_SECONDS)
        return open_scheduler(folder, **kwargs)

    return open_


@pytest.fixture
def live(open_live: Callable[..., Scheduler]) -> Scheduler:
    """A scheduler on the wall clock that runs at most 4 executors at once."""
    return open_live(max_concurrency=4)


class RunInterval:
    """One attempt as the log tells it: [TaskStarted, the event that ended it)."""

    __slots__ = ("end", "group", "start", "task_id", "worker_id")

    def __init__(
        self, task_id: UUID, group: str | None, start: datetime, end: datetime, worker: str
    ):
        self.task_id = task_id
        self.group = group
        self.start = start
        self.end = end
        self.worker_id = worker

    def __repr__(self) -> str:
        return f"RunInterval({self.task_id}, {self.group!r}, {self.start}, {self.end})"


def run_intervals(scheduler: Scheduler, task_ids: Iterable[UUID]) -> list[RunInterval]:
    """Every attempt of these tasks, replayed from their histories. An attempt that never
    ended is an error (call this once the tasks are finished)."""
    intervals = []
    for task_id in task_ids:
        history = scheduler.history(task_id)
        group = history[0].data.get("group")
        started: tuple[datetime, str] | None = None
        for entry in history:
            if entry.event == "TaskStarted":
                assert started is None, f"{task_id} started twice without ending: {history}"
                started = (entry.timestamp, entry.data.get("worker_id") or "")
            elif entry.event in END_OF_ATTEMPT and started is not None:
                start, worker = started
                intervals.append(RunInterval(task_id, group, start, entry.timestamp, worker))
                started = None
        assert started is None, f"{task_id} is still running: {history}"
    return intervals


def max_overlap(intervals: Iterable[RunInterval]) -> int:
    """The most intervals open at one moment (half-open: an end and a start at the same
    instant do not overlap)."""
    points = []
    for interval in intervals:
        points.append((interval.start, 1))
        points.append((interval.end, -1))
    points.sort(key=lambda point: (point[0], point[1]))  # ends before starts at equal times
    running = highest = 0
    for _, delta in points:
        running += delta
        highest = max(highest, running)
    return highest


def max_overlap_by_group(intervals: Iterable[RunInterval]) -> dict[str | None, int]:
    by_group: dict[str | None, list[RunInterval]] = {}
    for interval in intervals:
        by_group.setdefault(interval.group, []).append(interval)
    return {group: max_overlap(members) for group, members in by_group.items()}


@pytest.fixture
def log_intervals() -> Any:
    """`log_intervals.of(scheduler, ids)`, `.max_overlap(intervals)`, `.by_group(intervals)`."""

    class LogIntervals:
        of = staticmethod(run_intervals)
        max_overlap = staticmethod(max_overlap)
        by_group = staticmethod(max_overlap_by_group)

    return LogIntervals


def run_until_idle_within(scheduler: Scheduler, seconds: float = 20.0) -> float:
    """`scheduler.run_until_idle()`, failing (not hanging) if it has not returned in time.
    Returns how long it took."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            scheduler.run_until_idle()
        except BaseException as error:
            errors.append(error)

    began = time.monotonic()
    thread = threading.Thread(target=target, name="run-until-idle", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"run_until_idle did not return within {seconds} s"
    if errors:
        raise errors[0]
    return time.monotonic() - began


@pytest.fixture
def run_idle() -> Callable[..., float]:
    """`run_idle(scheduler, seconds=20)`: run_until_idle with a deadline; returns its duration."""
    return run_until_idle_within
