"""Two processes share the analytical view: a scheduler keeps writing and aggregating while
another process runs ad-hoc SQL (and holds a connection open), with no errors on either side.

DuckDB refuses to open a file that another process has open for writing, even read-only; these
tests fail with "Could not set lock on file" if the view ever leaves the live file exposed."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import taskmill.analytics
from taskmill import Scheduler, TaskAggregate, TaskSubmission

SECONDS = 3.0


def _write_and_aggregate(folder: str, seconds: float, out: Any) -> None:
    """Submit, run and aggregate in a loop; report what was written and what was seen."""
    try:
        submitted = 0
        rounds = 0
        with Scheduler.open(folder) as scheduler:
            mine = TaskAggregate().with_tag("writer", "yes")
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                results = scheduler.submit_batch(
                    [
                        TaskSubmission("transfer", tags={"profile": f"p{i % 3}", "writer": "yes"})
                        for i in range(20)
                    ]
                )
                submitted += len(results)
                scheduler.start(results[0].task_id)
                scheduler.complete(results[0].task_id)
                assert scheduler.aggregate_tasks(mine)[0].count == submitted
                rounds += 1
        out.put(("ok", submitted, rounds))
    except BaseException as error:  # report it: the parent asserts on it
        out.put(("error", repr(error), 0))


def test_a_reader_process_and_a_writing_scheduler_never_block_each_other(
    scheduler: Scheduler, store: Path
) -> None:
    scheduler.submit(TaskSubmission("transfer", tags={"profile": "p0"}))
    held_open = taskmill.analytics.connect(store)  # a notebook that keeps its connection
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    writer = context.Process(target=_write_and_aggregate, args=(str(store), SECONDS, out))
    writer.start()
    seen = []
    try:
        while writer.is_alive():
            connection = taskmill.analytics.connect(store)
            try:
                (count,) = connection.execute("SELECT count(*) FROM tasks").fetchone() or (0,)
                seen.append(count)
                (completed,) = connection.execute(
                    "SELECT count(*) FROM state_changes WHERE event = 'TaskCompleted'"
                ).fetchone() or (None,)
                # A consistent copy: whole batches of 20, each round completing one task of
                # its batch (the last round's completion may not be written yet).
                batches, rest = divmod(count - 1, 20)
                assert rest == 0, count
                assert completed in (batches - 1, batches) and completed >= 0, (count, completed)
            finally:
                connection.close()
            assert held_open.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
            time.sleep(0.05)
        outcome, submitted, rounds = out.get(timeout=60)
        writer.join(timeout=30)
    finally:
        held_open.close()
        if writer.is_alive():
            writer.kill()

    assert (outcome, writer.exitcode) == ("ok", 0), submitted
    assert rounds > 1
    assert len(seen) > 1 and seen == sorted(seen), seen
    final = scheduler.aggregate_tasks(TaskAggregate())
    assert final[0].count == submitted + 1
    connection = taskmill.analytics.connect(store)
    try:
        assert connection.execute(
            "SELECT count(*) FROM state_changes WHERE event = 'TaskCompleted'"
        ).fetchone() == (rounds,)
    finally:
        connection.close()


def test_two_schedulers_in_two_processes_both_aggregate(scheduler: Scheduler, store: Path) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    writer = context.Process(target=_write_and_aggregate, args=(str(store), SECONDS, out))
    writer.start()
    mine = 0
    try:
        while writer.is_alive():
            scheduler.submit(TaskSubmission("transfer", tags={"profile": "mine"}))
            mine += 1
            rows = scheduler.aggregate_tasks(
                TaskAggregate().group_by_tag("profile").with_tag("profile", "mine")
            )
            assert rows[0].count == mine
        outcome, submitted, _ = out.get(timeout=60)
        writer.join(timeout=30)
    finally:
        if writer.is_alive():
            writer.kill()

    assert (outcome, writer.exitcode) == ("ok", 0), submitted
    assert scheduler.aggregate_tasks(TaskAggregate())[0].count == submitted + mine
