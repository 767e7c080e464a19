"""Concurrency limits per group, enforced atomically across processes.

One small aggregate per group holds its limit and the tasks that currently occupy a slot. A
claim takes a slot in the same transaction as the task's `TaskStarted`, so two workers racing
for the last slot clash on this aggregate's version and only one wins: the limit can be checked
from the log alone by replaying these events.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from taskmill.domain.base import CreationEvent, DomainEvent, EventSourcedAggregate
from taskmill.domain.errors import TaskmillError

GROUP_NAMESPACE = UUID("0b6e2f0a-88a4-4d8e-b1f5-6d2f3c9a7e21")


def group_slots_id(group: str) -> UUID:
    return uuid5(GROUP_NAMESPACE, group)


class GroupFull(TaskmillError):
    """Every slot of the group is taken."""


class GroupSlots(EventSourcedAggregate):
    """The limit of one group (None: unlimited) and the tasks running in it."""

    TOPIC: ClassVar[str] = "taskmill.group:GroupSlots"

    group: str
    limit: int | None
    holders: set[UUID]

    @classmethod
    def open(cls, group: str, *, now: datetime) -> GroupSlots:
        event = GroupSlotsOpened.trusted(
            originator_id=group_slots_id(group),
            originator_version=cls.INITIAL_VERSION,
            timestamp=now,
            originator_topic=cls.TOPIC,
            group=group,
        )
        slots: GroupSlots = event.mutate(None)
        slots.pending_events.append(event)
        return slots

    @property
    def free(self) -> int | None:
        """Slots left, or None when the group is unlimited."""
        return None if self.limit is None else max(0, self.limit - len(self.holders))

    def set_limit(self, limit: int | None, *, now: datetime) -> None:
        if limit != self.limit:
            self.trigger_event(GroupLimitSet, timestamp=now, limit=limit)

    def take(self, task_id: UUID, *, now: datetime) -> None:
        if task_id in self.holders:
            return
        if self.free == 0:
            raise GroupFull(f"group {self.group!r} has all {self.limit} slots taken")
        self.trigger_event(GroupSlotTaken, timestamp=now, task_id=task_id)

    def release(self, task_id: UUID, *, now: datetime) -> None:
        if task_id in self.holders:
            self.trigger_event(GroupSlotReleased, timestamp=now, task_id=task_id)


class GroupSlotsOpened(CreationEvent):
    TOPIC: ClassVar[str] = "taskmill.group:GroupSlotsOpened"
    AGGREGATE: ClassVar[type[EventSourcedAggregate]] = GroupSlots

    group: str

    def apply(self, slots: GroupSlots) -> None:
        slots.group = self.group
        slots.limit = None
        slots.holders = set()


class GroupLimitSet(DomainEvent):
    TOPIC: ClassVar[str] = "taskmill.group:GroupLimitSet"

    limit: int | None

    def apply(self, slots: GroupSlots) -> None:
        slots.limit = self.limit


class GroupSlotTaken(DomainEvent):
    TOPIC: ClassVar[str] = "taskmill.group:GroupSlotTaken"

    task_id: UUID

    def apply(self, slots: GroupSlots) -> None:
        slots.holders.add(self.task_id)


class GroupSlotReleased(DomainEvent):
    TOPIC: ClassVar[str] = "taskmill.group:GroupSlotReleased"

    task_id: UUID

    def apply(self, slots: GroupSlots) -> None:
        slots.holders.discard(self.task_id)
