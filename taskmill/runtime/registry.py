"""Which function runs each task type, which closes its parents, and how failures retry."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class PermanentError(Exception):
    """Raise from an executor to fail the task at once, without retries."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: `base * multiplier**(attempt-1)`, capped, +/- jitter."""

    base_seconds: float = 1.0
    multiplier: float = 2.0
    max_seconds: float = 300.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raw = min(self.max_seconds, self.base_seconds * self.multiplier ** max(0, attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, raw * (1.0 + spread))


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
