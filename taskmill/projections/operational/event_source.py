"""What a projection needs from the log: its head, and pages of decoded events after a position."""

from __future__ import annotations

from typing import Any, Protocol


class EventSource(Protocol):
    name: str

    def head(self) -> int:
        """The position of the newest event in the log (0 when empty)."""

    def read(self, after: int, limit: int) -> list[tuple[int, Any]]:
        """Up to `limit` (position, event) pairs after `after`, in log order."""
