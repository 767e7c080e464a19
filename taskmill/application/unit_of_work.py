"""Aggregates loaded for one command, saved together in one transaction."""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableMapping
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

    Long-lived aggregates (dedup claims, group slots) come from `shared`, a cache of their last
    saved state, fast-forwarded with only the events added since; tasks are read whole (their
    streams are short), many at once with `preload`.
    """

    def __init__(
        self,
        app: Application[UUID],
        streams: StreamReader,
        shared: MutableMapping[UUID, Any],
    ):
        self._app = app
        self._streams = streams
        self._shared = shared
        self._loaded: dict[UUID, Any] = {}

    def preload(self, ids: Iterable[UUID]) -> None:
        """Load many aggregates with one read of the log (ids that do not exist are skipped)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._loaded]
        if not wanted:
            return
        for originator_id, stored in self._streams.load(wanted).items():
            self._loaded[originator_id] = self._fold(None, stored)

    def _fold(self, aggregate: Any, stored: Iterable[Any]) -> Any:
        to_event = self._app.mapper.to_domain_event
        for event in map(to_event, stored):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def _get(self, aggregate_id: UUID) -> Any:
        found = self._loaded.get(aggregate_id)
        if found is not None:
            return found
        cached = self._shared.get(aggregate_id)
        if cached is not None:
            found = self._fold(
                copy.deepcopy(cached), self._streams.load_after(aggregate_id, cached.version)
            )
        else:
            stored = self._streams.load([aggregate_id]).get(aggregate_id)
            if not stored:
                return None
            found = self._fold(None, stored)
        self._loaded[aggregate_id] = found
        if not isinstance(found, Task):
            self._shared[aggregate_id] = copy.deepcopy(found)
        return found

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
