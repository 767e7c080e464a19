"""Timing helpers: warm query latency and the median/min/max summary of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, min and max of one figure over the repetitions of a run."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        return cls(statistics.median(samples), min(samples), max(samples), tuple(samples))


def throughput(count: int, work: Callable[[], Any]) -> float:
    """Items per second of `work`, which handles `count` items."""
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def warm_ms(query: Callable[[], Any], calls: int) -> tuple[float, Any]:
    """Run `query` once to warm up, then the median of `calls` timed calls, in ms, and the
    warm-up call's result (for checking the answers agree across systems)."""
    result = query()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        query()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0, result
