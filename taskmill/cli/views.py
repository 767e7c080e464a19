"""`taskmill views rebuild`: replay the log into fresh views, with a progress bar."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from taskmill.cli.common import Commands, Parser, open_scheduler


def register(commands: Commands, store: Parser) -> None:
    views = commands.add_parser("views", help="manage the views fed from the log")
    actions = views.add_subparsers(dest="action", metavar="ACTION", required=True)
    rebuild = actions.add_parser(
        "rebuild",
        parents=[store],
        help="replay the whole log into fresh views",
        description="Replay the whole log into a fresh operational view and swap it in.",
    )
    rebuild.set_defaults(handler=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> int:
    with open_scheduler(args) as scheduler:
        columns = (
            TextColumn("replaying the log"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        # The bar goes to stderr so that stdout holds only the result.
        with Progress(*columns, console=Console(stderr=True)) as progress:
            bar = progress.add_task("replay", total=scheduler.log_position)

            def advance(position: int, head: int) -> None:
                progress.update(bar, completed=position, total=head)

            started = time.perf_counter()
            replayed = scheduler.rebuild_views(progress=advance)
            elapsed = time.perf_counter() - started
    rate = replayed / elapsed if elapsed > 0 else 0.0
    print(f"replayed {replayed:,} events in {elapsed:.2f} s ({rate:,.0f} events/s)")
    return 0
