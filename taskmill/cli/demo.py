"""`taskmill demo`: the file-transfer workload on the embedded store, summarised by tag."""

from __future__ import annotations

import argparse

from taskmill.cli.common import CliError, Commands, Parser, console, open_scheduler
from taskmill.demo import run_demo

MIN_TASKS = 100


def register(commands: Commands, store: Parser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[store],
        help="submit a tagged file-transfer workload and summarise it by tag",
        description=(
            "Submit a realistic tagged file-transfer workload to the store, move some tasks "
            "through their lifecycle, then show counts per profile and status, bytes queued per "
            "endpoint, a filtered query and one task's audit trail."
        ),
    )
    demo.add_argument("--tasks", type=int, default=3000, help="transfers to submit (default 3000)")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.tasks < MIN_TASKS:
        raise CliError(f"--tasks: at least {MIN_TASKS} (got {args.tasks})")
    with open_scheduler(args, create=True) as scheduler:
        run_demo(scheduler, console(), tasks=args.tasks, seed=args.seed)
    return 0
