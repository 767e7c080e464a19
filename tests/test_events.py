"""The event feed through the public API: `Scheduler.events()` and `Scheduler.aevents()`.

Every event carries the task's id, type, all its tags, its time and log position; filters by
tags and types; resuming from a position; tags of tasks submitted before the start position;
children's inherited tags; live follow; live progress, which never reaches the durable log."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from taskmill import InvalidQuery, Scheduler, TaskSubmission
from taskmill.domain import task_events as ev
from taskmill.feed import EVENT_TYPES, SchedulerEvent, TaskProgress, parse_event
from taskmill.feed import models as m
from taskmill.feed.reader import FeedFilter, FeedReader, TaskIdentity, progress_event
from taskmill.projections.operational import queries
from taskmill.runtime.context import TaskContext

DURABLE_TYPES = EVENT_TYPES - {"TaskProgress"}
LOG_NAME = {"TaskWaiting": "TaskAwaitingChildren"}
"""Feed event types whose log event is named differently."""
NOT_IN_FEED = {"TaskLeaseRenewed", "ChildFinished"}
"""Task events of the log the feed leaves out (heartbeats; the child's own end says it)."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


def every_lifecycle(scheduler: Scheduler, clock: Any) -> dict[str, UUID]:
    """Walk tasks through every transition by hand; returns their ids by name."""
    ids: dict[str, UUID] = {}

    def add(name: str, task_type: str = "job", **kwargs: Any) -> UUID:
        submission = TaskSubmission(task_type, **kwargs).tag("name", name).tag("profile", "dr")
        ids[name] = scheduler.submit(submission).task_id
        return ids[name]

    clock.advance()
    done = add("done", group="g1")
    scheduler.start(done, worker_id="w1")
    scheduler.complete(done, actual_io={"read_bytes": 10})

    retried = add("retried", max_retries=1)
    scheduler.start(retried)
    scheduler.fail(retried, "flaky")  # retrying, pending again
    scheduler.start(retried)
    scheduler.fail(retried, "flaky again")  # dead letter

    permanent = add("permanent")
    scheduler.start(permanent)
    scheduler.fail(permanent, "bad input", permanent=True)

    requeued = add("requeued")
    scheduler.start(requeued)
    scheduler.requeue(requeued, reason="worker died")
    scheduler.cancel(requeued, reason="not needed")

    later = add("later", run_after=clock.now + timedelta(hours=1))
    scheduler.unblock(later)
    scheduler.expire(later)

    parent = add("parent", task_type="parent")
    scheduler.start(parent)
    child = scheduler.submit(TaskSubmission("part", parent=parent).tag("part", "1")).task_id
    ids["child"] = child
    scheduler.complete(parent)  # waits for its child
    scheduler.start(child)
    clock.advance()
    scheduler.complete(child)  # the parent is finalised with it
    return ids


def test_every_lifecycle_event_carries_task_id_type_tags_time_and_position(
    scheduler: Scheduler, clock: Any
) -> None:
    ids = every_lifecycle(scheduler, clock)

    events = list(scheduler.events())

    assert {e.type for e in events} == DURABLE_TYPES
    positions = [e.position or 0 for e in events]
    assert all(isinstance(e.position, int) and e.position > 0 for e in events)
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert max(positions) <= scheduler.log_position
    for event in events:
        record = scheduler.task(event.task_id)
        assert record is not None
        assert event.task_type == record.task_type
        assert event.tags == dict(record.tags)  # all of them, system tags included
        assert event.tags["taskmill.type"] == record.task_type
        assert event.timestamp.tzinfo is not None
    # One feed event for each of the task's log events (but heartbeats and ChildFinished).
    for task_id in ids.values():
        logged = [h.event for h in scheduler.history(task_id) if h.event not in NOT_IN_FEED]
        fed = [LOG_NAME.get(e.type, e.type) for e in events if e.task_id == task_id]
        assert fed == logged
        stamps = [h.timestamp for h in scheduler.history(task_id) if h.event not in NOT_IN_FEED]
        assert [e.timestamp for e in events if e.task_id == task_id] == stamps


def test_event_specific_fields(scheduler: Scheduler, clock: Any) -> None:
    ids = every_lifecycle(scheduler, clock)
    by_type: dict[str, list[SchedulerEvent]] = {}
    for event in scheduler.events():
        by_type.setdefault(event.type, []).append(event)

    started = [e for e in by_type["TaskStarted"] if e.task_id == ids["retried"]]
    assert [e.attempt for e in started if isinstance(e, m.TaskStarted)] == [1, 2]
    done = next(e for e in by_type["TaskStarted"] if e.task_id == ids["done"])
    assert isinstance(done, m.TaskStarted) and done.worker_id == "w1"
    (retrying,) = by_type["TaskRetrying"]
    assert isinstance(retrying, m.TaskRetrying)
    assert (retrying.error, retrying.status.value) == ("flaky", "pending")
    (dead,) = by_type["TaskDeadLettered"]
    assert isinstance(dead, m.TaskDeadLettered) and dead.error == "flaky again"
    (failed,) = by_type["TaskFailed"]
    assert isinstance(failed, m.TaskFailed) and failed.error == "bad input"
    (requeued,) = by_type["TaskRequeued"]
    assert isinstance(requeued, m.TaskRequeued) and requeued.reason == "worker died"
    (cancelled,) = by_type["TaskCancelled"]
    assert isinstance(cancelled, m.TaskCancelled) and cancelled.reason == "not needed"
    completed = next(e for e in by_type["TaskCompleted"] if e.task_id == ids["done"])
    assert isinstance(completed, m.TaskCompleted) and completed.actual_io.read_bytes == 10
    (spawned,) = by_type["ChildSpawned"]
    assert isinstance(spawned, m.ChildSpawned)
    assert (spawned.task_id, spawned.child_id) == (ids["parent"], ids["child"])
    (finalized,) = by_type["TaskFinalized"]
    assert isinstance(finalized, m.TaskFinalized)
    assert (finalized.task_id, finalized.status.value) == (ids["parent"], "completed")
    later = next(e for e in by_type["TaskSubmitted"] if e.task_id == ids["later"])
    assert isinstance(later, m.TaskSubmitted) and later.status.value == "blocked"
    child = next(e for e in by_type["TaskSubmitted"] if e.task_id == ids["child"])
    assert isinstance(child, m.TaskSubmitted) and child.parent_id == ids["parent"]
    grouped = next(e for e in by_type["TaskSubmitted"] if e.task_id == ids["done"])
    assert isinstance(grouped, m.TaskSubmitted) and grouped.group == "g1"


def test_events_round_trip_through_json(scheduler: Scheduler, clock: Any) -> None:
    every_lifecycle(scheduler, clock)
    for event in scheduler.events():
        assert parse_event(event.model_dump_json()) == event
        assert parse_event(event.model_dump(mode="json")) == event


def test_the_feed_skips_claims_group_slots_and_heartbeats(scheduler: Scheduler, clock: Any) -> None:
    scheduler.set_group_limit("g1", 1)
    task_id = scheduler.submit(TaskSubmission("job", group="g1", dedup_key="k")).task_id
    scheduler.start(task_id, worker_id="w1", lease_expires_at=clock.now)
    scheduler.complete(task_id)

    assert [e.type for e in scheduler.events()] == [
        "TaskSubmitted",
        "TaskStarted",
        "TaskCompleted",
    ]


# -- filters -----------------------------------------------------------------------------------


def test_filter_by_tags_is_an_and_of_every_tag(scheduler: Scheduler) -> None:
    plan = {"a": ("dr", "eu"), "b": ("dr", "us"), "c": ("prod", "eu")}
    ids = {
        name: scheduler.submit(
            TaskSubmission("job").tag("profile", profile).tag("region", region)
        ).task_id
        for name, (profile, region) in plan.items()
    }
    for task_id in ids.values():
        scheduler.start(task_id)

    dr = list(scheduler.events(tags={"profile": "dr"}))
    assert {e.task_id for e in dr} == {ids["a"], ids["b"]}
    assert len(dr) == 4
    both = list(scheduler.events(tags={"profile": "dr", "region": "eu"}))
    assert {e.task_id for e in both} == {ids["a"]} and len(both) == 2
    assert list(scheduler.events(tags={"profile": "dr", "region": "asia"})) == []
    by_type_tag = list(scheduler.events(tags={"taskmill.type": "job"}))
    assert len(by_type_tag) == 6


def test_filter_by_types_and_by_both(scheduler: Scheduler) -> None:
    first = scheduler.submit(TaskSubmission("job").tag("profile", "dr")).task_id
    second = scheduler.submit(TaskSubmission("job").tag("profile", "prod")).task_id
    for task_id in (first, second):
        scheduler.start(task_id)
    scheduler.fail(first, "boom", permanent=True)
    scheduler.complete(second)

    ended = list(scheduler.events(types=["TaskFailed", "TaskCompleted"]))
    assert [(e.type, e.task_id) for e in ended] == [
        ("TaskFailed", first),
        ("TaskCompleted", second),
    ]
    assert [e.type for e in scheduler.events(types="TaskStarted")] == ["TaskStarted"] * 2
    assert [
        e.task_id for e in scheduler.events(types={"TaskCompleted"}, tags={"profile": "dr"})
    ] == []
    assert list(scheduler.events(types=[])) == []


def test_bad_arguments_raise_invalid_query(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidQuery, match="TaskStrated"):
        scheduler.events(types=["TaskStrated"])
    with pytest.raises(InvalidQuery, match="TaskAwaitingChildren"):
        scheduler.events(types=["TaskAwaitingChildren"])  # the feed calls it TaskWaiting
    with pytest.raises(InvalidQuery, match="from_position"):
        scheduler.events(-1)
    with pytest.raises(InvalidQuery, match="from_position"):
        scheduler.events("3")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery, match="tags"):
        scheduler.events(tags={"profile": 1})  # type: ignore[dict-item]


