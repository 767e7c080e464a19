"""The event-sourced application: every command appends events to the log in one transaction."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    InternalError,
    ProgrammingError,
    Recording,
)
from eventsourcing.utils import Environment, EnvType

from taskmill.application.unit_of_work import UnitOfWork
from taskmill.domain.dedup import DedupClaim, dedup_claim_id
from taskmill.domain.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidSubmission,
    TaskNotFound,
)
from taskmill.domain.group_slots import GroupFull, GroupSlots
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.spec import TaskSpec, as_utc
from taskmill.domain.status import TaskStatus
from taskmill.domain.tags import inherit_tags
from taskmill.domain.task import Task
from taskmill.domain.task_events import TaskEvent
from taskmill.infrastructure.bounded_cache import BoundedCache
from taskmill.infrastructure.event_store import InvalidStoreConfig
from taskmill.infrastructure.stream_reader import stream_reader_for
from taskmill.infrastructure.task_ids import new_task_id

MAX_CONFLICT_RETRIES = 8
CACHE_SIZE = 8192


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    """What one dispatch transaction did."""

    applied: list[UUID]
    claimed: list[UUID]
    recordings: list[Recording[UUID]]
    full_groups: set[str]


@dataclass(frozen=True, slots=True)
class Submitted:
    """What became of one submission: its task id, and whether a new task was created."""

    task_id: UUID
    inserted: bool


class TaskLog(Application[UUID]):
    """Commands on tasks. Each loads what it needs, checks invariants, and saves atomically."""

    name = "taskmill"

    def __init__(self, env: dict[str, str], clock: Callable[[], datetime]):
        super().__init__(env)
        self._user_clock = clock
        self._streams = stream_reader_for(self.recorder)
        self._cache: BoundedCache[UUID, Any] = BoundedCache(CACHE_SIZE)
        self._command_lock = threading.RLock()
        self.finalizer_types: set[str] = set()
        """Types whose waiting parents a finalizer closes (not closed automatically here)."""

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """eventsourcing also reads its settings from the process environment, where a key
        prefixed with the application's name (`TASKMILL_...`) wins over the one taskmill set:
        drop those, so a stray variable cannot swap the mapper or let PostgreSQL commit out
        of id order (`event_store_env` sets `POSTGRES_ENABLE_DB_FUNCTIONS=no`). Settings
        taskmill leaves alone (the pool's size, a cipher) still come from the environment."""
        environment = super().construct_env(name, env)
        for key in env or {}:
            environment.pop(f"{name.upper()}_{key}", None)
        return environment

    def close(self) -> None:
        try:
            self._streams.close()
        finally:
            super().close()

    def now(self) -> datetime:
        return self._clock()

    def _clock(self) -> datetime:
        """The configured clock, in UTC (stored moments are compared as UTC text)."""
        return as_utc(self._user_clock())

    # -- writing -------------------------------------------------------------------------------

    def submit_batch(
        self, specs: Sequence[TaskSpec]
    ) -> tuple[list[Submitted], list[Recording[UUID]]]:
        """Create every task of the batch, or none (a bad one rejects the whole batch)."""

        def build(uow: UnitOfWork, now: datetime) -> list[Submitted]:
            held: dict[UUID, UUID] = {}  # dedup claim id -> task holding it, within this batch
            outcomes = []
            for index, spec in enumerate(specs):
                try:
                    outcomes.append(self._submit_one(uow, spec, held, now))
                except InvalidSubmission as error:
                    raise error.at_index(index) if len(specs) > 1 else error from None
            return outcomes

        return self._run(build)

    def _submit_one(
        self, uow: UnitOfWork, spec: TaskSpec, held: dict[UUID, UUID], now: datetime
    ) -> Submitted:
        claim: DedupClaim | None = None
        claim_id: UUID | None = None
        if spec.dedup_key is not None:
            claim_id = dedup_claim_id(spec.task_type, spec.dedup_key)
            if claim_id in held:
                return Submitted(held[claim_id], inserted=False)
            claim = uow.claim(claim_id)
            if claim is not None and claim.holder is not None:
                held[claim_id] = claim.holder
                return Submitted(claim.holder, inserted=False)
        task_id = new_task_id(now)
        tags = spec.tags
        if spec.parent_id is not None:
            try:
                parent = uow.task(spec.parent_id)
                parent.record_child(task_id, now=now)
            except TaskNotFound:
                raise InvalidSubmission(
                    "parent_id", f"task {spec.parent_id} does not exist"
                ) from None
            except IllegalTransition as error:
                raise InvalidSubmission(
                    "parent_id", f"parent is {error.status} and cannot get children"
                ) from None
            tags = inherit_tags(parent.tags, spec.tags)
        uow.add(Task.submit(task_id, spec, tags, now=now))
        if claim_id is not None:
            assert spec.dedup_key is not None
            if claim is None:
                uow.add(DedupClaim.open(spec.task_type, spec.dedup_key, task_id, now=now))
            else:
                claim.claim(task_id, now=now)
            held[claim_id] = task_id
        return Submitted(task_id, inserted=True)

    def start(
        self,
        task_id: UUID,
        *,
        worker_id: str | None = None,
        lease_expires_at: datetime | None = None,
    ) -> list[Recording[UUID]]:
        """Start one pending task (taking a slot of its group; `GroupFull` if none is free)."""

        def start_one(uow: UnitOfWork, now: datetime) -> None:
            self._start(uow, uow.task(task_id), now, worker_id, lease_expires_at)

        _, recordings = self._run(start_one)
        return recordings

    def claim(
        self,
        task_ids: Sequence[UUID],
        *,
        worker_id: str,
        lease_expires_at: datetime,
        limit: int | None = None,
    ) -> tuple[list[UUID], list[Recording[UUID]]]:
        """Start as many of these tasks as are still pending and fit their group's limit, in
        one transaction. Losing a race to another worker is not an error: those are skipped."""
        step = self.step(
            [], task_ids, worker_id=worker_id, lease_expires_at=lease_expires_at, limit=limit
        )
        return step.claimed, step.recordings

    def apply_each(
        self, commands: Sequence[tuple[UUID, Callable[[Task, datetime], None]]]
    ) -> tuple[list[UUID], list[Recording[UUID]]]:
        """Apply one command to each task in one transaction (group commit). A command the
        task's status no longer allows (cancelled meanwhile, say) is skipped, not an error."""
        step = self.step(commands, [], worker_id="", lease_expires_at=self._clock(), limit=0)
        return step.applied, step.recordings

    def step(
        self,
        commands: Sequence[tuple[UUID, Callable[[Task, datetime], None]]],
        candidates: Sequence[UUID],
        *,
        worker_id: str,
        lease_expires_at: datetime,
        limit: int | None,
    ) -> Step:
        """One transaction for a dispatch cycle: apply the commands (outcomes, lease renewals,
        housekeeping), then claim up to `limit` of the candidates that are still pending."""

        def build(uow: UnitOfWork, now: datetime) -> tuple[list[UUID], list[UUID], set[str]]:
            uow.preload([task_id for task_id, _ in commands] + list(candidates))
            applied = []
            for task_id, command in commands:
                try:
                    task = uow.task(task_id)
                    command(task, now)
                except (IllegalTransition, TaskNotFound):
                    continue
                self._after_change(uow, task, now)
                applied.append(task_id)
            claimed: list[UUID] = []
            full: set[str] = set()
            for task_id in candidates:
                if limit is not None and len(claimed) >= limit:
                    break
                try:
                    task = uow.task(task_id)
                except TaskNotFound:
                    continue
                if task.status is not TaskStatus.PENDING:
                    continue
                try:
                    self._start(uow, task, now, worker_id, lease_expires_at)
                except GroupFull:
                    full.add(task.group or "")
                    continue
                claimed.append(task_id)
            return applied, claimed, full

        (applied, claimed, full), recordings = self._run(build)
        return Step(applied, claimed, recordings, full)

    def _start(
        self,
        uow: UnitOfWork,
        task: Task,
        now: datetime,
        worker_id: str | None,
        lease_expires_at: datetime | None,
    ) -> None:
        if task.group is not None and task.status is TaskStatus.PENDING:
            slots = uow.slots(task.group)
            if slots is not None:
                slots.take(task.id, now=now)
        task.start(now=now, worker_id=worker_id, lease_expires_at=lease_expires_at)

    def set_group_limit(
        self, group: str, limit: int | None, running: Sequence[UUID] = ()
    ) -> list[Recording[UUID]]:
        """Persist the group's concurrency limit (None: unlimited) for every process.

        Until a group's first limit, its tasks start without taking a slot, so the first one
        counts the tasks `running` names (the caller finds them in the view) that the log
        confirms are running in the group: each takes its slot, and new starts wait until
        the group is below the limit."""

        def set_limit(uow: UnitOfWork, now: datetime) -> None:
            slots = uow.slots(group)
            if slots is None:
                slots = GroupSlots.open(group, now=now)
                uow.add(slots)
                uow.preload(running)
                for task_id in running:
                    try:
                        task = uow.task(task_id)
                    except TaskNotFound:
                        continue
                    if task.status is TaskStatus.RUNNING and task.group == group:
                        slots.take(task.id, now=now)
            slots.set_limit(limit, now=now)

        _, recordings = self._run(set_limit)
        return recordings

    def group_slots(self, group: str) -> GroupSlots | None:
        with self._command_lock:
            return UnitOfWork(self, self._streams, self._cache).slots(group)

    def unblock(self, task_id: UUID) -> list[Recording[UUID]]:
        return self._change(task_id, lambda t, now: t.unblock(now=now))

    def requeue(self, task_id: UUID, reason: str) -> list[Recording[UUID]]:
        return self._change(task_id, lambda t, now: t.requeue(now=now, reason=reason))

    def complete(self, task_id: UUID, actual_io: IOFigures | None = None) -> list[Recording[UUID]]:
        def complete(task: Task, now: datetime) -> None:
            awaits = task.task_type in self.finalizer_types
            task.complete(now=now, actual_io=actual_io, awaits_finalizer=awaits)

        return self._change(task_id, complete)

    def fail(
        self,
        task_id: UUID,
        error: str,
        *,
        permanent: bool = False,
        retry_at: datetime | None = None,
    ) -> list[Recording[UUID]]:
        return self._change(
            task_id,
            lambda t, now: t.fail(error, now=now, permanent=permanent, retry_at=retry_at),
        )

    def cancel(self, task_id: UUID, reason: str | None = None) -> list[Recording[UUID]]:
        """Cancel a task and, with it, every unfinished task it spawned."""

        def cancel_tree(uow: UnitOfWork, now: datetime) -> None:
            self._cancel_tree(uow, uow.task(task_id), reason, now)

        _, recordings = self._run(cancel_tree)
        return recordings

    def expire(self, task_id: UUID) -> list[Recording[UUID]]:
        return self._change(task_id, lambda t, now: t.expire(now=now))

    # -- reading the log (audit) ---------------------------------------------------------------

    def task_events(self, task_id: UUID) -> list[TaskEvent]:
        events = list(self.events.get(task_id))
        if not events or not isinstance(events[0], TaskEvent):
            raise TaskNotFound(task_id)
        return events  # type: ignore[return-value]

    # -- machinery -----------------------------------------------------------------------------

    def _change(
        self, task_id: UUID, command: Callable[[Task, datetime], None]
    ) -> list[Recording[UUID]]:
        def apply(uow: UnitOfWork, now: datetime) -> None:
            task = uow.task(task_id)
            command(task, now)
            self._after_change(uow, task, now)

        _, recordings = self._run(apply)
        return recordings

    def _run(self, build: Callable[[UnitOfWork, datetime], T]) -> tuple[T, list[Recording[UUID]]]:
        """Build the changes on current aggregates and save them; rebuild if another writer won.
        One command at a time per process: builds mutate the cached aggregates in place."""
        with self._command_lock:
            floor: datetime | None = None
            for _ in range(MAX_CONFLICT_RETRIES):
                uow = UnitOfWork(self, self._streams, self._cache)
                now = self._clock() if floor is None else max(self._clock(), floor)
                try:
                    result = build(uow, now)
                    if uow.newest_loaded is not None and uow.newest_loaded > now:
                        # Another process committed a change stamped after our clock read:
                        # rebuild with a later time, so timestamps follow the log's order.
                        floor = uow.newest_loaded
                        uow.evict()
                        continue
                    recordings = self._append(uow.aggregates)
                except IntegrityError:
                    uow.evict()
                    continue
                except BaseException:
                    uow.evict()
                    raise
                uow.keep()
                return result, recordings
        raise ConcurrencyConflict(
            f"gave up after {MAX_CONFLICT_RETRIES} conflicting concurrent updates"
        )

    def _append(self, aggregates: list[Any]) -> list[Recording[UUID]]:
        """`Application.save` without its per-object runtime protocol checks (slow on 3.11):
        we only ever save our own aggregates, and use no snapshots, cache or notify hooks."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        if not events:
            return []
        return self.events.put(events)

    def _cancel_tree(self, uow: UnitOfWork, task: Task, reason: str | None, now: datetime) -> None:
        task.cancel(now=now, reason=reason)
        for child_id in list(task.unfinished_children):
            child = uow.task(child_id)
            if not child.is_terminal:
                self._cancel_tree(uow, child, reason or f"parent {task.id} cancelled", now)
        self._after_change(uow, task, now)

    def _after_change(self, uow: UnitOfWork, task: Task, now: datetime) -> None:
        """Finalise a parent whose children are all done; a task that ended frees its dedup key
        and tells its parent (finalising that one too if it was the last child)."""
        if task.group is not None and task.status is not TaskStatus.RUNNING:
            slots = uow.slots(task.group)
            if slots is not None:
                slots.release(task.id, now=now)
        if task.ready_to_finalize and not (
            task.awaits_finalizer or task.task_type in self.finalizer_types
        ):
            task.finalize(now=now)
        if not task.is_terminal:
            return
        if task.dedup_key is not None:
            claim = uow.claim(dedup_claim_id(task.task_type, task.dedup_key))
            if claim is not None:
                claim.release(task.id, now=now)
        if task.parent_id is not None:
            parent = uow.task(task.parent_id)
            parent.record_child_finished(task.id, task.status, now=now)
            self._after_change(uow, parent, now)


CREATE_ATTEMPTS = 6
MISSING_SCHEMA = "3F000"  # PostgreSQL's SQLSTATE for "invalid schema name"


class CreatesTables(Protocol):
    """A recorder on a database server (eventsourcing's PostgreSQL ones are)."""

    def create_table(self) -> None: ...


def open_task_log(
    env: dict[str, str], clock: Callable[[], datetime], *, shared_server: bool
) -> TaskLog:
    """The application on its store, creating the store's tables if it has none (on a
    database server, see `_create_tables`)."""
    if not shared_server:
        return TaskLog(env, clock)
    log = TaskLog({**env, "CREATE_TABLE": "no"}, clock)
    try:
        _create_tables(cast(CreatesTables, log.recorder), env.get("POSTGRES_SCHEMA", "public"))
    except BaseException:
        log.close()
        raise
    return log


def _create_tables(recorder: CreatesTables, schema: str) -> None:
    """Several processes may create the tables at the same moment, and PostgreSQL lets all
    but one fail ("duplicate key ... pg_type", "tuple concurrently updated"); the tables
    exist once the winner committed, so the losers try again, on the same connections."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            recorder.create_table()
            return
        except (IntegrityError, InternalError):
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
        except ProgrammingError as error:
            if getattr(error.__cause__, "sqlstate", None) == MISSING_SCHEMA:
                raise InvalidStoreConfig(
                    f"event store: schema {schema!r} does not exist; create it first "
                    f"(CREATE SCHEMA {schema})"
                ) from None
            raise
