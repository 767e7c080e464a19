"""Queries on the operational view: filters, order, paging, tag counts, read-your-writes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import InvalidQuery, Scheduler, TaskQuery, TaskStatus, TaskSubmission

S = TaskStatus


def _ids(records: list[Any]) -> list[UUID]:
    return [r.id for r in records]


# -- filters -----------------------------------------------------------------------------------


def test_query_by_tag_and_status(scheduler: Scheduler, add) -> None:
    pending_dr = add(tags={"profile": "dr"})
    running_dr = add(tags={"profile": "dr"})
    scheduler.start(running_dr)
    add(tags={"profile": "mirror"})

    pending = scheduler.query_tasks(TaskQuery().with_tag("profile", "dr").with_status(S.PENDING))
    running = scheduler.query_tasks(TaskQuery().with_tag("profile", "dr").with_status(S.RUNNING))

    assert _ids(pending) == [pending_dr]
    assert _ids(running) == [running_dr]


def test_tag_and_status_filter_follows_status_changes(scheduler: Scheduler, add) -> None:
    task_id = add(tags={"profile": "dr"})
    query = lambda status: TaskQuery().with_tag("profile", "dr").with_status(status)  # noqa: E731

    scheduler.start(task_id)
    scheduler.fail(task_id, "x")
    scheduler.start(task_id)
    scheduler.complete(task_id)

    for status in S:
        expected = [task_id] if status is S.COMPLETED else []
        assert _ids(scheduler.query_tasks(query(status))) == expected, status


def test_query_returns_full_records_with_tags(scheduler: Scheduler, add) -> None:
    add(tags={"profile": "dr", "zone": "eu"}, payload={"x": 1})

    (record,) = scheduler.query_tasks(TaskQuery().with_tag("zone", "eu"))

    assert record.user_tags == {"profile": "dr", "zone": "eu"}
    assert record.payload == {"x": 1}


def test_several_tags_are_anded(scheduler: Scheduler, add) -> None:
    both = add(tags={"profile": "dr", "zone": "eu"})
    add(tags={"profile": "dr", "zone": "us"})
    add(tags={"profile": "mirror", "zone": "eu"})

    found = scheduler.query_tasks(TaskQuery().with_tag("profile", "dr").with_tag("zone", "eu"))

    assert _ids(found) == [both]


def test_several_statuses_are_ored(scheduler: Scheduler, add) -> None:
    pending = add()
    running = add()
    scheduler.start(running)
    cancelled = add()
    scheduler.cancel(cancelled)

    found = scheduler.query_tasks(TaskQuery().with_status(S.PENDING, S.CANCELLED))
    chained = scheduler.query_tasks(TaskQuery().with_status(S.PENDING).with_status(S.CANCELLED))

    assert _ids(found) == [pending, cancelled]
    assert _ids(chained) == [pending, cancelled]


def test_several_statuses_with_a_tag(scheduler: Scheduler, add) -> None:
    pending = add(tags={"t": "a"})
    running = add(tags={"t": "a"})
    scheduler.start(running)
    add(tags={"t": "b"})
    cancelled = add(tags={"t": "a"})
    scheduler.cancel(cancelled)

    found = scheduler.query_tasks(TaskQuery().with_tag("t", "a").with_status("pending", "running"))

    assert _ids(found) == [pending, running]


def test_query_by_type(scheduler: Scheduler, add) -> None:
    copy = add("copy")
    add("delete")
    move = add("move")

    assert _ids(scheduler.query_tasks(TaskQuery().with_type("copy", "move"))) == [copy, move]


def test_no_filter_returns_every_task_active_and_finished(scheduler: Scheduler, add) -> None:
    done = add()
    scheduler.start(done)
    scheduler.complete(done)
    pending = add()

    assert _ids(scheduler.query_tasks()) == [done, pending]


# -- order and paging --------------------------------------------------------------------------


def test_ordered_by_priority_then_submission(scheduler: Scheduler, add) -> None:
    a = add(priority=5)
    b = add(priority=1)
    c = add(priority=5)
    d = add(priority=1)
    e = add(priority=200)
    f = add(priority=0)

    assert _ids(scheduler.query_tasks()) == [f, b, d, a, c, e]


def test_order_does_not_change_when_status_changes(scheduler: Scheduler, add) -> None:
    ids = [add(priority=10) for _ in range(4)]
    scheduler.start(ids[0])
    scheduler.fail(ids[0], "x")

    assert _ids(scheduler.query_tasks()) == ids


def test_limit_and_offset(scheduler: Scheduler, add) -> None:
    ids = [add(priority=p) for p in (9, 3, 7, 1, 5)]
    ordered = [ids[3], ids[1], ids[4], ids[2], ids[0]]

    assert _ids(scheduler.query_tasks(TaskQuery().limit(2))) == ordered[:2]
    assert _ids(scheduler.query_tasks(TaskQuery().limit(2).offset(2))) == ordered[2:4]
    assert _ids(scheduler.query_tasks(TaskQuery().limit(10).offset(4))) == ordered[4:]
    assert scheduler.query_tasks(TaskQuery().limit(0)) == []


def test_all_matches_without_a_limit(scheduler: Scheduler) -> None:
    scheduler.submit_batch([TaskSubmission("job") for _ in range(1200)])

    assert len(scheduler.query_tasks()) == 1200


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"], ids=repr)
def test_bad_limit_or_offset_is_rejected(bad: object) -> None:
    with pytest.raises(InvalidQuery):
        TaskQuery().limit(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery):
        TaskQuery().offset(bad)  # type: ignore[arg-type]


def _pages(
    scheduler: Scheduler, size: int, between: Callable[[], None] = lambda: None
) -> list[UUID]:
    seen: list[UUID] = []
    query = TaskQuery().limit(size)
    while page := scheduler.query_tasks(query):
        seen += _ids(page)
        between()
        query = TaskQuery().limit(size).after(page[-1])
    return seen


def test_keyset_paging_covers_everything_once(scheduler: Scheduler) -> None:
    results = scheduler.submit_batch(
        [TaskSubmission("job", priority=(n * 7) % 5) for n in range(23)]
    )

    seen = _pages(scheduler, 4)

    assert seen == _ids(scheduler.query_tasks())
    assert sorted(seen) == sorted(r.task_id for r in results)


def test_keyset_paging_is_stable_while_tasks_are_added(scheduler: Scheduler) -> None:
    originals = [
        r.task_id
        for r in scheduler.submit_batch([TaskSubmission("job", priority=n % 3) for n in range(12)])
    ]
    added: list[UUID] = []

    def add_early() -> None:  # most land before the cursor: must not shift later pages
        added.append(scheduler.submit(TaskSubmission("job", priority=0)).task_id)

    seen = _pages(scheduler, 3, add_early)

    assert len(seen) == len(set(seen))
    assert set(originals) <= set(seen)


def test_keyset_paging_with_a_filter(scheduler: Scheduler, add) -> None:
    wanted = [add(tags={"t": "x"}, priority=n % 4) for n in range(10)]
    for _ in range(5):
        add(tags={"t": "y"})

    seen: list[UUID] = []
    query = TaskQuery().with_tag("t", "x").limit(3)
    while page := scheduler.query_tasks(query):
        seen += _ids(page)
        query = TaskQuery().with_tag("t", "x").limit(3).after(page[-1])

    assert sorted(seen) == sorted(wanted)
    assert len(seen) == len(wanted)


# -- tag counts, values and keys ---------------------------------------------------------------


def test_count_by_tag_largest_first(scheduler: Scheduler) -> None:
    batch = [TaskSubmission("job").tag("profile", "mirror") for _ in range(2)]
    batch += [TaskSubmission("job").tag("profile", "dr") for _ in range(5)]
    batch += [TaskSubmission("job").tag("profile", "archive") for _ in range(1)]
    batch += [TaskSubmission("job").tag("other", "x")]
    scheduler.submit_batch(batch)

    assert scheduler.count_by_tag("profile") == [("dr", 5), ("mirror", 2), ("archive", 1)]
    assert scheduler.count_by_tag("missing") == []


def test_count_by_tag_with_status(scheduler: Scheduler, add) -> None:
    ids = [add(tags={"profile": "dr"}) for _ in range(3)] + [add(tags={"profile": "mirror"})]
    scheduler.start(ids[0])
    scheduler.start(ids[3])
    scheduler.cancel(ids[1])

    assert scheduler.count_by_tag("profile", status=S.RUNNING) == [("dr", 1), ("mirror", 1)]
    assert scheduler.count_by_tag("profile", status="pending") == [("dr", 1)]
    assert scheduler.count_by_tag("profile", status=S.CANCELLED) == [("dr", 1)]
    assert scheduler.count_by_tag("profile", status=S.COMPLETED) == []
    assert scheduler.count_by_tag("profile") == [("dr", 3), ("mirror", 1)]


def test_count_by_tag_follows_every_status_change(scheduler: Scheduler, add) -> None:
    task_id = add(tags={"k": "v"})
    scheduler.start(task_id)
    scheduler.requeue(task_id, reason="x")
    scheduler.start(task_id)
    scheduler.complete(task_id)

    for status in S:
        expected = [("v", 1)] if status is S.COMPLETED else []
        assert scheduler.count_by_tag("k", status=status) == expected, status


def test_tag_values_sorted(scheduler: Scheduler, add) -> None:
    for endpoint in ["s3://b", "gs://a", "s3://a", "s3://b"]:
        add(tags={"dst_endpoint": endpoint})
    finished = add(tags={"dst_endpoint": "azure://z"})
    scheduler.cancel(finished)

    assert scheduler.tag_values("dst_endpoint") == ["azure://z", "gs://a", "s3://a", "s3://b"]
    assert scheduler.tag_values("missing") == []


def test_tag_keys_with_prefix(scheduler: Scheduler, add) -> None:
    add(tags={"billing.account": "1", "billing.cost_center": "2", "billing": "x"})
    add(tags={"billingx": "y", "profile": "dr", "Billing.upper": "z"})

    assert scheduler.tag_keys(prefix="billing.") == ["billing.account", "billing.cost_center"]
    assert scheduler.tag_keys(prefix="taskmill.") == ["taskmill.type"]
    assert scheduler.tag_keys() == sorted(
        [
            "billing.account",
            "billing.cost_center",
            "billing",
            "billingx",
            "profile",
            "Billing.upper",
            "taskmill.type",
        ]
    )


def test_status_counts(scheduler: Scheduler, add) -> None:
    ids = [add() for _ in range(4)]
    scheduler.start(ids[0])
    scheduler.cancel(ids[1])

    assert scheduler.status_counts() == {S.PENDING: 2, S.RUNNING: 1, S.CANCELLED: 1}


# -- read your writes --------------------------------------------------------------------------


def test_every_query_sees_a_task_the_moment_submit_returns(scheduler: Scheduler) -> None:
    for n in range(5):
        task_id = scheduler.submit(TaskSubmission("job").tag("profile", f"p{n}")).task_id

        assert scheduler.task(task_id) is not None
        assert _ids(scheduler.query_tasks(TaskQuery().with_tag("profile", f"p{n}"))) == [task_id]
        assert scheduler.count_by_tag("profile", status=S.PENDING)[-1] == (f"p{n}", 1)
        assert f"p{n}" in scheduler.tag_values("profile")
        assert scheduler.view_position == scheduler.log_position


def test_queries_see_a_command_the_moment_it_returns(scheduler: Scheduler, add) -> None:
    task_id = add(tags={"k": "v"})

    scheduler.start(task_id)

    assert _ids(scheduler.query_tasks(TaskQuery().with_status(S.RUNNING))) == [task_id]
    assert scheduler.count_by_tag("k", status=S.RUNNING) == [("v", 1)]


def test_another_open_scheduler_sees_writes_at_once(open_scheduler) -> None:
    reader = open_scheduler()
    writer = open_scheduler()

    task_id = writer.submit(TaskSubmission("job").tag("k", "v")).task_id

    assert reader.task(task_id) is not None
    assert reader.count_by_tag("k") == [("v", 1)]
    assert _ids(reader.query_tasks(TaskQuery().with_tag("k", "v"))) == [task_id]


def _submit_in_another_process(folder: str, tag: str, out: Any) -> None:
    with Scheduler.open(folder) as scheduler:
        out.put(str(scheduler.submit(TaskSubmission("remote").tag("origin", tag)).task_id))


def _other_process_submits(store: Path, tag: str) -> UUID:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_submit_in_another_process, args=(str(store), tag, out))
    process.start()
    try:
        task_id = UUID(out.get(timeout=60))
    finally:
        process.join(timeout=30)
    assert process.exitcode == 0
    return task_id


def test_view_sees_another_process_writes_immediately(scheduler: Scheduler, store: Path) -> None:
    local = scheduler.submit(TaskSubmission("local").tag("origin", "here")).task_id

    remote = _other_process_submits(store, "there")

    assert scheduler.task(remote) is not None
    assert scheduler.count_by_tag("origin") == [("here", 1), ("there", 1)]
    assert _ids(scheduler.query_tasks(TaskQuery().with_tag("origin", "there"))) == [remote]
    assert _ids(scheduler.query_tasks()) == [local, remote]

    # A local write after the remote one must not skip the remote event in the view.
    after = scheduler.submit(TaskSubmission("local").tag("origin", "here")).task_id
    assert _ids(scheduler.query_tasks()) == [local, remote, after]
    assert scheduler.view_position == scheduler.log_position
    assert scheduler.status_counts() == {S.PENDING: 3}


@pytest.fixture
def mixed_store(tmp_path: Path) -> Iterator[Scheduler]:
    """120 tagged tasks in three priorities: 20 completed, 10 cancelled, 30 running, 60 pending.
    The last 10 also have lane=slow, and all of them stay pending."""
    import random

    rng = random.Random(3)
    with Scheduler.open(tmp_path / "pages") as scheduler:
        ids = [
            r.task_id
            for r in scheduler.submit_batch(
                [
                    TaskSubmission(
                        "t",
                        priority=rng.choice((0, 5, 9)),
                        tags={"lane": "slow"} if n >= 110 else {},
                    )
                    .tag("profile", rng.choice("ab"))
                    .tag("dst", rng.choice("xy"))
                    for n in range(120)
                ]
            )
        ]
        chosen = rng.sample(ids[:110], 60)
        for task_id in chosen[:50]:
            scheduler.start(task_id)
        for task_id in chosen[:20]:
            scheduler.complete(task_id)
        for task_id in chosen[50:]:
            scheduler.cancel(task_id)
        yield scheduler


TAG_SETS = [[("profile", "a")], [("profile", "b"), ("dst", "x")]]


@pytest.mark.parametrize(
    ("status", "tag_sets"),
    [
        ("pending", TAG_SETS),
        ("pending", [[("lane", "slow")], [("lane", "slow"), ("dst", "y")]]),
        ("running", TAG_SETS),
        ("completed", TAG_SETS),
        ("cancelled", TAG_SETS),
    ],
)
def test_tag_and_status_pages_match_a_reference_filter(
    mixed_store: Scheduler, status: str, tag_sets: list[list[tuple[str, str]]]
) -> None:
    """Whichever way the query reads (the tag rows alone for ended tasks and for lane=slow,
    whose tasks are all pending; the tag rows checked against their tasks for pending with
    profile; the task rows' status index for the few running ones), pages equal filtering
    every task."""
    scheduler = mixed_store
    everything = scheduler.query_tasks()
    assert {r.status for r in everything} == {S.PENDING, S.RUNNING, S.COMPLETED, S.CANCELLED}

    def reference(*tags: tuple[str, str]) -> list[UUID]:
        return [
            r.id
            for r in everything
            if r.status == status and all(r.tags.get(k) == v for k, v in tags)
        ]

    def query(tags: list[tuple[str, str]]) -> TaskQuery:  # a new one each time: they mutate
        built = TaskQuery().with_status(status)
        for key, value in tags:
            built = built.with_tag(key, value)
        return built

    for tags in tag_sets:
        expected = reference(*tags)
        assert expected, "the fixture must leave matches for every status"
        assert [r.id for r in scheduler.query_tasks(query(tags))] == expected
        assert scheduler.query_task_ids(query(tags)) == expected
        page_of_four = query(tags).limit(4).offset(2)
        assert [r.id for r in scheduler.query_tasks(page_of_four)] == expected[2:6]
        pages: list[UUID] = []
        last = None
        while True:
            paged = query(tags).limit(3) if last is None else query(tags).limit(3).after(last)
            page = scheduler.query_tasks(paged)
            if not page:
                break
            pages += [r.id for r in page]
            last = page[-1]
        assert pages == expected


def test_the_index_walked_for_tag_and_status_is_the_one_with_fewer_rows(
    mixed_store: Scheduler,
) -> None:
    """The choices the test above relies on, made from the counters: 30 running tasks against
    more active ones with profile=a (status index); 60 pending against fewer active ones with
    profile=a (tag rows, each checked); lane=slow, whose active tasks are all pending (tag rows
    alone); ended tasks (tag rows alone)."""
    from taskmill.projections.operational.queries import TaskFilter, _statement

    def plan(status: str, tag: tuple[str, str] = ("profile", "a")) -> str:
        task_filter = TaskFilter(tags=(tag,), statuses=(status,))
        with scheduler._view.reading() as connection:
            statement, params = _statement(connection, "id_columns", task_filter)
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        return " ".join(str(row[-1]) for row in rows)

    scheduler = mixed_store
    scheduler.catch_up()
    joined = plan("pending")
    assert "idx_task_tags_kv_phase_order" in joined and "SEARCH t " in joined
    alone = plan("pending", ("lane", "slow"))
    assert "idx_task_tags_kv_phase_order" in alone and "SEARCH t " not in alone
    ended = plan("completed")
    assert "idx_task_tags_kv_phase_order" in ended and "SEARCH t " not in ended
    running = plan("running")
    assert "idx_tasks_status_order" in running and "TEMP B-TREE" not in running


def test_the_dispatch_loops_queries_read_no_finished_tasks(mixed_store: Scheduler) -> None:
    """Their plans, so that a long history or backlog cannot slow the loop: candidates come in
    order from the (type, status, priority, seq) index; "which of my tasks ended?" looks each
    id up; due and expired tasks come from partial indexes of exactly those."""
    from taskmill.projections.operational.queries import TaskFilter, _statement

    def plan(task_filter: TaskFilter) -> list[str]:
        with mixed_store._view.reading() as connection:
            statement, params = _statement(connection, "id_columns", task_filter)
            rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        return [str(row[-1]) for row in rows]

    mixed_store.catch_up()
    candidates = plan(TaskFilter(statuses=("pending",), task_types=("t",), limit=40))
    assert candidates == [
        "SEARCH tasks USING INDEX idx_tasks_type_status_order (task_type=? AND status=?)"
    ]
    ids = tuple(str(i) for i in mixed_store.query_task_ids(TaskQuery().limit(3)))
    ended = plan(TaskFilter(task_ids=ids, statuses=("completed", "failed", "cancelled")))
    assert all("sqlite_autoindex_tasks_1 (id=?)" in step for step in ended if "SEARCH" in step)
    # Housekeeping, every 0.2 s: only due tasks are read, not every pending or blocked one.
    now = "2030-01-01T00:00:00+00:00"
    due = plan(TaskFilter(statuses=("blocked",), run_after_due=now, limit=500))
    assert due[0].startswith("SEARCH tasks USING INDEX idx_tasks_blocked_until (run_after<?)")
    expired = plan(TaskFilter(statuses=("pending", "blocked"), expires_due=now, limit=500))
    assert expired[0].startswith("SEARCH tasks USING INDEX idx_tasks_unstarted_expiry")


def test_query_task_ids_are_the_ids_of_query_tasks_in_the_same_order(
    scheduler: Scheduler,
) -> None:
    for n in range(12):
        scheduler.submit(
            TaskSubmission("job", priority=n % 3, tags={"profile": ["dr", "prod"][n % 2]})
        )
    queries = [
        TaskQuery(),
        TaskQuery().with_tag("profile", "dr"),
        TaskQuery().with_tag("profile", "dr").with_status(TaskStatus.PENDING).limit(4),
        TaskQuery().with_tag("profile", "nobody"),
    ]
    for query in queries:
        expected = [record.id for record in scheduler.query_tasks(query)]
        assert scheduler.query_task_ids(query) == expected
    assert len(scheduler.query_task_ids()) == 12
