"""Aggregates loaded for one command, saved together in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from taskmill.domain.dedup import DedupClaim
from taskmill.domain.errors import TaskNotFound
from taskmill.domain.group_slots import GroupSlots, group_slots_id
from taskmill.domain.task import Task
from taskmill.infrastructure.stream_reader import StreamReader

if TYPE_CHECKING:
    from eventsourcing.application import Application


class UnitOfWork:
    """Loads each aggregate once per command so every change lands on the same object.

    `cache` holds aggregates as this process last saved (or loaded) them; they are brought up
    to date with only the events added since (by any process), several in one query. A command
    mutates the cached objects themselves, so when it fails the caller must `evict()` what it
    loaded; commands in one process run one at a time (see `TaskLog._run`).
    """

    def __init__(
        self,
        app: Application[UUID],
        streams: StreamReader,
        cache: MutableMapping[UUID, Any],
    ):
        self._app = app
        self._streams = streams
        self._cache = cache
        self._loaded: dict[UUID, Any] = {}
        self.newest_loaded: datetime | None = None
        """The latest time any loaded aggregate was changed, as stored (before this command)."""

    def preload(self, ids: Iterable[UUID]) -> None:
        """Load many aggregates with one or two reads of the log (missing ids are skipped)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._loaded]
        if not wanted:
            return
        cached = {i: self._cache[i] for i in wanted if i in self._cache}
        if cached:
            newer = self._streams.load_newer({i: a.version for i, a in cached.items()})
            for aggregate_id, aggregate in cached.items():
                self._loaded[aggregate_id] = self._fold(aggregate, newer.get(aggregate_id, ()))
        missing = [i for i in wanted if i not in cached]
        if missing:
            for aggregate_id, stored in self._streams.load(missing).items():
                self._loaded[aggregate_id] = self._fold(None, stored)

    def _fold(self, aggregate: Any, stored: Iterable[Any]) -> Any:
        to_event = self._app.mapper.to_domain_event
        for event in map(to_event, stored):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        if aggregate is not None and (
            self.newest_loaded is None or aggregate.modified_on > self.newest_loaded
        ):
            self.newest_loaded = aggregate.modified_on
        return aggregate

    def _get(self, aggregate_id: UUID) -> Any:
        if aggregate_id not in self._loaded:
            self.preload([aggregate_id])
        return self._loaded.get(aggregate_id)

    def task(self, task_id: UUID) -> Task:
        found = self._get(task_id)
        if not isinstance(found, Task):
            raise TaskNotFound(task_id)
        return found

    def claim(self, claim_id: UUID) -> DedupClaim | None:
        found = self._get(claim_id)
        return found if isinstance(found, DedupClaim) else None

    def slots(self, group: str) -> GroupSlots | None:
        """The group's slots, or None when no limit was ever set for it."""
        found = self._get(group_slots_id(group))
        return found if isinstance(found, GroupSlots) else None

    def add(self, aggregate: Task | DedupClaim | GroupSlots) -> None:
        self._loaded[aggregate.id] = aggregate

    @property
    def aggregates(self) -> list[Any]:
        return [a for a in self._loaded.values() if a.pending_events]

    def keep(self) -> None:
        """After a successful save: remember every aggregate as it now is, except tasks that
        ended. Those never change again, so keeping them only grows the heap that Python's
        garbage collector walks (a worker would hold its last 8,192 finished tasks); the rare
        command that still names one (a cancel that is refused, say) reads it from the log."""
        cache = self._cache
        for aggregate_id, aggregate in self._loaded.items():
            if isinstance(aggregate, Task) and aggregate.is_terminal:
                cache.pop(aggregate_id, None)
            else:
                cache[aggregate_id] = aggregate

    def evict(self) -> None:
        """After a failure: forget what this command touched (it may hold unsaved changes)."""
        for aggregate_id in self._loaded:
            self._cache.pop(aggregate_id, None)
