"""When the operational view applies a command's events: with the next read (every read catches
up first), once a page of them has gathered, or on close, and never out of order or twice."""

from __future__ import annotations

import threading
from pathlib import Path

from view_rows import assert_same_rows, dump, read_only

from taskmill import Scheduler, TaskQuery, TaskStatus, TaskSubmission
from taskmill.projections.operational.view import PAGE_SIZE


def _submit(scheduler: Scheduler, worker: str, n: int) -> None:
    scheduler.submit(TaskSubmission("job").tag("worker", worker).tag("n", str(n)))


def test_a_command_pays_for_the_log_and_the_next_read_applies_its_events(store: Path) -> None:
    with Scheduler.open(store) as scheduler:
        before = scheduler.view_position
        task_id = scheduler.submit(TaskSubmission("job").tag("k", "v")).task_id

        assert scheduler.log_position > before
        assert scheduler.view_position == before  # the view file has not been written yet
        record = scheduler.task(task_id)  # a read: catches up first, so it sees the task
        assert record is not None and record.tags["k"] == "v"
        assert scheduler.view_position == scheduler.log_position


def test_a_full_page_of_deferred_events_is_applied_without_a_read(store: Path) -> None:
    with Scheduler.open(store) as scheduler:
        scheduler.submit_batch([TaskSubmission("job") for _ in range(PAGE_SIZE)])
        assert scheduler.view_position == scheduler.log_position


def test_closing_applies_what_was_deferred(store: Path) -> None:
    scheduler = Scheduler.open(store)
    scheduler.submit(TaskSubmission("job").tag("k", "v"))
    head, path = scheduler.log_position, scheduler.view_path
    scheduler.close()

    with read_only(path) as db:
        assert db.execute("SELECT notification_id FROM view_position").fetchall() == [(head,)]
        assert db.execute("SELECT value FROM task_tags WHERE key = 'k'").fetchall() == [("v",)]


def test_another_handle_sees_deferred_writes_through_the_log(store: Path) -> None:
    with Scheduler.open(store) as writer, Scheduler.open(store) as reader:
        task_id = writer.submit(TaskSubmission("job")).task_id
        assert writer.view_position < writer.log_position
        assert [r.id for r in reader.query_tasks()] == [task_id]
        # The writer's deferred events are now behind the file: applying them changes nothing.
        assert [r.id for r in writer.query_tasks()] == [task_id]
        assert writer.status_counts() == {TaskStatus.PENDING: 1}


def test_threads_and_another_handle_writing_at_once_leave_the_view_equal_to_a_rebuild(
    store: Path,
) -> None:
    """Threads hand over their events in whatever order their saves return, interleaved with
    a second handle's writes: the view must apply each event once, in log order."""
    per_thread, threads_count = 60, 4
    with Scheduler.open(store) as scheduler, Scheduler.open(store) as other:
        go = threading.Barrier(threads_count + 1)

        def work(name: str, handle: Scheduler) -> None:
            go.wait()
            for n in range(per_thread):
                _submit(handle, name, n)
                if n % 7 == 0:
                    handle.count_by_tag("worker")  # a read now and then applies a page

        threads = [
            threading.Thread(target=work, args=(f"t{i}", other if i == 0 else scheduler))
            for i in range(threads_count)
        ]
        for thread in threads:
            thread.start()
        go.wait()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)

        counts = dict(scheduler.count_by_tag("worker"))
        assert counts == {f"t{i}": per_thread for i in range(threads_count)}
        assert len(scheduler.query_task_ids(TaskQuery().with_status(TaskStatus.PENDING))) == (
            per_thread * threads_count
        )
        live = dump(scheduler.view_path)
        scheduler.rebuild_views(views=["operational"])
        assert_same_rows(live, dump(scheduler.view_path), "incremental view vs rebuilt")
