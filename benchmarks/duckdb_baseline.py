"""Plain DuckDB SQL over the same rows (W3, W4): tasks and task_tags tables, loaded column-wise."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from benchmarks.workload import TASK_TYPE, TaskRow
from taskmill.infrastructure.task_ids import new_task_id

COUNT_BY_TAG = """
SELECT g.value, count(*) AS n FROM task_tags g JOIN tasks t ON t.id = g.task_id
WHERE g.key = ? AND t.status = 'pending'
GROUP BY g.value ORDER BY n DESC, g.value
"""
SUM_BY_TAG = """
SELECT g.value, count(*) AS n, sum(t.expected_net_tx_bytes) AS bytes
FROM task_tags g JOIN tasks t ON t.id = g.task_id
WHERE g.key = ? AND t.status = 'pending'
GROUP BY g.value ORDER BY n DESC, g.value
"""

STATS_BY_TAG = """
SELECT g.value, t.status, count(*) FROM task_tags g JOIN tasks t ON t.id = g.task_id
WHERE g.key = ? GROUP BY 1, 2
"""


class DuckDbBaseline:
    """An in-memory DuckDB database holding the workload's rows."""

    def __init__(self, rows: list[TaskRow]):
        self.connection = duckdb.connect()
        self.connection.execute(
            "CREATE TABLE tasks (id VARCHAR, seq BIGINT, task_type VARCHAR, status VARCHAR,"
            " priority INTEGER, expected_net_tx_bytes BIGINT)"
        )
        self.connection.execute(
            "CREATE TABLE task_tags (task_id VARCHAR, key VARCHAR, value VARCHAR)"
        )
        now = datetime.now(UTC)
        ids = [str(new_task_id(now)) for _ in rows]  # time-ordered, as taskmill's
        n = len(rows)
        self._load(
            "tasks",
            [
                ids,
                [r.index for r in rows],
                [TASK_TYPE] * n,
                ["pending"] * n,
                [128] * n,
                [r.expected_net_tx_bytes for r in rows],
            ],
        )
        tag_ids, keys, values = [], [], []
        for task_id, row in zip(ids, rows, strict=True):
            for key, value in row.tags.items():
                tag_ids.append(task_id)
                keys.append(key)
                values.append(value)
        self._load("task_tags", [tag_ids, keys, values])

    def _load(self, table: str, columns: list[list[object]]) -> None:
        """Insert whole columns at once: each list is bound as one LIST value and unnested."""
        selects = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
        self.connection.execute(f"INSERT INTO {table} SELECT {selects}", columns)

    def close(self) -> None:
        self.connection.close()

    def count_by_tag(self, key: str) -> list[tuple[str, int]]:
        return [(v, int(n)) for v, n in self.connection.execute(COUNT_BY_TAG, [key]).fetchall()]

    def sum_by_tag(self, key: str) -> list[tuple[str, int, int]]:
        rows = self.connection.execute(SUM_BY_TAG, [key]).fetchall()
        return [(v, int(n), int(b)) for v, n, b in rows]

    def stats_by_tag(self, key: str) -> list[tuple[str, str, int]]:
        """(value, status, tasks) for every value of the tag (W7's counts in plain SQL)."""
        rows = self.connection.execute(STATS_BY_TAG, [key]).fetchall()
        return [(v, s, int(n)) for v, s, n in rows]
