"""A worker process for the multi-process tests: opens the store, registers executors, and runs
`run_until_idle`. Run as a script:

    python tests/workers/worker.py STORE [--lease SECONDS] [--concurrency N] [--block SECONDS]

Executors it registers:
  noop   sleeps `payload["sleep"]` seconds if the payload asks for it, then completes;
  block  sleeps `--block` seconds (a long-running task to kill or freeze mid-way).

It prints its worker id on the first line of stdout, then "done" once idle.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from taskmill import Scheduler
from taskmill.runtime.context import TaskContext


def wall_clock() -> datetime:
    return datetime.now(UTC)


def scheduler(
    folder: str,
    *,
    lease_seconds: float = 30.0,
    max_concurrency: int = 4,
    block_seconds: float = 60.0,
) -> Scheduler:
    """The worker's scheduler, with its executors registered (the app factory)."""
    app = Scheduler.open(
        folder,
        clock=wall_clock,
        max_concurrency=max_concurrency,
        lease_seconds=lease_seconds,
        poll_seconds=0.01,
    )

    @app.executor("noop")
    def noop(ctx: TaskContext) -> None:
        payload: Any = ctx.task.payload
        if isinstance(payload, dict) and payload.get("sleep"):
            time.sleep(float(payload["sleep"]))

    @app.executor("block")
    def block(ctx: TaskContext) -> None:
        time.sleep(block_seconds)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--block", type=float, default=60.0)
    args = parser.parse_args()
    app = scheduler(
        args.store,
        lease_seconds=args.lease,
        max_concurrency=args.concurrency,
        block_seconds=args.block,
    )
    print(app.worker_id, flush=True)
    try:
        app.run_until_idle()
    finally:
        app.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
