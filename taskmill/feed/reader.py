"""Reads the log page by page and turns task events into `SchedulerEvent`s with their tags.

Only `TaskSubmitted` carries a task's type and tags in the log; they never change afterwards. The
reader remembers them from the submissions it reads and asks `lookup` (the operational view, one
query per page) for tasks submitted before the position it started from.

Skipped: events of other aggregates (dedup claims, group slots), `TaskLeaseRenewed` (a heartbeat)
and `ChildFinished` (the child's own terminal event already says it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from taskmill.domain import task_events as ev
from taskmill.domain.errors import InvalidQuery
from taskmill.domain.status import TaskStatus
from taskmill.domain.tags import TYPE_TAG
from taskmill.feed import models as m
from taskmill.projections.operational.event_source import EventSource

PAGE_SIZE = 500
CACHE_SIZE = 100_000
"""Most task identities remembered; older ones are looked up again if they show up."""
ENDED_MEMORY = 10_000
"""Most tasks remembered as 'attempt ended', to drop progress reported just before the end."""


@dataclass(frozen=True, slots=True)
class TaskIdentity:
    """What every feed event of a task repeats: its type and all its tags."""

    task_type: str
    tags: dict[str, str]

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> TaskIdentity:
        """From the full tags of the view (the system `taskmill.type` tag names the type)."""
        return cls(tags.get(TYPE_TAG, ""), dict(tags))


IdentityLookup = Callable[[Sequence[UUID]], Mapping[UUID, TaskIdentity]]
"""Type and tags of tasks by id (tasks it does not know are left out)."""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Which events a consumer wants: every given tag (AND), any of the given types."""

    tags: tuple[tuple[str, str], ...] = ()
    types: frozenset[str] | None = None

    @classmethod
    def of(
        cls, tags: Mapping[str, str] | None = None, types: Iterable[str] | None = None
    ) -> FeedFilter:
        """Check the arguments of `events()`/`aevents()`; `InvalidQuery` names a bad one."""
        pairs: list[tuple[str, str]] = []
        if tags is not None:
            if not isinstance(tags, Mapping):
                raise InvalidQuery(f"tags: expected a mapping of key to value, got {tags!r}")
            for key, value in tags.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise InvalidQuery(f"tags: keys and values must be strings, got {key!r}")
                pairs.append((key, value))
        wanted: frozenset[str] | None = None
        if types is not None:
            if isinstance(types, str):
                types = [types]
            wanted = frozenset(types)
            unknown = sorted(str(t) for t in wanted - m.EVENT_TYPES)
            if unknown:
                raise InvalidQuery(
                    f"types: unknown event type(s) {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(m.EVENT_TYPES))})"
                )
        return cls(tuple(pairs), wanted)

    def wants_type(self, name: str) -> bool:
        return self.types is None or name in self.types

    def matches(self, event: m.SchedulerEvent) -> bool:
        if not self.wants_type(event.type):
            return False
        tags = event.tags
        return all(tags.get(key) == value for key, value in self.tags)


