"""Aggregates loaded for one command, saved together in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from taskmill.domain.dedup import DedupClaim
from taskmill.domain.errors import TaskNotFound
from taskmill.domain.group_slots import GroupSlots, group_slots_id
from taskmill.domain.task import Task
from taskmill.infrastructure.stream_reader import StreamReader

if TYPE_CHECKING:
    from eventsourcing.application import Application


class UnitOfWork:
    """Loads each aggregate once per command so every change lands on the same object."""

    def __init__(self, app: Application[UUID], streams: StreamReader | None = None):
        self._app = app
        self._streams = streams
        self._loaded: dict[UUID, Any] = {}

    def preload(self, ids: Iterable[UUID]) -> None:
        """Load many aggregates with one read of the log (ids that do not exist are skipped)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._loaded]
        if not wanted or self._streams is None:
            return
        to_event = self._app.mapper.to_domain_event
        for originator_id, stored in self._streams.load(wanted).items():
            aggregate: Any = None
            for event in map(to_event, stored):
                aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
            self._loaded[originator_id] = aggregate

    def task(self, task_id: UUID) -> Task:
        found = self._loaded.get(task_id)
        if found is None:
            try:
                found = self._app.repository.get(task_id)
            except AggregateNotFoundError:
                raise TaskNotFound(task_id) from None
            if not isinstance(found, Task):
                raise TaskNotFound(task_id)
            self._loaded[task_id] = found
        return found  # type: ignore[no-any-return]

    def claim(self, claim_id: UUID) -> DedupClaim | None:
        found = self._loaded.get(claim_id)
        if found is None:
            try:
                found = self._app.repository.get(claim_id)
            except AggregateNotFoundError:
                return None
            self._loaded[claim_id] = found
        return found  # type: ignore[no-any-return]

    def slots(self, group: str) -> GroupSlots | None:
        """The group's slots, or None when no limit was ever set for it."""
        claim_id = group_slots_id(group)
        found = self._loaded.get(claim_id)
        if found is None:
            try:
                found = self._app.repository.get(claim_id)
            except AggregateNotFoundError:
                return None
            self._loaded[claim_id] = found
        return found  # type: ignore[no-any-return]

    def add(self, aggregate: Task | DedupClaim | GroupSlots) -> None:
        self._loaded[aggregate.id] = aggregate

    @property
    def aggregates(self) -> list[Any]:
        return [a for a in self._loaded.values() if a.pending_events]
