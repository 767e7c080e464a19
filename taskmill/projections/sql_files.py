"""Loads SQL kept in `.sql` files beside the code: named statements and numbered migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.sql$")


def load_statements(package: str, filename: str) -> dict[str, str]:
    """Statements from a file whose sections each start with a `-- name: NAME` line."""
    text = files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    statements = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements[name] = body.strip().rstrip(";")
    return statements


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    script: str


def load_migrations(package: str, folder: str = "migrations") -> list[Migration]:
    """Every `NNNN_name.sql` in the folder, in version order."""
    directory: Traversable = files(package).joinpath(folder)
    found = []
    for entry in directory.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8"))
            )
    return sorted(found, key=lambda m: m.version)


def read_sql(package: str, filename: str) -> str:
    return files(package).joinpath(filename).read_text(encoding="utf-8")
