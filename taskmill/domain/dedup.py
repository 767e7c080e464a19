"""Dedup claims: one small aggregate per (task type, dedup key) makes the key unique atomically.

Its id is derived from the key, so two writers creating or re-claiming the same key clash on the
same aggregate version and one of them gets the store's integrity error.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from taskmill.domain.base import CreationEvent, DomainEvent, EventSourcedAggregate

DEDUP_NAMESPACE = UUID("5d0f3c1e-5b7a-4f7e-9a43-2b1c0e8d7a11")


def dedup_claim_id(task_type: str, dedup_key: str) -> UUID:
    return uuid5(DEDUP_NAMESPACE, f"{task_type}\x00{dedup_key}")


class DedupClaim(EventSourcedAggregate):
    """Who holds a dedup key right now (`holder` is None once that task ended)."""

    TOPIC: ClassVar[str] = "taskmill.dedup:DedupClaim"

    task_type: str
    dedup_key: str
    holder: UUID | None

    @classmethod
    def open(cls, task_type: str, dedup_key: str, holder: UUID, *, now: datetime) -> DedupClaim:
        event = DedupClaimOpened.trusted(
            originator_id=dedup_claim_id(task_type, dedup_key),
            originator_version=cls.INITIAL_VERSION,
            timestamp=now,
            originator_topic=cls.TOPIC,
            task_type=task_type,
            dedup_key=dedup_key,
            holder=holder,
        )
        claim: DedupClaim = event.mutate(None)
        claim.pending_events.append(event)
        return claim

    def claim(self, holder: UUID, *, now: datetime) -> None:
        assert self.holder is None, "claim a held key"
        self.trigger_event(DedupKeyClaimed, timestamp=now, holder=holder)

    def release(self, holder: UUID, *, now: datetime) -> None:
        if self.holder == holder:
            self.trigger_event(DedupKeyReleased, timestamp=now, holder=holder)


class DedupClaimOpened(CreationEvent):
    TOPIC: ClassVar[str] = "taskmill.dedup:DedupClaimOpened"
    AGGREGATE: ClassVar[type[EventSourcedAggregate]] = DedupClaim

    task_type: str
    dedup_key: str
    holder: UUID

    def apply(self, claim: DedupClaim) -> None:
        claim.task_type = self.task_type
        claim.dedup_key = self.dedup_key
        claim.holder = self.holder


class DedupKeyClaimed(DomainEvent):
    TOPIC: ClassVar[str] = "taskmill.dedup:DedupKeyClaimed"

    holder: UUID

    def apply(self, claim: DedupClaim) -> None:
        claim.holder = self.holder


class DedupKeyReleased(DomainEvent):
    TOPIC: ClassVar[str] = "taskmill.dedup:DedupKeyReleased"

    holder: UUID

    def apply(self, claim: DedupClaim) -> None:
        claim.holder = None
