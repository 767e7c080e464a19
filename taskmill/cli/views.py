"""`taskmill views rebuild`: replay the log into fresh views, with a progress bar."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from taskmill.cli.common import Commands, Parser, open_scheduler
from taskmill.scheduler import VIEWS


def register(commands: Commands, store: Parser) -> None:
    views = commands.add_parser("views", parents=[store], help="manage the views fed from the log")
    actions = views.add_subparsers(dest="action", metavar="ACTION", required=True)
    rebuild = actions.add_parser(
        "rebuild",
        parents=[store],
        help="replay the whole log into fresh views",
        description="Replay the whole log into fresh views (the operational SQLite view and "
        "the analytical DuckDB view) and swap them in while other processes keep running.",
    )
    rebuild.add_argument(
        "--view",
        dest="views",
        action="append",
        choices=VIEWS,
        help="rebuild only this view (repeatable; default: all)",
    )
    rebuild.set_defaults(handler=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> int:
    views = list(dict.fromkeys(args.views or VIEWS))
    with open_scheduler(args) as scheduler:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        # The bars go to stderr so that stdout holds only the results.
        with Progress(*columns, console=Console(stderr=True)) as progress:
            timings = []
            for view in views:
                bar = progress.add_task(f"{view} view", total=scheduler.log_position)

                def advance(position: int, head: int, bar: TaskID = bar) -> None:
                    progress.update(bar, completed=position, total=head)

                started = time.perf_counter()
                replayed = scheduler.rebuild_views(progress=advance, views=[view])
                timings.append((view, replayed, time.perf_counter() - started))
    for view, replayed, elapsed in timings:
        rate = replayed / elapsed if elapsed > 0 else 0.0
        print(f"{view}: replayed {replayed:,} events in {elapsed:.2f} s ({rate:,.0f} events/s)")
    return 0
