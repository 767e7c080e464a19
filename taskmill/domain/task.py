"""The `Task` aggregate: enforces the lifecycle; every change is an event of `task_events`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from taskmill.domain import task_events as ev
from taskmill.domain.base import EventSourcedAggregate
from taskmill.domain.errors import IllegalTransition
from taskmill.domain.io_figures import ZERO_IO, IOFigures
from taskmill.domain.spec import TaskSpec
from taskmill.domain.status import TaskStatus
from taskmill.domain.tags import with_system_tags

S = TaskStatus


class Task(EventSourcedAggregate):
    """One unit of work. Commands check the current status, then trigger exactly one event."""

    TOPIC: ClassVar[str] = "taskmill.task:Task"

    task_type: str
    priority: int
    group: str | None
    dedup_key: str | None
    parent_id: UUID | None
    tags: dict[str, str]
    payload: Any
    max_retries: int
    ttl_seconds: float | None
    run_after: datetime | None
    expected_io: IOFigures
    fail_on_child_failure: bool
    actual_io: IOFigures
    status: TaskStatus
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    worker_id: str | None
    lease_expires_at: datetime | None
    children: list[UUID]
    unfinished_children: set[UUID]
    failed_children: int
    finalizer_worker: str | None
    finalizer_lease_expires_at: datetime | None
    awaits_finalizer: bool

    @classmethod
    def submit(cls, task_id: UUID, spec: TaskSpec, tags: dict[str, str], *, now: datetime) -> Task:
        """A new task from a validated spec. `tags` are its final user tags (after inheritance)."""
        blocked = spec.run_after is not None and spec.run_after > now
        event = ev.TaskSubmitted.trusted(
            originator_id=task_id,
            originator_version=cls.INITIAL_VERSION,
            timestamp=now,
            originator_topic=cls.TOPIC,
            task_type=spec.task_type,
            priority=spec.priority,
            group=spec.group,
            dedup_key=spec.dedup_key,
            parent_id=spec.parent_id,
            tags=with_system_tags(tags, spec.task_type, spec.group),
            payload=spec.payload,
            max_retries=spec.max_retries,
            ttl_seconds=spec.ttl_seconds,
            run_after=spec.run_after,
            expected_io=spec.expected_io,
            status=S.BLOCKED if blocked else S.PENDING,
            fail_on_child_failure=spec.fail_on_child_failure,
        )
        task: Task = event.mutate(None)
        task.pending_events.append(event)
        return task

    @property
    def submitted_at(self) -> datetime:
        return self.created_on

    @property
    def expires_at(self) -> datetime | None:
        if self.ttl_seconds is None:
            return None
        return self.submitted_at + timedelta(seconds=self.ttl_seconds)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def _require(self, action: str, *allowed: TaskStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.id, self.status.value, action)

    def _require_active(self, action: str) -> None:
        if self.status.is_terminal:
            raise IllegalTransition(self.id, self.status.value, action)

    def unblock(self, *, now: datetime) -> None:
        self._require("unblock", S.BLOCKED)
        self.trigger_event(ev.TaskUnblocked, timestamp=now)

    def start(
        self,
        *,
        now: datetime,
        worker_id: str | None = None,
        lease_expires_at: datetime | None = None,
    ) -> None:
        self._require("start", S.PENDING)
        self.trigger_event(
            ev.TaskStarted,
            timestamp=now,
            attempt=self.attempts + 1,
            worker_id=worker_id,
            lease_expires_at=lease_expires_at,
        )

    def renew_lease(self, *, now: datetime, worker_id: str, lease_expires_at: datetime) -> None:
        self._require("renew its lease", S.RUNNING)
        if self.worker_id != worker_id:
            raise IllegalTransition(self.id, f"running on {self.worker_id}", "renew its lease")
        self.trigger_event(ev.TaskLeaseRenewed, timestamp=now, lease_expires_at=lease_expires_at)

    def requeue(
        self,
        *,
        now: datetime,
        reason: str,
        lease_expired: bool = False,
        held_by: str | None = None,
    ) -> None:
        """Back to pending without counting the attempt. With `lease_expired`, only if the
        worker's lease really ran out (it may have been renewed since the caller looked); with
        `held_by`, only if that worker still runs it (another may have claimed it since)."""
        self._require("requeue", S.RUNNING)
        if lease_expired and self.lease_expires_at is not None and self.lease_expires_at > now:
            raise IllegalTransition(self.id, "running with a live lease", "requeue")
        if held_by is not None and self.worker_id != held_by:
            raise IllegalTransition(self.id, f"running on {self.worker_id}", "requeue")
        self.trigger_event(ev.TaskRequeued, timestamp=now, reason=reason)

    def _require_attempt(self, action: str, attempt: tuple[str, int] | None) -> None:
        """`attempt` = (worker id, attempt number) of the caller's claim: a worker whose lease
        ran out and whose task was claimed again must not record a result for it."""
        if attempt is not None and attempt != (self.worker_id, self.attempts):
            raise IllegalTransition(
                self.id, f"running attempt {self.attempts} on {self.worker_id}", action
            )

    def complete(
        self,
        *,
        now: datetime,
        actual_io: IOFigures | None = None,
        attempt: tuple[str, int] | None = None,
        awaits_finalizer: bool = False,
    ) -> None:
        """Finish the attempt. A task that spawned children waits for them (and is finalised
        at once if they have all finished already), so a failed child always fails it.
        `awaits_finalizer`: the caller has a finalizer for this type, which then closes the task."""
        self._require("complete", S.RUNNING)
        self._require_attempt("complete", attempt)
        if self.children:
            self.trigger_event(
                ev.TaskAwaitingChildren,
                timestamp=now,
                actual_io=actual_io or ZERO_IO,
                awaits_finalizer=awaits_finalizer,
            )
        else:
            self.trigger_event(ev.TaskCompleted, timestamp=now, actual_io=actual_io or ZERO_IO)

    def fail(
        self,
        error: str,
        *,
        now: datetime,
        permanent: bool = False,
        retry_at: datetime | None = None,
        attempt: tuple[str, int] | None = None,
    ) -> None:
        """Fail the attempt: retry while retries remain, else dead-letter; `permanent` fails now."""
        self._require("fail", S.RUNNING)
        self._require_attempt("fail", attempt)
        if permanent:
            self.trigger_event(ev.TaskFailed, timestamp=now, error=error)
        elif self.attempts <= self.max_retries:
            blocked = retry_at is not None and retry_at > now
            self.trigger_event(
                ev.TaskRetrying,
                timestamp=now,
                error=error,
                retry_at=retry_at,
                status=S.BLOCKED if blocked else S.PENDING,
            )
        else:
            self.trigger_event(ev.TaskDeadLettered, timestamp=now, error=error)

    def cancel(self, *, now: datetime, reason: str | None = None) -> None:
        self._require_active("cancel")
        self.trigger_event(ev.TaskCancelled, timestamp=now, reason=reason)

    def expire(self, *, now: datetime) -> None:
        self._require_active("expire")
        self.trigger_event(ev.TaskExpired, timestamp=now)

    def record_child(self, child_id: UUID, *, now: datetime) -> None:
        self._require_active("spawn a child")
        self.trigger_event(ev.ChildSpawned, timestamp=now, child_id=child_id)

    def record_child_finished(self, child_id: UUID, status: TaskStatus, *, now: datetime) -> None:
        if child_id not in self.unfinished_children:
            return  # already recorded, or not our child: nothing to do
        self.trigger_event(ev.ChildFinished, timestamp=now, child_id=child_id, status=status)

    @property
    def ready_to_finalize(self) -> bool:
        return self.status is S.WAITING and not self.unfinished_children

    def start_finalizer(self, *, now: datetime, worker_id: str, lease_expires_at: datetime) -> None:
        """Claim the ready parent for one worker's finalizer, so it runs once; another worker
        may take over only when that claim's lease ran out."""
        self._require("run its finalizer", S.WAITING)
        if self.unfinished_children:
            raise IllegalTransition(self.id, "waiting for children", "run its finalizer")
        held = self.finalizer_lease_expires_at
        if self.finalizer_worker not in (None, worker_id) and held is not None and held > now:
            raise IllegalTransition(
                self.id, f"being finalised by {self.finalizer_worker}", "run its finalizer"
            )
        self.trigger_event(
            ev.TaskFinalizerStarted,
            timestamp=now,
            worker_id=worker_id,
            lease_expires_at=lease_expires_at,
        )

    def finalize(
        self, *, now: datetime, error: str | None = None, worker_id: str | None = None
    ) -> None:
        """Close a waiting parent whose children all finished: failed if any child failed
        (or its finalizer did, with `error`)."""
        self._require("finalize", S.WAITING)
        if worker_id is not None and self.finalizer_worker != worker_id:
            raise IllegalTransition(
                self.id, f"being finalised by {self.finalizer_worker}", "finalize"
            )
        if self.unfinished_children:
            raise IllegalTransition(self.id, "waiting for children", "finalize")
        if error is not None:
            self.trigger_event(ev.TaskFinalized, timestamp=now, status=S.FAILED, error=error)
        elif self.failed_children and self.fail_on_child_failure:
            error = f"{self.failed_children} child task(s) failed"
            self.trigger_event(ev.TaskFinalized, timestamp=now, status=S.FAILED, error=error)
        else:
            self.trigger_event(ev.TaskFinalized, timestamp=now, status=S.COMPLETED)


ev.TaskSubmitted.AGGREGATE = Task
