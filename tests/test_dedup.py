"""Dedup keys: unique among active tasks of a type, atomically, also across processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskQuery, TaskStatus, TaskSubmission


def test_duplicate_of_an_active_task_returns_its_id(scheduler: Scheduler) -> None:
    first = scheduler.submit(TaskSubmission("job", dedup_key="report.csv"))

    second = scheduler.submit(TaskSubmission("job", dedup_key="report.csv"))

    assert first.inserted is True
    assert second.inserted is False
    assert second.task_id == first.task_id
    assert len(scheduler.query_tasks()) == 1


def test_duplicate_does_not_touch_the_existing_task(scheduler: Scheduler) -> None:
    original = scheduler.submit(
        TaskSubmission("job", dedup_key="k", priority=10, payload={"v": 1}, tags={"a": "1"})
    ).task_id
    before = scheduler.task(original)
    history = scheduler.history(original)

    scheduler.submit(
        TaskSubmission("job", dedup_key="k", priority=200, payload={"v": 2})
        .tag("a", "changed")
        .tag("extra", "x")
    )

    after = scheduler.task(original)
    assert after == before
    assert after is not None
    assert after.user_tags == {"a": "1"}
    assert scheduler.history(original) == history
    assert scheduler.count_by_tag("a") == [("1", 1)]
    assert scheduler.tag_values("extra") == []


def test_same_key_under_another_type_is_independent(scheduler: Scheduler) -> None:
    copy = scheduler.submit(TaskSubmission("copy", dedup_key="k"))
    delete = scheduler.submit(TaskSubmission("delete", dedup_key="k"))

    assert copy.inserted and delete.inserted
    assert copy.task_id != delete.task_id


def test_tasks_without_a_key_are_never_duplicates(scheduler: Scheduler) -> None:
    results = [scheduler.submit(TaskSubmission("job")) for _ in range(3)]

    assert all(r.inserted for r in results)
    assert len({r.task_id for r in results}) == 3


def _complete(s: Scheduler, task_id: UUID) -> None:
    s.start(task_id)
    s.complete(task_id)


def _cancel(s: Scheduler, task_id: UUID) -> None:
    s.cancel(task_id)


def _fail_permanently(s: Scheduler, task_id: UUID) -> None:
    s.start(task_id)
    s.fail(task_id, "boom", permanent=True)


def _dead_letter(s: Scheduler, task_id: UUID) -> None:
    for _ in range(4):  # max_retries 3: four failed attempts
        s.start(task_id)
        s.fail(task_id, "boom")


def _expire(s: Scheduler, task_id: UUID) -> None:
    s.expire(task_id)


ENDINGS: dict[str, tuple[Callable[[Scheduler, UUID], None], TaskStatus]] = {
    "complete": (_complete, TaskStatus.COMPLETED),
    "cancel": (_cancel, TaskStatus.CANCELLED),
    "fail-permanently": (_fail_permanently, TaskStatus.FAILED),
    "dead-letter": (_dead_letter, TaskStatus.DEAD_LETTER),
    "expire": (_expire, TaskStatus.EXPIRED),
}


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
def test_key_is_free_again_once_the_task_ended(scheduler: Scheduler, ending: str) -> None:
    end, status = ENDINGS[ending]
    first = scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id
    end(scheduler, first)
    old = scheduler.task(first)
    assert old is not None
    assert old.status is status

    again = scheduler.submit(TaskSubmission("job", dedup_key="k"))

    assert again.inserted is True
    assert again.task_id != first
    new = scheduler.task(again.task_id)
    assert new is not None
    assert new.status is TaskStatus.PENDING
    assert scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id == again.task_id


def _running(s: Scheduler, task_id: UUID) -> None:
    s.start(task_id)


def _retrying(s: Scheduler, task_id: UUID) -> None:
    s.start(task_id)
    s.fail(task_id, "transient")


def _requeued(s: Scheduler, task_id: UUID) -> None:
    s.start(task_id)
    s.requeue(task_id, reason="lost lease")


def _waiting(s: Scheduler, task_id: UUID) -> None:
    s.submit(TaskSubmission("child").parent(task_id))
    s.start(task_id)
    s.complete(task_id)


ACTIVE: dict[str, tuple[Callable[[Scheduler, UUID], None], TaskStatus]] = {
    "running": (_running, TaskStatus.RUNNING),
    "retrying": (_retrying, TaskStatus.PENDING),
    "requeued": (_requeued, TaskStatus.PENDING),
    "waiting": (_waiting, TaskStatus.WAITING),
}


@pytest.mark.parametrize("state", list(ACTIVE), ids=list(ACTIVE))
def test_key_stays_held_while_the_task_is_active(scheduler: Scheduler, state: str) -> None:
    move, status = ACTIVE[state]
    first = scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id
    move(scheduler, first)
    record = scheduler.task(first)
    assert record is not None
    assert record.status is status

    again = scheduler.submit(TaskSubmission("job", dedup_key="k"))

    assert again.inserted is False
    assert again.task_id == first


def test_key_of_a_blocked_task_is_held(scheduler: Scheduler, clock) -> None:
    later = clock.now + timedelta(hours=1)
    first = scheduler.submit(TaskSubmission("job", dedup_key="k", run_after=later)).task_id

    again = scheduler.submit(TaskSubmission("job", dedup_key="k"))

    assert again.task_id == first
    assert again.inserted is False


def test_key_of_a_parent_is_freed_when_its_children_finish_it(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("job", dedup_key="k")).task_id
    child = scheduler.submit(TaskSubmission("child").parent(parent)).task_id
    _complete(scheduler, parent)
    assert scheduler.submit(TaskSubmission("job", dedup_key="k")).inserted is False

    _complete(scheduler, child)

    again = scheduler.submit(TaskSubmission("job", dedup_key="k"))
    assert again.inserted is True
    assert again.task_id != parent


def test_key_of_a_child_cancelled_with_its_parent_is_freed(scheduler: Scheduler) -> None:
    parent = scheduler.submit(TaskSubmission("job")).task_id
    child = scheduler.submit(TaskSubmission("child", dedup_key="k").parent(parent)).task_id

    scheduler.cancel(parent)

    again = scheduler.submit(TaskSubmission("child", dedup_key="k"))
    assert again.inserted is True
    assert again.task_id != child


# -- two processes at the same moment ----------------------------------------------------------

KEYS = [f"object-{n}" for n in range(20)]


def _race(folder: str, barrier: Any, results: Any, worker: int) -> None:
    """Worker: open the store, wait for the others, then submit every key (twice)."""
    try:
        with Scheduler.open(folder) as scheduler:
            barrier.wait(timeout=60)
            ids = {}
            for _ in range(2):
                for key in KEYS:
                    out = scheduler.submit(
                        TaskSubmission("transfer", dedup_key=key, tags={"worker": str(worker)})
                    )
                    if key in ids:
                        assert ids[key][0] == out.task_id, "a process saw two ids for one key"
                    else:
                        ids[key] = (out.task_id, out.inserted)
            results.put((worker, {k: (str(t), inserted) for k, (t, inserted) in ids.items()}))
    except BaseException as error:
        results.put((worker, f"{type(error).__name__}: {error}"))
        raise


def test_processes_racing_on_the_same_keys_create_one_task_each(store: Path) -> None:
    Scheduler.open(store).close()  # create the store; the race is about submitting
    workers = 3
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_race, args=(str(store), barrier, results, n))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    failures = {w: o for w, o in outcomes.items() if isinstance(o, str)}
    assert failures == {}
    with Scheduler.open(store) as scheduler:
        tasks = scheduler.query_tasks(TaskQuery().with_type("transfer"))
        assert sorted(t.dedup_key for t in tasks) == sorted(KEYS)
        by_key = {t.dedup_key: str(t.id) for t in tasks}
    for key in KEYS:
        seen = {outcomes[w][key][0] for w in outcomes}
        assert seen == {by_key[key]}, f"processes disagree on {key}"
        inserted = [outcomes[w][key][1] for w in outcomes]
        assert inserted.count(True) == 1, f"{key} inserted {inserted.count(True)} times"


def _open_fresh_stores(folders: list[str], barrier: Any, results: Any) -> None:
    """Worker: for each folder, wait for the other worker, then open it and submit one task."""
    outcomes = []
    for folder in folders:
        try:
            barrier.wait(timeout=60)
            with Scheduler.open(folder) as scheduler:
                out = scheduler.submit(TaskSubmission("transfer", dedup_key="same"))
            outcomes.append(str(out.task_id))
        except BaseException as error:
            outcomes.append(f"{Path(folder).name}: {type(error).__name__}: {error}")
    results.put(outcomes)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork for speed"
)
def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Two workers started together on a store that does not exist yet must both get going
    (and agree on the dedup key). The collision window is small, so it is tried on many
    fresh folders."""
    folders = [str(tmp_path / f"fresh-{n}") for n in range(60)]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=_open_fresh_stores, args=(folders, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    first, second = (results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    failures = [o for o in first + second if " " in o]  # error messages, not task ids
    assert failures == []
    assert first == second
