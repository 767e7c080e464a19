"""`taskmill aggregate` and `taskmill sql`, run in-process on a store filled through the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from conftest import FakeClock
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


def fill_over_time(store: Path) -> None:
    """Tasks submitted an hour apart from 2030-01-01T12:00Z, tagged n=0, 1, 2, 3."""
    clock = FakeClock()
    with Scheduler.open(store, clock=clock) as scheduler:
        for n, (task_type, priority, size) in enumerate(
            [("transfer", 10, 100), ("transfer", 20, 300), ("cleanup", 30, 50), ("transfer", 5, 0)]
        ):
            scheduler.submit(
                TaskSubmission(
                    task_type,
                    priority=priority,
                    tags={"n": str(n)},
                    expected_io={"net_tx_bytes": size},
                )
            )
            clock.advance(3600)


def test_aggregate_since_and_until_select_by_submission_time(cli: Any, store: Path) -> None:
    fill_over_time(store)

    def numbers(*argv: str) -> list[str]:
        result = cli("aggregate", "--group-by-tag", "n", *argv, "--json")
        assert result.code == 0, result.err
        return sorted(row["n"] for row in result.json())

    # --since is "at or after", --until is "before".
    assert numbers("--since", "2030-01-01T13:00:00Z") == ["1", "2", "3"]
    assert numbers("--until", "2030-01-01T13:00:00Z") == ["0"]
    assert numbers("--since", "2030-01-01T13:00:00Z", "--until", "2030-01-01T15:00:00Z") == [
        "1",
        "2",
    ]
    assert numbers("--since", "2030-01-01T15:00:00+01:00") == ["2", "3"]  # 14:00 UTC
    assert numbers("--since", "2030-01-02T00:00:00Z") == []
    assert cli("aggregate", "--until", "2030-01-01T12:00:00Z", "--json").json() == [{"count": 0}]


def test_aggregate_refuses_a_since_after_its_until(cli: Any, store: Path) -> None:
    fill_over_time(store)

    result = cli("aggregate", "--since", "2030-01-02T00:00:00Z", "--until", "2030-01-01T00:00:00Z")
    bad = cli("aggregate", "--since", "noon")

    assert result.code == 2 and result.out == ""
    assert "end is before start" in result.err and result.err.count("\n") == 1
    assert bad.code == 2 and "argument --since" in bad.err and "ISO 8601" in bad.err


def test_aggregate_avg_min_and_group_by_type(cli: Any, store: Path) -> None:
    fill_over_time(store)
    args = ("aggregate", "--group-by-type", "--avg", "expected_net_tx_bytes", "--min", "priority")

    as_json = cli(*args, "--json")
    table = cli(*args)
    as_csv = cli(*args, "--min", "expected_net_tx_bytes", "--avg", "priority", "--csv")

    assert as_json.code == 0, as_json.err
    assert as_json.json() == [
        {"type": "transfer", "count": 3, "avg_expected_net_tx_bytes": 400 / 3, "min_priority": 5},
        {"type": "cleanup", "count": 1, "avg_expected_net_tx_bytes": 50.0, "min_priority": 30},
    ]
    assert table_header(table.out) == ["type", "count", "avg_expected_net_tx_bytes", "min_priority"]
    assert table_rows(table.out) == [
        ["transfer", "3", "133.333", "5"],
        ["cleanup", "1", "50", "30"],
    ]
    assert list(csv.reader(io.StringIO(as_csv.out))) == [
        [
            "type",
            "count",
            "avg_expected_net_tx_bytes",
            "avg_priority",
            "min_priority",
            "min_expected_net_tx_bytes",
        ],
        ["transfer", "3", "133.333", "11.6667", "5", "0"],
        ["cleanup", "1", "50", "30", "30", "50"],
    ]


def test_aggregate_groups_by_tag_status_and_type_together(cli: Any, store: Path) -> None:
    fill(store)

    result = cli(
        "aggregate", "--group-by-tag", "profile", "--group-by-status", "--group-by-type",
        "--min", "expected_net_tx_bytes", "--json",
    )  # fmt: skip

    assert result.json() == [
        {
            "profile": "dr",
            "status": "pending",
            "type": "transfer",
            "count": 2,
            "min_expected_net_tx_bytes": 100,
        },
        {
            "profile": "dr",
            "status": "running",
            "type": "transfer",
            "count": 1,
            "min_expected_net_tx_bytes": 50,
        },
        {
            "profile": None,
            "status": "pending",
            "type": "cleanup",
            "count": 1,
            "min_expected_net_tx_bytes": 0,
        },
    ]
    assert list(result.json()[0]) == [
        "profile",
        "status",
        "type",
        "count",
        "min_expected_net_tx_bytes",
    ]
