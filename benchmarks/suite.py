"""One benchmark run at one N: every workload on taskmill and its baselines, `repeat` times.

Each repetition starts from fresh stores in a temporary folder (removed afterwards), and checks
that taskmill and the baselines give the same answers, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import dispatch, environment, huey_baseline, taskmill_runner
from benchmarks.dispatch import DispatchConfig
from benchmarks.duckdb_baseline import DuckDbBaseline
from benchmarks.figures import DUCKDB, HUEY, SQLITE, TASKMILL, Figure, figure_order, spec_of
from benchmarks.huey_baseline import HueyBaseline
from benchmarks.raw_sqlite import RawSqlite, replay_log
from benchmarks.timing import Summary, throughput, warm_ms
from benchmarks.workload import (
    COUNT_KEY,
    FILTER_KEY,
    FILTER_VALUE,
    SUM_KEY,
    TaskRow,
    batches,
    make_workload,
    to_submission,
)
from taskmill.infrastructure.event_store import SQLITE_FILE_NAME as LOG_FILE

FIRST = 100  # W2 "first 100"
RUNNING = 1_000  # W7: tasks running while the snapshot is taken
CATCH_UP_PAGE = 500  # events in the page whose analytical catch-up is timed


@dataclass(frozen=True, slots=True)
class Settings:
    repeat: int
    single_count: int  # W1 is fsync-bound: it submits min(N, single_count) tasks
    calls: int  # timed calls per warm query latency
    seed: int
    batch_size: int = taskmill_runner.BATCH_SIZE
    dispatch: DispatchConfig | None = None  # W5, when set
    dispatch_max_n: int | None = None  # W5 only at N up to this (None: every N)

    def runs_dispatch(self, n: int) -> bool:
        return self.dispatch is not None and (
            self.dispatch_max_n is None or n <= self.dispatch_max_n
        )


@dataclass(slots=True)
class SizeResult:
    n: int
    single_count: int
    figures: list[Figure]
    info: dict[str, Any] = field(default_factory=dict)


Samples = defaultdict[str, defaultdict[str, list[float]]]


def run_size(n: int, settings: Settings) -> SizeResult:
    rows = make_workload(n, settings.seed)
    single = rows[: min(n, settings.single_count)]
    samples: Samples = defaultdict(lambda: defaultdict(list))
    info: dict[str, Any] = {}
    for repetition in range(1, settings.repeat + 1):
        label = f"N={n:,} run {repetition}/{settings.repeat}"
        with tempfile.TemporaryDirectory(prefix="taskmill-bench-") as scratch:
            folder = Path(scratch)
            _single_submit(folder, single, samples, label)
            answers = {
                SQLITE: _raw_batch_and_queries(folder, rows, settings, samples, label),
                TASKMILL: _taskmill_batch_and_queries(folder, rows, settings, samples, info, label),
                DUCKDB: _duckdb_queries(rows, settings, samples, info, label),
            }
            if huey_baseline.available():
                answers[HUEY] = _huey_batch_and_queries(folder, rows, settings, samples, label)
            if settings.dispatch is not None and settings.runs_dispatch(n):
                _dispatch(folder, rows, settings.dispatch, samples, info, label)
        _check_answers(n, answers)
    return SizeResult(n, len(single), _figures(n, samples), info)


def run_dispatch_size(n: int, settings: Settings) -> SizeResult:
    """`python -m benchmarks dispatch`: W5 alone, with W1 (single submit of
    min(N, single_count) tasks) beside it, for the ratio issue 3 asks for."""
    config = settings.dispatch or DispatchConfig()
    rows = make_workload(n, settings.seed)
    single = rows[: min(n, settings.single_count)]
    samples: Samples = defaultdict(lambda: defaultdict(list))
    info: dict[str, Any] = {}
    for repetition in range(1, settings.repeat + 1):
        label = f"N={n:,} run {repetition}/{settings.repeat}"
        with tempfile.TemporaryDirectory(prefix="taskmill-bench-") as scratch:
            folder = Path(scratch)
            _single_submit(folder, single, samples, label)
            _dispatch(folder, rows, config, samples, info, label)
            store = folder / f"taskmill-dispatch-p{config.processes[0]}"
            info.setdefault("durability", environment.durability(store))
    return SizeResult(n, len(single), _figures(n, samples), info)


def _dispatch(
    folder: Path,
    rows: list[TaskRow],
    config: DispatchConfig,
    samples: Samples,
    info: dict[str, Any],
    label: str,
) -> None:
    def record(key: str, system: str, value: float) -> None:
        _record(samples, key, system, label, value)

    details = dispatch.measure(folder, rows, config, record)
    if huey_baseline.available():
        details["huey"] = huey_baseline.measure_dispatch(folder, rows, config.processes, record)
    w5 = info.setdefault("w5", {"config": config.as_json(), "verified": True, "runs": []})
    w5["verified"] = w5["verified"] and all(run["verified"] for run in details["taskmill"])
    w5["runs"].append(details)


def _figures(n: int, samples: Samples) -> list[Figure]:
    figures = []
    for key in sorted(samples, key=figure_order):
        figure = Figure(spec_of(key), n)
        for system, values in samples[key].items():
            figure.results[system] = Summary.of(values)
        figures.append(figure)
    return figures


def _single_submit(folder: Path, rows: list[TaskRow], samples: Samples, label: str) -> None:
    raw = RawSqlite(folder / "raw-single.db")
    try:
        _record(
            samples, "W1", SQLITE, label, throughput(len(rows), lambda: _each(raw.insert_one, rows))
        )
    finally:
        raw.close()
    with taskmill_runner.open_store(folder / "taskmill-single") as scheduler:
        rate = throughput(len(rows), lambda: taskmill_runner.submit_each(scheduler, rows))
        _record(samples, "W1", TASKMILL, label, rate)
        stored = sum(n for _, n in taskmill_runner.count_by_tag(scheduler, COUNT_KEY))
        _expect(stored == len(rows), f"W1: taskmill holds {stored} pending tasks, not {len(rows)}")
    if huey_baseline.available():
        queue = HueyBaseline(folder / "huey-single.db")
        try:
            _record(
                samples, "W1", HUEY, label, throughput(len(rows), lambda: queue.enqueue_each(rows))
            )
            queued = queue.pending_count()
            _expect(queued == len(rows), f"W1: Huey holds {queued} queued tasks, not {len(rows)}")
        finally:
            queue.close()


def _raw_batch_and_queries(
    folder: Path, rows: list[TaskRow], settings: Settings, samples: Samples, label: str
) -> dict[str, Any]:
    raw = RawSqlite(folder / "raw-batch.db")
    try:

        def load() -> None:
            for batch in batches(rows, settings.batch_size):
                raw.insert_batch(batch)

        _record(samples, "W1b", SQLITE, label, throughput(len(rows), load))
        return _queries(
            samples,
            SQLITE,
            label,
            settings.calls,
            first=lambda: raw.filter_ids(FILTER_KEY, FILTER_VALUE, FIRST),
            every=lambda: raw.filter_ids(FILTER_KEY, FILTER_VALUE, None),
            count=lambda: raw.count_by_tag(COUNT_KEY),
            total=lambda: raw.sum_by_tag(SUM_KEY),
        )
    finally:
        raw.close()


def _huey_batch_and_queries(
    folder: Path, rows: list[TaskRow], settings: Settings, samples: Samples, label: str
) -> dict[str, Any]:
    queue = HueyBaseline(folder / "huey-batch.db")
    try:
        _record(
            samples, "W1b", HUEY, label, throughput(len(rows), lambda: queue.enqueue_each(rows))
        )
        return _queries(
            samples,
            HUEY,
            label,
            settings.calls,
            first=lambda: queue.filter_ids(FILTER_KEY, FILTER_VALUE, FIRST),
            every=lambda: queue.filter_ids(FILTER_KEY, FILTER_VALUE, None),
            count=lambda: queue.count_by_tag(COUNT_KEY),
            total=lambda: queue.sum_by_tag(SUM_KEY),
        )
    finally:
        queue.close()


def _taskmill_batch_and_queries(
    folder: Path,
    rows: list[TaskRow],
    settings: Settings,
    samples: Samples,
    info: dict[str, Any],
    label: str,
) -> dict[str, Any]:
    store = folder / "taskmill-batch"
    with taskmill_runner.open_store(store) as scheduler:
        rate = throughput(len(rows), lambda: taskmill_runner.submit_batches(scheduler, rows))
        _record(samples, "W1b", TASKMILL, label, rate)
        answers = _queries(
            samples,
            TASKMILL,
            label,
            settings.calls,
            first=lambda: taskmill_runner.filter_ids(scheduler, FILTER_KEY, FILTER_VALUE, FIRST),
            every=lambda: taskmill_runner.filter_ids(scheduler, FILTER_KEY, FILTER_VALUE, None),
            count=lambda: taskmill_runner.count_by_tag(scheduler, COUNT_KEY),
            total=lambda: taskmill_runner.sum_by_tag(scheduler, SUM_KEY),
        )
        ms, analytical = warm_ms(
            lambda: taskmill_runner.count_by_tag_analytical(scheduler, COUNT_KEY), settings.calls
        )
        _record(samples, "W3-dv", TASKMILL, label, ms)
        _expect(analytical == answers["count"], "W3: the DuckDB view counts differently")
        for key, view in (("W6", "operational"), ("W6-an", "analytical")):
            start = time.perf_counter()
            events = taskmill_runner.rebuild(scheduler, view)
            _record(samples, key, TASKMILL, label, events / (time.perf_counter() - start))
            _expect(events >= len(rows), f"{key}: replayed {events} events for {len(rows)} tasks")
            info["log_events"] = events
        replayed = folder / "raw-replay.db"
        start = time.perf_counter()
        events, inserted = replay_log(store / LOG_FILE, replayed)
        _record(samples, "W6", SQLITE, label, events / (time.perf_counter() - start))
        _expect(
            events == info["log_events"] and inserted == len(rows),
            f"W6: the raw replay read {events} events and inserted {inserted} tasks",
        )
        replayed.unlink()
        _expect(
            taskmill_runner.count_by_tag(scheduler, COUNT_KEY) == answers["count"],
            "W6: the rebuilt view counts differently from the incremental one",
        )
        _while_running(scheduler, settings, samples, label)
        _catch_up_one_page(scheduler, rows, samples, label)
    info.setdefault("durability", environment.durability(store))
    return answers


def _catch_up_one_page(scheduler: Any, rows: list[TaskRow], samples: Samples, label: str) -> None:
    """The analytical view's cost of catching up one page of new events: `CATCH_UP_PAGE`
    submissions, then `CATCH_UP_PAGE` starts (updates of rows already in the view)."""
    scheduler.catch_up_analytics()
    scheduler.submit_batch([to_submission(row) for row in rows[:CATCH_UP_PAGE]])
    start = time.perf_counter()
    scheduler.catch_up_analytics()
    _record(samples, "W4-catchup", TASKMILL, label, (time.perf_counter() - start) * 1000.0)
    taskmill_runner.start_some(scheduler, CATCH_UP_PAGE)
    start = time.perf_counter()
    scheduler.catch_up_analytics()
    _record(samples, "W4-catchup-changes", TASKMILL, label, (time.perf_counter() - start) * 1e3)


def _while_running(scheduler: Any, settings: Settings, samples: Samples, label: str) -> None:
    """W7: `snapshot().stats_by_tag` with `RUNNING` tasks running; the same counts from the
    DuckDB view (`as_of` the snapshot) must agree."""
    pending = sum(n for _, n in taskmill_runner.count_by_tag(scheduler, COUNT_KEY))
    target = min(RUNNING, pending)
    taskmill_runner.start_some(scheduler, target)
    ms, live = warm_ms(lambda: taskmill_runner.stats_by_tag(scheduler, COUNT_KEY), settings.calls)
    _record(samples, "W7", TASKMILL, label, ms)
    ms, past = warm_ms(
        lambda: taskmill_runner.stats_by_tag_as_of(scheduler, COUNT_KEY), settings.calls
    )
    _record(samples, "W7-dv", TASKMILL, label, ms)
    _expect(live == past, "W7: the DuckDB view's stats_by_tag differ from the live snapshot")
    running = sum(by_status.get("running", 0) for by_status in live.values())
    _expect(running == target, f"W7: {running} tasks running, not {target}")


def _duckdb_queries(
    rows: list[TaskRow], settings: Settings, samples: Samples, info: dict[str, Any], label: str
) -> dict[str, Any]:
    start = time.perf_counter()
    duck = DuckDbBaseline(rows)
    info.setdefault("duckdb_load_s", []).append(round(time.perf_counter() - start, 3))
    try:
        ms, counts = warm_ms(lambda: duck.count_by_tag(COUNT_KEY), settings.calls)
        _record(samples, "W3", DUCKDB, label, ms)
        ms, totals = warm_ms(lambda: duck.sum_by_tag(SUM_KEY), settings.calls)
        _record(samples, "W4", DUCKDB, label, ms)
        return {"count": counts, "total": totals}
    finally:
        duck.close()


def _queries(
    samples: Samples,
    system: str,
    label: str,
    calls: int,
    *,
    first: Callable[[], list[Any]],
    every: Callable[[], list[Any]],
    count: Callable[[], list[tuple[str, int]]],
    total: Callable[[], list[tuple[str, int, int]]],
) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for key, name, query in (
        ("W2-100", "first", first),
        ("W2-all", "all", every),
        ("W3", "count", count),
        ("W4", "total", total),
    ):
        ms, answers[name] = warm_ms(query, calls)
        _record(samples, key, system, label, ms)
    return answers


def _check_answers(n: int, answers: dict[str, dict[str, Any]]) -> None:
    """Every system must agree: the same number of matches and the same counts per value."""
    matches = {system: len(a["all"]) for system, a in answers.items() if "all" in a}
    _expect(len(set(matches.values())) == 1, f"W2: systems disagree on the matches: {matches}")
    expected = min(FIRST, next(iter(matches.values())))
    for system, a in answers.items():
        if "first" in a:
            _expect(
                len(a["first"]) == expected,
                f"W2: {system} returned {len(a['first'])} of {expected}",
            )
    counts = {system: a["count"] for system, a in answers.items()}
    _expect(len({tuple(c) for c in counts.values()}) == 1, f"W3: systems disagree: {counts}")
    _expect(sum(n for _, n in counts[SQLITE]) == n, f"W3: counts do not add up to {n}")
    totals = {system: a["total"] for system, a in answers.items()}
    _expect(len({tuple(t) for t in totals.values()}) == 1, f"W4: systems disagree: {totals}")


def _each(action: Callable[[TaskRow], None], rows: list[TaskRow]) -> None:
    for row in rows:
        action(row)


def _record(samples: Samples, key: str, system: str, label: str, value: float) -> None:
    samples[key][system].append(value)
    spec = spec_of(key)
    print(
        f"  [{label}] {spec.title:<36} {system:<12} {value:>12,.2f} {spec.unit}",
        file=sys.stderr,
        flush=True,
    )


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)
