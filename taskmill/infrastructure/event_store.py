"""Chooses the event store backend from configuration: an SQLite file by default, or PostgreSQL.

This is the only module that knows which database holds the log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.utils import get_topic

from taskmill.domain.errors import TaskmillError
from taskmill.infrastructure.serialization import OrjsonTranscoder, PydanticMapper
from taskmill.infrastructure.sqlite_wal import prepare_wal_file

EVENT_STORE_ENV = "TASKMILL_EVENT_STORE"
SQLITE_FILE_NAME = "events.db"


class InvalidStoreConfig(TaskmillError, ValueError):
    """The event store URL or folder cannot be used."""


class StoreNotFound(InvalidStoreConfig):
    """No store exists at that folder (and the caller asked not to create one)."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a scheduler keeps its files, and which database holds its log."""

    folder: Path
    event_store_url: str | None = None

    @property
    def backend(self) -> str:
        if self.event_store_url is None:
            return "sqlite"
        return urlparse(self.event_store_url).scheme.split("+")[0]


def resolve_location(folder: str | os.PathLike[str], event_store_url: str | None) -> StoreLocation:
    """The folder plus the event store URL (argument, else `TASKMILL_EVENT_STORE`, else SQLite)."""
    url = event_store_url if event_store_url is not None else os.environ.get(EVENT_STORE_ENV)
    location = StoreLocation(Path(folder), url or None)
    if location.backend not in ("sqlite", "postgresql", "postgres"):
        raise InvalidStoreConfig(
            f"event store: unsupported URL scheme {location.backend!r} "
            "(use an SQLite folder, or postgresql://user:password@host:port/dbname?schema=name)"
        )
    return location


def check_folder(location: StoreLocation, *, create: bool) -> None:
    """Raise a typed error for a folder that is a file, or that is missing when not creating."""
    folder = location.folder
    if folder.exists() and not folder.is_dir():
        raise InvalidStoreConfig(f"store: {str(folder)!r} is not a folder")
    if not create:
        marker = folder / SQLITE_FILE_NAME if location.event_store_url is None else folder
        if not marker.exists():
            raise StoreNotFound(f"store: no taskmill store at {str(folder)!r}")


def event_store_env(location: StoreLocation) -> dict[str, str]:
    """The `eventsourcing` environment for this location."""
    env = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    }
    if location.event_store_url is None:
        location.folder.mkdir(parents=True, exist_ok=True)
        # eventsourcing switches the file to WAL without retrying; do it first, safely.
        prepare_wal_file(location.folder / SQLITE_FILE_NAME)
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = str(location.folder / SQLITE_FILE_NAME)
        return env
    url = urlparse(location.event_store_url)
    env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    # Inserting through database functions skips the table lock that keeps notification ids
    # in commit order; a view that read id 11 would never apply an id 10 committed after it.
    env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "no"
    env["POSTGRES_DBNAME"] = url.path.lstrip("/") or "postgres"
    env["POSTGRES_HOST"] = url.hostname or "127.0.0.1"
    env["POSTGRES_PORT"] = str(url.port or 5432)
    env["POSTGRES_USER"] = unquote(url.username or "postgres")
    env["POSTGRES_PASSWORD"] = unquote(url.password or "")
    schema = parse_qs(url.query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env
