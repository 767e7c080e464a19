"""The physical limit: plain `sqlite3` holding the same rows in a tasks + task_tags schema.

`task_tags` is the seed's table and index, unchanged; `tasks` has only its primary key. The file
uses WAL with `synchronous=FULL`, the durability of taskmill's event store, so a commit is
durable on return. Task ids are time-ordered (version 7) like taskmill's own
(`taskmill.infrastructure.task_ids`): with random ones every B-tree keyed on the id takes each
row on a random page, and this baseline ran 2.3x slower at 100,000 tasks, which is not the limit.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks.workload import TASK_TYPE, TaskRow
from taskmill.domain.task_events import TaskSubmitted
from taskmill.infrastructure.task_ids import new_task_id

SYNCHRONOUS = "FULL"
SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous values
SCHEMA = """
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    task_type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    expected_net_tx_bytes INTEGER NOT NULL,
    submitted_at TEXT NOT NULL
);
CREATE TABLE task_tags (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (task_id, key)
);
"""
INDEX_TAGS_KV = "CREATE INDEX idx_task_tags_kv ON task_tags(key, value)"
INSERT_TASK = "INSERT INTO tasks VALUES (?, ?, ?, 'pending', 128, ?, ?)"
INSERT_TAG = "INSERT INTO task_tags VALUES (?, ?, ?)"
FILTER_IDS = """
SELECT t.id FROM task_tags g JOIN tasks t ON t.id = g.task_id
WHERE g.key = ? AND g.value = ? AND t.status = 'pending'
ORDER BY t.priority, t.seq LIMIT ?
"""
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


class RawSqlite:
    """One baseline database file."""

    def __init__(self, path: Path):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        self.connection.executescript(SCHEMA)
        self.connection.execute(INDEX_TAGS_KV)

    def close(self) -> None:
        self.connection.close()

    def durability(self) -> dict[str, str]:
        journal = self.connection.execute("PRAGMA journal_mode").fetchone()[0]
        level = self.connection.execute("PRAGMA synchronous").fetchone()[0]
        return {"journal_mode": journal, "synchronous": SYNC_NAMES.get(level, str(level))}

    def insert_one(self, row: TaskRow) -> None:
        """One task and its tags in a transaction of their own (W1)."""
        task, tags = _params(row)
        cursor = self.connection.cursor()
        cursor.execute("BEGIN")
        cursor.execute(INSERT_TASK, task)
        cursor.executemany(INSERT_TAG, tags)
        cursor.execute("COMMIT")

    def insert_batch(self, rows: list[TaskRow]) -> None:
        """Every task of the batch and all their tags in one executemany transaction (W1b)."""
        tasks, tags = [], []
        for row in rows:
            task, task_tags = _params(row)
            tasks.append(task)
            tags.extend(task_tags)
        cursor = self.connection.cursor()
        cursor.execute("BEGIN")
        cursor.executemany(INSERT_TASK, tasks)
        cursor.executemany(INSERT_TAG, tags)
        cursor.execute("COMMIT")

    def filter_ids(self, key: str, value: str, limit: int | None) -> list[str]:
        """Ids of pending tasks with the tag, by priority then submission (W2)."""
        params = (key, value, -1 if limit is None else limit)
        return [r[0] for r in self.connection.execute(FILTER_IDS, params)]

    def count_by_tag(self, key: str) -> list[tuple[str, int]]:
        """Pending tasks per value of the tag, largest first (W3)."""
        return [(v, int(n)) for v, n in self.connection.execute(COUNT_BY_TAG, (key,))]

    def sum_by_tag(self, key: str) -> list[tuple[str, int, int]]:
        """Pending tasks and their expected bytes per value of the tag (W4)."""
        rows = self.connection.execute(SUM_BY_TAG, (key,))
        return [(v, int(n), int(b)) for v, n, b in rows]


def _params(row: TaskRow) -> tuple[tuple[object, ...], list[tuple[str, str, str]]]:
    now = datetime.now(UTC)
    task_id = str(new_task_id(now))
    task = (task_id, row.index, TASK_TYPE, row.expected_net_tx_bytes, now.isoformat())
    return task, [(task_id, k, v) for k, v in row.tags.items()]


REPLAY_PAGE = 2_000


def replay_log(log: Path, out: Path) -> tuple[int, int]:
    """W6's limit: the log taskmill wrote, replayed by plain `sqlite3` + `orjson` into this
    module's schema; returns (events read, tasks inserted).

    Reads eventsourcing's `stored_events` table in pages of `REPLAY_PAGE` as taskmill does,
    decodes every event's JSON state, and bulk-inserts each submission's task row and tag rows
    (one `executemany` transaction per page, no journal or fsync, the tag index built once at
    the end, like taskmill's rebuild). It does no more: no event models, no other event types
    (W6's log holds only submissions), no counters, and a schema with one index where
    taskmill's view has nine.
    """
    source = sqlite3.connect(log)
    target = sqlite3.connect(out, isolation_level=None)
    try:
        target.execute("PRAGMA journal_mode=OFF")
        target.execute("PRAGMA synchronous=OFF")
        target.executescript(SCHEMA)
        position, read, inserted = 0, 0, 0
        while True:
            page = source.execute(
                "SELECT rowid, originator_id, topic, state FROM stored_events "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (position, REPLAY_PAGE),
            ).fetchall()
            if not page:
                break
            tasks, tags = [], []
            for seq, task_id, topic, state in page:
                if topic != TaskSubmitted.TOPIC:
                    continue
                event = orjson.loads(state)
                io = event["expected_io"]
                tasks.append(
                    (task_id, seq, event["task_type"], io["net_tx_bytes"], event["timestamp"])
                )
                tags.extend((task_id, k, v) for k, v in event["tags"].items())
            target.execute("BEGIN")
            target.executemany(INSERT_TASK, tasks)
            target.executemany(INSERT_TAG, tags)
            target.execute("COMMIT")
            read += len(page)
            inserted += len(tasks)
            position = page[-1][0]
        target.execute(INDEX_TAGS_KV)
        return read, inserted
    finally:
        source.close()
        target.close()
