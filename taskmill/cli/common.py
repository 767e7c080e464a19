"""What every command shares: the one-line error, argument value types, the store, output."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any, NoReturn, TypeAlias
from uuid import UUID

import orjson
from rich.console import Console

from taskmill.domain.status import TaskStatus
from taskmill.scheduler import DEFAULT_HOME, HOME_ENV, Scheduler

PROG = "taskmill"
USAGE_ERROR = 2
FAILURE = 1


class CliError(Exception):
    """A user error to report as one line; `exit_code` 2 for usage, 1 for everything else."""

    def __init__(self, message: str, exit_code: int = USAGE_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors raise `CliError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        raise CliError(f"{command}: {message}" if command else message)


Commands: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What each command module's `register(commands, store)` adds its parsers to."""


# -- argument value types (argparse reports their ArgumentTypeError as "argument X: message") --


def parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def parse_task_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a task id (UUID)") from None


def parse_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error})") from None


def parse_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2025-06-01T12:00:00Z, got {text!r}"
        ) from None


def statuses(values: list[str] | None) -> list[TaskStatus]:
    """`--status` values (each may list several, comma-separated) as statuses."""
    return [TaskStatus.parse(part.strip()) for value in values or [] for part in value.split(",")]


# -- the store ---------------------------------------------------------------------------------


def store_folder(args: argparse.Namespace) -> str:
    return args.store or os.environ.get(HOME_ENV) or DEFAULT_HOME


def open_scheduler(args: argparse.Namespace, *, create: bool = False) -> Scheduler:
    """Open the store; only commands that write (`create=True`) may create a missing one."""
    folder = store_folder(args)
    try:
        return Scheduler.open(folder, create=create)
    except OSError as error:
        raise CliError(
            f"cannot open store {folder!r}: {error.strerror or error}", FAILURE
        ) from None


# -- output ------------------------------------------------------------------------------------


PIPE_WIDTH = 10_000
"""Width for output that is not a terminal: tables keep their natural width, so nothing is cut."""


def console() -> Console:
    """A console on the current stdout (looked up per call, so tests can capture it)."""
    out = sys.stdout
    return Console(file=out, highlight=False, width=None if out.isatty() else PIPE_WIDTH)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
