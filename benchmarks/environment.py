"""What a result depends on: the machine, the versions, and each store's durability setting."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import huey_baseline, raw_sqlite


def machine() -> dict[str, Any]:
    return {
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model() or platform.processor(),
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _version(name) for name in ("taskmill", "eventsourcing", "duckdb", "huey")
        },
        "temp_dir": tempfile.gettempdir(),
        "temp_dir_filesystem": _filesystem(Path(tempfile.gettempdir())),
        "load_average_at_start": load_average(),
        "taskmill_source": source_state(),
    }


def source_state() -> dict[str, Any] | None:
    """The commit the measured code is at, and whether taskmill/ had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = _git(root, "rev-parse", "--short", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--", "taskmill")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "uncommitted_changes_in_taskmill": bool(dirty)}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def load_average() -> list[float] | None:
    """Other work on the machine skews every figure; this says how busy it was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def durability(store_folder: Path) -> dict[str, Any]:
    """Durability of taskmill's two files (read from a real store) and of the baseline."""
    events = store_folder / "events.db"
    with contextlib.closing(sqlite3.connect(events)) as connection:
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        level = connection.execute("PRAGMA synchronous").fetchone()[0]
    return {
        "taskmill_event_store": {
            "file": "events.db (eventsourcing.sqlite)",
            "journal_mode": journal,
            "synchronous": raw_sqlite.SYNC_NAMES.get(level, str(level)),
            "note": "eventsourcing sets only journal_mode=WAL, so synchronous is SQLite's default",
        },
        "taskmill_view": _view_durability(store_folder),
        "raw_sqlite3_baseline": {"journal_mode": "wal", "synchronous": raw_sqlite.SYNCHRONOUS},
        "duckdb_baseline": "in memory (query baseline only)",
        "huey_sqlite": huey_baseline.durability(),
    }


def _view_durability(folder: Path) -> dict[str, Any]:
    """The view's connection settings are per connection, so open one the way taskmill does."""
    try:
        from taskmill.projections.operational.view import connect

        with contextlib.closing(connect(folder / "durability-probe.db")) as connection:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
            level = connection.execute("PRAGMA synchronous").fetchone()[0]
        return {
            "file": "views/operational-*.db",
            "journal_mode": journal,
            "synchronous": raw_sqlite.SYNC_NAMES.get(level, str(level)),
            "note": "rebuildable from the log, so no fsync per commit is needed",
        }
    except Exception as error:  # internal API; its absence must not stop a benchmark run
        return {"unknown": repr(error)}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def _filesystem(path: Path) -> str | None:
    """The filesystem type holding `path` (Linux only): fsync cost depends on it."""
    best, kind = "", None
    with contextlib.suppress(OSError):
        resolved = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            mount = fields[1]
            inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, fields[2]
    return kind
