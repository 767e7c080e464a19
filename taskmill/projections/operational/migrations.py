"""Brings a view database to the current schema by running the numbered `.sql` migrations."""

from __future__ import annotations

import sqlite3

from taskmill.projections.sql_files import load_migrations

MIGRATIONS_PACKAGE = "taskmill.projections.operational.sql"


def migrate(connection: sqlite3.Connection) -> int:
    """Apply every migration not yet applied, each in its own transaction; return the version."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    version = 0
    for migration in load_migrations(MIGRATIONS_PACKAGE):
        connection.execute("BEGIN IMMEDIATE")  # re-check inside the lock: another process may race
        try:
            done = connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if not done:
                for statement in _statements(migration.script):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        version = migration.version
    return version


def _statements(script: str) -> list[str]:
    """Split a script on semicolons that end a complete statement."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        statements.append(current.strip())
    return statements
