"""Ad-hoc SQL over the analytical view, for notebooks and scripts: `taskmill.analytics.connect`.

The tables are documented in docs/analytics.md. The connection reads a private copy of the view
taken right after catching it up with the log, so it never blocks a running scheduler (DuckDB
refuses to open a file another process is writing) and every query on it sees one moment.
Call `connect` again for newer data.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from taskmill.application.log_source import LogSource
from taskmill.application.task_log import TaskLog
from taskmill.domain.errors import InvalidQuery
from taskmill.infrastructure.clock import utc_now
from taskmill.infrastructure.event_store import check_folder, event_store_env, resolve_location
from taskmill.projections.analytical.view import AnalyticalView, open_database
from taskmill.scheduler import DEFAULT_HOME, HOME_ENV

if TYPE_CHECKING:
    import duckdb

__all__ = ["TABLES", "connect"]

TABLES = ("tasks", "task_tags", "state_changes")
"""The documented tables (see docs/analytics.md)."""


def connect(
    folder: str | os.PathLike[str] | None = None,
    *,
    event_store_url: str | None = None,
    max_staleness: timedelta | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the analytical tables of the store in `folder`
    (default `$TASKMILL_HOME` or `./.taskmill`), caught up to the log at the time of the call
    (or at most `max_staleness` old). Safe while schedulers run and write. Raises
    `StoreNotFound` when there is no store there."""
    if max_staleness is not None and (
        not isinstance(max_staleness, timedelta) or max_staleness < timedelta(0)
    ):
        raise InvalidQuery(f"max_staleness: expected a timedelta >= 0, got {max_staleness!r}")
    if folder is None:
        folder = os.environ.get(HOME_ENV, DEFAULT_HOME)
    location = resolve_location(folder, event_store_url)
    check_folder(location, create=False)
    log = TaskLog(event_store_env(location), utc_now)
    try:
        view = AnalyticalView(Path(location.folder) / "views", log.name)
        handle, name = tempfile.mkstemp(prefix="taskmill-analytics-", suffix=".duckdb")
        os.close(handle)
        copy = Path(name)
        try:
            try:
                view.copy_to(copy, LogSource(log), max_staleness)
            finally:
                view.close()
            connection = open_database(copy, read_only=True)
        finally:
            # The open connection keeps the file's data; nothing else needs its name.
            with contextlib.suppress(FileNotFoundError):
                copy.unlink()
    finally:
        log.close()
    return connection