# -- positions and resuming --------------------------------------------------------------------


def _submit_and_run(scheduler: Scheduler, count: int, **tags: str) -> list[UUID]:
    ids = []
    for n in range(count):
        submission = TaskSubmission("job").tag("n", str(n))
        for key, value in tags.items():
            submission.tag(key, value)
        ids.append(scheduler.submit(submission).task_id)
    for task_id in ids:
        scheduler.start(task_id)
        scheduler.complete(task_id)
    return ids


@pytest.mark.parametrize("chunk", [1, 2, 7, 1000])
def test_resuming_from_the_last_position_loses_nothing_and_repeats_nothing(
    scheduler: Scheduler, chunk: int
) -> None:
    _submit_and_run(scheduler, 5, profile="dr")
    _submit_and_run(scheduler, 3, profile="prod")
    whole = list(scheduler.events())
    assert len(whole) == 24

    filter_sets: list[dict[str, Any]] = [
        {},
        {"tags": {"profile": "prod"}},
        {"types": ["TaskCompleted"]},
    ]
    for filters in filter_sets:
        expected = list(scheduler.events(**filters))
        seen: list[SchedulerEvent] = []
        position: int | None = None
        while True:
            batch = []
            for event in scheduler.events(position, **filters):
                batch.append(event)
                if len(batch) == chunk:
                    break  # a consumer that stops early, then resumes
            if not batch:
                break
            seen += batch
            position = batch[-1].position
        assert seen == expected


