"""`taskmill events`: print the log's task events (one line each), or follow them live."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from datetime import UTC, datetime

import orjson

from taskmill.cli.common import CliError, Commands, Parser, open_scheduler, parse_tag
from taskmill.domain.errors import InvalidQuery
from taskmill.feed import models as m
from taskmill.feed.reader import FeedFilter

DETAIL_WIDTH = 80
"""Longest error or message shown on an event's line (`--json` shows everything)."""


def register(commands: Commands, store: Parser) -> None:
    events = commands.add_parser(
        "events",
        parents=[store],
        help="print task events from the log (or follow them)",
        description="Print the log's task events after a position, one line each: position, "
        "time, event type, task id, task type, the task's own tags and details. Tag filters "
        "are ANDed; several types are ORed. With --follow, keep printing new events (of any "
        "process) until Ctrl-C. Progress is live-only and comes from executors of the same "
        f"process, so it is not shown here. Types: {', '.join(sorted(m.EVENT_TYPES))}.",
    )
    events.add_argument(
        "--from",
        dest="from_position",
        type=_position,
        default=None,
        metavar="POSITION",
        help="only events after this log position (the last one you saw, to resume)",
    )
    events.add_argument(
        "--tag",
        dest="tags",
        action="append",
        type=parse_tag,
        default=[],
        metavar="KEY=VALUE",
        help="only events of tasks with this tag (repeatable)",
    )
    events.add_argument(
        "--type",
        dest="types",
        action="append",
        default=None,
        metavar="TYPE",
        help="only events of this type, e.g. TaskFailed (repeatable, or comma-separated)",
    )
    events.add_argument("--follow", action="store_true", help="keep printing new events")
    events.add_argument(
        "--json", action="store_true", help="print one JSON object per line (JSON Lines)"
    )
    events.set_defaults(handler=run)


def _position(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a log position (an integer >= 0), got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    tags = dict(args.tags)
    types = None
    if args.types is not None:
        types = [part.strip() for value in args.types for part in value.split(",") if part.strip()]
    try:
        FeedFilter.of(tags, types)  # check the input before opening the store
    except InvalidQuery as error:
        raise CliError(f"events: {error}") from None
    try:
        _print_events(args, tags, types)
    except BrokenPipeError:  # the reader went away (`taskmill events | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _print_events(args: argparse.Namespace, tags: dict[str, str], types: list[str] | None) -> None:
    with open_scheduler(args) as scheduler:
        if not args.follow:
            for event in scheduler.events(args.from_position, tags=tags, types=types):
                _emit(event, args.json)
            sys.stdout.flush()
            return

        async def follow() -> None:
            feed = scheduler.aevents(args.from_position, tags=tags, types=types)
            async with contextlib.aclosing(feed):
                async for event in feed:
                    _emit(event, args.json)
                    sys.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(follow())


def _emit(event: m.SchedulerEvent, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(event.model_dump(mode="json")).decode() + "\n")
        return
    sys.stdout.write(format_event(event) + "\n")


def format_event(event: m.SchedulerEvent) -> str:
    """position, time, type, task id, task type, the task's own tags, then details."""
    position = "-" if event.position is None else str(event.position)
    tags = " ".join(f"{k}={v}" for k, v in event.user_tags.items())
    parts = [
        f"{position:>8}",
        _utc(event.timestamp),
        f"{event.type:<16}",
        str(event.task_id),
        event.task_type,
        tags or "-",
    ]
    detail = _details(event)
    if detail:
        parts.append(detail)
    return "  ".join(parts)


def _details(event: m.SchedulerEvent) -> str:
    if isinstance(event, m.TaskStarted):
        return f"attempt={event.attempt}"
    if isinstance(event, m.TaskProgress):
        shown = [] if event.fraction is None else [f"{event.fraction:.0%}"]
        if event.message:
            shown.append(_cut(event.message))
        return " ".join(shown)
    if isinstance(event, m.TaskRetrying):
        when = "" if event.retry_at is None else f" retry_at={_utc(event.retry_at)}"
        return f"error={_cut(event.error)}{when}"
    if isinstance(event, m.TaskFailed | m.TaskDeadLettered):
        return f"error={_cut(event.error)}"
    if isinstance(event, m.TaskCancelled | m.TaskRequeued) and event.reason:
        return f"reason={_cut(event.reason)}"
    if isinstance(event, m.ChildSpawned):
        return f"child={event.child_id}"
    if isinstance(event, m.TaskFinalized):
        error = "" if event.error is None else f" error={_cut(event.error)}"
        return f"status={event.status.value}{error}"
    if isinstance(event, m.TaskSubmitted) and event.status.value != "pending":
        return f"status={event.status.value}"
    return ""


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= DETAIL_WIDTH else line[: DETAIL_WIDTH - 1] + "…"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
