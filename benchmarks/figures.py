"""The figures we report, their units, and the goals issue 5 sets for them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.timing import Summary

TASKMILL, SQLITE, DUCKDB, HUEY = "taskmill", "raw sqlite3", "duckdb", "huey"
BASELINES = (SQLITE, DUCKDB, HUEY)


@dataclass(frozen=True, slots=True)
class FigureSpec:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    goal: str
    meets_goal: Callable[[Figure], bool | None]
    goal_at_n: int | None = None  # a goal set for this N: below it, only a miss is a verdict


@dataclass(slots=True)
class Figure:
    """One figure at one N: a summary per system over the repetitions."""

    spec: FigureSpec
    n: int
    results: dict[str, Summary] = field(default_factory=dict)

    def speed_ratio(self, baseline: str) -> float | None:
        """taskmill's speed over the baseline's (medians): above 1, taskmill is faster."""
        if TASKMILL not in self.results or baseline not in self.results:
            return None
        ours, theirs = self.results[TASKMILL].median, self.results[baseline].median
        return ours / theirs if self.spec.higher_is_better else theirs / ours

    def goal_met(self) -> bool | None:
        """Whether taskmill meets the goal; None when unknown, or when met below the N the goal
        is set for (these latencies grow with N, so a miss below it is still a miss)."""
        met = self.spec.meets_goal(self) if TASKMILL in self.results else None
        if met and self.spec.goal_at_n is not None and self.n < self.spec.goal_at_n:
            return None
        return met


def _ratios_at_least(goals: dict[str, float]) -> Callable[[Figure], bool | None]:
    """Every goal ratio met; None when one is unknown (a baseline not measured) and none missed."""

    def check(figure: Figure) -> bool | None:
        ratios = {baseline: figure.speed_ratio(baseline) for baseline in goals}
        if any(r is not None and r < goals[b] for b, r in ratios.items()):
            return False
        return None if None in ratios.values() else True

    return check


def _at_least(goal: float) -> Callable[[Figure], bool | None]:
    return lambda figure: figure.results[TASKMILL].median >= goal


def _at_most(goal: float) -> Callable[[Figure], bool | None]:
    return lambda figure: figure.results[TASKMILL].median <= goal


def _no_goal(figure: Figure) -> bool | None:
    return None


SPECS = {
    spec.key: spec
    for spec in (
        FigureSpec(
            "W1",
            "W1 single submit",
            "tasks/s",
            True,
            ">= 1.0x huey, >= 0.8x raw sqlite3",
            _ratios_at_least({HUEY: 1.0, SQLITE: 0.8}),
        ),
        FigureSpec(
            "W1b",
            "W1b submit_batch of 1,000",
            "tasks/s",
            True,
            ">= 30,000 tasks/s",
            _at_least(30_000),
        ),
        FigureSpec(
            "W2-100",
            "W2 filter profile=p7, first 100",
            "ms",
            False,
            "<= 20 ms at 1M",
            _at_most(20.0),
            1_000_000,
        ),
        FigureSpec(
            "W2-all",
            "W2 filter profile=p7, all",
            "ms",
            False,
            "<= 20 ms at 1M",
            _at_most(20.0),
            1_000_000,
        ),
        FigureSpec(
            "W3",
            "W3 count_by_tag(profile, pending)",
            "ms",
            False,
            "<= 20 ms at 1M",
            _at_most(20.0),
            1_000_000,
        ),
        FigureSpec(
            "W3-dv",
            "W3 via the DuckDB view (aggregate_tasks)",
            "ms",
            False,
            "",
            _no_goal,
        ),
        FigureSpec(
            "W4",
            "W4 aggregate_tasks sum by dst_endpoint",
            "ms",
            False,
            "<= 20 ms at 1M",
            _at_most(20.0),
            1_000_000,
        ),
        FigureSpec(
            "W4-catchup",
            "DuckDB view catch-up, 500 submissions",
            "ms",
            False,
            "",
            _no_goal,
        ),
        FigureSpec(
            "W4-catchup-changes",
            "DuckDB view catch-up, 500 starts",
            "ms",
            False,
            "",
            _no_goal,
        ),
        FigureSpec(
            "W6",
            "W6 rebuild operational view",
            "events/s",
            True,
            ">= 100,000 events/s",
            _at_least(100_000),
        ),
        FigureSpec(
            "W6-an",
            "W6 rebuild analytical view",
            "events/s",
            True,
            ">= 100,000 events/s",
            _at_least(100_000),
        ),
        FigureSpec(
            "W7",
            "W7 snapshot().stats_by_tag, 1,000 running",
            "ms",
            False,
            "",
            _no_goal,
        ),
        FigureSpec(
            "W7-dv",
            "W7 stats_by_tag(as_of=) via DuckDB view",
            "ms",
            False,
            "",
            _no_goal,
        ),
    )
}


# -- W5 dispatch: one figure per number of worker processes, so the keys are built on demand ------

W5_GOAL_1_PROCESS = 5_000.0  # tasks/s, issue 5
_W5_KEY = re.compile(r"W5-(run|e2e|rss)-p([1-9][0-9]*)")
_W5_KINDS = ("submit", "run", "e2e", "rss")


def w5_key(kind: str, processes: int | None = None) -> str:
    """`W5-submit`, or `W5-run-p4` (run phase), `W5-e2e-p4` (submit + run), `W5-rss-p4`."""
    if kind == "submit":
        return "W5-submit"
    if kind not in _W5_KINDS or processes is None or processes < 1:
        raise ValueError(f"no W5 figure {kind!r} with {processes!r} processes")
    return f"W5-{kind}-p{processes}"


def spec_of(key: str) -> FigureSpec:
    """The spec of a figure key, the W5 ones included."""
    if key in SPECS:
        return SPECS[key]
    return _w5_spec(key)


@functools.cache
def _w5_spec(key: str) -> FigureSpec:
    if key == "W5-submit":
        return FigureSpec(
            key, "W5 submit phase: submit_batch of 1,000", "tasks/s", True, "", _no_goal
        )
    match = _W5_KEY.fullmatch(key)
    if match is None:
        raise KeyError(key)
    kind, processes = match.group(1), int(match.group(2))
    workers = "1 process" if processes == 1 else f"{processes} processes"
    if kind == "run":
        if processes == 1:
            goal, check = f">= {W5_GOAL_1_PROCESS:,.0f} tasks/s", _at_least(W5_GOAL_1_PROCESS)
        else:
            goal, check = "", _no_goal
        return FigureSpec(key, f"W5 dispatch run, {workers}", "tasks/s", True, goal, check)
    if kind == "e2e":
        title = f"W5 end-to-end (submit + run), {workers}"
        return FigureSpec(key, title, "tasks/s", True, "", _no_goal)
    title = f"W5 peak RSS, {workers}" + (" (largest)" if processes > 1 else "")
    return FigureSpec(key, title, "MiB", False, "", _no_goal)


def figure_order(key: str) -> tuple[int, int, int]:
    """Table order: the issue's W1..W6 (W5 between W3 and W6), W5 by kind then processes."""
    static = list(SPECS)
    w5_slot = static.index("W6")
    if key in SPECS:
        position = static.index(key)
        return (position + (1 if position >= w5_slot else 0), 0, 0)
    _w5_spec(key)  # a known key, or KeyError
    match = _W5_KEY.fullmatch(key)
    kind, processes = (match.group(1), int(match.group(2))) if match else ("submit", 0)
    return (w5_slot, _W5_KINDS.index(kind), processes)
