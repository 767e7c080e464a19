"""Tag queries at scale: W2-W4 and W7 on both of taskmill's views against raw SQL, per N.

    python -m benchmarks.analytics_scale [--n 10000 100000 1000000] [--calls 20] [--out DIR]

For each N, one store is filled with `submit_batch` of 1,000 (the issue's workload), the same rows
go into raw sqlite3 (tasks + task_tags, the seed's schema) and into an in-memory DuckDB, and the
query latencies are measured side by side (median of `--calls` warm calls each). Every system's
answers are checked against each other. Writes `analytics-<timestamp>.json` and prints a table;
`python -m benchmarks.chart` draws the PNG from it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import taskmill.analytics
from benchmarks import environment, taskmill_runner
from benchmarks.duckdb_baseline import DuckDbBaseline
from benchmarks.raw_sqlite import RawSqlite
from benchmarks.timing import warm_ms
from benchmarks.workload import (
    COUNT_KEY,
    FILTER_KEY,
    FILTER_VALUE,
    SUM_KEY,
    batches,
    make_workload,
    to_submission,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
RUNNING = 1_000
PAGE = 500
SUM_OVER_VIEW = """
SELECT g.value, count(*) AS n, sum(t.expected_net_tx_bytes) AS bytes
FROM tasks t JOIN task_tags g ON g.task_id = t.task_id
WHERE g.key = ? AND t.status = 'pending'
GROUP BY g.value ORDER BY n DESC, g.value
"""
VIEW_SQL = "duckdb, taskmill's tables"

QUERIES = {
    "W2-100": "W2 filter profile=p7, first 100",
    "W2-all": "W2 filter profile=p7, all",
    "W3": "W3 count_by_tag(profile, pending)",
    "W3-dv": "W3 via the DuckDB view (aggregate_tasks)",
    "W4": "W4 aggregate_tasks sum by dst_endpoint",
    "W7": "W7 snapshot().stats_by_tag, 1,000 running",
    "W7-dv": "W7 stats_by_tag(as_of=) via DuckDB view",
    "W7-snapshot": "W7 part: snapshot() alone, 1,000 running",
}


def measure(n: int, calls: int, seed: int) -> dict[str, Any]:
    rows = make_workload(n, seed)
    result: dict[str, Any] = {"n": n, "latency_ms": {}, "costs": {}}
    latency: dict[str, dict[str, float]] = result["latency_ms"]
    costs: dict[str, float] = result["costs"]

    def record(key: str, system: str, ms: float) -> None:
        latency.setdefault(key, {})[system] = round(ms, 4)
        print(f"  [N={n:,}] {QUERIES[key]:<44} {system:<22} {ms:>10.2f} ms", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="taskmill-scale-") as scratch:
        folder = Path(scratch)
        raw = RawSqlite(folder / "raw.db")
        start = time.perf_counter()
        for batch in batches(rows, 10_000):
            raw.insert_batch(batch)
        costs["raw_sqlite_load_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        duck = DuckDbBaseline(rows)
        costs["duckdb_load_s"] = round(time.perf_counter() - start, 2)
        store = folder / "taskmill"
        with taskmill_runner.open_store(store) as scheduler:
            start = time.perf_counter()
            taskmill_runner.submit_batches(scheduler, rows)
            costs["taskmill_submit_s"] = round(time.perf_counter() - start, 2)
            start = time.perf_counter()
            scheduler.catch_up_analytics()
            elapsed = time.perf_counter() - start
            costs["analytical_first_catch_up_s"] = round(elapsed, 2)
            costs["analytical_first_catch_up_events_per_s"] = round(n / elapsed)

            view_copy = taskmill.analytics.connect(store)

            def sum_over_view() -> list[tuple[str, int, int]]:
                rows = view_copy.execute(SUM_OVER_VIEW, [SUM_KEY]).fetchall()
                return [(v, int(n), int(b)) for v, n, b in rows]

            answers: dict[str, dict[str, Any]] = {}
            for key, system, query in (
                (
                    "W2-100",
                    "taskmill",
                    lambda: taskmill_runner.filter_ids(scheduler, FILTER_KEY, FILTER_VALUE, 100),
                ),
                ("W2-100", "raw sqlite3", lambda: raw.filter_ids(FILTER_KEY, FILTER_VALUE, 100)),
                (
                    "W2-all",
                    "taskmill",
                    lambda: taskmill_runner.filter_ids(scheduler, FILTER_KEY, FILTER_VALUE, None),
                ),
                ("W2-all", "raw sqlite3", lambda: raw.filter_ids(FILTER_KEY, FILTER_VALUE, None)),
                ("W3", "taskmill", lambda: taskmill_runner.count_by_tag(scheduler, COUNT_KEY)),
                ("W3", "raw sqlite3", lambda: raw.count_by_tag(COUNT_KEY)),
                ("W3", "duckdb", lambda: duck.count_by_tag(COUNT_KEY)),
                (
                    "W3-dv",
                    "taskmill",
                    lambda: taskmill_runner.count_by_tag_analytical(scheduler, COUNT_KEY),
                ),
                ("W4", "taskmill", lambda: taskmill_runner.sum_by_tag(scheduler, SUM_KEY)),
                ("W4", "raw sqlite3", lambda: raw.sum_by_tag(SUM_KEY)),
                ("W4", "duckdb", lambda: duck.sum_by_tag(SUM_KEY)),
                ("W4", VIEW_SQL, sum_over_view),
            ):
                ms, answer = warm_ms(query, calls)
                record(key, system, ms)
                answers.setdefault(key.removesuffix("-dv"), {})[f"{system}{key}"] = (
                    len(answer) if key.startswith("W2") else answer
                )
            for key, found in answers.items():
                distinct = {json.dumps(v, default=str) for v in found.values()}
                if len(distinct) != 1:
                    raise AssertionError(f"{key}: the systems disagree: {found}")
            view_copy.close()

            taskmill_runner.start_some(scheduler, RUNNING)
            ms, live = warm_ms(lambda: taskmill_runner.stats_by_tag(scheduler, COUNT_KEY), calls)
            record("W7", "taskmill", ms)
            ms, past = warm_ms(
                lambda: taskmill_runner.stats_by_tag_as_of(scheduler, COUNT_KEY), calls
            )
            record("W7-dv", "taskmill", ms)
            ms, _ = warm_ms(lambda: duck.stats_by_tag(COUNT_KEY), calls)
            record("W7", "duckdb", ms)

            def snapshot_only() -> None:
                scheduler.snapshot().close()

            ms, _ = warm_ms(snapshot_only, calls)
            record("W7-snapshot", "taskmill", ms)
            if live != past:
                raise AssertionError("W7: the DuckDB view's stats_by_tag differ from the live one")

            scheduler.catch_up_analytics()
            scheduler.submit_batch([to_submission(row) for row in rows[:PAGE]])
            start = time.perf_counter()
            scheduler.catch_up_analytics()
            costs["catch_up_page_of_500_submissions_ms"] = round(
                (time.perf_counter() - start) * 1000, 1
            )
            taskmill_runner.start_some(scheduler, PAGE)
            start = time.perf_counter()
            scheduler.catch_up_analytics()
            costs["catch_up_page_of_500_starts_ms"] = round((time.perf_counter() - start) * 1000, 1)
            start = time.perf_counter()
            connection = taskmill.analytics.connect(store)
            costs["analytics_connect_copy_ms"] = round((time.perf_counter() - start) * 1000, 1)
            connection.close()
            costs["analytics_file_mib"] = round(
                (store / "views" / "analytics.duckdb").stat().st_size / 2**20, 1
            )
        duck.close()
        raw.close()
    print(f"  [N={n:,}] costs {costs}", file=sys.stderr)
    return result


def markdown(document: dict[str, Any]) -> str:
    systems = ("taskmill", "raw sqlite3", "duckdb", VIEW_SQL)
    lines = [
        f"Python {document['python'].split()[0]}, {document['machine'].get('cpu_count')} CPUs; "
        f"median of {document['calls']} warm calls (ms)",
        "",
        "| N | figure | " + " | ".join(systems) + " |",
        "|---|---|" + "---|" * len(systems),
    ]
    for size in document["sizes"]:
        for key, title in QUERIES.items():
            by_system = size["latency_ms"].get(key)
            if by_system:
                cells = [f"{by_system[s]:,.2f}" if s in by_system else "" for s in systems]
                lines.append(f"| {size['n']:,} | {title} | " + " | ".join(cells) + " |")
    lines.append("")
    for size in document["sizes"]:
        costs = ", ".join(f"{k} {v:,}" for k, v in size["costs"].items())
        lines.append(f"- N={size['n']:,}: {costs}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.analytics_scale")
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    document: dict[str, Any] = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": sys.version,
        "machine": environment.machine(),
        "calls": args.calls,
        "sizes": [measure(n, args.calls, args.seed) for n in sorted(args.n)],
    }
    table = markdown(document)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = document["timestamp"].replace("-", "").replace(":", "")
    path = args.out / f"analytics-{stamp}.json"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    (args.out / "analytics-latest.md").write_text(table + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
