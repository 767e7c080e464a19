"""`taskmill demo`: a file-transfer workload on the embedded store, summarised by tag.

Submits a few thousand tagged transfers in batches (some with child parts, some duplicates),
moves some through their lifecycle by hand (the dispatch loop arrives with the running-tasks
work), then answers the questions the tags exist for: counts per profile, pending bytes per
endpoint, a filtered query, and one task's audit trail.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from taskmill.query import TaskQuery
from taskmill.scheduler import Scheduler
from taskmill.submission import TaskSubmission

PROFILES = ("disaster-recovery", "cross-cloud-mirror", "nightly-backup", "archive-cold")
ENDPOINTS = ("s3://play.min.io", "s3://us-east-1.amazonaws.com", "gs://eu-backup", "az://cold")


@dataclass(frozen=True)
class DemoSummary:
    submitted: int
    duplicates: int
    seconds: float


def transfers(count: int, rng: random.Random, run: str) -> list[TaskSubmission]:
    """The workload; `run` keeps the dedup keys of separate demo runs on one store apart."""
    batch = []
    for i in range(count):
        src, dst = rng.sample(ENDPOINTS, 2)
        batch.append(
            TaskSubmission("file-transfer")
            .tag("profile", rng.choice(PROFILES))
            .tag("src_endpoint", src)
            .tag("dst_endpoint", dst)
            .tag("object_key", f"data/2024/obj-{i:05d}.csv")
            .tag("direction", rng.choice(("left_to_right", "right_to_left")))
            .priority(rng.choice((32, 64, 128, 128, 200)))
            .group(dst)
            .tag("demo_run", run)
            .dedup_key(f"{run}/data/2024/obj-{i:05d}.csv")
            .expected_io(net_tx_bytes=rng.randint(1, 512) * 1024 * 1024)
            .payload_json({"src": src, "dst": dst, "key": f"data/2024/obj-{i:05d}.csv"})
        )
    return batch


def run_demo(
    scheduler: Scheduler, console: Console, *, tasks: int = 3000, seed: int = 7
) -> DemoSummary:
    rng = random.Random(seed)
    started = time.perf_counter()
    batch = transfers(tasks, rng, run=f"{rng.getrandbits(32):08x}")
    results = []
    for offset in range(0, len(batch), 500):
        results += scheduler.submit_batch(batch[offset : offset + 500])
    # Resubmitting some keys while their tasks are active returns the existing ids.
    duplicates = scheduler.submit_batch(rng.sample(batch, 50))
    elapsed = time.perf_counter() - started
    ids = [r.task_id for r in results]

    # Walk some tasks through their lifecycle by hand: a tenth start, two thirds of those
    # complete, a few fail, one spawns six parts and waits for them, a few are cancelled.
    tenth = len(ids) // 10
    for task_id in ids[:tenth]:
        scheduler.start(task_id, worker_id="demo")
    for task_id in ids[: tenth * 2 // 3]:
        scheduler.complete(task_id, actual_io={"net_tx_bytes": rng.randint(1, 512) * 1024 * 1024})
    for task_id in ids[tenth * 2 // 3 : tenth * 3 // 4]:
        scheduler.fail(task_id, "connection reset by peer", permanent=True)
    parent = ids[tenth - 1]
    for part in range(6):
        scheduler.submit(TaskSubmission("upload-part").tag("part_number", str(part)).parent(parent))
    scheduler.complete(parent)
    for task_id in ids[-tenth // 3 :]:
        scheduler.cancel(task_id, reason="demo: profile paused")

    console.print(
        f"[bold]Submitted {len(ids)} tagged transfers[/] in {elapsed:.2f} s "
        f"({len(ids) / elapsed:,.0f} tasks/s, batches of 500); "
        f"{sum(not d.inserted for d in duplicates)} resubmissions matched active dedup keys."
    )
    console.print(
        f"Store: {scheduler.view_path.parent.parent}  log position {scheduler.log_position}"
    )
    console.print(_status_by_profile(scheduler))
    console.print(_bytes_by_endpoint(scheduler))
    running_dr = scheduler.query_tasks(
        TaskQuery().with_tag("profile", "disaster-recovery").with_status("running").limit(5)
    )
    console.print(f"Running disaster-recovery transfers (first {len(running_dr)}):")
    for record in running_dr:
        console.print(
            f"  {record.id}  {record.tags['object_key']} -> {record.tags['dst_endpoint']}"
        )
    console.print(f"\nAudit of parent task {parent}:")
    for entry in scheduler.history(parent):
        console.print(f"  v{entry.version:<3} {entry.timestamp:%H:%M:%S.%f}  {entry.event}")
    return DemoSummary(len(ids), sum(not d.inserted for d in duplicates), elapsed)


def _status_by_profile(scheduler: Scheduler) -> Table:
    table = Table(title="Tasks per profile (count_by_tag)")
    statuses = ("pending", "running", "waiting", "completed", "failed", "cancelled")
    table.add_column("profile")
    for status in statuses:
        table.add_column(status, justify="right")
    table.add_column("total", justify="right")
    per_status = {s: dict(scheduler.count_by_tag("profile", status=s)) for s in statuses}
    for profile, total in scheduler.count_by_tag("profile"):
        table.add_row(profile, *(str(per_status[s].get(profile, 0)) for s in statuses), str(total))
    return table


def _bytes_by_endpoint(scheduler: Scheduler) -> Table:
    queued: Counter[str] = Counter()
    for record in scheduler.query_tasks(
        TaskQuery().with_type("file-transfer").with_status("pending")
    ):
        queued[record.tags["dst_endpoint"]] += record.expected_io.net_tx_bytes
    table = Table(title="Bytes queued per destination endpoint (pending)")
    table.add_column("dst_endpoint")
    table.add_column("GiB", justify="right")
    for endpoint, total in queued.most_common():
        table.add_row(endpoint, f"{total / 2**30:,.1f}")
    return table
