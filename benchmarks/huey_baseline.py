"""The peer a user would pick instead: Huey with `SqliteHuey` (the `bench` extra).

One `SqliteHuey` per measurement on a file in the run's temporary folder, with Huey's own
defaults (journal_mode=WAL, `fsync=None` so SQLite's default `synchronous`, one transaction per
enqueue; `durability()` reads what that gives). The workload's task is one Huey task,
`file_transfer(tags, expected_net_tx_bytes)`: Huey has no tags, so they live in the task's
arguments, inside each pickled message.

- W1 / W1b: one `file_transfer(...)` call per task (each call is one enqueue, one transaction).
  Huey has no bulk enqueue: `TaskWrapper.map` and `huey.enqueue(group)` loop over single
  enqueues, so W1b is the same loop over all N tasks.
- W2 / W3: every pending message read from the storage (`storage.enqueued_items()`, the rows
  `huey.pending()` reads, in its order: priority, then enqueue order), deserialised with
  `huey.deserialize_task` and filtered / counted in Python. For W2's first 100 the messages
  are deserialised only until 100 match.
- W5: the N tasks enqueued as for W1b (timed: the submit phase), then run by Huey's own consumer
  in this process, `Consumer(workers=P, worker_type="thread", periodic=False)`, P = each W5
  process count; the clock runs from `consumer.start()` until the task body has run N times.
  The run must check out: N calls, an empty queue.

Without Huey installed (`import huey` fails) nothing here runs and its figures read
"not installed".
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.figures import HUEY, w5_key
from benchmarks.raw_sqlite import SYNC_NAMES
from benchmarks.workload import TaskRow

try:
    import huey
    from huey import SqliteHuey
except ImportError:  # the `bench` extra is not installed
    huey = None
    SqliteHuey = None

NOT_INSTALLED = "not installed"
RUN_TIMEOUT_S = 600.0
TASK_NAME = "file_transfer"
_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

Record = Callable[[str, str, float], None]


def available() -> bool:
    return huey is not None


def describe() -> dict[str, Any]:
    """How Huey is measured (for the JSON and the table's header)."""
    if huey is None:
        return {"installed": False, "note": "figures not measured: `pip install .[bench]`"}
    return {
        "installed": True,
        "version": huey.__version__,
        "storage": "SqliteHuey on a temp file, Huey's defaults (journal_mode=wal, fsync=None)",
        "task": f"{TASK_NAME}(tags: dict, expected_net_tx_bytes: int), pickled by Huey",
        "W1/W1b": "one enqueue (one transaction) per task; Huey has no bulk enqueue "
        "(TaskWrapper.map and enqueue(group) loop over single enqueues)",
        "W2/W3": "storage.enqueued_items() (what huey.pending() reads), each message "
        "deserialised with huey.deserialize_task, filtered/counted in Python; W2 first 100 "
        "stops deserialising at 100 matches",
        "W5": "the N tasks enqueued one by one, then Huey's Consumer in this process with P "
        "worker threads (P = each W5 process count, periodic=False) until the task ran N times",
    }


def durability() -> dict[str, Any]:
    """What Huey's defaults give, read from a fresh SqliteHuey file."""
    if SqliteHuey is None:
        return {"unknown": NOT_INSTALLED}
    with tempfile.TemporaryDirectory(prefix="taskmill-bench-huey-") as scratch:
        queue = SqliteHuey("durability-probe", filename=str(Path(scratch) / "huey.db"))
        try:
            connection = queue.storage.conn
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
            level = connection.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            queue.storage.close()
    return {
        "file": "SqliteHuey(filename=<temp file>), every other setting Huey's default",
        "journal_mode": journal,
        "synchronous": SYNC_NAMES.get(level, str(level)),
        "fsync": None,
        "note": "fsync=None leaves SQLite's default synchronous; one transaction per enqueue; "
        "results=True, store_none=False (a no-op task stores no result), pickle, no compression",
    }


class HueyBaseline:
    """One SqliteHuey queue on its own file, with the workload's task registered."""

    def __init__(self, path: Path):
        if SqliteHuey is None:
            raise RuntimeError(f"huey is {NOT_INSTALLED}")
        self.huey = SqliteHuey("taskmill-bench", filename=str(path))
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.ran = 0
        self._target = 0

        @self.huey.task(name=TASK_NAME)
        def file_transfer(tags: dict[str, str], expected_net_tx_bytes: int) -> None:
            self._ran_one()  # no work: counts the call so W5 knows when all have run

        self.task = file_transfer

    def close(self) -> None:
        self.huey.storage.close()

    def _ran_one(self) -> None:
        with self._lock:
            self.ran += 1
            if self.ran >= self._target:
                self._done.set()

    def enqueue_each(self, rows: Iterable[TaskRow]) -> None:
        """W1 / W1b: one enqueue per task, each in its own transaction."""
        for row in rows:
            self.task(row.tags, row.expected_net_tx_bytes)

    def pending_count(self) -> int:
        return int(self.huey.pending_count())

    def _pending_args(self) -> Iterable[tuple[str, dict[str, str]]]:
        """(task id, tags) of every pending message, deserialised one by one."""
        deserialise = self.huey.deserialize_task
        for data in self.huey.storage.enqueued_items():
            task = deserialise(data)
            yield task.id, task.args[0]

    def filter_ids(self, key: str, value: str, limit: int | None) -> list[str]:
        """W2: ids of pending tasks whose tag `key` is `value`, in Huey's queue order."""
        ids = []
        for task_id, tags in self._pending_args():
            if tags.get(key) == value:
                ids.append(task_id)
                if limit is not None and len(ids) >= limit:
                    break
        return ids

    def count_by_tag(self, key: str) -> list[tuple[str, int]]:
        """W3: pending tasks per value of the tag, largest first (as the SQL baselines)."""
        counts = Counter(tags[key] for _, tags in self._pending_args() if key in tags)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def sum_by_tag(self, key: str) -> list[tuple[str, int, int]]:
        """W4: pending tasks and their expected bytes per value of the tag."""
        deserialise = self.huey.deserialize_task
        totals: dict[str, list[int]] = {}
        for data in self.huey.storage.enqueued_items():
            task = deserialise(data)
            tags, expected = task.args
            if key in tags:
                total = totals.setdefault(tags[key], [0, 0])
                total[0] += 1
                total[1] += expected
        rows = [(value, n, b) for value, (n, b) in totals.items()]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def run_all(self, workers: int) -> float:
        """W5: run every pending task with Huey's consumer (`workers` threads) in this process;
        the seconds from `consumer.start()` until the task has run for each of them."""
        target = self.pending_count()
        with self._lock:
            self.ran, self._target = 0, target
            self._done.clear()
        consumer = self.huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
        handlers = {sig: signal.getsignal(sig) for sig in _SIGNALS}  # start() replaces them
        start = time.perf_counter()
        try:
            consumer.start()
            finished = self._done.wait(RUN_TIMEOUT_S)
            elapsed = time.perf_counter() - start
        finally:
            consumer.stop(graceful=True)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        left = self.pending_count()
        if not finished or self.ran != target or left:
            raise AssertionError(
                f"W5 Huey with {workers} worker(s): the task ran {self.ran} times for "
                f"{target} tasks, {left} still queued"
            )
        return elapsed


def measure_dispatch(
    folder: Path, rows: list[TaskRow], worker_counts: Iterable[int], record: Record
) -> list[dict[str, Any]]:
    """W5 for Huey, one fresh queue per worker count; records the submit, run and end-to-end
    samples under the taskmill process count of the same number. Returns the details."""
    n = len(rows)
    details = []
    for workers in worker_counts:
        queue = HueyBaseline(folder / f"huey-dispatch-w{workers}.db")
        try:
            start = time.perf_counter()
            queue.enqueue_each(rows)
            submit_s = time.perf_counter() - start
            run_s = queue.run_all(workers)
        finally:
            queue.close()
        record(w5_key("submit"), HUEY, n / submit_s)
        record(w5_key("run", workers), HUEY, n / run_s)
        record(w5_key("e2e", workers), HUEY, n / (submit_s + run_s))
        details.append(
            {
                "worker_threads": workers,
                "submit_s": round(submit_s, 4),
                "run_s": round(run_s, 4),
                "verified": True,
            }
        )
    return details