class FeedReader:
    """Maps pages of the log to feed events. Not thread-safe: one per consumer."""

    def __init__(
        self,
        source: EventSource,
        lookup: IdentityLookup,
        feed_filter: FeedFilter | None = None,
        *,
        page_size: int = PAGE_SIZE,
        cache_size: int = CACHE_SIZE,
    ):
        self._source = source
        self._lookup = lookup
        self.filter = feed_filter or FeedFilter()
        self._page_size = page_size
        self._cache_size = cache_size
        self._identities: OrderedDict[UUID, TaskIdentity] = OrderedDict()
        self._ended: OrderedDict[UUID, None] = OrderedDict()

    def read_until(self, after: int, head: int) -> Iterator[m.SchedulerEvent]:
        """The wanted events after position `after`, up to and including `head`."""
        position = after
        while position < head:
            reached, events = self.read_page(position, head)
            if reached == position:
                return  # the log holds nothing more up to `head`
            position = reached
            yield from events

    def read_page(self, after: int, head: int | None = None) -> tuple[int, list[m.SchedulerEvent]]:
        """One page of the log after `after` (stopping at `head` if given): the position the
        page ended at (`after` when there was nothing new) and its wanted events."""
        page = self._source.read(after, self._page_size)
        if head is not None:
            page = [(position, event) for position, event in page if position <= head]
        if not page:
            return after, []
        wanted: list[tuple[int, Any, Mapper]] = []
        for position, event in page:
            if isinstance(event, ev.TaskSubmitted):
                self._remember(event.originator_id, TaskIdentity(event.task_type, event.tags))
            mapping = _MAPPERS.get(type(event))
            if mapping is not None and self.filter.wants_type(mapping.name):
                wanted.append((position, event, mapping))
        identities = self._identities_of({event.originator_id for _, event, _ in wanted})
        events: list[m.SchedulerEvent] = []
        for position, event, mapping in wanted:
            identity = identities.get(event.originator_id)
            if identity is None:
                continue  # unknown task (its submission is in neither the log nor the view)
            mapped = mapping.build(position, event, identity)
            if self.filter.matches(mapped):
                events.append(mapped)
        for _, event in page:  # of every type, also those the filter leaves out
            self._track_attempt(event)
        return page[-1][0], events

    def fresh_progress(self, progress: Iterable[m.TaskProgress]) -> list[m.TaskProgress]:
        """The progress reports the consumer wants, without those of attempts the log has
        already shown ending (a report that raced the end of its attempt)."""
        return [p for p in progress if p.task_id not in self._ended and self.filter.matches(p)]

    # -- identities ----------------------------------------------------------------------------

    def _remember(self, task_id: UUID, identity: TaskIdentity) -> None:
        self._identities[task_id] = identity
        self._identities.move_to_end(task_id)
        while len(self._identities) > self._cache_size:
            self._identities.popitem(last=False)

    def _identities_of(self, task_ids: set[UUID]) -> dict[UUID, TaskIdentity]:
        known = {i: self._identities[i] for i in task_ids if i in self._identities}
        missing = [i for i in task_ids if i not in known]
        if missing:
            for task_id, identity in self._lookup(missing).items():
                self._remember(task_id, identity)
                known[task_id] = identity
        return known

    def _track_attempt(self, event: Any) -> None:
        """Note attempts that ended (for `fresh_progress`) and forget finished tasks (no event
        follows a terminal one; one that did would be looked up again)."""
        kind = type(event)
        if kind is ev.TaskStarted or kind is ev.TaskFinalizerStarted:  # a new run begins
            self._ended.pop(event.originator_id, None)
        elif kind in _ATTEMPT_ENDED:
            self._ended[event.originator_id] = None
            while len(self._ended) > ENDED_MEMORY:
                self._ended.popitem(last=False)
            if kind in _TERMINAL:
                self._identities.pop(event.originator_id, None)


def progress_event(
    *,
    task_id: UUID,
    task_type: str,
    tags: Mapping[str, str],
    timestamp: datetime,
    attempt: int,
    worker_id: str | None,
    fraction: float | None,
    message: str | None,
) -> m.TaskProgress:
    """A live `TaskProgress` (never logged, so it has no position)."""
    return m.TaskProgress(
        task_id=task_id,
        task_type=task_type,
        tags=dict(tags),
        timestamp=timestamp,
        attempt=attempt,
        worker_id=worker_id,
        fraction=fraction,
        message=message,
    )


class ProgressInbox:
    """Progress reports waiting for one live consumer, latest per task (thread-safe): a slow
    consumer sees each task's most recent progress, not every intermediate step."""

    def __init__(self, on_put: Callable[[], None] | None = None):
        self._lock = threading.Lock()
        self._latest: dict[UUID, m.TaskProgress] = {}
        self._on_put = on_put

    def put(self, event: m.TaskProgress) -> None:
        """Keep the report (replacing the task's previous one); call `on_put` when the inbox
        was empty, so the consumer is woken once per batch, not once per report."""
        with self._lock:
            was_empty = not self._latest
            self._latest.pop(event.task_id, None)  # keep arrival order of the latest reports
            self._latest[event.task_id] = event
        if was_empty and self._on_put is not None:
            self._on_put()

    def drain(self) -> list[m.TaskProgress]:
        with self._lock:
            drained = list(self._latest.values())
            self._latest.clear()
        return drained


# -- mapping the log's events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mapper:
    name: str
    build: Callable[[int, Any, TaskIdentity], m.SchedulerEvent]


