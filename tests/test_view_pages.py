"""A view is the same however its events are paged: in pages of one event every change is
its own transaction; in large pages a task is inserted, started and finished in one, with its
tag rows and counters written once per page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FakeClock
from view_rows import assert_same_rows, dump

import taskmill.projections.operational.view as view_module
from taskmill import PermanentError, Scheduler, TaskStatus, TaskSubmission
from taskmill.projections.operational.view import OperationalView
from taskmill.runtime.context import TaskContext


def _every_kind_of_change(scheduler: Scheduler, clock: FakeClock) -> None:
    """Each event kind, and the column rules an update carries (attempts given back by a
    requeue, an error kept when a later end has none, children counted up and down)."""
    tags = {"profile": "dr", "zone": "z1"}
    ids = [
        r.task_id
        for r in scheduler.submit_batch(
            [TaskSubmission("copy", tags=tags, payload={"n": n}, group="g") for n in range(8)]
        )
    ]
    scheduler.start(ids[0])
    scheduler.complete(ids[0], actual_io={"read_bytes": 10, "net_tx_bytes": 7})
    scheduler.start(ids[1])
    scheduler.fail(ids[1], "flaky", retry_at=clock.now + timedelta(minutes=5))  # blocked
    scheduler.cancel(ids[1])  # ends without an error of its own: the last one stays
    scheduler.start(ids[2])
    scheduler.fail(ids[2], "fatal", permanent=True)
    scheduler.start(ids[3], worker_id="w1")
    scheduler.requeue(ids[3], reason="lease lost")  # the attempt is given back
    scheduler.start(ids[7])
    scheduler.requeue(ids[7], reason="worker died")
    scheduler.start(ids[7])
    scheduler.start(ids[4], lease_expires_at=clock.now + timedelta(seconds=5))
    scheduler.cancel(ids[5], reason="not needed")
    scheduler.expire(ids[6])
    later = scheduler.submit(TaskSubmission("copy", run_after=clock.now + timedelta(hours=1)))
    scheduler.unblock(later.task_id)
    retried = scheduler.submit(TaskSubmission("copy", max_retries=0)).task_id
    scheduler.start(retried)
    scheduler.fail(retried, "out of retries")  # dead-lettered

    parent = scheduler.submit(TaskSubmission("batch", tags={"profile": "mirror"})).task_id
    children = [
        scheduler.submit(TaskSubmission("part").parent(parent).tag("part", str(n))).task_id
        for n in range(3)
    ]
    scheduler.start(parent)
    scheduler.complete(parent)  # waiting for its children
    for child in children[:2]:
        scheduler.start(child)
        scheduler.complete(child)
    scheduler.cancel(children[2])  # the last child ends: the parent is finalised
    still_waiting = scheduler.submit(TaskSubmission("batch")).task_id
    scheduler.submit(TaskSubmission("part").parent(still_waiting))
    scheduler.start(still_waiting)
    scheduler.complete(still_waiting)
    scheduler.submit(TaskSubmission("copy", run_after=clock.now + timedelta(hours=2)))

    @scheduler.executor("work")
    def work(ctx: TaskContext) -> None:
        if ctx.task.tags.get("outcome") == "fail":
            raise PermanentError("no")
        ctx.record_io(write_bytes=3)

    scheduler.submit_batch(
        [TaskSubmission("work", tags={"outcome": o}, max_retries=0) for o in ("ok", "fail")]
    )
    scheduler.run_until_idle()


def _build_in_pages(folder: Path, scheduler: Scheduler, size: int, monkeypatch) -> Path:
    monkeypatch.setattr(view_module, "PAGE_SIZE", size)
    view = OperationalView(folder / f"pages-of-{size}", "taskmill")
    try:
        assert view.catch_up(scheduler._source) == scheduler.log_position
        return view.path
    finally:
        view.close()


@pytest.fixture
def populated(open_scheduler, clock: FakeClock) -> Scheduler:
    scheduler = open_scheduler()
    _every_kind_of_change(scheduler, clock)
    assert set(scheduler.status_counts()) == set(TaskStatus)  # every status is represented
    return scheduler


def test_views_built_in_any_page_size_hold_the_same_rows(
    populated: Scheduler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unfolded = dump(_build_in_pages(tmp_path, populated, 1, monkeypatch))
    for size in (2, 3, 7, 10_000):
        built = dump(_build_in_pages(tmp_path, populated, size, monkeypatch))
        assert_same_rows(unfolded, built, f"pages of {size} vs pages of 1")


def test_the_live_view_and_its_rebuild_equal_a_view_built_event_by_event(
    populated: Scheduler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populated.catch_up()
    live = dump(populated.view_path)
    unfolded = dump(_build_in_pages(tmp_path, populated, 1, monkeypatch))
    assert_same_rows(unfolded, live, "live view vs pages of 1")
    populated.rebuild_views(views=["operational"])
    assert_same_rows(unfolded, dump(populated.view_path), "rebuilt view vs pages of 1")


def test_a_handle_that_did_not_see_the_submissions_reads_their_tags_once_per_page(
    open_scheduler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's handle on the view (or a rebuild's later page) has no tags cached for
    the tasks it moves: it reads them for the whole page in one statement, not one per task."""
    submitter = open_scheduler()
    profiles = [f"p{n % 3}" for n in range(40)]
    ids = [
        r.task_id
        for r in submitter.submit_batch(
            [TaskSubmission("copy", tags={"profile": p}) for p in profiles]
        )
    ]
    submitter.catch_up()
    runner = open_scheduler()  # its own view handle, nothing cached
    statements: list[str] = []
    runner._view._connection.set_trace_callback(statements.append)
    for task_id in ids[:30]:
        runner.start(task_id)
    for task_id in ids[:20]:
        runner.complete(task_id)

    assert dict(runner.count_by_tag("profile", status=TaskStatus.COMPLETED)) == {
        "p0": 7,
        "p1": 7,
        "p2": 6,
    }
    assert dict(runner.count_by_tag("profile", status=TaskStatus.RUNNING)) == {
        "p0": 3,
        "p1": 3,
        "p2": 4,
    }
    assert dict(runner.count_by_tag("profile", status=TaskStatus.PENDING)) == {
        "p0": 4,
        "p1": 3,
        "p2": 3,
    }
    tag_reads = [s for s in statements if "FROM tasks WHERE id" in s and "tags" in s]
    assert len(tag_reads) == 1 and "json_each" in tag_reads[0]  # the 50 events: one page
    assert_same_rows(
        dump(_build_in_pages(tmp_path, runner, 1, monkeypatch)),
        dump(runner.view_path),
        "handle without cached tags vs pages of 1",
    )


