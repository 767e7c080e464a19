"""Property tests: random valid command sequences against `Scheduler`, checked against a model.

A hypothesis state machine submits tasks (tags, priorities, duplicate dedup keys, future
`run_after`, children with overriding tags, batches) and moves them through their lifecycle
(start, complete, fail, cancel, expire, unblock, requeue), now and then issuing a command the
task's status forbids. After every step it checks the view against a small reference model and
the view's own rules; now and then, and at the end of every sequence, it checks that

(a) `rebuild_views()` gives exactly the rows of the incrementally maintained view,
(b) re-applying pages the view already holds changes nothing, and
(c) a view fed with other page sizes (1, 7, random, overlapping) holds the same rows.
"""

from __future__ import annotations

import functools
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from analytics_rows import dump_file, dump_store
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from view_rows import assert_same_rows, dump, read_only

import taskmill.application.task_log as task_log_module
import taskmill.infrastructure.task_ids as task_ids_module
import taskmill.projections.analytical.view as analytical_view_module
import taskmill.projections.operational.view as view_module
from taskmill import (
    IllegalTransition,
    InvalidSubmission,
    Scheduler,
    TaskAggregate,
    TaskNotFound,
    TaskQuery,
    TaskStatus,
    TaskSubmission,
)
from taskmill.projections.operational.view import OperationalView

S = TaskStatus
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.DEAD_LETTER, S.CANCELLED, S.EXPIRED})
ACTIVE = frozenset(set(S) - TERMINAL)
CHILD_FAILURES = frozenset({S.FAILED, S.DEAD_LETTER, S.EXPIRED})
APP = "taskmill"
BASE = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
FUTURE = BASE + timedelta(days=10)  # the clock never gets there within one sequence
PAST = BASE - timedelta(hours=1)
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]

TYPES = ["copy", "sync"]
TAG_KEYS = ["a", "b", "env", "Env", "x.y"]  # "env" and "Env": keys are case-sensitive
TAG_VALUES = ["", "1", "2", "ü"]
DEDUP_KEYS = ["k1", "k2", "k3"]

# Which statuses allow each lifecycle command (anything else raises IllegalTransition).
ALLOWED = {
    "start": frozenset({S.PENDING}),
    "complete": frozenset({S.RUNNING}),
    "fail": frozenset({S.RUNNING}),
    "requeue": frozenset({S.RUNNING}),
    "unblock": frozenset({S.BLOCKED}),
    "cancel": ACTIVE,
    "expire": ACTIVE,
}


# The random bits of a version 7 id (rand_a, rand_b); the rest is time, version and variant.
ID_RANDOM_BITS = (0xFFF << 64) | ((1 << 62) - 1)


def seeded_task_ids(seed: int) -> Callable[[datetime], UUID]:
    """`new_task_id`, with its random bits drawn from a seeded generator: the real layout
    (time-ordered, version 7), the same ids in every run."""
    bits = random.Random(seed)

    def new_task_id(now: datetime) -> UUID:
        real = task_ids_module.new_task_id(now)
        return UUID(int=(real.int & ~ID_RANDOM_BITS) | (bits.getrandbits(80) & ID_RANDOM_BITS))

    return new_task_id


