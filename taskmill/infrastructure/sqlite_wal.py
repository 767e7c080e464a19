"""Putting an SQLite file in WAL mode safely while other processes may be doing the same."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 5.0


def enable_wal(connection: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
    """Switch to WAL. On a brand-new file another process may be switching at the same moment,
    and SQLite answers that with "database is locked" at once, not after the busy timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def prepare_wal_file(path: Path) -> None:
    """Create the file if needed and leave it in WAL mode (which the file remembers)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        enable_wal(connection)
    finally:
        connection.close()
