"""How events are stored: every event class is written as the JSON `model_dump` would give,
and read back equal to the event that was written."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import Transcoder
from pydantic import BaseModel

import taskmill.domain.dedup
import taskmill.domain.group_slots
import taskmill.domain.task_events  # noqa: F401  (defines the event classes walked below)
from taskmill.domain.base import DomainEvent
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.status import TaskStatus
from taskmill.infrastructure.serialization import OrjsonTranscoder, PydanticMapper

MOMENT = datetime(2026, 12, 3, 16, 33, 30, 982052, tzinfo=UTC)


def _stored_classes() -> list[type[DomainEvent]]:
    found: list[type[DomainEvent]] = []
    pending: list[type[DomainEvent]] = [DomainEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__dict__.get("TOPIC") and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda c: c.TOPIC)


def _sample(annotation: Any) -> Any:
    """A value of the annotated type that is not the field's default."""
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _sample(inner)
    if typing.get_origin(annotation) is dict:
        return {"profile": "dr", "taskmill.type": "copy"}
    samples: dict[Any, Any] = {
        str: "text",
        int: 3,
        bool: False,
        float: 2.5,
        datetime: MOMENT,
        UUID: uuid4(),
        Any: {"n": [1, "two", None], "ok": True},
    }
    if annotation in samples:
        return samples[annotation]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return TaskStatus.RUNNING if annotation is TaskStatus else next(iter(annotation))
    if annotation is IOFigures:
        return IOFigures(read_bytes=1, write_bytes=2, net_rx_bytes=3, net_tx_bytes=2**40)
    raise AssertionError(f"no sample for {annotation!r}: extend _sample")


def _event(cls: type[DomainEvent]) -> DomainEvent:
    values = {name: _sample(field.annotation) for name, field in cls.model_fields.items()}
    return cls.model_validate(values)


CLASSES = _stored_classes()


def test_every_kind_of_event_is_walked() -> None:
    assert len(CLASSES) >= 23  # 16 task events, 3 dedup, 4 group-slot events
    topics = {cls.TOPIC for cls in CLASSES}
    assert {"taskmill.task:TaskSubmitted", "taskmill.task:TaskCompleted"} <= topics


@pytest.fixture
def mapper() -> PydanticMapper:
    transcoder: Transcoder = OrjsonTranscoder()
    return PydanticMapper(transcoder=transcoder)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_an_event_is_stored_as_its_model_dump_and_read_back_equal(
    cls: type[DomainEvent], mapper: PydanticMapper
) -> None:
    event = _event(cls)
    stored = mapper.to_stored_event(event)
    dumped = event.model_dump(exclude={"originator_id", "originator_version"})
    assert orjson.loads(stored.state) == orjson.loads(orjson.dumps(dumped))
    assert stored.topic == cls.TOPIC
    assert (stored.originator_id, stored.originator_version) == (event.originator_id, 3)
    back = mapper.to_domain_event(stored)
    assert type(back) is cls and back == event


def test_what_orjson_cannot_write_is_refused_with_a_clear_error() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match="not JSON serializable: Opaque"):
        OrjsonTranscoder().encode({"value": Opaque()})


def test_a_nested_model_is_written_as_its_fields() -> None:
    class Outer(BaseModel):
        figures: IOFigures

    encoded = OrjsonTranscoder().encode(Outer(figures=IOFigures(read_bytes=5)).__dict__)
    assert orjson.loads(encoded) == {
        "figures": {"read_bytes": 5, "write_bytes": 0, "net_rx_bytes": 0, "net_tx_bytes": 0}
    }