class TickingClock:
    """Deterministic time: every reading is 250 ms after the previous one."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=250)
        return self.now


# -- what to submit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sub:
    """The parameters of one submission (the parent is chosen by the rule)."""

    task_type: str
    tags: dict[str, str]
    priority: int
    dedup_key: str | None
    group: str | None
    max_retries: int
    run_after: datetime | None
    ttl: float | None
    payload: Any
    expected_io: dict[str, int]
    fluent: bool

    def build(self, parent: UUID | None = None) -> TaskSubmission:
        if not self.fluent:
            return TaskSubmission(
                self.task_type,
                payload=self.payload,
                priority=self.priority,
                group=self.group,
                dedup_key=self.dedup_key,
                tags=self.tags,
                max_retries=self.max_retries,
                ttl=self.ttl,
                run_after=self.run_after,
                parent=parent,
                expected_io=self.expected_io,
            )
        submission = TaskSubmission(self.task_type).tags(self.tags).priority(self.priority)
        submission = submission.max_retries(self.max_retries).payload_json(self.payload)
        if self.dedup_key is not None:
            submission = submission.dedup_key(self.dedup_key)
        if self.group is not None:
            submission = submission.group(self.group)
        if self.run_after is not None:
            submission = submission.run_after(self.run_after)
        if self.ttl is not None:
            submission = submission.ttl(self.ttl)
        if self.expected_io:
            submission = submission.expected_io(**self.expected_io)
        if parent is not None:
            submission = submission.parent(parent)
        return submission


payloads = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["p", "q"]), st.booleans(), max_size=2),
)
moments = st.one_of(
    st.none(),
    st.none(),
    st.builds(lambda z: FUTURE.astimezone(z), st.sampled_from(ZONES)),
    st.builds(lambda z: PAST.astimezone(z), st.sampled_from(ZONES)),
)
subs = st.builds(
    Sub,
    task_type=st.sampled_from(TYPES),
    tags=st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES), max_size=3),
    priority=st.one_of(st.sampled_from([0, 128, 255]), st.integers(0, 255)),
    dedup_key=st.one_of(st.none(), st.sampled_from(DEDUP_KEYS)),
    group=st.one_of(st.none(), st.sampled_from(["g1", "g2"])),
    max_retries=st.integers(0, 2),
    run_after=moments,
    ttl=st.one_of(st.none(), st.sampled_from([0.5, 60, 3600.0])),
    payload=payloads,
    expected_io=st.dictionaries(
        st.sampled_from(["read_bytes", "net_tx_bytes"]), st.integers(0, 2**40), max_size=2
    ),
    fluent=st.booleans(),
)


# -- the reference model -----------------------------------------------------------------------


@dataclass
class ModelTask:
    task_type: str
    status: TaskStatus
    tags: dict[str, str]
    dedup_key: str | None
    parent: UUID | None
    max_retries: int
    attempts: int = 0
    children: list[UUID] = field(default_factory=list)
    unfinished: set[UUID] = field(default_factory=set)
    failed_children: int = 0


F = TypeVar("F", bound=Callable[..., Any])


def step(function: F) -> F:
    """Marks the machine unclean while a rule or invariant runs, so that a failed step is not
    followed by the end-of-sequence checks in `teardown` (which would hide the real failure)."""

    @functools.wraps(function)
    def wrapper(self: SchedulerMachine, *args: Any, **kwargs: Any) -> Any:
        self.clean = False
        result = function(self, *args, **kwargs)
        self.clean = True
        return result

    return wrapper  # type: ignore[return-value]


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clean = True
        self.folder = Path(tempfile.mkdtemp(prefix="taskmill-props-"))
        self.store = self.folder / "store"
        self.clock = TickingClock()
        # Deterministic task ids, so that a failing example replays identically (the order
        # in which a cancel walks a parent's children, say, depends on the ids).
        self._real_new_task_id = task_log_module.new_task_id
        assert self._real_new_task_id is task_ids_module.new_task_id, "ids come from elsewhere"
        task_log_module.new_task_id = seeded_task_ids(20300101)
        self.scheduler = Scheduler.open(self.store, clock=self.clock)
        self.other: Scheduler | None = None  # a second handle, as another process would have
        self.model: dict[UUID, ModelTask] = {}  # in submission order
        self.side_views = 0

    def teardown(self) -> None:
        try:
            if self.clean:
                self.check_replay(page_sizes=[1, 7], windows=[(0, 5), (3, 11)])
                self.check_analytics_replay([3])
        finally:
            task_log_module.new_task_id = self._real_new_task_id
            self.scheduler.close()
            if self.other is not None:
                self.other.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- the model ---------------------------------------------------------------------------

    def ids(self, statuses: frozenset[TaskStatus] = frozenset(S)) -> list[UUID]:
        return [task_id for task_id, task in self.model.items() if task.status in statuses]

    def holder(self, task_type: str, dedup_key: str) -> UUID | None:
        for task_id, task in self.model.items():
            if (task.task_type, task.dedup_key, task.status in ACTIVE) == (
                task_type,
                dedup_key,
                True,
            ):
                return task_id
        return None

    def expect_submit(self, sub: Sub) -> UUID | None:
        """The id a duplicate submission returns, or None when a task will be created."""
        if sub.dedup_key is not None:
            return self.holder(sub.task_type, sub.dedup_key)
        return None

    def record_submit(self, task_id: UUID, sub: Sub, parent: UUID | None) -> None:
        # Ids stay time-ordered version 7 ones (the seeded ids replace only the random bits).
        assert task_id.version == 7, task_id
        if self.model:
            assert task_id.int >> 80 >= next(reversed(self.model)).int >> 80, task_id
        tags = {}
        if parent is not None:
            tags = {
                k: v for k, v in self.model[parent].tags.items() if not k.startswith("taskmill.")
            }
            self.model[parent].children.append(task_id)
            self.model[parent].unfinished.add(task_id)
        tags.update(sub.tags)
        tags["taskmill.type"] = sub.task_type
        if sub.group is not None:
            tags["taskmill.group"] = sub.group
        blocked = sub.run_after is not None and sub.run_after > self.clock.now
        self.model[task_id] = ModelTask(
            task_type=sub.task_type,
            status=S.BLOCKED if blocked else S.PENDING,
            tags=tags,
            dedup_key=sub.dedup_key,
            parent=parent,
            max_retries=sub.max_retries,
        )

    def submit_all(self, scheduler: Scheduler, items: list[tuple[Sub, UUID | None]]) -> None:
        """Submit as one batch (or one `submit`) and check each outcome against the model."""
        submissions = [sub.build(parent) for sub, parent in items]
        if len(submissions) == 1 and items[0][0].fluent:
            results = [scheduler.submit(submissions[0])]
        else:
            results = scheduler.submit_batch(submissions)
        assert len(results) == len(items)
        for (sub, parent), result in zip(items, results, strict=True):
            duplicate_of = self.expect_submit(sub)
            if duplicate_of is not None:
                assert (result.task_id, result.inserted) == (duplicate_of, False), sub
            else:
                assert result.inserted, sub
                assert result.task_id not in self.model
                self.record_submit(result.task_id, sub, parent)

    def finished(self, task_id: UUID) -> None:
        """A task ended: tell its parent, finalising the parent if it was the last child."""
        task = self.model[task_id]
        assert task.status in TERMINAL
        if task.parent is None:
            return
        parent = self.model[task.parent]
        if task_id not in parent.unfinished:
            return
        parent.unfinished.discard(task_id)
        if task.status in CHILD_FAILURES:
            parent.failed_children += 1
        if parent.status is S.WAITING and not parent.unfinished:
            parent.status = S.FAILED if parent.failed_children else S.COMPLETED
            self.finished(task.parent)

    def cancel_tree(self, task_id: UUID) -> None:
        task = self.model[task_id]
        task.status = S.CANCELLED
        for child in list(task.unfinished):
            if self.model[child].status in ACTIVE:
                self.cancel_tree(child)
        self.finished(task_id)

    # -- submitting --------------------------------------------------------------------------

    @rule(data=st.data(), sub=subs)
    @step
    def submit(self, data: st.DataObject, sub: Sub) -> None:
        """One task; a child (with its own tags overriding the parent's) half of the time."""
        active = self.ids(ACTIVE)
        parent = data.draw(st.one_of(st.none(), st.sampled_from(active))) if active else None
        self.submit_all(self.scheduler, [(sub, parent)])

    @rule(data=st.data(), batch=st.lists(subs, min_size=1, max_size=5))
    @step
    def submit_batch(self, data: st.DataObject, batch: list[Sub]) -> None:
        items: list[tuple[Sub, UUID | None]] = []
        for sub in batch:
            active = self.ids(ACTIVE)
            parent = data.draw(st.one_of(st.none(), st.sampled_from(active))) if active else None
            items.append((sub, parent))
        self.submit_all(self.scheduler, items)

    # -- lifecycle commands ------------------------------------------------------------------

    @precondition(lambda self: self.ids(frozenset({S.PENDING, S.RUNNING, S.BLOCKED})))
    @rule(data=st.data())
    @step
    def advance(self, data: st.DataObject) -> None:
        """start, complete, fail, requeue or unblock a task whose status allows it."""
        self.move(data, ["start", "complete", "fail", "requeue", "unblock"])

    @precondition(lambda self: self.ids(frozenset({S.PENDING, S.RUNNING})))
    @rule(data=st.data())
    @step
    def work(self, data: st.DataObject) -> None:
        """What a worker mostly does: start tasks and finish them (so parents get to wait)."""
        self.move(data, ["start", "complete", "complete", "fail"])

    def move(self, data: st.DataObject, commands: list[str]) -> None:
        commands = [command for command in commands if self.ids(ALLOWED[command])]
        command = data.draw(st.sampled_from(commands), label="command")
        candidates = self.ids(ALLOWED[command])
        # Prefer parents and children half of the time, so that parents get finalised.
        family = [i for i in candidates if self.model[i].parent or self.model[i].children]
        if family and data.draw(st.booleans(), label="family first"):
            candidates = family
        task_id = data.draw(st.sampled_from(candidates), label="task")
        self.apply(command, task_id, data)

    @precondition(lambda self: any(t.parent for t in self.model.values() if t.status in ACTIVE))
    @rule(data=st.data())
    @step
    def settle_child(self, data: st.DataObject) -> None:
        """Take an active child to an end (through start first, if it has to), so that its
        parent is finalised, as completed or (a child failed) as failed."""
        children = [i for i in self.ids(ACTIVE) if self.model[i].parent]
        task_id = data.draw(st.sampled_from(children), label="child")
        end = data.draw(st.sampled_from(["complete", "fail", "expire", "cancel"]), label="end")
        task = self.model[task_id]
        if end in ("complete", "fail") and task.status is not S.WAITING:
            if task.status is S.BLOCKED:
                self.apply("unblock", task_id, data)
            if task.status is S.PENDING:
                self.apply("start", task_id, data)
            self.apply(end, task_id, data, permanent=True)
        else:
            self.apply("expire" if end == "expire" else "cancel", task_id, data)

    def apply(
        self, command: str, task_id: UUID, data: st.DataObject, permanent: bool | None = None
    ) -> None:
        """Run one lifecycle command through the scheduler and apply it to the model."""
        task = self.model[task_id]
        if command == "start":
            self.scheduler.start(task_id, worker_id=data.draw(st.sampled_from([None, "w1"])))
            task.status = S.RUNNING
            task.attempts += 1
        elif command == "complete":
            io = data.draw(st.sampled_from([None, {"write_bytes": 10}]), label="actual_io")
            self.scheduler.complete(task_id, actual_io=io)
            if task.children and task.unfinished:
                task.status = S.WAITING
            else:
                # A parent whose children all ended already is finalised at once: failed if
                # a child failed (the same outcome as when the children end after it).
                task.status = S.FAILED if task.failed_children else S.COMPLETED
                self.finished(task_id)
        elif command == "fail":
            if permanent is None:
                permanent = data.draw(st.booleans(), label="permanent")
            retry_at = data.draw(moments, label="retry_at")
            self.scheduler.fail(task_id, "boom", permanent=permanent, retry_at=retry_at)
            if permanent:
                task.status = S.FAILED
            elif task.attempts <= task.max_retries:
                blocked = retry_at is not None and retry_at > self.clock.now
                task.status = S.BLOCKED if blocked else S.PENDING
            else:
                task.status = S.DEAD_LETTER
            if task.status in TERMINAL:
                self.finished(task_id)
        elif command == "requeue":
            self.scheduler.requeue(task_id, reason="lease lost")
            task.status = S.PENDING
            task.attempts -= 1
        elif command == "unblock":
            self.scheduler.unblock(task_id)
            task.status = S.PENDING
        elif command == "expire":
            self.scheduler.expire(task_id)
            task.status = S.EXPIRED
            self.finished(task_id)
        else:
            self.scheduler.cancel(task_id, reason=data.draw(st.sampled_from([None, "user"])))
            self.cancel_tree(task_id)

    @precondition(lambda self: self.ids(ACTIVE))
    @rule(data=st.data())
    @step
    def end_early(self, data: st.DataObject) -> None:
        """Cancel (a task, or a parent with unfinished children) or expire an active task."""
        parents = [i for i in self.ids(ACTIVE) if self.model[i].unfinished]
        commands = ["cancel", "expire"] + (["cancel a parent"] if parents else [])
        command = data.draw(st.sampled_from(commands), label="command")
        task_id = data.draw(
            st.sampled_from(parents if command == "cancel a parent" else self.ids(ACTIVE)),
            label="task",
        )
        self.apply("expire" if command == "expire" else "cancel", task_id, data)

    # -- commands that must be refused, appending nothing ------------------------------------

    @rule(data=st.data())
    @step
    def refused(self, data: st.DataObject) -> None:
        """Every command a task's status forbids, a batch with one bad submission (at a
        random place), or an unknown task: a typed error each time, log and view untouched."""
        kinds = ["bad batch", "unknown task"] + (["illegal transitions"] * 2 if self.model else [])
        kind = data.draw(st.sampled_from(kinds), label="kind")
        position, rows = self.scheduler.log_position, dump(self.live_path())
        if kind == "illegal transitions":
            # A status first, then a task in it: rare statuses are picked as often as common.
            statuses = sorted({task.status for task in self.model.values()})
            status = data.draw(st.sampled_from(statuses), label="status")
            task_id = data.draw(st.sampled_from(self.ids(frozenset({status}))), label="task")
            for command, allowed in ALLOWED.items():
                if status not in allowed:
                    with pytest.raises(IllegalTransition):
                        self.call(command, task_id)
                    assert self.scheduler.log_position == position, f"refused {command}"
        elif kind == "unknown task":
            command = data.draw(st.sampled_from(sorted(ALLOWED)), label="command")
            with pytest.raises(TaskNotFound):
                self.call(command, UUID(int=42))
            assert self.scheduler.task(UUID(int=42)) is None
        else:
            with pytest.raises(InvalidSubmission):
                self.scheduler.submit_batch(self.bad_batch(data))
        assert self.scheduler.log_position == position
        assert_same_rows(rows, dump(self.live_path()), f"view after a refused {kind}")

    def call(self, command: str, task_id: UUID) -> None:
        scheduler = self.scheduler
        calls: dict[str, Callable[[], None]] = {
            "start": lambda: scheduler.start(task_id),
            "complete": lambda: scheduler.complete(task_id),
            "fail": lambda: scheduler.fail(task_id, "late"),
            "requeue": lambda: scheduler.requeue(task_id, reason="late"),
            "unblock": lambda: scheduler.unblock(task_id),
            "cancel": lambda: scheduler.cancel(task_id),
            "expire": lambda: scheduler.expire(task_id),
        }
        calls[command]()

    def bad_batch(self, data: st.DataObject) -> list[TaskSubmission]:
        ended = self.ids(TERMINAL)
        kinds = ["reserved tag", "priority", "unknown parent"] + (["ended parent"] if ended else [])
        kind = data.draw(st.sampled_from(kinds), label="bad submission")
        if kind == "reserved tag":
            bad = TaskSubmission("copy").tag("taskmill.type", "x")
        elif kind == "priority":
            bad = TaskSubmission("copy", priority=256)
        elif kind == "unknown parent":
            bad = TaskSubmission("copy").parent(UUID(int=7))
        else:
            bad = TaskSubmission("copy").parent(data.draw(st.sampled_from(ended)))
        good = data.draw(st.lists(subs, max_size=3), label="good submissions")
        # Good items may be children of active tasks: the rejected batch has then changed
        # those parents in memory, and later steps see whether that was forgotten.
        active = self.ids(ACTIVE)
        submissions = [
            sub.build(data.draw(st.one_of(st.none(), st.sampled_from(active)), label="parent"))
            if active
            else sub.build()
            for sub in good
        ]
        submissions.insert(data.draw(st.integers(0, len(submissions)), label="at"), bad)
        return submissions

    # -- other writers, reopening, rebuilding ------------------------------------------------

    def other_handle(self) -> Scheduler:
        if self.other is None:
            self.other = Scheduler.open(self.store, clock=self.clock)
        return self.other

    @rule(data=st.data(), sub=subs)
    @step
    def elsewhere(self, data: st.DataObject, sub: Sub) -> None:
        """Another handle on the same store writes or rebuilds; a writer dies between log
        and view; the store is reopened. This handle must keep answering correctly."""
        active = self.ids(ACTIVE)
        kinds = ["other submits", "view misses events", "reopen", "rebuild", "other rebuilds"]
        kind = data.draw(st.sampled_from(kinds + (["other cancels"] if active else [])))
        if kind == "other submits":
            self.submit_all(self.other_handle(), [(sub, None)])
        elif kind == "other cancels":
            task_id = data.draw(st.sampled_from(active), label="task")
            self.other_handle().cancel(task_id)
            self.cancel_tree(task_id)
        elif kind == "view misses events":
            self.write_behind_the_view(sub)
        elif kind == "reopen":
            self.scheduler.close()
            self.scheduler = Scheduler.open(self.store, clock=self.clock)
        else:
            # (a) mid-sequence: a rebuild (by this or another handle) changes no row.
            before = dump(self.live_path())
            rebuilder = self.scheduler if kind == "rebuild" else self.other_handle()
            assert rebuilder.rebuild_views() == self.scheduler.log_position
            assert_same_rows(before, dump(self.live_path()), "rebuilt view vs incremental")

    def write_behind_the_view(self, sub: Sub) -> None:
        """A writer appended to the log but died before updating the view (simulated by
        writing through the log alone): the next command must bring the view up to date."""
        outcomes, _ = self.scheduler._log.submit_batch([sub.build().to_spec()])
        duplicate_of = self.expect_submit(sub)
        if duplicate_of is None:
            assert outcomes[0].inserted
            self.record_submit(outcomes[0].task_id, sub, None)
        else:
            assert (outcomes[0].task_id, outcomes[0].inserted) == (duplicate_of, False)
        follow_up = Sub("sync", {}, 1, None, None, 0, None, None, None, {}, fluent=True)
        self.submit_all(self.scheduler, [(follow_up, None)])
        # The follow-up's events wait in memory; applying them must not skip the one behind.
        assert self.scheduler.catch_up() == self.scheduler.log_position

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    @step
    def check_views(self, data: st.DataObject) -> None:
        """(a), (b), (c) with random page sizes and random already-applied windows."""
        head = self.scheduler.log_position
        sizes = data.draw(st.lists(st.integers(1, 12), min_size=1, max_size=3), label="sizes")
        windows = data.draw(
            st.lists(st.tuples(st.integers(0, head - 1), st.integers(1, 12)), max_size=4),
            label="windows",
        )
        if data.draw(st.booleans(), label="ragged pages"):
            self.check_ragged_pages(data)
        else:
            self.check_replay(sizes, windows)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    @step
    def check_analytics(self, data: st.DataObject) -> None:
        """The analytical view, caught up at random points of the sequence (so in pages that
        end anywhere), agrees with the model, with a view built in other page sizes, and with
        its own rebuild."""
        rows = self.scheduler.aggregate_tasks(
            TaskAggregate().group_by_status().group_by_tag("a").max("attempts")
        )
        expected = Counter((t.status, t.tags.get("a")) for t in self.model.values())
        assert {(row.status, row.group["a"]): row.count for row in rows} == dict(expected)
        most = {}
        for t in self.model.values():
            group = (t.status, t.tags.get("a"))
            most[group] = max(most.get(group, 0), t.attempts)
        assert {(row.status, row.group["a"]): row.max_attempts for row in rows} == most
        if data.draw(st.booleans(), label="replay analytics"):
            sizes = data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=2), label="sizes")
            self.check_analytics_replay(sizes)

    def check_analytics_replay(self, page_sizes: list[int]) -> None:
        live = dump_store(self.store)
        source = self.scheduler._source
        for size in page_sizes:
            original = analytical_view_module.PAGE_SIZE
            analytical_view_module.PAGE_SIZE = size
            try:
                self.side_views += 1
                side = analytical_view_module.AnalyticalView(
                    self.folder / f"side-analytics-{self.side_views}", APP
                )
                try:
                    side.catch_up(source)
                finally:
                    side.close()
            finally:
                analytical_view_module.PAGE_SIZE = original
            assert dump_file(side.path) == live, f"analytical view built in pages of {size}"
        assert self.scheduler.rebuild_views(views=["analytical"]) == source.head()
        assert dump_store(self.store) == live, "rebuilt analytical view vs incremental"

    # -- the view properties -----------------------------------------------------------------

    def check_replay(self, page_sizes: list[int], windows: list[tuple[int, int]]) -> None:
        source = self.scheduler._source
        self.scheduler.catch_up()
        live = dump(self.live_path())
        head = self.scheduler.log_position
        assert live["view_position"] == ([(APP, head)] if head else [])

        # (b) Pages the view already applied (whole windows, and every page of the log) are
        # applied again: nothing changes.
        pages = [source.read(after, limit) for after, limit in windows]
        pages += [source.read(after, 4) for after in range(0, head, 4)]
        for page in pages:
            self.scheduler._view.apply_page(page)
        assert_same_rows(live, dump(self.live_path()), "view after re-applying pages")

        # (c) A fresh view fed with other page sizes holds the same rows.
        for size in page_sizes:
            original = view_module.PAGE_SIZE
            view_module.PAGE_SIZE = size
            try:
                view = self.side_view()
                try:
                    assert view.catch_up(source) == head
                    path = view.path
                finally:
                    view.close()
            finally:
                view_module.PAGE_SIZE = original
            assert_same_rows(live, dump(path), f"view built in pages of {size}")

        # (a) The rebuilt view equals the incremental one, row for row.
        assert self.scheduler.rebuild_views() == head
        assert_same_rows(live, dump(self.live_path()), "rebuilt view vs incremental")

    def check_ragged_pages(self, data: st.DataObject) -> None:
        """(b)+(c): pages of random sizes that overlap what the view already holds."""
        source = self.scheduler._source
        live = dump(self.live_path())
        head = self.scheduler.log_position
        view = self.side_view()
        try:
            position = 0
            while position < head:
                back = data.draw(st.integers(0, min(position, 3)), label="overlap")
                size = data.draw(st.integers(1, 9), label="page size")
                page = source.read(position - back, size)
                view.apply_page(page)
                assert view.position() == max(position, page[-1][0])
                position = view.position()
            path = view.path
        finally:
            view.close()
        assert_same_rows(live, dump(path), "view built from ragged, overlapping pages")

    def live_path(self) -> Path:
        """The live view file, caught up (commands leave their events for the next read to
        apply; the catch-up also notices a file another handle's rebuild swapped in)."""
        self.scheduler.catch_up()
        return self.scheduler.view_path

    def side_view(self) -> OperationalView:
        self.side_views += 1
        return OperationalView(self.folder / f"side-view-{self.side_views}", APP)

    # -- invariants after every step ---------------------------------------------------------

    @invariant()
    @step
    def view_matches_model(self) -> None:
        scheduler = self.scheduler
        listed = scheduler.query_tasks()
        assert [(r.priority, r.sequence) for r in listed] == sorted(
            (r.priority, r.sequence) for r in listed
        )
        records = {record.id: record for record in listed}
        assert set(records) == set(self.model)
        for task_id, task in self.model.items():
            record = records[task_id]
            assert (record.status, record.attempts) == (task.status, task.attempts), task_id
            assert dict(record.tags) == task.tags
            assert (record.task_type, record.dedup_key) == (task.task_type, task.dedup_key)
            assert record.parent_id == task.parent
            assert (record.children_total, record.children_unfinished) == (
                len(task.children),
                len(task.unfinished),
            )
        statuses = Counter(task.status for task in self.model.values())
        assert scheduler.status_counts() == dict(statuses)
        for key in ["a", "env", "taskmill.type"]:
            values = Counter(t.tags[key] for t in self.model.values() if key in t.tags)
            assert dict(scheduler.count_by_tag(key)) == dict(values), key
            running = Counter(
                t.tags[key] for t in self.model.values() if key in t.tags and t.status is S.RUNNING
            )
            assert dict(scheduler.count_by_tag(key, status=S.RUNNING)) == dict(running), key
        for value in ["", "1"]:
            for status in [S.PENDING, S.CANCELLED]:
                query = TaskQuery().with_tag("a", value).with_status(status)
                found = [r.id for r in scheduler.query_tasks(query)]
                wanted = [
                    i
                    for i, t in self.model.items()
                    if (t.tags.get("a"), t.status) == (value, status)
                ]
                assert sorted(found) == sorted(wanted), (value, status)

    @invariant()
    @step
    def view_is_consistent(self) -> None:
        """(d) The view's own rules, straight from its tables."""
        path = self.live_path()
        assert self.scheduler.view_position == self.scheduler.log_position
        with read_only(path) as db:
            statuses = {s for (s,) in db.execute("SELECT DISTINCT status FROM tasks")}
            assert statuses <= {s.value for s in S}
            terminal = ", ".join(f"'{s.value}'" for s in TERMINAL)
            wrong_finish = db.execute(
                f"SELECT id, status, finished_at FROM tasks "
                f"WHERE (status IN ({terminal})) != (finished_at IS NOT NULL)"
            ).fetchall()
            assert not wrong_finish, f"finished_at set iff terminal: {wrong_finish}"

            recount = db.execute(
                "SELECT g.key, g.value, t.status, count(*) FROM task_tags g "
                "JOIN tasks t ON t.id = g.task_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            ).fetchall()
            counts = db.execute("SELECT * FROM tag_counts ORDER BY 1, 2, 3").fetchall()
            assert counts == recount, "tag_counts differ from a recount of task_tags"

            stale_tags = db.execute(
                "SELECT t.id, g.key FROM task_tags g JOIN tasks t ON t.id = g.task_id "
                f"WHERE g.phase != (CASE WHEN t.status IN ({terminal}) THEN t.status "
                "ELSE 'active' END) OR json_extract(t.tags, '$.\"' || g.key || '\"') "
                "IS NOT g.value"
            ).fetchall()
            assert not stale_tags, f"task_tags disagree with tasks: {stale_tags}"
            tag_rows = db.execute(
                "SELECT (SELECT count(*) FROM task_tags), "
                "(SELECT coalesce(sum((SELECT count(*) FROM json_each(tags))), 0) FROM tasks)"
            ).fetchone()
            assert tag_rows[0] == tag_rows[1], "task_tags holds other tags than tasks.tags"

            active = ", ".join(f"'{s.value}'" for s in ACTIVE)
            shared_keys = db.execute(
                f"SELECT task_type, dedup_key, count(*) FROM tasks WHERE dedup_key IS NOT NULL "
                f"AND status IN ({active}) GROUP BY 1, 2 HAVING count(*) > 1"
            ).fetchall()
            assert not shared_keys, f"dedup key held by several active tasks: {shared_keys}"

            children = db.execute(
                f"SELECT p.id, p.status, p.children_total, p.children_unfinished, "
                f"(SELECT count(*) FROM tasks c WHERE c.parent_id = p.id), "
                f"(SELECT count(*) FROM tasks c WHERE c.parent_id = p.id "
                f" AND c.status IN ({active})) FROM tasks p"
            ).fetchall()
            for task_id, status, total, unfinished, real_total, real_unfinished in children:
                assert (total, unfinished) == (real_total, real_unfinished), task_id
                if status == S.WAITING.value:
                    assert unfinished > 0, f"{task_id} waits for no child"
                if status == S.CANCELLED.value:
                    assert unfinished == 0, f"cancelled {task_id} left children running"


def test_random_command_sequences_keep_every_view_equal() -> None:
    run_state_machine_as_test(
        SchedulerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
