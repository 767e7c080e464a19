"""Brings the analytical DuckDB file to the current schema by running the numbered migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskmill.projections.sql_files import load_migrations

if TYPE_CHECKING:
    import duckdb  # imported when a view is opened: processes that never aggregate skip it

MIGRATIONS_PACKAGE = "taskmill.projections.analytical.sql"


def migrate(connection: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration not yet applied, each in its own transaction; return the version.
    The caller holds the view's file lock, so no other process migrates at the same time."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR)"
    )
    done = {v for (v,) in connection.execute("SELECT version FROM schema_migrations").fetchall()}
    version = 0
    for migration in load_migrations(MIGRATIONS_PACKAGE):
        if migration.version not in done:
            connection.execute("BEGIN TRANSACTION")
            try:
                connection.execute(migration.script)
                connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    [migration.version, migration.name],
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        version = migration.version
    return version