def _common(position: int, event: ev.TaskEvent, identity: TaskIdentity) -> dict[str, Any]:
    return {
        "position": position,
        "task_id": event.originator_id,
        "task_type": identity.task_type,
        "tags": dict(identity.tags),
        "timestamp": event.timestamp,
    }


def _submitted(position: int, e: ev.TaskSubmitted, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskSubmitted.model_construct(
        **_common(position, e, i),
        priority=e.priority,
        group=e.group,
        parent_id=e.parent_id,
        dedup_key=e.dedup_key,
        status=e.status,
        run_after=e.run_after,
    )


def _unblocked(position: int, e: ev.TaskUnblocked, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskUnblocked.model_construct(**_common(position, e, i))


def _started(position: int, e: ev.TaskStarted, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskStarted.model_construct(
        **_common(position, e, i),
        attempt=e.attempt,
        worker_id=e.worker_id,
        lease_expires_at=e.lease_expires_at,
    )


def _requeued(position: int, e: ev.TaskRequeued, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskRequeued.model_construct(**_common(position, e, i), reason=e.reason)


def _completed(position: int, e: ev.TaskCompleted, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskCompleted.model_construct(**_common(position, e, i), actual_io=e.actual_io)


def _waiting(position: int, e: ev.TaskAwaitingChildren, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskWaiting.model_construct(**_common(position, e, i), actual_io=e.actual_io)


def _retrying(position: int, e: ev.TaskRetrying, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskRetrying.model_construct(
        **_common(position, e, i), error=e.error, retry_at=e.retry_at, status=e.status
    )


def _failed(position: int, e: ev.TaskFailed, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskFailed.model_construct(**_common(position, e, i), error=e.error)


def _dead_lettered(position: int, e: ev.TaskDeadLettered, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskDeadLettered.model_construct(**_common(position, e, i), error=e.error)


def _cancelled(position: int, e: ev.TaskCancelled, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskCancelled.model_construct(**_common(position, e, i), reason=e.reason)


def _expired(position: int, e: ev.TaskExpired, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskExpired.model_construct(**_common(position, e, i))


def _child_spawned(position: int, e: ev.ChildSpawned, i: TaskIdentity) -> m.SchedulerEvent:
    return m.ChildSpawned.model_construct(**_common(position, e, i), child_id=e.child_id)


def _finalized(position: int, e: ev.TaskFinalized, i: TaskIdentity) -> m.SchedulerEvent:
    return m.TaskFinalized.model_construct(
        **_common(position, e, i), status=TaskStatus(e.status), error=e.error
    )


_MAPPERS: dict[type, Mapper] = {
    ev.TaskSubmitted: Mapper("TaskSubmitted", _submitted),
    ev.TaskUnblocked: Mapper("TaskUnblocked", _unblocked),
    ev.TaskStarted: Mapper("TaskStarted", _started),
    ev.TaskRequeued: Mapper("TaskRequeued", _requeued),
    ev.TaskCompleted: Mapper("TaskCompleted", _completed),
    ev.TaskAwaitingChildren: Mapper("TaskWaiting", _waiting),
    ev.TaskRetrying: Mapper("TaskRetrying", _retrying),
    ev.TaskFailed: Mapper("TaskFailed", _failed),
    ev.TaskDeadLettered: Mapper("TaskDeadLettered", _dead_lettered),
    ev.TaskCancelled: Mapper("TaskCancelled", _cancelled),
    ev.TaskExpired: Mapper("TaskExpired", _expired),
    ev.ChildSpawned: Mapper("ChildSpawned", _child_spawned),
    ev.TaskFinalized: Mapper("TaskFinalized", _finalized),
}
_TERMINAL: frozenset[type] = frozenset(
    {
        ev.TaskCompleted,
        ev.TaskFailed,
        ev.TaskDeadLettered,
        ev.TaskCancelled,
        ev.TaskExpired,
        ev.TaskFinalized,
    }
)
_ATTEMPT_ENDED: frozenset[type] = _TERMINAL | {
    ev.TaskRetrying,
    ev.TaskRequeued,
    ev.TaskAwaitingChildren,  # the executor returned; the parent waits (a finalizer may follow)
}
"""Log events after which progress of the attempt that was running is stale."""
