"""`taskmill snapshot`: tasks per status, groups against their limits, running tasks and (with
--by-tag) the status of every value of a tag; once, or refreshed with --watch."""

from __future__ import annotations

import argparse
from time import sleep
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from taskmill.cli.common import Commands, Parser, console, open_scheduler, print_json
from taskmill.domain.status import TaskStatus
from taskmill.scheduler import Scheduler
from taskmill.snapshot import SchedulerSnapshot, TagStats, TagStatsView

RUNNING_ROWS = 20
"""Most running tasks listed (the count per status has them all)."""


def register(commands: Commands, store: Parser) -> None:
    snapshot = commands.add_parser(
        "snapshot",
        parents=[store],
        help="show tasks per status, groups, running tasks and per-tag stats",
        description="Show the scheduler's state at one log position: tasks per status, "
        "groups with pending or running tasks against their limits, running tasks, and with "
        "--by-tag KEY the tasks per status of every value of the tag.",
    )
    snapshot.add_argument(
        "--by-tag", metavar="KEY", help="add a table of tasks per status for each value of KEY"
    )
    snapshot.add_argument(
        "--watch",
        type=_seconds,
        metavar="SECONDS",
        help="refresh every SECONDS until Ctrl-C (with --json: one JSON line each time)",
    )
    snapshot.add_argument("--json", action="store_true", help="print JSON")
    snapshot.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    with open_scheduler(args) as scheduler:
        if args.watch is None:
            _show(scheduler, args)
            return 0
        try:
            if args.json:
                while True:
                    _show(scheduler, args)
                    sleep(args.watch)
            out = console()
            with Live(_render(scheduler, args.by_tag), console=out, auto_refresh=False) as live:
                while True:
                    sleep(args.watch)
                    live.update(_render(scheduler, args.by_tag), refresh=True)
        except KeyboardInterrupt:
            return 0


def _show(scheduler: Scheduler, args: argparse.Namespace) -> None:
    if args.json:
        with scheduler.snapshot() as snapshot:
            print_json(to_json(snapshot, args.by_tag))
        return
    console().print(_render(scheduler, args.by_tag))


def to_json(snapshot: SchedulerSnapshot, by_tag: str | None) -> dict[str, Any]:
    data = snapshot.model_dump(mode="json")
    if by_tag is not None:
        data["by_tag"] = {
            "key": by_tag,
            "values": {value: stats.model_dump() for value, stats in snapshot.stats_by_tag(by_tag)},
        }
    return data


def _render(scheduler: Scheduler, by_tag: str | None) -> RenderableType:
    with scheduler.snapshot() as snapshot:
        parts: list[RenderableType] = [
            Text(
                f"snapshot at log position {snapshot.position}, "
                f"{snapshot.taken_at.isoformat(timespec='seconds')}"
            ),
            _counts_table(snapshot),
        ]
        if snapshot.groups:
            parts.append(_groups_table(snapshot))
        if snapshot.running:
            parts.append(_running_table(snapshot))
        if by_tag is not None:
            parts.append(_tag_table(snapshot.stats_by_tag(by_tag)))
    return Group(*parts)


def _counts_table(snapshot: SchedulerSnapshot) -> Table:
    table = Table(Column("status"), Column("tasks", justify="right"), title="Tasks per status")
    for status in TaskStatus:
        table.add_row(status.value, f"{snapshot.counts.get(status, 0):,}")
    table.add_row(Text("total", style="bold"), Text(f"{snapshot.total:,}", style="bold"))
    return table


def _groups_table(snapshot: SchedulerSnapshot) -> Table:
    table = Table(
        Column("group", overflow="fold"),
        Column("running", justify="right"),
        Column("pending", justify="right"),
        Column("limit", justify="right"),
        title="Groups",
    )
    for group, stats in snapshot.groups.items():
        limit = "-" if stats.limit is None else str(stats.limit)
        table.add_row(Text(group), str(stats.running), str(stats.pending), limit)
    return table


def _running_table(snapshot: SchedulerSnapshot) -> Table:
    shown = snapshot.running[:RUNNING_ROWS]
    more = len(snapshot.running) - len(shown)
    table = Table(
        Column("id", no_wrap=True),
        Column("type", overflow="fold"),
        Column("tags", overflow="fold"),
        Column("attempt", justify="right"),
        Column("worker", overflow="fold"),
        Column("progress", overflow="fold"),
        title="Running" + (f" (first {RUNNING_ROWS}; {more} more)" if more else ""),
    )
    for task in shown:
        tags = ", ".join(f"{k}={v}" for k, v in task.tags.items() if not k.startswith("taskmill."))
        progress = "" if task.progress is None else f"{task.progress:.0%}"
        if task.message:
            progress = f"{progress} {task.message}".strip()
        table.add_row(
            str(task.task_id),
            Text(task.task_type),
            Text(tags),
            str(task.attempt),
            Text(task.worker_id or ""),
            Text(progress),
        )
    return table


def _tag_table(view: TagStatsView) -> Table:
    fields = list(TagStats.model_fields)
    table = Table(
        Column(escape(view.key), overflow="fold"),
        *(Column(name, justify="right") for name in fields),
        Column("total", justify="right"),
        title=f"Tasks per {escape(view.key)}",
    )
    for value, stats in view:
        table.add_row(
            Text(value), *(f"{getattr(stats, name):,}" for name in fields), f"{stats.total:,}"
        )
    return table
