"""Reads the log for projections: its head and decoded pages, in commit order."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application


class LogSource:
    """The `EventSource` a view follows, backed by the application's recorder."""

    def __init__(self, app: Application[UUID]):
        self._app = app
        self.name = app.name

    def head(self) -> int:
        return self._app.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> list[tuple[int, Any]]:
        notifications = self._app.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        to_event = self._app.mapper.to_domain_event
        return [(n.id, to_event(n)) for n in notifications]
