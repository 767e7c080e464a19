"""The `taskmill` command line: parses arguments, runs one command, reports errors in one line."""

from __future__ import annotations

import argparse
import sys

from taskmill.cli import analytics, demo, events, snapshot, submit, tasks, views, worker
from taskmill.cli.common import FAILURE, PROG, USAGE_ERROR, CliError, Parser
from taskmill.domain.errors import TaskmillError, TaskNotFound
from taskmill.infrastructure.event_store import StoreNotFound
from taskmill.scheduler import DEFAULT_HOME, HOME_ENV

STORE_HELP = f"the store folder (default: ${HOME_ENV}, else ./{DEFAULT_HOME})"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="A persistent, priority-aware task scheduler over an event log.",
    )
    parser.add_argument("--store", metavar="PATH", help=STORE_HELP)
    # Lets `--store` also follow the command; SUPPRESS keeps a global one from being overwritten.
    store = Parser(add_help=False)
    store.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS, help=STORE_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.register(commands, store)
    submit.register(commands, store)
    tasks.register(commands, store)
    views.register(commands, store)
    worker.register(commands, store)
    events.register(commands, store)
    snapshot.register(commands, store)
    analytics.register(commands, store)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failed or not found, 2 bad input)."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help
            return done.code if isinstance(done.code, int) else 0
        code: int = args.handler(args)
        return code
    except CliError as error:
        return _report(str(error), error.exit_code)
    except (TaskNotFound, StoreNotFound) as error:
        return _report(str(error), FAILURE)
    except TaskmillError as error:
        return _report(str(error), USAGE_ERROR if isinstance(error, ValueError) else FAILURE)
    except KeyboardInterrupt:
        return _report("interrupted", 130)


def _report(message: str, exit_code: int) -> int:
    line = " ".join(message.split())
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return exit_code
