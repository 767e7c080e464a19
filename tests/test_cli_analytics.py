"""`taskmill aggregate` and `taskmill sql`, run in-process on a store filled through the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from test_cli import table_header, table_rows

from taskmill import Scheduler, TaskSubmission


def fill(store: Path) -> None:
    with Scheduler.open(store) as scheduler:
        ids = [
            scheduler.submit(
                TaskSubmission(
                    "transfer",
                    tags={"dst_endpoint": endpoint, "profile": "dr"},
                    expected_io={"net_tx_bytes": size},
                )
            ).task_id
            for endpoint, size in (("s3://a", 100), ("s3://a", 200), ("s3://b", 50))
        ]
        scheduler.submit(TaskSubmission("cleanup"))
        scheduler.start(ids[2])


def test_aggregate_sums_per_tag_value(cli: Any, store: Path) -> None:
    fill(store)

    result = cli(
        "aggregate",
        "--group-by-tag",
        "dst_endpoint",
        "--sum",
        "expected_net_tx_bytes",
        "--status",
        "pending",
        "--json",
    )

    assert result.code == 0, result.err
    assert result.json() == [
        {"dst_endpoint": "s3://a", "count": 2, "sum_expected_net_tx_bytes": 300},
        {"dst_endpoint": None, "count": 1, "sum_expected_net_tx_bytes": 0},
    ]


def test_aggregate_prints_a_table_and_csv(cli: Any, store: Path) -> None:
    fill(store)
    args = ("aggregate", "--group-by-tag", "profile", "--group-by-status", "--max", "priority")

    table = cli(*args, "--type", "transfer")
    text = cli(*args, "--tag", "profile=dr", "--csv")

    assert table_header(table.out) == ["profile", "status", "count", "max_priority"]
    assert table_rows(table.out) == [["dr", "pending", "2", "128"], ["dr", "running", "1", "128"]]
    assert list(csv.reader(io.StringIO(text.out))) == [
        ["profile", "status", "count", "max_priority"],
        ["dr", "pending", "2", "128"],
        ["dr", "running", "1", "128"],
    ]


def test_aggregate_as_of_a_time_before_any_task(cli: Any, store: Path) -> None:
    fill(store)

    result = cli("aggregate", "--as-of", "2000-01-01T00:00:00Z", "--json")

    assert result.json() == [{"count": 0}]


def test_aggregate_refuses_bad_input(cli: Any, store: Path) -> None:
    fill(store)

    unknown_field = cli("aggregate", "--sum", "payload")
    bad_status = cli("aggregate", "--status", "sleeping")
    bad_time = cli("aggregate", "--as-of", "yesterday")

    assert (unknown_field.code, bad_status.code, bad_time.code) == (2, 2, 2)
    assert "invalid choice: 'payload'" in unknown_field.err
    assert "sleeping" in bad_status.err
    assert "ISO 8601" in bad_time.err


def test_sql_prints_rows_as_a_table_json_or_csv(cli: Any, store: Path) -> None:
    fill(store)
    query = "SELECT status, count(*) AS n FROM tasks GROUP BY status ORDER BY status"

    table = cli("sql", query)
    as_json = cli("sql", query, "--json")
    as_csv = cli("sql", query, "--csv")

    assert table_header(table.out) == ["status", "n"]
    assert table_rows(table.out) == [["pending", "3"], ["running", "1"]]
    assert as_json.json() == [{"status": "pending", "n": 3}, {"status": "running", "n": 1}]
    assert as_csv.out.splitlines() == ["status,n", "pending,3", "running,1"]


def test_sql_errors_and_writes_are_reported_in_one_line(cli: Any, store: Path) -> None:
    fill(store)

    wrong = cli("sql", "SELECT nonsense FROM tasks")
    write = cli("sql", "DELETE FROM tasks")

    assert wrong.code == 1 and "nonsense" in wrong.err and wrong.err.count("\n") == 1
    assert write.code == 1 and "read-only" in write.err
    assert cli("sql", "SELECT count(*) AS n FROM tasks", "--json").json() == [{"n": 4}]


def test_sql_on_a_missing_store_fails_without_creating_it(run: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    result = run("--store", str(missing), "sql", "SELECT 1")

    assert result.code == 1
    assert not missing.exists()
