"""The figures we report, their units, and the goals issue 5 sets for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.timing import Summary

TASKMILL, SQLITE, DUCKDB = "taskmill", "raw sqlite3", "duckdb"
BASELINES = (SQLITE, DUCKDB)


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


def _ratio_at_least(baseline: str, goal: float) -> Callable[[Figure], bool | None]:
    def check(figure: Figure) -> bool | None:
        ratio = figure.speed_ratio(baseline)
        return None if ratio is None else ratio >= goal

    return check


def _at_least(goal: float) -> Callable[[Figure], bool | None]:
    return lambda figure: figure.results[TASKMILL].median >= goal


def _at_most(goal: float) -> Callable[[Figure], bool | None]:
    return lambda figure: figure.results[TASKMILL].median <= goal


SPECS = {
    spec.key: spec
    for spec in (
        FigureSpec(
            "W1",
            "W1 single submit",
            "tasks/s",
            True,
            ">= 0.8x raw sqlite3",
            _ratio_at_least(SQLITE, 0.8),
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
            "W6", "W6 rebuild_views", "events/s", True, ">= 100,000 events/s", _at_least(100_000)
        ),
    )
}
