"""The wall clock, read only by the application layer (never inside event bodies)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
