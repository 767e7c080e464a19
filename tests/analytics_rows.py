"""Reading the analytical view as plain rows, for comparing two DuckDB views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

import taskmill.analytics

Rows = dict[str, list[tuple[Any, ...]]]
SKIPPED_COLUMNS = {"view_position": {"caught_up_at"}}
"""Wall-clock bookkeeping that differs between two builds of the same rows."""


def dump_connection(connection: duckdb.DuckDBPyConnection) -> Rows:
    """Every row of every table, each ordered by all of its columns."""
    tables = [
        name
        for (name,) in connection.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY table_name"
        ).fetchall()
    ]
    rows: Rows = {}
    for table in tables:
        columns = [
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if name not in SKIPPED_COLUMNS.get(table, set())
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        rows[table] = connection.execute(
            f'SELECT {listed} FROM "{table}" ORDER BY {listed}'
        ).fetchall()
    return rows


def dump_store(folder: Path) -> Rows:
    """The store's analytical view, caught up, through the public `connect`."""
    connection = taskmill.analytics.connect(folder)
    try:
        return dump_connection(connection)
    finally:
        connection.close()


def dump_file(path: Path) -> Rows:
    """A closed analytical view file."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return dump_connection(connection)
    finally:
        connection.close()
