"""Reading an operational view's SQLite file as plain rows, for comparing two views."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VIEW_TABLES = frozenset({"tasks", "task_tags", "tag_counts", "view_position"})
Rows = dict[str, list[tuple[Any, ...]]]


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a view file (other connections may be writing it)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def dump(path: Path) -> Rows:
    """Every row of every table, each table ordered by all of its columns."""
    with read_only(path) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        assert set(tables) >= VIEW_TABLES, f"view {path} lacks tables: {VIEW_TABLES - set(tables)}"
        rows: Rows = {}
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            order = ", ".join(f'"{column}"' for column in columns)
            rows[table] = connection.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()
    return rows


def differences(expected: Rows, actual: Rows) -> str:
    """A readable account of how two dumps differ ("" when they are equal)."""
    lines = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want == got:
            continue
        if want is None or got is None:
            lines.append(f"table {table}: only in {'actual' if want is None else 'expected'}")
            continue
        missing = [row for row in want if row not in got]
        extra = [row for row in got if row not in want]
        lines.append(f"table {table}: {len(want)} rows expected, {len(got)} found")
        lines += [f"  missing {row}" for row in missing[:10]]
        lines += [f"  extra   {row}" for row in extra[:10]]
        if not missing and not extra:
            lines.append("  (same rows, different multiplicities)")
    return "\n".join(lines)


def assert_same_rows(expected: Rows, actual: Rows, what: str) -> None:
    report = differences(expected, actual)
    assert not report, f"{what}:\n{report}"
