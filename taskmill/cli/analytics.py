"""Commands over the analytical view: `aggregate` (group-by-tag sums) and `sql` (ad-hoc SQL)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

import taskmill.analytics
from taskmill.aggregate import NUMERIC_FIELDS, TaskAggregate
from taskmill.cli.common import (
    FAILURE,
    CliError,
    Commands,
    Parser,
    console,
    open_scheduler,
    parse_moment,
    parse_tag,
    statuses,
    store_folder,
)
from taskmill.domain.status import TaskStatus


def register(commands: Commands, store: Parser) -> None:
    aggregate = commands.add_parser(
        "aggregate",
        parents=[store],
        help="group tasks by tags and sum, average, min or max their numeric fields",
        description="Group tasks by tag values (tasks without a tag are grouped under an empty "
        "value) and compute count plus the asked measures, largest count first. Answered by "
        "the analytical (DuckDB) view, caught up to the log first.",
    )
    aggregate.add_argument(
        "--group-by-tag", dest="group_tags", action="append", default=[], metavar="KEY"
    )
    aggregate.add_argument("--group-by-status", action="store_true", help="also group by status")
    aggregate.add_argument("--group-by-type", action="store_true", help="also group by type")
    for function in ("sum", "avg", "min", "max"):
        aggregate.add_argument(
            f"--{function}",
            action="append",
            default=[],
            choices=NUMERIC_FIELDS,
            metavar="FIELD",
            help=f"{function} of FIELD (repeatable): {', '.join(NUMERIC_FIELDS)}"
            if function == "sum"
            else f"{function} of FIELD (repeatable)",
        )
    aggregate.add_argument(
        "--tag",
        dest="tags",
        action="append",
        type=parse_tag,
        default=[],
        metavar="KEY=VALUE",
        help="only tasks with this tag (repeatable)",
    )
    aggregate.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help=f"only tasks in this status (repeatable, or comma-separated): {', '.join(TaskStatus)}",
    )
    aggregate.add_argument(
        "--type", dest="types", action="append", default=[], metavar="TYPE", help="only this type"
    )
    aggregate.add_argument(
        "--since", type=parse_moment, metavar="TIME", help="only tasks submitted at or after"
    )
    aggregate.add_argument(
        "--until", type=parse_moment, metavar="TIME", help="only tasks submitted before"
    )
    aggregate.add_argument(
        "--as-of", type=parse_moment, metavar="TIME", help="the state tasks were in at TIME"
    )
    _output_options(aggregate)
    aggregate.set_defaults(handler=run_aggregate)

    sql = commands.add_parser(
        "sql",
        parents=[store],
        help="run read-only SQL over the analytical tables",
        description="Run one SQL query on a private, read-only copy of the analytical view "
        "(tables tasks, task_tags, state_changes; see docs/analytics.md), caught up to the log.",
    )
    sql.add_argument(
        "query", metavar="SQL", help='e.g. "SELECT status, count(*) FROM tasks GROUP BY 1"'
    )
    _output_options(sql)
    sql.set_defaults(handler=run_sql)


def _output_options(parser: Parser) -> None:
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON array of objects")
    output.add_argument("--csv", action="store_true", help="print CSV with a header line")


def run_aggregate(args: argparse.Namespace) -> int:
    aggregate = TaskAggregate()
    for key in args.group_tags:
        aggregate.group_by_tag(key)
    if args.group_by_status:
        aggregate.group_by_status()
    if args.group_by_type:
        aggregate.group_by_type()
    for function in ("sum", "avg", "min", "max"):
        for field in getattr(args, function):
            getattr(aggregate, function)(field)
    for key, value in args.tags:
        aggregate.with_tag(key, value)
    aggregate.with_status(*statuses(args.status)).with_type(*args.types)
    if args.since is not None or args.until is not None:
        aggregate.submitted_between(args.since, args.until)
    if args.as_of is not None:
        aggregate.as_of(args.as_of)
    with open_scheduler(args) as scheduler:
        rows = scheduler.aggregate_tasks(aggregate)
    columns = [*args.group_tags]
    columns += ["status"] if args.group_by_status else []
    columns += ["type"] if args.group_by_type else []
    columns.append("count")
    table = []
    for row in rows:
        values: list[Any] = [row.group[key] for key in args.group_tags]
        values += [None if row.status is None else row.status.value] if args.group_by_status else []
        values += [row.task_type] if args.group_by_type else []
        values.append(row.count)
        values += list(row.measures.values())
        table.append(values)
    if rows:
        columns += list(rows[0].measures)
    _print(columns, table, args)
    return 0


def run_sql(args: argparse.Namespace) -> int:
    try:
        connection = taskmill.analytics.connect(store_folder(args), max_staleness=None)
    except OSError as error:
        raise CliError(f"cannot open store: {error.strerror or error}", FAILURE) from None
    import duckdb

    try:
        try:
            result = connection.execute(args.query)
        except duckdb.Error as error:
            raise CliError(f"sql: {' '.join(str(error).split())}", FAILURE) from None
        columns = [] if result.description is None else [d[0] for d in result.description]
        rows = result.fetchall()
    finally:
        connection.close()
    _print(columns, rows, args)
    return 0


def _print(columns: list[str], rows: Sequence[Sequence[Any]], args: argparse.Namespace) -> None:
    if args.json:
        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        sys.stdout.write(orjson.dumps(objects, default=str).decode() + "\n")
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_text(v) for v in row] for row in rows])
    else:
        table = Table(*(Column(escape(c), overflow="fold") for c in columns))
        for row in rows:
            table.add_row(*(Text(_text(v)) for v in row))
        console().print(table)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, timedelta):
        return str(value.total_seconds())
    return str(value)
