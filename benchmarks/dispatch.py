"""W5 dispatch: the workload submitted with `submit_batch` of 1,000, then run with a no-op
`async def` executor until idle, every start and completion recorded in the log.

Each measurement uses a fresh store. The submit phase runs in the benchmark process and is timed
on its own; the run phase runs in P worker processes (`dispatch_worker.py`, also for P = 1, so
the scheduler process's peak RSS is its own and not the harness's). The workers open the store,
register the executor and report ready; the clock starts at the barrier (one line on each
worker's stdin) and stops when the last worker has exited. Then the store is opened again and
the run must check out: every task COMPLETED in the view, the executor called exactly N times
in all, and at least 2N events (a start and a completion per task) appended to the log.

The baseline is a plain `sqlite3` claim/complete loop over the same rows (WAL,
`synchronous=FULL` like the event store), in this process: BEGIN IMMEDIATE; select up to
`concurrency` pending ids by priority; mark them running; COMMIT; BEGIN; mark them completed;
COMMIT. Its load (one `executemany` transaction per 1,000 rows, as W1b) is timed too, so its
end-to-end figure compares with taskmill's.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from benchmarks import taskmill_runner
from benchmarks.figures import SQLITE, TASKMILL, w5_key
from benchmarks.raw_sqlite import RawSqlite
from benchmarks.workload import TASK_TYPE, TaskRow, batches
from taskmill import Scheduler, TaskStatus

WORKER = Path(__file__).with_name("dispatch_worker.py")
DEFAULT_PROCESSES = (1, 4)
DEFAULT_CONCURRENCY = 64
DEFAULT_POLL_SECONDS = 0.05  # taskmill's own default (Scheduler.open's poll_seconds)
READY_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 3600.0

CLAIM_INDEX = "CREATE INDEX idx_tasks_claim ON tasks(status, priority, seq)"
CLAIM = "SELECT id FROM tasks WHERE status = 'pending' ORDER BY priority, seq LIMIT ?"
MARK = "UPDATE tasks SET status = ? WHERE id = ?"

Record = Callable[[str, str, float], None]
"""record(figure key, system, value): one sample of one figure."""


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    processes: tuple[int, ...] = DEFAULT_PROCESSES
    concurrency: int = DEFAULT_CONCURRENCY  # max_concurrency per process; the baseline's batch
    poll_seconds: float = DEFAULT_POLL_SECONDS
    batch_size: int = taskmill_runner.BATCH_SIZE

    def as_json(self) -> dict[str, Any]:
        return {
            "processes": list(self.processes),
            "concurrency": self.concurrency,
            "poll_seconds": self.poll_seconds,
            "submit_batch_size": self.batch_size,
            "executor": "no-op async def",
            "scheduler_process": "a child process per worker (benchmarks/dispatch_worker.py), "
            "also for 1 process; peak RSS = its own VmHWM (/proc/self/status)",
            "baseline": "raw sqlite3 claim/complete loop in one process, WAL, synchronous=FULL",
        }


def measure(
    folder: Path, rows: list[TaskRow], config: DispatchConfig, record: Record
) -> dict[str, Any]:
    """One repetition of W5 over `rows`: the baseline, then taskmill with each process count.
    Records every figure's sample and returns the details of the repetition (for the JSON)."""
    n = len(rows)
    raw = _raw_claim_loop(folder / "raw-dispatch.db", rows, config)
    record(w5_key("submit"), SQLITE, n / raw["load_s"])
    for processes in config.processes:
        record(w5_key("run", processes), SQLITE, n / raw["run_s"])
        record(w5_key("e2e", processes), SQLITE, n / (raw["load_s"] + raw["run_s"]))
    details: dict[str, Any] = {"raw_sqlite3": raw, "taskmill": []}
    for processes in config.processes:
        run = _taskmill_once(folder / f"taskmill-dispatch-p{processes}", rows, processes, config)
        record(w5_key("submit"), TASKMILL, n / run["submit_s"])
        record(w5_key("run", processes), TASKMILL, n / run["run_s"])
        record(w5_key("e2e", processes), TASKMILL, n / (run["submit_s"] + run["run_s"]))
        record(w5_key("rss", processes), TASKMILL, max(w["peak_rss_mib"] for w in run["workers"]))
        details["taskmill"].append(run)
    return details


# -- taskmill --------------------------------------------------------------------------------------


