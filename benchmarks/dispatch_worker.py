"""One W5 worker process (run as a script by `benchmarks/dispatch.py`, one per process):

    python benchmarks/dispatch_worker.py STORE TASK_TYPE --concurrency 64 --poll-seconds 0.05

It opens the store, registers a no-op `async def` executor for TASK_TYPE and prints one JSON line
`{"ready": ...}`; then it waits for a line on stdin (the start barrier), runs `run_until_idle`,
closes the store and prints one JSON line with what it ran and its resources: the number of
executor calls, its own run time, and its peak RSS, with the RSS at the barrier (so the growth
during dispatch shows). It imports only taskmill.

Peak RSS is `VmHWM` from `/proc/self/status`: the high-water mark of this process's own address
space. Not `getrusage(RUSAGE_SELF).ru_maxrss` (used only where `/proc` is missing): Python starts
subprocesses with vfork, and on exec Linux folds the parent's high-water mark into the child's
`ru_maxrss`, so it would report the benchmark harness's RSS whenever that is larger.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from taskmill import Scheduler
from taskmill.runtime.context import TaskContext


def status_mib(field: str) -> float | None:
    """A `/proc/self/status` memory field (`VmRSS`, `VmHWM`) in MiB; None without `/proc`."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def peak_rss() -> tuple[float, str]:
    """(peak RSS in MiB, where it was read)."""
    peak = status_mib("VmHWM")
    if peak is not None:
        return peak, "/proc/self/status VmHWM"
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return maxrss / (1024.0 * (1024.0 if sys.platform == "darwin" else 1.0)), "ru_maxrss"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("task_type")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--poll-seconds", type=float, required=True)
    args = parser.parse_args()
    scheduler = Scheduler.open(
        args.store, max_concurrency=args.concurrency, poll_seconds=args.poll_seconds
    )
    ran = 0

    @scheduler.executor(args.task_type)
    async def noop(ctx: TaskContext) -> None:
        nonlocal ran
        ran += 1

    ready = {"ready": os.getpid(), "worker_id": scheduler.worker_id, "python": sys.version}
    print(json.dumps({**ready, "rss_mib": status_mib("VmRSS")}), flush=True)
    if not sys.stdin.readline():  # the start barrier; EOF means the parent gave up
        scheduler.close()
        return
    start = time.perf_counter()
    try:
        scheduler.run_until_idle()
    finally:
        scheduler.close()
    run_s = time.perf_counter() - start
    peak, source = peak_rss()
    report = {"ran": ran, "run_s": run_s, "peak_rss_mib": peak, "peak_rss_source": source}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
