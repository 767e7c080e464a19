"""Pydantic base classes for stored events, on top of `eventsourcing`'s aggregate protocol.

Every stored class gets an explicit, stable `TOPIC`, registered when the class is defined, so
moving or renaming a module never orphans the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import register_topic
from pydantic import BaseModel, ConfigDict

from taskmill.domain.trusted import construct_trusted


class DomainEvent(BaseModel, CanMutateAggregate[UUID]):
    """An immutable fact about one aggregate. `apply` must be a pure state change."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str] = ""

    originator_id: UUID
    originator_version: int
    timestamp: datetime

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        topic = cls.__dict__.get("TOPIC")
        if topic:
            register_topic(topic, cls)

    @classmethod
    def trusted(cls, **fields: Any) -> Any:
        """Build from values already validated (or read back from the log): skips validation."""
        return construct_trusted(cls, fields)


class CreationEvent(DomainEvent, CanInitAggregate[UUID]):
    """The first event of an aggregate: builds it from nothing."""

    originator_topic: str
    AGGREGATE: ClassVar[type[BaseAggregate[UUID]]]

    def mutate(self, aggregate: Any) -> Any:
        assert aggregate is None
        created = self.AGGREGATE.__new__(self.AGGREGATE)
        created.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        self.apply(created)
        return created


class EventSourcedAggregate(BaseAggregate[UUID]):
    """Aggregate base with an explicit topic registered at class creation."""

    TOPIC: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        topic = cls.__dict__.get("TOPIC")
        if topic:
            register_topic(topic, cls)
        super().__init_subclass__(**kwargs)