def _taskmill_once(
    store: Path, rows: list[TaskRow], processes: int, config: DispatchConfig
) -> dict[str, Any]:
    n = len(rows)
    with Scheduler.open(store) as scheduler:
        start = time.perf_counter()
        for batch in batches(rows, config.batch_size):
            scheduler.submit_batch([taskmill_runner.to_submission(row) for row in batch])
        submit_s = time.perf_counter() - start
        submitted_at = scheduler.log_position
    workers = [_Worker(store, config, index) for index in range(processes)]
    try:
        ready = [worker.ready() for worker in workers]
        start = time.perf_counter()
        for worker in workers:
            worker.go()
        reports = [worker.finish() for worker in workers]
        run_s = time.perf_counter() - start
    finally:
        for worker in workers:
            worker.stop()
    with Scheduler.open(store) as scheduler:
        counts = {status.value: count for status, count in scheduler.status_counts().items()}
        run_events = scheduler.log_position - submitted_at
    ran = sum(report["ran"] for report in reports)
    problems = []
    if counts != {TaskStatus.COMPLETED.value: n}:
        problems.append(f"status counts {counts}, not {n} completed")
    if ran != n:
        problems.append(f"the executor ran {ran} times for {n} tasks")
    if run_events < 2 * n:
        problems.append(f"{run_events} events appended for {n} starts and {n} completions")
    pythons = {info["python"] for info in ready}
    if pythons != {sys.version}:
        problems.append(f"workers ran other Pythons: {pythons}")
    if problems:
        raise AssertionError(f"W5 with {processes} process(es), N={n:,}: " + "; ".join(problems))
    return {
        "processes": processes,
        "submit_s": round(submit_s, 4),
        "run_s": round(run_s, 4),
        "verified": True,
        "status_counts": counts,
        "run_events": run_events,
        "workers": [
            {
                "ran": report["ran"],
                "run_s": round(report["run_s"], 4),
                "rss_at_start_mib": _mib(info["rss_mib"]),
                "peak_rss_mib": _mib(report["peak_rss_mib"]),
                "peak_rss_source": report["peak_rss_source"],
            }
            for info, report in zip(ready, reports, strict=True)
        ],
    }


class _Worker:
    """One `dispatch_worker.py` process: started at once, released at the barrier."""

    def __init__(self, store: Path, config: DispatchConfig, index: int):
        self._stderr_path = store.with_name(f"{store.name}-worker-{index}.stderr")
        self._stderr: IO[str] = self._stderr_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(store),
                TASK_TYPE,
                "--concurrency",
                str(config.concurrency),
                "--poll-seconds",
                str(config.poll_seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def ready(self) -> dict[str, Any]:
        """Wait for the worker's ready line (it has opened the store and registered)."""
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT_S)
        if not readable:
            self._fail(f"was not ready within {READY_TIMEOUT_S:.0f} s")
        line = self.process.stdout.readline()  # the worker writes the line at once
        if not line:
            self._fail("exited before it was ready")
        return dict(json.loads(line))

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self) -> dict[str, Any]:
        """Wait for the worker to exit; its report."""
        try:
            out, _ = self.process.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._fail(f"did not finish within {RUN_TIMEOUT_S:.0f} s")
        lines = out.strip().splitlines()
        if self.process.returncode != 0 or not lines:
            self._fail(f"exited with {self.process.returncode}")
        return dict(json.loads(lines[-1]))

    def stop(self) -> None:
        """Kill the worker if it still runs (after an error elsewhere), and release its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()

    def _fail(self, what: str) -> None:
        self.stop()
        tail = self._stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"W5 worker {self.process.pid} {what}:\n{tail}")


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the raw sqlite3 baseline ----------------------------------------------------------------------


def _raw_claim_loop(path: Path, rows: list[TaskRow], config: DispatchConfig) -> dict[str, Any]:
    raw = RawSqlite(path)
    try:
        connection = raw.connection
        connection.execute(CLAIM_INDEX)
        start = time.perf_counter()
        for batch in batches(rows, config.batch_size):
            raw.insert_batch(batch)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        claims = _claim_and_complete(connection, config.concurrency)
        run_s = time.perf_counter() - start
        done = connection.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall()
    finally:
        raw.close()
    if dict(done) != {"completed": len(rows)}:
        raise AssertionError(f"W5 raw sqlite3: statuses {dict(done)}, not {len(rows)} completed")
    return {"load_s": round(load_s, 4), "run_s": round(run_s, 4), "claims": claims}


def _claim_and_complete(connection: Any, batch: int) -> int:
    """Claim up to `batch` pending tasks by priority in one transaction, complete them in a
    second; until none is pending. Returns the number of claims."""
    cursor = connection.cursor()
    claims = 0
    while True:
        cursor.execute("BEGIN IMMEDIATE")
        ids: Sequence[tuple[str]] = cursor.execute(CLAIM, (batch,)).fetchall()
        if not ids:
            cursor.execute("COMMIT")
            return claims
        cursor.executemany(MARK, [("running", task_id) for (task_id,) in ids])
        cursor.execute("COMMIT")
        claims += 1
        cursor.execute("BEGIN")
        cursor.executemany(MARK, [("completed", task_id) for (task_id,) in ids])
        cursor.execute("COMMIT")
