"""`Scheduler`: the public entry point. Commands append to the log; queries read the views."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from eventsourcing.persistence import Recording

from taskmill import arguments
from taskmill.aggregate import AggregateRow, TaskAggregate, aggregate_rows
from taskmill.application.log_source import LogSource
from taskmill.application.task_log import TaskLog, open_task_log
from taskmill.domain.errors import (
    IllegalTransition,
    InvalidQuery,
    InvalidSubmission,
    TaskNotFound,
)
from taskmill.domain.io_figures import IOFigures
from taskmill.domain.limits import MAX_STORED_INTEGER
from taskmill.domain.status import TaskStatus
from taskmill.domain.tags import GROUP_TAG
from taskmill.domain.task import Task
from taskmill.domain.task_events import TaskCancelled
from taskmill.domain.task_events import TaskSubmitted as DomainTaskSubmitted
from taskmill.domain.trusted import construct_trusted, trusted_uuid
from taskmill.feed.follow import follow as follow_feed
from taskmill.feed.models import SchedulerEvent, TaskProgress
from taskmill.feed.reader import FeedFilter, FeedReader, TaskIdentity, progress_event
from taskmill.infrastructure.clock import utc_now
from taskmill.infrastructure.event_store import (
    InvalidStoreConfig,
    check_folder,
    event_store_env,
    resolve_location,
)
from taskmill.projections.analytical.queries import run_aggregate
from taskmill.projections.analytical.view import AnalyticalView
from taskmill.projections.operational import queries
from taskmill.projections.operational.queries import TaskFilter
from taskmill.projections.operational.view import OperationalView
from taskmill.query import TaskQuery, parse_task_id
from taskmill.records import HistoryEntry, SubmitResult, TaskRecord
from taskmill.runtime.context import TaskContext
from taskmill.runtime.dispatcher import Dispatcher, Services
from taskmill.runtime.registry import Registry, RetryPolicy
from taskmill.runtime.worker_identity import is_dead_local_worker, new_worker_id
from taskmill.snapshot import SchedulerSnapshot, TagStatsView, ViewRead, take_snapshot
from taskmill.submission import TaskSubmission

ExecutorFunction = Callable[[TaskContext], Any]
DEFAULT_CONCURRENCY = 8
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_POLL_SECONDS = 0.05
HOME_ENV = "TASKMILL_HOME"
DEFAULT_HOME = ".taskmill"
_AUDIT_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic"}
VIEWS = ("operational", "analytical")


class Scheduler:
    """A task scheduler over an event log. Open one with `Scheduler.open(folder)`.

    Every query first applies whatever the log holds beyond the view (also events written by
    other processes), so it answers as of the moment it is called.
    """

    def __init__(
        self,
        log: TaskLog,
        view: OperationalView,
        analytics: AnalyticalView,
        *,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ):
        self._log = log
        self._source = LogSource(log)
        self._view = view
        self._analytics = analytics
        self._registry = Registry()
        self._progress_listeners: list[Callable[[TaskContext], None]] = []
        self._dispatcher = Dispatcher(
            Services(
                log,
                self._select,
                self._select_ids,
                self._project,
                self.submit,
                self._publish_progress,
            ),
            self._registry,
            worker_id=new_worker_id(),
            max_concurrency=max_concurrency,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
        )

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str] | None = None,
        *,
        event_store_url: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        create: bool = True,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> Scheduler:
        """Open the store in `folder` (default `$TASKMILL_HOME` or `./.taskmill`), creating it
        unless `create=False` (then a missing store raises `StoreNotFound`). The log is an
        SQLite file there unless `event_store_url` (or `$TASKMILL_EVENT_STORE`) names a
        PostgreSQL database. `max_concurrency` caps the executors this process runs at once;
        a worker's claim on a task lasts `lease_seconds` unless renewed (it is, while it runs);
        the dispatch loop looks for new work every `poll_seconds` when idle (both a number of
        seconds > 0, at most a year). A bad keyword raises `InvalidStoreConfig` before any
        file is touched."""
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise InvalidStoreConfig(
                f"max_concurrency: must be an integer, got {max_concurrency!r}"
            )
        if max_concurrency < 1:
            raise InvalidStoreConfig(f"max_concurrency: must be at least 1, got {max_concurrency}")
        lease_seconds = arguments.seconds("lease_seconds", lease_seconds, InvalidStoreConfig)
        poll_seconds = arguments.seconds("poll_seconds", poll_seconds, InvalidStoreConfig)
        if folder is None:
            folder = os.environ.get(HOME_ENV, DEFAULT_HOME)
        location = resolve_location(folder, event_store_url)
        check_folder(location, create=create)
        log = open_task_log(
            event_store_env(location), clock, shared_server=location.event_store_url is not None
        )
        views = Path(location.folder) / "views"
        view = OperationalView(views, log.name)
        analytics = AnalyticalView(views, log.name)
        scheduler = cls(
            log,
            view,
            analytics,
            max_concurrency=max_concurrency,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
        )
        scheduler.catch_up()
        scheduler.recover_dead_workers()
        return scheduler

    def close(self) -> None:
        """Let go of the store's files and connections (each even if another fails to)."""
        try:
            self._analytics.close()
        finally:
            try:
                self._view.close(self._source)
            finally:
                self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, submission: TaskSubmission) -> SubmitResult:
        """Submit one task, durably. Raises `InvalidSubmission` and persists nothing if bad."""
        return self.submit_batch([submission])[0]

    def submit_batch(self, submissions: Iterable[TaskSubmission]) -> list[SubmitResult]:
        """Submit many tasks in one transaction: all of them, or (on any bad one) none."""
        specs = []
        batch = list(submissions)
        for index, submission in enumerate(batch):
            if not isinstance(submission, TaskSubmission):
                raise InvalidSubmission(
                    "submission", f"expected a TaskSubmission, got {type(submission).__name__}"
                ).at_index(index)
            try:
                specs.append(submission.to_spec())
            except InvalidSubmission as error:
                raise (error.at_index(index) if len(batch) > 1 else error) from None
        if not specs:
            return []
        outcomes, recordings = self._log.submit_batch(specs)
        self._project(recordings)
        self._dispatcher.wake()
        # Ids we made and flags we set: nothing to validate (~6 us a result, on every task).
        return [
            construct_trusted(SubmitResult, {"task_id": o.task_id, "inserted": o.inserted})
            for o in outcomes
        ]

    # -- running tasks -------------------------------------------------------------------------

    def executor(
        self, task_type: str, *, retry: RetryPolicy | None = None
    ) -> Callable[[ExecutorFunction], ExecutorFunction]:
        """Register the function that runs tasks of this type (`async def` or plain `def`;
        plain ones run in a thread pool). It gets a `TaskContext`; raising fails the attempt
        (retried with `retry`'s backoff), raising `PermanentError` fails the task."""

        def register(function: ExecutorFunction) -> ExecutorFunction:
            self._registry.executors[task_type] = Registry.handler(function, retry)
            return function

        return register

    def finalizer(self, task_type: str) -> Callable[[ExecutorFunction], ExecutorFunction]:
        """Register the function that closes a parent of this type once all its children are
        terminal; raising fails the parent. Parents of types without one close by themselves."""

        def register(function: ExecutorFunction) -> ExecutorFunction:
            self._registry.finalizers[task_type] = Registry.handler(function, None)
            self._log.finalizer_types.add(task_type)
            return function

        return register

    def set_group_limit(self, group: str, limit: int | None) -> None:
        """At most `limit` tasks of the group run at once, across every process (None lifts
        it). Persisted: every scheduler on this log honours it."""
        name = arguments.group_name(group)
        if limit is not None and not (
            arguments.is_positive_int(limit) and limit <= MAX_STORED_INTEGER
        ):
            raise InvalidQuery(
                f"limit: must be an integer from 1 to {MAX_STORED_INTEGER} or None, got {limit!r}"
            )
        # A group's first limit counts the tasks already running in it (the log confirms each).
        running = (
            self._select_ids(TaskFilter(statuses=("running",), tags=((GROUP_TAG, name),)))
            if self._log.group_slots(name) is None
            else []
        )
        self._project(self._log.set_group_limit(name, limit, running))

    def group_limit(self, group: str) -> int | None:
        slots = self._log.group_slots(arguments.group_name(group))
        return None if slots is None else slots.limit

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Run registered executors until `stop_event` is set; running ones then finish."""
        await self._dispatcher.run(stop_event)

    def run_until_idle(self) -> None:
        """Run until nothing runnable is left (for scripts, tests and notebooks)."""
        asyncio.run(self._dispatcher.run(until_idle=True))

    @property
    def worker_id(self) -> str:
        return self._dispatcher.worker_id

    def recover_dead_workers(self) -> int:
        """Put tasks left running by dead processes on this host back to pending (the attempt
        is not counted). Other hosts' dead workers are recovered when their lease expires."""
        orphans = [
            (record.id, record.worker_id)
            for record in self._select(TaskFilter(statuses=("running",)))
            if record.worker_id is not None and is_dead_local_worker(record.worker_id)
        ]
        if orphans:
            # Only while the dead worker still holds it: a live one may have claimed it since.
            done, recordings = self._log.apply_each(
                [(task_id, _requeue_from(worker)) for task_id, worker in orphans]
            )
            self._project(recordings)
            return len(done)
        return 0

    def on_progress(self, listener: Callable[[TaskContext], None]) -> None:
        """Call `listener(context)` whenever an executor in this process reports progress."""
        self._progress_listeners.append(listener)

    def _publish_progress(self, context: TaskContext) -> None:
        for listener in list(self._progress_listeners):
            listener(context)

    # -- lifecycle commands (the dispatch loop uses these; so can a hand-written worker) --------
    # A task id is a UUID or its text, as for `task()`. Every argument is checked before the
    # command runs: a bad one raises `InvalidQuery` and appends nothing.

    def start(
        self,
        task_id: UUID | str,
        *,
        worker_id: str | None = None,
        lease_expires_at: datetime | None = None,
    ) -> None:
        """Begin an attempt on a pending task."""
        task = parse_task_id(task_id)
        worker = arguments.optional_text("worker_id", worker_id)
        lease = (
            None
            if lease_expires_at is None
            else arguments.moment("lease_expires_at", lease_expires_at)
        )
        self._project(self._log.start(task, worker_id=worker, lease_expires_at=lease))

    def complete(
        self, task_id: UUID | str, *, actual_io: Mapping[str, int] | IOFigures | None = None
    ) -> None:
        """Finish a running attempt successfully (the task waits if it has unfinished children).
        `actual_io`: the figures of `IOFigures` (whole bytes >= 0), by name."""
        task = parse_task_id(task_id)
        figures = None if actual_io is None else arguments.io_figures("actual_io", actual_io)
        self._project(self._log.complete(task, figures))

    def fail(
        self,
        task_id: UUID | str,
        error: str,
        *,
        permanent: bool = False,
        retry_at: datetime | None = None,
    ) -> None:
        """Fail a running attempt: retried while retries remain, then dead-lettered."""
        task = parse_task_id(task_id)
        text = arguments.text("error", error)
        final = arguments.flag("permanent", permanent)
        when = None if retry_at is None else arguments.moment("retry_at", retry_at)
        self._project(self._log.fail(task, text, permanent=final, retry_at=when))

    def cancel(self, task_id: UUID | str, *, reason: str | None = None) -> None:
        """Cancel an unfinished task and every unfinished task it spawned. A running executor
        sees it: async ones are cancelled, sync ones find `ctx.cancelled` set."""
        task = parse_task_id(task_id)
        why = arguments.optional_text("reason", reason)
        self._project(self._log.cancel(task, why))
        self._dispatcher.wake()

    def cancel_where(self, query: TaskQuery, *, reason: str | None = None) -> int:
        """Cancel every unfinished task the query matches (with their children); returns how
        many of the matches this call cancelled (also those cancelled with a matching parent).
        `TaskQuery()` matches every task; None is refused, not taken to mean that."""
        task_filter = _query(query).to_filter()
        reason = arguments.optional_text("reason", reason)
        matches = {r.id for r in self._select(task_filter) if not r.status.is_terminal}
        cancelled: set[UUID] = set()
        for task_id in sorted(matches, key=str):
            if task_id in cancelled:
                continue
            try:
                recordings = self._log.cancel(task_id, reason)
            except IllegalTransition:
                continue  # ended meanwhile
            self._project(recordings)
            cancelled.update(
                r.domain_event.originator_id
                for r in recordings
                if isinstance(r.domain_event, TaskCancelled)
            )
        self._dispatcher.wake()
        return len(matches & cancelled)

    def unblock(self, task_id: UUID | str) -> None:
        """Make a blocked task pending (its `run_after` time has come)."""
        self._project(self._log.unblock(parse_task_id(task_id)))

    def expire(self, task_id: UUID | str) -> None:
        """Mark an unfinished task expired (its TTL ran out)."""
        self._project(self._log.expire(parse_task_id(task_id)))

    def requeue(self, task_id: UUID | str, *, reason: str) -> None:
        """Put a running task back to pending without counting the attempt."""
        task = parse_task_id(task_id)
        self._project(self._log.requeue(task, arguments.text("reason", reason)))

    # -- queries (read the operational view, caught up first) ----------------------------------

    def query_tasks(self, query: TaskQuery | None = None) -> list[TaskRecord]:
        """Full records of the matching tasks, by priority then submission."""
        return self._select(_query(query, optional=True).to_filter())

    def query_task_ids(self, query: TaskQuery | None = None) -> list[UUID]:
        """Only the ids of the matching tasks, in `query_tasks` order (no records built)."""
        return self._select_ids(_query(query, optional=True).to_filter())

    def task(self, task_id: UUID | str) -> TaskRecord | None:
        found = self._select(TaskFilter(task_ids=(str(parse_task_id(task_id)),)))
        return found[0] if found else None

    def count_by_tag(
        self, key: str, *, status: TaskStatus | str | None = None
    ) -> list[tuple[str, int]]:
        """(value, number of tasks) for every value of the tag, largest first."""
        wanted = None if status is None else TaskStatus.parse(status).value
        self.catch_up()
        with self._view.reading() as connection:
            return queries.count_by_tag(connection, key, wanted)

    def aggregate_tasks(
        self, aggregate: TaskAggregate, *, max_staleness: timedelta | None = None
    ) -> list[AggregateRow]:
        """Group, filter and sum tasks in the analytical (DuckDB) view: largest count first.
        Caught up to the log first, unless it was caught up within `max_staleness`."""
        if not isinstance(aggregate, TaskAggregate):
            raise InvalidQuery(f"aggregate: expected a TaskAggregate, got {aggregate!r}")
        spec = aggregate.to_spec()
        result = self._analytics.read(
            self._source,
            lambda connection, columns: run_aggregate(connection, spec, columns),
            arguments.staleness(max_staleness),
        )
        return aggregate_rows(result)

    def tag_values(self, key: str) -> list[str]:
        """Every value the tag has on any task, sorted."""
        self.catch_up()
        with self._view.reading() as connection:
            return queries.tag_values(connection, key)

    def tag_keys(self, prefix: str = "") -> list[str]:
        """Every tag key in use (system `taskmill.*` ones included) starting with `prefix`."""
        self.catch_up()
        with self._view.reading() as connection:
            return queries.tag_keys(connection, prefix)

    def status_counts(self) -> dict[TaskStatus, int]:
        """Number of tasks in each status (statuses with none are left out)."""
        self.catch_up()
        with self._view.reading() as connection:
            counts = queries.status_counts(connection)
        return {TaskStatus(s): n for s, n in counts.items()}

    def history(self, task_id: UUID | str) -> list[HistoryEntry]:
        """Every event of the task, in order, read from the log itself (the audit trail)."""
        events = self._log.task_events(parse_task_id(task_id))
        return [
            HistoryEntry(
                version=e.originator_version,
                event=type(e).__name__,
                timestamp=e.timestamp,
                data=e.model_dump(mode="json", exclude=_AUDIT_SKIP),
            )
            for e in events
        ]

    # -- views ---------------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply any events the log has beyond the view; returns the view's position."""
        return self._view.catch_up(self._source)

    def rebuild_views(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        views: Iterable[str] = VIEWS,
    ) -> int:
        """Replay the whole log into fresh views (`operational`, `analytical`, or both, the
        default) and swap them in; returns the number of events replayed into each.
        `progress(position, head)` is called after every page of each view."""
        chosen = list(dict.fromkeys(views if not isinstance(views, str) else [views]))
        unknown = [v for v in chosen if v not in VIEWS]
        if unknown or not chosen:
            raise InvalidQuery(f"views: expected some of {', '.join(VIEWS)}, got {chosen!r}")
        replayed = 0
        if "operational" in chosen:
            replayed = self._view.rebuild(self._source, progress)
        if "analytical" in chosen:
            replayed = self._analytics.rebuild(self._source, progress)
        return replayed

    def catch_up_analytics(self) -> int:
        """Apply any events the log has beyond the analytical view; returns its position."""
        return self._analytics.catch_up(self._source)

    @property
    def log_position(self) -> int:
        return self._source.head()

    @property
    def view_position(self) -> int:
        """The last log position the operational view's file holds. Commands leave their
        events for the next read to apply, so it may trail `log_position` until then."""
        return self._view.position()

    @property
    def view_path(self) -> Path:
        return self._view.path

    # -- internals -----------------------------------------------------------------------------

    def _select(self, task_filter: TaskFilter) -> list[TaskRecord]:
        self.catch_up()
        with self._view.reading() as connection:
            rows = queries.select_tasks(connection, task_filter)
        return [TaskRecord.from_columns(row) for row in rows]

    def _select_ids(self, task_filter: TaskFilter) -> list[UUID]:
        self.catch_up()
        with self._view.reading() as connection:
            return [trusted_uuid(i) for i in queries.select_task_ids(connection, task_filter)]

    def _project(self, recordings: Sequence[Recording[Any]]) -> None:
        """Hand the events just saved to the view, which applies them with the next read."""
        events = [(r.notification.id, r.domain_event) for r in recordings]
        self._view.defer(events, self._source)

    # -- events and snapshots ------------------------------------------------------------------

    def events(
        self,
        from_position: int | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        types: Iterable[str] | None = None,
    ) -> Iterator[SchedulerEvent]:
        """The log's task events after `from_position` (None: from the start) up to the log's
        head at the time of the call, as `SchedulerEvent`s carrying the task's type and tags.
        Only events of tasks with every one of `tags`, and of the `types` named (e.g.
        `"TaskFailed"`), if given. Resume by passing the last `position` you saw. Live
        progress is not in the log, so not here: see `aevents`."""
        reader = FeedReader(self._source, self._task_identities, FeedFilter.of(tags, types))
        return reader.read_until(self._feed_position(from_position), self._source.head())

    async def aevents(
        self,
        from_position: int | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        types: Iterable[str] | None = None,
        follow: bool = True,
        poll_seconds: float = 0.1,
    ) -> AsyncGenerator[SchedulerEvent, None]:
        """Like `events`, then (with `follow`) keeps going: new events are yielded as they are
        appended, by any process (the log is polled every `poll_seconds`), together with the
        live `TaskProgress` of executors running in this process (latest per task; never
        logged, so never replayed; a new subscriber also gets the last report of each task
        running here). Without `follow`, stops at the head like `events`. Close it when done
        early (`async with contextlib.aclosing(scheduler.aevents()) as feed:`)."""
        feed_filter = FeedFilter.of(tags, types)
        position = self._feed_position(from_position)
        poll_seconds = arguments.seconds("poll_seconds", poll_seconds, InvalidQuery)
        reader = FeedReader(self._source, self._task_identities, feed_filter)
        if not follow:
            for event in reader.read_until(position, self._source.head()):
                yield event
            return
        running = [job.context for job in list(self._dispatcher.running.values())]
        async with contextlib.aclosing(
            follow_feed(
                reader,
                self._source,
                position,
                feed_filter,
                listeners=self._progress_listeners,
                running=running,
                to_progress=self._progress_event,
                poll_seconds=poll_seconds,
            )
        ) as live:
            async for event in live:
                yield event

    def snapshot(self) -> SchedulerSnapshot:
        """The scheduler's state now (the view caught up first): counts per status, running
        tasks (with the progress of those running in this process), groups against their
        limits, and `stats_by_tag(key)`, all as of one log position. The snapshot holds a read
        of the view until closed (`with scheduler.snapshot() as snap:`) or garbage-collected."""
        self.catch_up()
        with self._view.reading():
            read = ViewRead(self._view.path)
        local = {
            task_id: job.context.progress_state
            for task_id, job in list(self._dispatcher.running.items())
            if not job.finalizer
        }
        try:
            return take_snapshot(
                read,
                application_name=self._log.name,
                taken_at=self._log.now(),
                local_progress=local,
                group_limit=self.group_limit,
                history=self._stats_by_tag_as_of,
            )
        except BaseException:
            read.close()
            raise

    def _stats_by_tag_as_of(self, key: str, moment: datetime) -> TagStatsView:
        rows = self.aggregate_tasks(
            TaskAggregate().group_by_tag(key).group_by_status().as_of(moment)
        )
        return TagStatsView.from_counts(
            key,
            [
                (str(row.group[key]), row.status.value, row.count)
                for row in rows
                if row.group[key] is not None and row.status is not None
            ],
        )

    @staticmethod
    def _feed_position(from_position: int | None) -> int:
        if from_position is None:
            return 0
        if (
            isinstance(from_position, bool)
            or not isinstance(from_position, int)
            or from_position < 0
        ):
            raise InvalidQuery(
                f"from_position: must be a log position (an integer >= 0), got {from_position!r}"
            )
        return from_position

    def _progress_event(self, context: TaskContext) -> TaskProgress:
        task, state = context.task, context.progress_state
        return progress_event(
            task_id=task.id,
            task_type=task.task_type,
            tags=task.tags,
            timestamp=self._log.now(),
            attempt=task.attempts,
            worker_id=task.worker_id,
            fraction=state.fraction,
            message=state.message,
        )

    def _task_identities(self, task_ids: Sequence[UUID]) -> dict[UUID, TaskIdentity]:
        """Type and tags of tasks the feed met without their submission: from the view (one
        query), else from the task's own stream in the log."""
        self.catch_up()
        with self._view.reading() as connection:
            rows = queries.tags_of_tasks(connection, [str(i) for i in task_ids])
        found = {UUID(i): TaskIdentity.from_tags(tags) for i, tags in rows.items()}
        for task_id in task_ids:
            if task_id not in found:
                with contextlib.suppress(TaskNotFound):
                    submitted = self._log.task_events(task_id)[0]
                    if isinstance(submitted, DomainTaskSubmitted):
                        found[task_id] = TaskIdentity(submitted.task_type, dict(submitted.tags))
        return found


def _requeue_from(worker: str) -> Callable[[Task, datetime], None]:
    """The command that puts a task back to pending if `worker` (a dead one) still runs it."""
    return lambda task, now: task.requeue(now=now, reason="worker died", held_by=worker)


def _query(value: object, *, optional: bool = False) -> TaskQuery:
    if value is None and optional:
        return TaskQuery()
    if not isinstance(value, TaskQuery):
        raise InvalidQuery(f"query: expected a TaskQuery, got {value!r}")
    return value
