"""`taskmill demo`: a file-transfer workload run on the embedded store, watched by tag.

Submits a few thousand tagged transfers (profiles x endpoints, a group limit per destination),
runs them with executors that report progress, split some transfers into child parts and fail
a few (which retry, or fail for good), with one live progress bar per profile driven by the tag
counts. Then it answers the questions tags exist for: tasks per profile and status, bytes per
destination, and one task's audit trail.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from taskmill.query import TaskQuery
from taskmill.runtime.context import TaskContext
from taskmill.runtime.registry import PermanentError, RetryPolicy
from taskmill.scheduler import Scheduler
from taskmill.submission import TaskSubmission

PROFILES = ("disaster-recovery", "cross-cloud-mirror", "nightly-backup", "archive-cold")
ENDPOINTS = ("s3://play.min.io", "s3://us-east-1.amazonaws.com", "gs://eu-backup", "az://cold")
STATUSES = ("pending", "running", "waiting", "completed", "failed", "dead_letter")
GROUP_LIMIT = 6
PARTS = 3


@dataclass(frozen=True)
class DemoSummary:
    submitted: int
    duplicates: int
    submit_seconds: float
    run_seconds: float


class TransientNetworkError(Exception):
    """A failure worth retrying."""


def transfers(count: int, rng: random.Random, run: str) -> list[TaskSubmission]:
    """The workload; `run` keeps the dedup keys of separate demo runs on one store apart."""
    batch = []
    for i in range(count):
        src, dst = rng.sample(ENDPOINTS, 2)
        key = f"data/2024/obj-{i:05d}.csv"
        batch.append(
            TaskSubmission("file-transfer")
            .tag("profile", rng.choice(PROFILES))
            .tag("src_endpoint", src)
            .tag("dst_endpoint", dst)
            .tag("object_key", key)
            .tag("direction", rng.choice(("left_to_right", "right_to_left")))
            .tag("demo_run", run)
            .priority(rng.choice((32, 64, 128, 128, 200)))
            .group(dst)
            .dedup_key(f"{run}/{key}")
            .max_retries(2)
            .expected_io(net_tx_bytes=rng.randint(1, 512) * 1024 * 1024)
            .payload_json({"src": src, "dst": dst, "key": key, "fate": _fate(rng)})
        )
    return batch


def _fate(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return "corrupt"  # fails for good
    if roll < 0.07:
        return "flaky"  # fails once, then succeeds on retry
    if roll < 0.17:
        return "multipart"  # split into child parts
    return "ok"


def register_executors(scheduler: Scheduler) -> None:
    @scheduler.executor("file-transfer", retry=RetryPolicy(base_seconds=0.05, jitter=0.5))
    async def transfer(ctx: TaskContext) -> None:
        fate = ctx.task.payload["fate"]
        ctx.progress(0.1, "connecting")
        await asyncio.sleep(0.001)
        if fate == "corrupt":
            raise PermanentError("checksum mismatch at source")
        if fate == "flaky" and ctx.attempt == 1:
            raise TransientNetworkError("connection reset by peer")
        if fate == "multipart":
            for part in range(PARTS):
                ctx.spawn(TaskSubmission("upload-part").tag("part_number", str(part)))
        ctx.progress(1.0, "uploaded")
        ctx.record_io(net_tx_bytes=ctx.task.expected_io.net_tx_bytes)

    @scheduler.executor("upload-part")
    def upload_part(ctx: TaskContext) -> None:
        ctx.record_io(net_tx_bytes=64 * 1024 * 1024)


def run_demo(
    scheduler: Scheduler, console: Console, *, tasks: int = 3000, seed: int | None = None
) -> DemoSummary:
    if tasks < 100:
        raise ValueError("the demo needs at least 100 tasks")
    rng = random.Random(seed)
    run = f"{rng.getrandbits(32):08x}"
    for endpoint in ENDPOINTS:
        scheduler.set_group_limit(endpoint, GROUP_LIMIT)
    register_executors(scheduler)

    started = time.perf_counter()
    batch = transfers(tasks, rng, run)
    results = []
    for offset in range(0, len(batch), 500):
        results += scheduler.submit_batch(batch[offset : offset + 500])
    # Resubmitting some keys while their tasks are active returns the existing ids.
    duplicates = sum(not r.inserted for r in scheduler.submit_batch(rng.sample(batch, 50)))
    submit_seconds = time.perf_counter() - started
    console.print(
        f"[bold]Submitted {len(results)} tagged transfers[/] in {submit_seconds:.2f} s "
        f"({len(results) / submit_seconds:,.0f} tasks/s, batches of 500); {duplicates} "
        "resubmissions matched active dedup keys."
    )
    console.print(_bytes_by_endpoint(scheduler, run))

    started = time.perf_counter()
    asyncio.run(_run_with_live_bars(scheduler, console, run))
    run_seconds = time.perf_counter() - started
    done = sum(n for _, n in scheduler.count_by_tag("demo_run"))
    console.print(
        f"[bold]Ran {done} tasks[/] (transfers and their parts) in {run_seconds:.2f} s "
        f"({done / run_seconds:,.0f} tasks/s, {scheduler.worker_id})."
    )
    console.print(_status_by_profile(scheduler, run))
    _print_audit(scheduler, console, run)
    return DemoSummary(len(results), duplicates, submit_seconds, run_seconds)


async def _run_with_live_bars(scheduler: Scheduler, console: Console, run: str) -> None:
    bars = Progress(
        TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), console=console
    )
    rows = {profile: bars.add_task(profile, total=None) for profile in PROFILES}
    stop = asyncio.Event()
    worker = asyncio.create_task(scheduler.run(stop))

    def refresh() -> bool:
        with scheduler.snapshot() as snapshot:
            for profile, stats in snapshot.stats_by_tag("profile"):
                if profile in rows:
                    running = f"{profile} ({stats.running} running)"
                    bars.update(
                        rows[profile],
                        completed=stats.finished,
                        total=stats.total,
                        description=running,
                    )
        active = (
            TaskQuery()
            .with_tag("demo_run", run)
            .with_status("pending", "blocked", "running", "waiting")
        )
        return not scheduler.query_tasks(active.limit(1))

    with Live(bars, console=console, refresh_per_second=4, transient=False):
        # Off the event loop, so the display never holds up the dispatcher.
        while not await asyncio.to_thread(refresh):
            await asyncio.sleep(0.5)
    stop.set()
    await worker
    console.print()


def _status_by_profile(scheduler: Scheduler, run: str) -> Table:
    table = Table(title="Tasks per profile and status (count_by_tag, all runs on this store)")
    table.add_column("profile")
    for status in STATUSES:
        table.add_column(status, justify="right")
    table.add_column("total", justify="right")
    per_status = {s: dict(scheduler.count_by_tag("profile", status=s)) for s in STATUSES}
    for profile, total in scheduler.count_by_tag("profile"):
        table.add_row(profile, *(str(per_status[s].get(profile, 0)) for s in STATUSES), str(total))
    return table


def _bytes_by_endpoint(scheduler: Scheduler, run: str) -> Table:
    queued: Counter[str] = Counter()
    query = TaskQuery().with_tag("demo_run", run).with_type("file-transfer").with_status("pending")
    for record in scheduler.query_tasks(query):
        queued[record.tags["dst_endpoint"]] += record.expected_io.net_tx_bytes
    table = Table(title="Bytes queued per destination endpoint")
    table.add_column("dst_endpoint")
    table.add_column("GiB", justify="right")
    for endpoint, total in queued.most_common():
        table.add_row(endpoint, f"{total / 2**30:,.1f}")
    return table


def _print_audit(scheduler: Scheduler, console: Console, run: str) -> None:
    parents = scheduler.query_tasks(
        TaskQuery().with_tag("demo_run", run).with_type("file-transfer").with_status("completed")
    )
    parent = next((p for p in parents if p.children_total), None)
    if parent is None:
        return
    console.print(
        f"\nAudit of {parent.tags['object_key']} ({parent.id}), "
        f"split into {parent.children_total} parts:"
    )
    for entry in scheduler.history(parent.id):
        console.print(f"  v{entry.version:<3} {entry.timestamp:%H:%M:%S.%f}  {entry.event}")
