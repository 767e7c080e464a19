"""`taskmill submit`: submit one task."""

from __future__ import annotations

import argparse

from taskmill.cli.common import (
    CliError,
    Commands,
    Parser,
    open_scheduler,
    parse_json,
    parse_moment,
    parse_tag,
    parse_task_id,
    print_json,
)
from taskmill.domain.io_figures import IO_FIELDS
from taskmill.submission import TaskSubmission


def register(commands: Commands, store: Parser) -> None:
    parser = commands.add_parser(
        "submit",
        parents=[store],
        help="submit a task",
        description="Submit one task; prints its id and whether it was inserted "
        "(not when an active task of the type already holds the dedup key).",
    )
    parser.add_argument("task_type", metavar="TYPE", help="the task type")
    parser.add_argument(
        "--tag",
        dest="tags",
        action="append",
        type=parse_tag,
        default=[],
        metavar="KEY=VALUE",
        help="a tag (repeatable)",
    )
    parser.add_argument("--priority", type=int, help="0 (most urgent) to 255; default 128")
    parser.add_argument("--group", help="the task's group")
    parser.add_argument("--dedup-key", help="unique among the active tasks of this type")
    parser.add_argument("--payload", type=parse_json, metavar="JSON", help="a JSON value")
    parser.add_argument("--max-retries", type=int, metavar="N", help="default 3")
    parser.add_argument(
        "--ttl",
        type=float,
        metavar="SECONDS",
        help="expire if still waiting to run (pending, blocked, or waiting to retry) this many "
        "seconds after submission; at most 100 years",
    )
    parser.add_argument("--run-after", type=parse_moment, metavar="ISO8601", help="not before then")
    parser.add_argument("--parent", type=parse_task_id, metavar="TASK_ID", help="the parent task")
    for field in IO_FIELDS:
        parser.add_argument(
            f"--expected-{field.replace('_', '-')}",
            type=int,
            metavar="N",
            help=f"expected {field.replace('_', ' ')}",
        )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    submission = TaskSubmission(
        args.task_type,
        payload=args.payload,
        group=args.group,
        dedup_key=args.dedup_key,
        tags=_tags(args.tags),
        ttl=args.ttl,
        run_after=args.run_after,
        parent=args.parent,
        expected_io={
            field: getattr(args, f"expected_{field}")
            for field in IO_FIELDS
            if getattr(args, f"expected_{field}") is not None
        },
    )
    if args.priority is not None:
        submission.priority(args.priority)
    if args.max_retries is not None:
        submission.max_retries(args.max_retries)
    submission.to_spec()  # reject bad input before the store is even opened
    with open_scheduler(args, create=True) as scheduler:
        result = scheduler.submit(submission)
    if args.json:
        print_json(result.model_dump(mode="json"))
    elif result.inserted:
        print(f"{result.task_id} inserted")
    else:
        print(f"{result.task_id} not inserted: an active task already holds the dedup key")
    return 0


def _tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise CliError(f"argument --tag: tag {key!r} given more than once")
        tags[key] = value
    return tags
