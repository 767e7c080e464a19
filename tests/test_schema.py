"""The schema the numbered migrations build is exactly the one the code expects (schema.sql)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from taskmill.projections.analytical.migrations import migrate as migrate_analytical
from taskmill.projections.operational.migrations import migrate
from taskmill.projections.sql_files import load_statements, read_sql
from taskmill.records import TASK_COLUMNS

SQL_PACKAGE = "taskmill.projections.operational.sql"


def describe(connection: sqlite3.Connection) -> dict[str, object]:
    """Tables with their columns, and indexes with their columns, as SQLite reports them."""
    shape: dict[str, object] = {}
    objects = connection.execute(
        "SELECT type, name, tbl_name FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name"
    ).fetchall()
    for kind, name, table in objects:
        if kind == "table":
            shape[f"table {name}"] = connection.execute(f"PRAGMA table_xinfo({name})").fetchall()
        elif kind == "index":
            shape[f"index {name} on {table}"] = connection.execute(
                f"PRAGMA index_xinfo({name})"
            ).fetchall()
        else:
            shape[f"{kind} {name}"] = table
    return shape


def test_migrations_build_the_expected_schema(tmp_path: Path) -> None:
    migrated = sqlite3.connect(tmp_path / "migrated.db", isolation_level=None)
    migrate(migrated)
    expected = sqlite3.connect(tmp_path / "expected.db", isolation_level=None)
    expected.executescript(read_sql(SQL_PACKAGE, "schema.sql"))

    assert describe(migrated) == describe(expected)
    assert "table tasks" in describe(expected)


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "view.db", isolation_level=None)
    first = migrate(connection)
    before = describe(connection)
    assert migrate(connection) == first
    assert describe(connection) == before
    versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
    assert versions == [(v,) for v in range(1, first + 1)]


def test_a_view_built_by_the_first_migration_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """Migration 2 backfills the order columns of tag rows written under migration 1."""
    from taskmill.projections.sql_files import load_migrations

    connection = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    connection.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    first = load_migrations("taskmill.projections.operational.sql")[0]
    connection.executescript(first.script)
    connection.execute("INSERT INTO schema_migrations VALUES (1, 'initial')")
    connection.execute(
        "INSERT INTO tasks (id, seq, task_type, status, priority, payload, tags, attempts, "
        "max_retries, expected_read_bytes, expected_write_bytes, expected_net_rx_bytes, "
        "expected_net_tx_bytes, actual_read_bytes, actual_write_bytes, actual_net_rx_bytes, "
        "actual_net_tx_bytes, submitted_at, children_total, children_unfinished, version) "
        "VALUES ('t1', 7, 'x', 'pending', 42, 'null', '{}', 0, 3, 0,0,0,0, 0,0,0,0, 'now', 0, 0, 1)"
    )
    connection.execute("INSERT INTO task_tags VALUES ('t1', 'profile', 'dr', 'pending')")
    migrate(connection)
    row = connection.execute("SELECT priority, seq FROM task_tags WHERE task_id = 't1'").fetchone()
    assert row == (42, 7)


def _migrated_up_to(path: Path, version: int) -> sqlite3.Connection:
    """A view database as the first `version` migrations left it (recorded as applied)."""
    from taskmill.projections.sql_files import load_migrations

    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    for migration in load_migrations("taskmill.projections.operational.sql")[:version]:
        connection.executescript(migration.script)
        connection.execute(
            "INSERT INTO schema_migrations VALUES (?, ?)", (migration.version, migration.name)
        )
    return connection


def test_migration_3_turns_the_tag_rows_status_into_their_phase(tmp_path: Path) -> None:
    connection = _migrated_up_to(tmp_path / "old.db", 2)
    statuses = ["pending", "blocked", "running", "waiting", "completed", "failed", "cancelled"]
    for n, status in enumerate(statuses):
        connection.execute(
            "INSERT INTO task_tags (task_id, key, value, status, priority, seq) "
            "VALUES (?, 'k', 'v', ?, 0, ?)",
            (f"t{n}", status, n),
        )
    migrate(connection)
    phases = connection.execute("SELECT phase FROM task_tags ORDER BY seq").fetchall()
    assert [p for (p,) in phases] == ["active"] * 4 + ["completed", "failed", "cancelled"]


def test_migration_6_keeps_the_tag_rows_and_makes_the_ordered_index_cover_the_task_id(
    tmp_path: Path,
) -> None:
    connection = _migrated_up_to(tmp_path / "old.db", 5)
    rows = [(f"t{n}", k, f"{k}{n % 3}", "active", n % 2, n) for n in range(5) for k in "ab"]
    connection.executemany("INSERT INTO task_tags VALUES (?, ?, ?, ?, ?, ?)", rows)
    migrate(connection)

    assert connection.execute("SELECT * FROM task_tags ORDER BY seq, key").fetchall() == rows
    plan = connection.execute(
        "EXPLAIN QUERY PLAN SELECT task_id FROM task_tags "
        "WHERE key = 'a' AND value = 'a1' AND phase = 'active' ORDER BY priority, seq"
    ).fetchall()
    assert "COVERING INDEX idx_task_tags_kv_phase_order" in plan[0][-1]


def test_migration_7_keeps_tasks_without_a_parent_out_of_the_parent_index(
    tmp_path: Path,
) -> None:
    connection = _migrated_up_to(tmp_path / "old.db", 6)
    migrate(connection)
    statements = load_statements(SQL_PACKAGE, "read.sql")
    plan = connection.execute(
        f"EXPLAIN QUERY PLAN {statements['task_columns']} WHERE {statements['by_parent']}",
        ("some-parent",),
    ).fetchall()
    assert "INDEX idx_tasks_parent (parent_id=?)" in plan[0][-1]
    (definition,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'idx_tasks_parent'"
    ).fetchone()
    assert definition.endswith("WHERE parent_id IS NOT NULL")


def test_task_selects_return_the_columns_records_are_built_from(tmp_path: Path) -> None:
    """`TaskRecord.from_columns` reads task rows by position: every statement that selects
    them must name `TASK_COLUMNS` in that order, and the table must have each of them."""
    connection = sqlite3.connect(tmp_path / "view.db", isolation_level=None)
    migrate(connection)
    statements = load_statements(SQL_PACKAGE, "read.sql")
    for name in ("task_columns", "task_columns_by_tag"):
        cursor = connection.execute(f"{statements[name]} LIMIT 0")
        assert tuple(column[0] for column in cursor.description) == TASK_COLUMNS, name
    table = {row[1] for row in connection.execute("PRAGMA table_info(tasks)")}
    assert set(TASK_COLUMNS) <= table


def test_the_seed_tags_table_and_index_exist(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "view.db", isolation_level=None)
    migrate(connection)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(task_tags)")]
    assert columns[:3] == ["task_id", "key", "value"]
    primary_key = [
        row[1]
        for row in sorted(connection.execute("PRAGMA table_info(task_tags)"), key=lambda r: r[5])
        if row[5]
    ]
    assert primary_key == ["task_id", "key"]
    indexed = [row[2] for row in connection.execute("PRAGMA index_info(idx_task_tags_kv)")]
    assert indexed == ["key", "value"]


# -- the analytical view (DuckDB) ---------------------------------------------------------------


def describe_duckdb(connection: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Tables with their columns (name, type, nullability, default) and constraints."""
    shape: dict[str, object] = {}
    tables = connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name != 'schema_migrations' "
        "ORDER BY table_name"
    ).fetchall()
    for (table,) in tables:
        shape[f"table {table}"] = connection.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        shape[f"constraints {table}"] = connection.execute(
            "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? ORDER BY ALL",
            [table],
        ).fetchall()
    return shape


def test_analytical_migrations_build_the_expected_schema(tmp_path: Path) -> None:
    migrated = duckdb.connect(str(tmp_path / "migrated.duckdb"))
    migrate_analytical(migrated)
    expected = duckdb.connect(str(tmp_path / "expected.duckdb"))
    expected.execute(read_sql("taskmill.projections.analytical.sql", "schema.sql"))

    assert describe_duckdb(migrated) == describe_duckdb(expected)
    assert {"table tasks", "table task_tags", "table state_changes"} <= set(
        describe_duckdb(expected)
    )


def test_analytical_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "view.duckdb"))
    first = migrate_analytical(connection)
    before = describe_duckdb(connection)

    assert migrate_analytical(connection) == first
    assert describe_duckdb(connection) == before
