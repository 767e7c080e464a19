"""`taskmill worker --app module:scheduler`: run the executors an application registered."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import signal
import sys

from taskmill.cli.common import CliError, Commands, Parser, store_folder
from taskmill.scheduler import Scheduler


def register(commands: Commands, store: Parser) -> None:
    worker = commands.add_parser(
        "worker",
        parents=[store],
        help="run the executors an application registered",
        description=(
            "Import APP (module:attribute), which is a Scheduler with executors registered or a "
            "function returning one (called with store=FOLDER when it takes that argument), "
            "and run its dispatch loop until SIGINT/SIGTERM (or, with --until-idle, until "
            "nothing is left to run)."
        ),
    )
    worker.add_argument("--app", required=True, metavar="MODULE:ATTRIBUTE")
    worker.add_argument("--until-idle", action="store_true", help="stop once nothing is runnable")
    worker.set_defaults(handler=run)


def load_app(spec: str, folder: str) -> Scheduler:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"--app: expected MODULE:ATTRIBUTE, got {spec!r}")
    sys.path.insert(0, ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CliError(f"--app: cannot import {module_name!r}: {error}") from None
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise CliError(f"--app: {module_name!r} has no attribute {attribute!r}") from None
    if isinstance(target, Scheduler):
        return target
    if callable(target):
        try:
            signature = inspect.signature(target)
            arguments = {"store": folder} if "store" in signature.parameters else {}
            signature.bind(**arguments)
        except (TypeError, ValueError):
            pass  # not a factory we know how to call
        else:
            made = target(**arguments)
            if isinstance(made, Scheduler):
                return made
    raise CliError(f"--app: {spec!r} is neither a Scheduler nor a function returning one")


def run(args: argparse.Namespace) -> int:
    scheduler = load_app(args.app, store_folder(args))
    try:
        if args.until_idle:
            scheduler.run_until_idle()
        else:
            asyncio.run(_run_until_signalled(scheduler))
    finally:
        scheduler.close()
    return 0


async def _run_until_signalled(scheduler: Scheduler) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"taskmill worker {scheduler.worker_id} running; Ctrl-C to stop", file=sys.stderr)
    await scheduler.run(stop)
