"""The analytical (DuckDB) view through the public API: `aggregate_tasks`, `TaskAggregate`,
point-in-time answers, `stats_by_tag(as_of=)`, `taskmill.analytics.connect`, rebuilds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from analytics_rows import Rows, dump_connection, dump_store
from conftest import FakeClock

import taskmill.analytics
from taskmill import (
    AggregateRow,
    InvalidQuery,
    InvalidStatus,
    LockTimeout,
    Scheduler,
    StoreNotFound,
    TaskAggregate,
    TaskmillError,
    TaskStatus,
    TaskSubmission,
)
from taskmill.projections.analytical import projector

ENDPOINTS = ("s3://a", "s3://b", "s3://c")
PROFILES = ("dr", "prod")


def transfers(scheduler: Scheduler, n: int = 12) -> list[UUID]:
    """n transfers: endpoint i % 3, profile i % 2, expecting i * 100 bytes out."""
    batch = [
        TaskSubmission(
            "transfer",
            priority=i % 4,
            tags={"dst_endpoint": ENDPOINTS[i % 3], "profile": PROFILES[i % 2]},
            expected_io={"net_tx_bytes": i * 100},
        )
        for i in range(n)
    ]
    return [r.task_id for r in scheduler.submit_batch(batch)]


def by_group(rows: list[AggregateRow]) -> dict[tuple[str | None, ...], AggregateRow]:
    return {tuple(row.group.values()): row for row in rows}


# -- aggregating -------------------------------------------------------------------------------


def test_sum_of_expected_bytes_per_endpoint_of_pending_tasks(scheduler: Scheduler) -> None:
    ids = transfers(scheduler)
    scheduler.start(ids[0])  # endpoint a, no longer pending

    rows = scheduler.aggregate_tasks(
        TaskAggregate()
        .group_by_tag("dst_endpoint")
        .sum("expected_net_tx_bytes")
        .with_status(TaskStatus.PENDING)
    )

    expected = {
        endpoint: [i * 100 for i in range(1, 12) if ENDPOINTS[i % 3] == endpoint]
        for endpoint in ENDPOINTS
    }
    assert {row.group["dst_endpoint"]: row.count for row in rows} == {
        e: len(v) for e, v in expected.items()
    }
    assert {row.group["dst_endpoint"]: row.sum_expected_net_tx_bytes for row in rows} == {
        e: sum(v) for e, v in expected.items()
    }
    assert [row.count for row in rows] == sorted((row.count for row in rows), reverse=True)


def test_several_tags_and_measures_with_tasks_lacking_a_tag(scheduler: Scheduler) -> None:
    ids = transfers(scheduler, 6)
    scheduler.submit(TaskSubmission("cleanup", priority=9))  # no profile, no endpoint
    for task_id, sent in ((ids[0], 10), (ids[2], 30)):
        scheduler.start(task_id)
        scheduler.complete(task_id, actual_io={"net_tx_bytes": sent})

    rows = scheduler.aggregate_tasks(
        TaskAggregate()
        .group_by_tag("profile")
        .group_by_tag("direction")  # no task has it
        .count()
        .max("actual_net_tx_bytes")
        .min("priority")
        .avg("expected_net_tx_bytes")
    )

    groups = by_group(rows)
    assert set(groups) == {("dr", None), ("prod", None), (None, None)}
    dr = groups[("dr", None)]  # tasks 0, 2, 4
    assert (dr.count, dr.max_actual_net_tx_bytes, dr.min_priority) == (3, 30, 0)
    assert dr.avg_expected_net_tx_bytes == pytest.approx(200.0)
    assert groups[(None, None)].count == 1
    assert groups[(None, None)].min_priority == 9
    assert dr.measures == {
        "max_actual_net_tx_bytes": 30,
        "min_priority": 0,
        "avg_expected_net_tx_bytes": pytest.approx(200.0),
    }


def test_group_by_status_and_type(scheduler: Scheduler) -> None:
    ids = transfers(scheduler, 4)
    scheduler.submit(TaskSubmission("cleanup"))
    scheduler.start(ids[0])
    scheduler.cancel(ids[1])

    rows = scheduler.aggregate_tasks(TaskAggregate().group_by_status().group_by_type())

    assert {(row.status, row.task_type): row.count for row in rows} == {
        (TaskStatus.RUNNING, "transfer"): 1,
        (TaskStatus.CANCELLED, "transfer"): 1,
        (TaskStatus.PENDING, "transfer"): 2,
        (TaskStatus.PENDING, "cleanup"): 1,
    }
    assert all(row.group == {} for row in rows)


def test_filters_by_tag_type_status_and_submission_time(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    early = transfers(scheduler, 6)
    start = clock.advance(60)
    late = transfers(scheduler, 6)
    scheduler.submit(TaskSubmission("cleanup", tags={"profile": "dr"}))
    scheduler.start(late[0])

    def count(aggregate: TaskAggregate) -> int:
        rows = scheduler.aggregate_tasks(aggregate)
        return sum(row.count for row in rows)

    assert count(TaskAggregate().with_tag("profile", "dr")) == 7
    assert count(TaskAggregate().with_tag("profile", "dr").with_type("transfer")) == 6
    assert count(TaskAggregate().with_tag("profile", "dr").with_tag("dst_endpoint", "s3://a")) == 2
    assert count(TaskAggregate().with_status("running", TaskStatus.CANCELLED)) == 1
    assert count(TaskAggregate().submitted_between(start)) == 7
    assert count(TaskAggregate().submitted_between(None, start)) == len(early)
    assert count(TaskAggregate().with_tag("profile", "nobody")) == 0


def test_an_aggregate_without_groups_is_one_total_row(scheduler: Scheduler) -> None:
    transfers(scheduler, 5)

    (row,) = scheduler.aggregate_tasks(TaskAggregate().sum("expected_net_tx_bytes"))

    assert (row.group, row.count, row.sum_expected_net_tx_bytes) == ({}, 5, 1000)


def test_durations_and_queue_times_come_from_the_event_times(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    (task_id,) = transfers(scheduler, 1)
    clock.advance(2)
    scheduler.start(task_id)
    clock.advance(5)
    scheduler.complete(task_id)

    (row,) = scheduler.aggregate_tasks(
        TaskAggregate().max("queue_ms").max("duration_ms").max("attempts")
    )

    assert (row.max_queue_ms, row.max_duration_ms, row.max_attempts) == (2000.0, 5000.0, 1)


# -- point in time -------------------------------------------------------------------------------


def test_as_of_gives_the_state_every_task_was_in_then(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    ids = transfers(scheduler, 4)
    scheduler.start(ids[0])
    scheduler.start(ids[1])
    at_1403 = clock.advance(10)
    clock.advance(10)
    scheduler.complete(ids[0], actual_io={"net_tx_bytes": 500})
    scheduler.fail(ids[1], "boom", permanent=True)
    transfers(scheduler, 3)  # submitted after the instant: left out

    then = scheduler.aggregate_tasks(
        TaskAggregate().group_by_status().sum("actual_net_tx_bytes").as_of(at_1403)
    )
    now = scheduler.aggregate_tasks(TaskAggregate().group_by_status().sum("actual_net_tx_bytes"))

    assert {row.status: (row.count, row.sum_actual_net_tx_bytes) for row in then} == {
        TaskStatus.RUNNING: (2, 0),
        TaskStatus.PENDING: (2, 0),
    }
    assert {row.status: (row.count, row.sum_actual_net_tx_bytes) for row in now} == {
        TaskStatus.COMPLETED: (1, 500),
        TaskStatus.FAILED: (1, 0),
        TaskStatus.PENDING: (5, 0),
    }


def test_stats_by_tag_as_of_equals_the_live_snapshot_taken_then(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    ids = transfers(scheduler, 10)
    moments = []
    for step, task_id in enumerate(ids[:6]):
        scheduler.start(task_id)
        if step % 3 == 0:
            scheduler.complete(task_id)
        elif step % 3 == 1:
            scheduler.fail(task_id, "boom")
        with scheduler.snapshot() as snapshot:
            moments.append((clock.now, snapshot.stats_by_tag("profile")))
        clock.advance(1)
    scheduler.cancel(ids[9])

    with scheduler.snapshot() as later:
        for moment, live in moments:
            assert later.stats_by_tag("profile", as_of=moment) == live
        assert later.stats_by_tag("profile", as_of=clock.now) == later.stats_by_tag("profile")


def test_count_by_tag_and_the_analytical_view_give_the_same_answer(
    scheduler: Scheduler,
) -> None:
    ids = transfers(scheduler, 9)
    scheduler.start(ids[0])
    scheduler.complete(ids[0])
    scheduler.start(ids[1])
    scheduler.cancel(ids[2])

    for key in ("profile", "dst_endpoint", "taskmill.type"):
        for status in (None, *TaskStatus):
            aggregate = TaskAggregate().group_by_tag(key)
            if status is not None:
                aggregate.with_status(status)
            analytical = sorted(
                (row.group[key], row.count)
                for row in scheduler.aggregate_tasks(aggregate)
                if row.group[key] is not None
            )
            assert analytical == sorted(scheduler.count_by_tag(key, status=status)), (key, status)


# -- freshness -----------------------------------------------------------------------------------


def test_answers_include_what_another_handle_just_wrote(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    reader, writer = open_scheduler(), open_scheduler()
    assert reader.aggregate_tasks(TaskAggregate())[0].count == 0
    transfers(writer, 3)

    assert reader.aggregate_tasks(TaskAggregate())[0].count == 3


def test_bounded_staleness_skips_the_catch_up(
    open_scheduler: Callable[..., Scheduler],
) -> None:
    reader, writer = open_scheduler(), open_scheduler()
    transfers(writer, 2)
    assert reader.aggregate_tasks(TaskAggregate())[0].count == 2
    transfers(writer, 3)

    stale = reader.aggregate_tasks(TaskAggregate(), max_staleness=timedelta(hours=1))
    fresh = reader.aggregate_tasks(TaskAggregate(), max_staleness=timedelta(0))

    assert (stale[0].count, fresh[0].count) == (2, 5)


def test_catch_up_analytics_brings_the_view_to_the_log_head(
    open_scheduler: Callable[..., Scheduler], store: Path
) -> None:
    reader, writer = open_scheduler(), open_scheduler()
    assert reader.catch_up_analytics() == 0  # an empty log
    transfers(writer, 2)
    assert reader.aggregate_tasks(TaskAggregate())[0].count == 2
    ids = transfers(writer, 3)
    writer.start(ids[0])
    head = writer.log_position
    # Without a catch-up, an answer allowed to be an hour old still shows the 2 tasks.
    assert reader.aggregate_tasks(TaskAggregate(), max_staleness=timedelta(hours=1))[0].count == 2

    position = reader.catch_up_analytics()

    assert position == head == reader.log_position
    assert reader.catch_up_analytics() == head  # nothing more to apply: same position
    # The view itself now holds every task, so reads that skip their own catch-up see them.
    stale_ok = timedelta(hours=1)
    rows = reader.aggregate_tasks(TaskAggregate().group_by_status(), max_staleness=stale_ok)
    assert {row.status: row.count for row in rows} == {
        TaskStatus.PENDING: 4,
        TaskStatus.RUNNING: 1,
    }
    connection = taskmill.analytics.connect(store, max_staleness=stale_ok)
    try:
        assert connection.execute("SELECT count(*) FROM tasks").fetchone() == (5,)
        assert connection.execute(
            "SELECT status FROM tasks WHERE task_id = ?", [str(ids[0])]
        ).fetchone() == ("running",)
        (stored_position,) = connection.execute(
            "SELECT max(notification_id) FROM view_position"
        ).fetchone()
    finally:
        connection.close()
    assert stored_position == head


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: TaskAggregate().sum("payload"),
        lambda: TaskAggregate().avg("expected_net_tx_bytes; DROP TABLE tasks"),
        lambda: TaskAggregate().group_by_tag(""),
        lambda: TaskAggregate().group_by_tag(3),  # type: ignore[arg-type]
        lambda: TaskAggregate().group_by_tag("a").group_by_tag("a"),
        lambda: TaskAggregate().with_tag("a", 1),  # type: ignore[arg-type]
        lambda: TaskAggregate().as_of("yesterday"),  # type: ignore[arg-type]
        lambda: TaskAggregate().submitted_between(FakeClock().advance(5), FakeClock().now),
    ],
)
def test_bad_aggregates_are_refused_when_built(build: Callable[[], TaskAggregate]) -> None:
    with pytest.raises(InvalidQuery):
        build()


def test_an_unknown_status_is_a_typed_error() -> None:
    with pytest.raises(InvalidStatus):
        TaskAggregate().with_status("sleeping")


def test_bad_arguments_to_aggregate_tasks(scheduler: Scheduler) -> None:
    with pytest.raises(InvalidQuery):
        scheduler.aggregate_tasks("SELECT 1")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery):
        scheduler.aggregate_tasks(TaskAggregate(), max_staleness=timedelta(seconds=-1))


def test_user_text_is_never_sql(scheduler: Scheduler) -> None:
    evil = "x' OR 1=1); DROP TABLE tasks; --"
    scheduler.submit(TaskSubmission("job", tags={evil: evil}))
    scheduler.submit(TaskSubmission("job", tags={"profile": "dr"}))

    rows = scheduler.aggregate_tasks(TaskAggregate().group_by_tag(evil).with_tag(evil, evil))
    assert [(row.group, row.count) for row in rows] == [({evil: evil}, 1)]
    none = scheduler.aggregate_tasks(TaskAggregate().with_tag("profile", evil))
    assert none[0].count == 0
    assert scheduler.aggregate_tasks(TaskAggregate())[0].count == 2


def test_tag_keys_beyond_the_generated_columns_give_the_same_answers(
    scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projector, "MAX_TAG_COLUMNS", 1)  # only the first key gets a column
    transfers(scheduler, 9)
    aggregate = (
        TaskAggregate()
        .group_by_tag("dst_endpoint")
        .group_by_tag("profile")
        .with_tag("profile", "dr")
        .sum("expected_net_tx_bytes")
    )

    rows = scheduler.aggregate_tasks(aggregate)

    expected = {}
    for i in range(0, 9, 2):
        count, total = expected.get((ENDPOINTS[i % 3], "dr"), (0, 0))
        expected[(ENDPOINTS[i % 3], "dr")] = (count + 1, total + i * 100)
    assert {k: (r.count, r.sum_expected_net_tx_bytes) for k, r in by_group(rows).items()} == (
        expected
    )


# -- the view's file: rebuild, crash, ad-hoc SQL ------------------------------------------------


def test_rebuilt_analytical_view_equals_the_incremental_one(
    scheduler: Scheduler, store: Path, clock: FakeClock
) -> None:
    ids = transfers(scheduler, 8)
    scheduler.aggregate_tasks(TaskAggregate())  # the view follows in several catch-ups
    for task_id in ids[:4]:
        clock.advance(1)
        scheduler.start(task_id)
        scheduler.aggregate_tasks(TaskAggregate())
    scheduler.complete(ids[0], actual_io={"read_bytes": 7})
    scheduler.fail(ids[1], "flaky")
    scheduler.requeue(ids[2], reason="lease lost")
    scheduler.cancel(ids[5])
    child = scheduler.submit(TaskSubmission("part").parent(ids[3]).tag("zone", "z1")).task_id
    scheduler.complete(ids[3])
    scheduler.start(child)
    scheduler.complete(child)
    incremental = dump_store(store)

    assert scheduler.rebuild_views(views=["analytical"]) == scheduler.log_position

    assert dump_store(store) == incremental
    assert incremental["tasks"] and incremental["state_changes"] and incremental["task_tags"]


def test_a_deleted_analytical_view_is_rebuilt_from_the_log(
    open_scheduler: Callable[..., Scheduler], store: Path
) -> None:
    scheduler = open_scheduler()
    transfers(scheduler, 5)
    before = dump_store(store)
    scheduler.close()
    (store / "views" / "analytics.duckdb").unlink()

    assert dump_store(store) == before


def test_a_page_that_fails_half_way_leaves_nothing_behind(
    scheduler: Scheduler, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfers(scheduler, 4)
    good = dump_store(store)
    ids = transfers(scheduler, 4)
    scheduler.start(ids[0])

    def crash(self: projector.AnalyticalPage) -> None:
        self._insert_tasks()
        raise RuntimeError("power cut")

    def dump_as_is() -> Rows:
        """The view as it stands (no catch-up of its own: it was caught up just now)."""
        connection = taskmill.analytics.connect(store, max_staleness=timedelta(hours=1))
        try:
            return dump_connection(connection)
        finally:
            connection.close()

    with monkeypatch.context() as patch:
        patch.setattr(projector.AnalyticalPage, "_write", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            scheduler.aggregate_tasks(TaskAggregate())
        assert dump_as_is() == good  # the failed page was rolled back whole

    # The next query retries the page that failed, and the view it leaves is the rebuilt one.
    rows = scheduler.aggregate_tasks(TaskAggregate().group_by_status().sum("expected_net_tx_bytes"))
    caught_up = dump_as_is()
    assert scheduler.rebuild_views(views=["analytical"]) == scheduler.log_position
    rebuilt = dump_as_is()

    assert caught_up == rebuilt
    assert {row.status: (row.count, row.sum_expected_net_tx_bytes) for row in rows} == {
        TaskStatus.PENDING: (7, 600 + 600),  # both batches (the running ids[0] expects 0)
        TaskStatus.RUNNING: (1, 0),  # only in the page that failed
    }
    assert len(good["tasks"]) == 4
    assert len(caught_up["tasks"]) == 8


def test_connect_gives_sql_over_the_documented_tables(scheduler: Scheduler, store: Path) -> None:
    ids = transfers(scheduler, 6)
    scheduler.start(ids[0])
    scheduler.complete(ids[0])

    connection = taskmill.analytics.connect(store)
    try:
        per_endpoint = connection.execute(
            "SELECT g.value, sum(t.expected_net_tx_bytes) FROM tasks t "
            "JOIN task_tags g USING (task_id) WHERE g.key = 'dst_endpoint' "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        events = connection.execute(
            "SELECT event, status FROM state_changes WHERE task_id = ? ORDER BY position",
            [str(ids[0])],
        ).fetchall()
        with pytest.raises(Exception, match="read-only"):
            connection.execute("DELETE FROM tasks")
    finally:
        connection.close()

    assert per_endpoint == [("s3://a", 300), ("s3://b", 500), ("s3://c", 700)]
    assert events == [
        ("TaskSubmitted", "pending"),
        ("TaskStarted", "running"),
        ("TaskCompleted", "completed"),
    ]
    assert set(taskmill.analytics.TABLES) <= set(dump_store(store))


def test_a_connection_is_a_consistent_copy_while_the_scheduler_keeps_writing(
    scheduler: Scheduler, store: Path
) -> None:
    transfers(scheduler, 3)
    connection = taskmill.analytics.connect(store)
    try:
        transfers(scheduler, 3)
        assert scheduler.aggregate_tasks(TaskAggregate())[0].count == 6
        assert connection.execute("SELECT count(*) FROM tasks").fetchone() == (3,)
    finally:
        connection.close()


def test_connect_to_a_missing_store_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound):
        taskmill.analytics.connect(tmp_path / "nothing-here")
    assert not (tmp_path / "nothing-here").exists()


def test_a_view_held_too_long_elsewhere_is_a_typed_error(scheduler: Scheduler, store: Path) -> None:
    from taskmill.infrastructure.file_lock import FileLock
    from taskmill.projections.analytical.view import AnalyticalView

    transfers(scheduler, 2)
    scheduler.aggregate_tasks(TaskAggregate())  # the view follows the log
    scheduler.close()  # and lets go of the file
    other = FileLock(store / "views" / "analytics.lock")
    other.acquire(timeout=1)  # another process holding the file, busy, never letting go
    try:
        view = AnalyticalView(store / "views", "taskmill", lock_timeout=0.2)
        with pytest.raises(LockTimeout) as raised:
            view.position()
        assert isinstance(raised.value, TaskmillError)
        assert other.wanted_elsewhere()  # the waiter asked the holder to let go
    finally:
        other.release()
    assert view.position() > 0
    view.close()