def test_from_position_yields_only_later_events(scheduler: Scheduler) -> None:
    _submit_and_run(scheduler, 2)
    head = scheduler.log_position
    assert list(scheduler.events(head)) == []
    assert list(scheduler.events(from_position=0)) == list(scheduler.events())

    later = _submit_and_run(scheduler, 1)
    assert [(e.type, e.task_id) for e in scheduler.events(head)] == [
        ("TaskSubmitted", later[0]),
        ("TaskStarted", later[0]),
        ("TaskCompleted", later[0]),
    ]


def test_events_stop_at_the_head_as_of_the_call(scheduler: Scheduler) -> None:
    _submit_and_run(scheduler, 2)
    feed = scheduler.events()
    _submit_and_run(scheduler, 2)  # appended after the call
    assert len(list(feed)) == 6


def test_a_restarted_consumer_in_another_process_resumes_where_it_stopped(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    writer = open_scheduler()
    _submit_and_run(writer, 3, profile="dr")
    first = open_scheduler()
    seen = list(first.events(tags={"profile": "dr"}))
    first.close()

    _submit_and_run(writer, 2, profile="dr")
    restarted = open_scheduler()
    seen += restarted.events(seen[-1].position, tags={"profile": "dr"})

    assert seen == list(writer.events(tags={"profile": "dr"}))
    assert len(seen) == 15


def test_tags_of_tasks_submitted_before_the_start_position_are_filled(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    writer = open_scheduler()
    ids = [
        writer.submit(TaskSubmission("job").tag("profile", "dr").tag("n", str(n))).task_id
        for n in range(3)
    ]
    after_submissions = writer.log_position
    for task_id in ids:
        writer.start(task_id)

    reader = open_scheduler()  # a fresh process: it never saw the submissions
    events = list(reader.events(after_submissions))

    assert [e.type for e in events] == ["TaskStarted"] * 3
    for n, event in enumerate(events):
        assert event.task_type == "job"
        assert event.tags == {"profile": "dr", "n": str(n), "taskmill.type": "job"}
    assert [e.task_id for e in reader.events(after_submissions, tags={"n": "1"})] == [ids[1]]


def test_tags_are_looked_up_in_bulk_one_query_per_page(
    scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [scheduler.submit(TaskSubmission("job").tag("n", str(n))).task_id for n in range(40)]
    after_submissions = scheduler.log_position
    for task_id in ids:
        scheduler.start(task_id)
        scheduler.complete(task_id)
    calls: list[int] = []
    original = queries.tags_of_tasks

    def counting(connection: Any, task_ids: Any) -> dict[str, dict[str, str]]:
        calls.append(len(task_ids))
        return original(connection, task_ids)

    monkeypatch.setattr(queries, "tags_of_tasks", counting)
    events = list(scheduler.events(after_submissions))

    assert len(events) == 80
    assert calls == [40]  # one page, one query for the 40 tasks, none for their later events
    assert {e.tags["n"] for e in events} == {str(n) for n in range(40)}


def test_children_events_carry_their_inherited_tags(scheduler: Scheduler) -> None:
    parent = scheduler.submit(
        TaskSubmission("transfer").tag("profile", "dr").tag("endpoint", "s3://a")
    ).task_id
    scheduler.start(parent)
    child = scheduler.submit(
        TaskSubmission("upload-part", parent=parent).tag("part", "3").tag("endpoint", "s3://b")
    ).task_id
    position = scheduler.log_position
    scheduler.start(child)
    scheduler.complete(child)

    expected = {
        "profile": "dr",
        "endpoint": "s3://b",
        "part": "3",
        "taskmill.type": "upload-part",
    }
    child_events = [e for e in scheduler.events() if e.task_id == child]
    assert [e.type for e in child_events] == ["TaskSubmitted", "TaskStarted", "TaskCompleted"]
    assert all(e.tags == expected for e in child_events)
    # Also when the feed starts after the child's submission.
    assert [e.tags for e in scheduler.events(position)] == [expected, expected]
    # A tag filter finds the parent's and the child's events alike.
    dr = list(scheduler.events(tags={"profile": "dr"}))
    assert {e.task_id for e in dr} == {parent, child}


# -- live follow -------------------------------------------------------------------------------


async def _collect(
    feed: Any, until: Callable[[list[SchedulerEvent]], bool], seconds: float = 10.0
) -> list[SchedulerEvent]:
    seen: list[SchedulerEvent] = []

    async def consume() -> None:
        async with contextlib.aclosing(feed):
            async for event in feed:
                seen.append(event)
                if until(seen):
                    return

    await asyncio.wait_for(consume(), seconds)
    return seen


def test_aevents_follow_sees_events_appended_after_it_started(scheduler: Scheduler) -> None:
    before = _submit_and_run(scheduler, 1, profile="dr")

    async def main() -> list[SchedulerEvent]:
        feed = scheduler.aevents(tags={"profile": "dr"}, poll_seconds=0.01)
        collecting = asyncio.ensure_future(
            _collect(feed, lambda seen: sum(e.type == "TaskCompleted" for e in seen) == 3)
        )
        await asyncio.sleep(0.05)  # the follower has caught up and is waiting
        _submit_and_run(scheduler, 1, profile="prod")
        _submit_and_run(scheduler, 2, profile="dr")
        return await collecting

    seen = asyncio.run(main())

    assert [e.type for e in seen] == ["TaskSubmitted", "TaskStarted", "TaskCompleted"] * 1 + [
        "TaskSubmitted",
        "TaskSubmitted",
        "TaskStarted",
        "TaskCompleted",
        "TaskStarted",
        "TaskCompleted",
    ]
    assert seen[0].task_id == before[0]
    assert all(e.tags["profile"] == "dr" for e in seen)
    assert seen == list(scheduler.events(tags={"profile": "dr"}))


def test_aevents_follow_sees_other_processes_and_resumes_from_a_position(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    follower, writer = open_scheduler(), open_scheduler()
    _submit_and_run(writer, 2)
    start = writer.log_position

    async def main() -> list[SchedulerEvent]:
        feed = follower.aevents(start, poll_seconds=0.01)
        collecting = asyncio.ensure_future(_collect(feed, lambda seen: len(seen) == 3))
        await asyncio.sleep(0.05)
        _submit_and_run(writer, 1)
        return await collecting

    seen = asyncio.run(main())
    assert seen == list(writer.events(start))
    assert all(e.position is not None and e.position > start for e in seen)


def test_aevents_without_follow_stops_at_the_head(scheduler: Scheduler) -> None:
    _submit_and_run(scheduler, 2)

    async def main() -> list[SchedulerEvent]:
        return [e async for e in scheduler.aevents(follow=False, types=["TaskCompleted"])]

    assert asyncio.run(main()) == list(scheduler.events(types=["TaskCompleted"]))


def test_aevents_checks_its_arguments(scheduler: Scheduler) -> None:
    async def first(**kwargs: Any) -> Any:
        return [e async for e in scheduler.aevents(follow=False, **kwargs)]

    with pytest.raises(InvalidQuery, match="types"):
        asyncio.run(first(types=["Nope"]))
    with pytest.raises(InvalidQuery, match="poll_seconds"):
        asyncio.run(first(poll_seconds=0))


# -- live progress -----------------------------------------------------------------------------


@pytest.fixture
def live(open_scheduler: Callable[..., Scheduler]) -> Scheduler:
    """A scheduler on the wall clock that polls often, for the dispatch loop."""
    return open_scheduler(clock=wall_clock, poll_seconds=0.01, max_concurrency=4)


def test_aevents_delivers_live_progress_from_executors_in_this_process(live: Scheduler) -> None:
    release = threading.Event()

    @live.executor("transfer")
    def transfer(ctx: TaskContext) -> None:
        ctx.progress(0.5, "uploading part 3/6")
        release.wait(10)

    task_id = live.submit(TaskSubmission("transfer").tag("profile", "dr")).task_id
    live.submit(TaskSubmission("transfer").tag("profile", "prod"))

    async def main() -> list[SchedulerEvent]:
        stop = asyncio.Event()
        running = asyncio.ensure_future(live.run(stop))
        feed = live.aevents(tags={"profile": "dr"}, poll_seconds=0.01)

        def until(seen: list[SchedulerEvent]) -> bool:
            if any(isinstance(e, TaskProgress) for e in seen):
                release.set()
            return any(e.type == "TaskCompleted" for e in seen)

        try:
            return await _collect(feed, until)
        finally:
            release.set()
            stop.set()
            await running

    seen = asyncio.run(main())

    progress = [e for e in seen if isinstance(e, TaskProgress)]
    assert len(progress) == 1
    (report,) = progress
    assert report.position is None
    assert (report.task_id, report.task_type) == (task_id, "transfer")
    assert report.tags == {"profile": "dr", "taskmill.type": "transfer"}
    assert (report.fraction, report.message, report.attempt) == (0.5, "uploading part 3/6", 1)
    assert report.worker_id == live.worker_id
    types = [e.type for e in seen]
    assert types.index("TaskStarted") < types.index("TaskProgress") < types.index("TaskCompleted")
    assert all(e.task_id == task_id for e in seen)  # the tag filter applies to progress too


def test_progress_is_not_in_the_durable_log(live: Scheduler) -> None:
    reported = threading.Event()
    release = threading.Event()

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        for step in range(1, 11):
            ctx.progress(step / 10, f"step {step}")
        reported.set()
        release.wait(10)

    task_id = live.submit(TaskSubmission("job")).task_id
    thread = threading.Thread(target=live.run_until_idle, daemon=True)
    thread.start()
    assert reported.wait(10)
    position_while_running = live.log_position
    release.set()
    thread.join(10)
    assert not thread.is_alive()

    history = [entry.event for entry in live.history(task_id)]
    assert history == ["TaskSubmitted", "TaskStarted", "TaskCompleted"]
    assert not any("Progress" in name for name in history)
    assert "TaskProgress" not in {e.type for e in live.events()}
    # Ten progress reports wrote nothing: only the completion came after them.
    assert live.log_position == position_while_running + 1


def test_progress_of_a_slow_consumer_is_the_latest_per_task(live: Scheduler) -> None:
    """Reports made while the consumer is busy are coalesced: it gets each task's latest."""
    reported = threading.Event()
    release = threading.Event()

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        reported.wait(10)
        for step in range(1, 6):
            ctx.progress(step / 5)
        release.wait(10)

    async def main() -> list[SchedulerEvent]:
        stop = asyncio.Event()
        running = asyncio.ensure_future(live.run(stop))
        feed = live.aevents(poll_seconds=0.01)
        seen: list[SchedulerEvent] = []
        try:
            async with contextlib.aclosing(feed):
                async for event in feed:
                    seen.append(event)
                    if event.type == "TaskStarted":
                        reported.set()
                        await asyncio.sleep(0.3)  # busy while all five reports are made
                    if isinstance(event, TaskProgress):
                        release.set()
                    if event.type == "TaskCompleted":
                        return seen
        finally:
            release.set()
            stop.set()
            await running
        return seen

    live.submit(TaskSubmission("job"))
    events = asyncio.run(asyncio.wait_for(main(), 15))
    progress = [e for e in events if isinstance(e, TaskProgress)]
    assert [p.fraction for p in progress] == [1.0]


def test_a_new_subscriber_gets_the_last_progress_of_tasks_running_here(live: Scheduler) -> None:
    reported = threading.Event()
    release = threading.Event()

    @live.executor("job")
    def job(ctx: TaskContext) -> None:
        ctx.progress(0.2, "first")
        ctx.progress(0.4, "second")
        reported.set()
        release.wait(10)

    task_id = live.submit(TaskSubmission("job").tag("profile", "dr")).task_id

    async def main() -> list[SchedulerEvent]:
        stop = asyncio.Event()
        running = asyncio.ensure_future(live.run(stop))
        try:
            while not reported.is_set():
                await asyncio.sleep(0.01)
            # Subscribes after both reports, and only to progress.
            feed = live.aevents(live.log_position, types=["TaskProgress"], poll_seconds=0.01)
            return await _collect(feed, lambda seen: len(seen) == 1)
        finally:
            release.set()
            stop.set()
            await running

    (report,) = asyncio.run(main())
    assert isinstance(report, TaskProgress)
    assert (report.task_id, report.fraction, report.message) == (task_id, 0.4, "second")


class _ListSource:
    """An event source over a fixed list of (position, log event)."""

    name = "test"

    def __init__(self, events: list[tuple[int, Any]]):
        self.events = events

    def head(self) -> int:
        return self.events[-1][0] if self.events else 0

    def read(self, after: int, limit: int) -> list[tuple[int, Any]]:
        return [(p, e) for p, e in self.events if p > after][:limit]


FEED_TASK = UUID(int=1)
FEED_NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _logged(kind: Any, version: int, **fields: Any) -> Any:
    """An event of the one task these feed tests follow."""
    return kind.trusted(
        originator_id=FEED_TASK, originator_version=version, timestamp=FEED_NOW, **fields
    )


def _report(fraction: float) -> TaskProgress:
    return progress_event(
        task_id=FEED_TASK, task_type="job", tags={"taskmill.type": "job"}, timestamp=FEED_NOW,
        attempt=1, worker_id=None, fraction=fraction, message=None,
    )  # fmt: skip


def _progress_reader(source: _ListSource) -> FeedReader:
    identity = TaskIdentity("job", {"taskmill.type": "job"})
    return FeedReader(
        source, lambda ids: dict.fromkeys(ids, identity), FeedFilter.of(types=["TaskProgress"])
    )


def test_progress_that_raced_the_end_of_its_attempt_is_dropped() -> None:
    source = _ListSource([(1, _logged(ev.TaskStarted, 2, attempt=1))])
    reader = _progress_reader(source)

    assert reader.read_page(0) == (1, [])  # the filter leaves the start out, but notes it
    assert reader.fresh_progress([_report(0.5)]) == [_report(0.5)]
    source.events.append(
        (2, _logged(ev.TaskRetrying, 3, error="x", retry_at=None, status="pending"))
    )
    reader.read_page(1)
    assert reader.fresh_progress([_report(0.9)]) == []  # stale: its attempt ended
    source.events.append((3, _logged(ev.TaskStarted, 4, attempt=2)))
    reader.read_page(2)
    assert reader.fresh_progress([_report(0.1)]) == [_report(0.1)]


def test_progress_after_a_parent_starts_waiting_is_dropped_until_its_finalizer_runs() -> None:
    """The executor of a parent returned (TaskAwaitingChildren): a report of that run that
    raced it is stale; the finalizer's own run (TaskFinalizerStarted) reports afresh."""
    source = _ListSource([(1, _logged(ev.TaskStarted, 2, attempt=1))])
    reader = _progress_reader(source)
    reader.read_page(0)
    source.events.append((2, _logged(ev.TaskAwaitingChildren, 3)))
    reader.read_page(1)

    assert reader.fresh_progress([_report(0.9)]) == []  # its run ended
    source.events.append(
        (3, _logged(ev.TaskFinalizerStarted, 4, worker_id="w", lease_expires_at=FEED_NOW))
    )
    reader.read_page(2)
    assert reader.fresh_progress([_report(0.2)]) == [_report(0.2)]
