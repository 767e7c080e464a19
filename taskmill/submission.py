"""`TaskSubmission`: what a user asks to run. Fluent or keyword construction; checked at submit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from taskmill.domain.errors import InvalidSubmission
from taskmill.domain.io_figures import IO_FIELDS
from taskmill.domain.spec import DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, TaskSpec, validate_spec


class TaskSubmission:
    """A task to submit. Every fluent method returns the submission itself.

    Nothing is checked until `Scheduler.submit`/`submit_batch`, which raise `InvalidSubmission`
    naming the field and the limit, and persist nothing.
    """

    __slots__ = (
        "_dedup_key",
        "_expected_io",
        "_fail_on_child_failure",
        "_group",
        "_max_retries",
        "_parent",
        "_payload",
        "_priority",
        "_run_after",
        "_tags",
        "_task_type",
        "_ttl",
    )

    def __init__(
        self,
        task_type: str,
        *,
        payload: Any = None,
        priority: int = DEFAULT_PRIORITY,
        group: str | None = None,
        dedup_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ttl: float | None = None,
        run_after: datetime | None = None,
        parent: UUID | str | None = None,
        expected_io: Mapping[str, int] | None = None,
        fail_on_child_failure: bool = True,
    ):
        self._task_type = task_type
        self._payload = payload
        self._priority = priority
        self._group = group
        self._dedup_key = dedup_key
        self._tags: dict[str, str] = _mapping("tags", tags)
        self._max_retries = max_retries
        self._ttl = ttl
        self._run_after = run_after
        self._parent = parent
        self._expected_io: dict[str, int] = _mapping("expected_io", expected_io)
        self._fail_on_child_failure = fail_on_child_failure

    def tag(self, key: str, value: str) -> TaskSubmission:
        """Add (or replace) one tag."""
        self._tags[key] = value
        return self

    def tags(self, tags: Mapping[str, str]) -> TaskSubmission:
        """Add (or replace) several tags."""
        self._tags.update(_mapping("tags", tags))
        return self

    def payload_json(self, payload: Any) -> TaskSubmission:
        """Set the payload: any JSON-serialisable value (at most 1 MiB as JSON)."""
        self._payload = payload
        return self

    def priority(self, priority: int) -> TaskSubmission:
        """0 is the most urgent, 255 the least; 128 by default."""
        self._priority = priority
        return self

    def group(self, group: str) -> TaskSubmission:
        self._group = group
        return self

    def dedup_key(self, key: str) -> TaskSubmission:
        """At most one active task of this type may hold the key."""
        self._dedup_key = key
        return self

    def expected_io(self, **figures: int) -> TaskSubmission:
        """Expected bytes: read_bytes, write_bytes, net_rx_bytes, net_tx_bytes."""
        self._expected_io.update(figures)
        return self

    def max_retries(self, retries: int) -> TaskSubmission:
        self._max_retries = retries
        return self

    def ttl(self, seconds: float) -> TaskSubmission:
        """The task expires if it is still pending or blocked (never started, or waiting to
        retry) this many seconds after submission; at most 100 years."""
        self._ttl = seconds
        return self

    def run_after(self, moment: datetime) -> TaskSubmission:
        """Not before this moment (the task is `blocked` until then)."""
        self._run_after = moment
        return self

    def parent(self, task_id: UUID | str) -> TaskSubmission:
        """Make this a child of an active task: it inherits the parent's tags."""
        self._parent = task_id
        return self

    def fail_on_child_failure(self, fail: bool) -> TaskSubmission:
        """Whether a child that fails (or dead-letters, or expires) fails this task when it is
        finalised; True by default. With False the parent completes whatever its children did."""
        self._fail_on_child_failure = fail
        return self

    def to_spec(self) -> TaskSpec:
        """Validate every field (raises `InvalidSubmission`)."""
        return validate_spec(
            task_type=self._task_type,
            priority=self._priority,
            group=self._group,
            dedup_key=self._dedup_key,
            parent_id=self._parent,
            tags=self._tags,
            payload=self._payload,
            max_retries=self._max_retries,
            ttl_seconds=self._ttl,
            run_after=self._run_after,
            expected_io=self._expected_io,
            fail_on_child_failure=self._fail_on_child_failure,
        )

    def __repr__(self) -> str:
        return f"TaskSubmission({self._task_type!r}, tags={self._tags!r})"


__all__ = ["IO_FIELDS", "TaskSubmission"]


def _mapping(field: str, value: object) -> dict[Any, Any]:
    """A copy of a mapping argument; anything else is refused at once (not at submission,
    where it could no longer be told apart from a mapping's bad item)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidSubmission(field, f"expected a mapping, got {type(value).__name__}")
    return dict(value)
