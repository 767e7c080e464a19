"""Shared fixtures: a store folder, a controllable clock, and schedulers closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskSubmission

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
