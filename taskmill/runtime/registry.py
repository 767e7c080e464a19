"""Which function runs each task type, which closes its parents, and how failures retry."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskmill.domain.errors import InvalidQuery
from taskmill.domain.limits import MAX_INTERVAL_SECONDS


class PermanentError(Exception):
    """Raise from an executor to fail the task at once, without retries."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: `base * multiplier**(attempt-1)`, capped, +/- jitter."""

    base_seconds: float = 1.0
    multiplier: float = 2.0
    max_seconds: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        _check("base_seconds", self.base_seconds, 0.0, MAX_INTERVAL_SECONDS)
        _check("multiplier", self.multiplier, 1.0, MAX_MULTIPLIER)
        _check("max_seconds", self.max_seconds, 0.0, MAX_INTERVAL_SECONDS)
        _check("jitter", self.jitter, 0.0, 1.0)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        try:
            raw = min(self.max_seconds, self.base_seconds * self.multiplier ** max(0, attempt - 1))
        except OverflowError:  # a big multiplier to a high attempt number: past any cap
            raw = self.max_seconds
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, raw * (1.0 + spread))


MAX_MULTIPLIER = 1_000.0


def _check(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidQuery(
            f"RetryPolicy.{name}: must be a number from {low:g} to {high:g}, got {value!r}"
        )


@dataclass(frozen=True, slots=True)
class Handler:
    function: Callable[..., Any]
    is_async: bool
    retry: RetryPolicy


@dataclass
class Registry:
    executors: dict[str, Handler] = field(default_factory=dict)
    finalizers: dict[str, Handler] = field(default_factory=dict)

    @staticmethod
    def handler(function: Callable[..., Any], retry: RetryPolicy | None) -> Handler:
        return Handler(function, inspect.iscoroutinefunction(function), retry or RetryPolicy())