def test_a_rebuild_in_small_pages_holds_the_rows_of_one_event_per_page(
    populated: Scheduler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unfolded = dump(_build_in_pages(tmp_path, populated, 1, monkeypatch))
    monkeypatch.setattr(view_module, "REBUILD_PAGE_SIZE", 3)  # starts land pages after submits
    populated.rebuild_views(views=["operational"])
    assert_same_rows(unfolded, dump(populated.view_path), "rebuilt in pages of 3 vs pages of 1")


def test_the_view_folds_its_wal_in_every_ten_thousand_pages(scheduler: Scheduler) -> None:
    """Not SQLite's default 1,000 (a per-connection setting): also on the connection a handle
    opens to the file a rebuild swapped in."""

    def autocheckpoint() -> int:
        with scheduler._view.reading() as connection:
            return int(connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    assert autocheckpoint() == view_module.WAL_CHECKPOINT_PAGES == 10_000
    scheduler.submit(TaskSubmission("job"))
    scheduler.rebuild_views()
    assert autocheckpoint() == 10_000


def test_applying_a_page_pauses_the_garbage_collector_and_gives_it_back(
    scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's buffered rows die with it, so the cyclic collector is paused while a page of
    this process's own events is applied (see docs/performance.md, W1b), and is on again for
    the caller; a caller who disabled it keeps it disabled."""
    import gc

    from taskmill.projections.operational.projector import PageProjector

    seen: list[bool] = []
    flush = PageProjector.flush

    def recording_flush(self: PageProjector) -> None:
        seen.append(gc.isenabled())
        flush(self)

    monkeypatch.setattr(PageProjector, "flush", recording_flush)
    scheduler.submit_batch([TaskSubmission("copy", tags={"n": str(n)}) for n in range(3)])
    assert scheduler.count_by_tag("taskmill.type") == [("copy", 3)]
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        scheduler.submit(TaskSubmission("copy"))
        assert scheduler.count_by_tag("taskmill.type") == [("copy", 4)]
        assert seen == [False, False]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_view_error_after_the_log_commit_does_not_fail_the_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The log has the tasks once `submit_batch` saved them: a page the view cannot apply then
    (a locked file, say) must not make the call raise, or the caller would submit again. The
    next read catches up from the log, and raises while the trouble lasts."""
    import sqlite3

    real = view_module._apply_page
    broken = {"on": True}

    def apply_page(*args: object, **kwargs: object) -> bool:
        if broken["on"]:
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with Scheduler.open(tmp_path) as scheduler:
        monkeypatch.setattr(view_module, "_apply_page", apply_page)
        count = view_module.PAGE_SIZE + 10  # enough to make the view apply a page at once

        results = scheduler.submit_batch([TaskSubmission("job") for _ in range(count)])

        assert len(results) == count and all(r.inserted for r in results)
        assert "could not apply a page" in caplog.text
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            scheduler.query_task_ids()  # a read must not answer from a view that is behind
        broken["on"] = False
        assert set(scheduler.query_task_ids()) == {r.task_id for r in results}
