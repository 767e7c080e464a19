"""Read-only commands on tasks: `ls`, `count-by-tag` and `audit`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from taskmill.cli.common import (
    Commands,
    Parser,
    console,
    open_scheduler,
    parse_tag,
    parse_task_id,
    print_json,
    statuses,
)
from taskmill.domain.status import TaskStatus
from taskmill.query import TaskQuery

DETAIL_WIDTH = 80
"""Longest rendering of one event field in the audit table (`--json` shows everything)."""


def register(commands: Commands, store: Parser) -> None:
    ls = commands.add_parser(
        "ls",
        parents=[store],
        help="list tasks",
        description="List tasks by priority, then submission. Tag filters are ANDed; several "
        "statuses or types are ORed.",
    )
    ls.add_argument(
        "--tag",
        dest="tags",
        action="append",
        type=parse_tag,
        default=[],
        metavar="KEY=VALUE",
        help="only tasks with this tag (repeatable)",
    )
    ls.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help=f"only tasks in this status (repeatable, or comma-separated): {', '.join(TaskStatus)}",
    )
    ls.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="TYPE",
        help="only tasks of this type (repeatable)",
    )
    ls.add_argument("--limit", type=int, metavar="N", help="at most N tasks")
    ls.add_argument("--json", action="store_true", help="print a JSON array of full records")
    ls.set_defaults(handler=run_ls)

    count = commands.add_parser(
        "count-by-tag",
        parents=[store],
        help="count tasks per value of a tag",
        description="Count tasks per value of the tag KEY, largest first.",
    )
    count.add_argument("key", metavar="KEY", help="the tag key, e.g. profile or taskmill.type")
    count.add_argument("--status", metavar="STATUS", help="count only tasks in this status")
    count.add_argument("--json", action="store_true", help="print JSON")
    count.set_defaults(handler=run_count_by_tag)

    audit = commands.add_parser(
        "audit",
        parents=[store],
        help="show a task's full event history",
        description="Show every event of a task, in order, as the log holds it.",
    )
    audit.add_argument("task_id", metavar="TASK_ID", type=parse_task_id, help="the task's id")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(handler=run_audit)


def run_ls(args: argparse.Namespace) -> int:
    query = TaskQuery().with_status(*statuses(args.status)).with_type(*args.types)
    for key, value in args.tags:
        query.with_tag(key, value)
    if args.limit is not None:
        query.limit(args.limit)
    with open_scheduler(args) as scheduler:
        records = scheduler.query_tasks(query)
    if args.json:
        print_json([record.model_dump(mode="json") for record in records])
        return 0
    table = Table(
        Column("id", no_wrap=True),
        Column("type", overflow="fold"),
        Column("status", no_wrap=True),
        Column("priority", justify="right", no_wrap=True),
        Column("tags", overflow="fold"),
    )
    for record in records:
        tags = ", ".join(f"{k}={v}" for k, v in record.user_tags.items())
        table.add_row(
            str(record.id),
            Text(record.task_type),
            record.status.value,
            str(record.priority),
            Text(tags),
        )
    console().print(table)
    return 0


def run_count_by_tag(args: argparse.Namespace) -> int:
    status = None if args.status is None else TaskStatus.parse(args.status)
    with open_scheduler(args) as scheduler:
        counts = scheduler.count_by_tag(args.key, status=status)
    if args.json:
        print_json([{"value": value, "count": count} for value, count in counts])
        return 0
    table = Table(Column(escape(args.key), overflow="fold"), Column("tasks", justify="right"))
    for value, count in counts:
        table.add_row(Text(value), str(count))
    console().print(table)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    with open_scheduler(args) as scheduler:
        history = scheduler.history(args.task_id)
    if args.json:
        print_json([entry.model_dump(mode="json") for entry in history])
        return 0
    table = Table(
        Column("version", justify="right"),
        Column("time", no_wrap=True),
        "event",
        Column("details", overflow="fold"),
    )
    for entry in history:
        table.add_row(
            str(entry.version),
            _utc(entry.timestamp),
            entry.event,
            Text(_details(entry.data)),
        )
    out = console()
    out.print(f"task {args.task_id}")
    out.print(table)
    return 0


def _details(data: dict[str, Any]) -> str:
    """The event's fields as `name=JSON`, each cut to `DETAIL_WIDTH`; unset ones and zero I/O
    figures are left out."""
    parts = []
    for name, value in data.items():
        if value is None or (name.endswith("_io") and not any(value.values())):
            continue
        text = orjson.dumps(value).decode()
        if len(text) > DETAIL_WIDTH:
            text = text[: DETAIL_WIDTH - 1] + "…"
        parts.append(f"{name}={text}")
    return " ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
