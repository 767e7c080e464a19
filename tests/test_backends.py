"""One contract, every event store backend: SQLite (embedded) and PostgreSQL.

PostgreSQL tests skip when no server answers locally, but fail in CI (CI=true), so a
missing service can never turn the suite green by skipping.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskmill import Scheduler, TaskQuery, TaskStatus, TaskSubmission

POSTGRES_DSN = os.environ.get("TASKMILL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_schema() -> Iterator[str]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the dev extra installs it
        if os.environ.get("CI"):
            raise
        pytest.skip("psycopg is not installed")
    schema = f"taskmill_test_{uuid.uuid4().hex[:10]}"
    try:
        connection = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {error}")
    with connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{POSTGRES_DSN}?schema={schema}"
        finally:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def event_store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield from _postgres_schema()


@pytest.fixture
def open_scheduler(tmp_path: Path, event_store_url: str | None) -> Iterator[type[Scheduler]]:
    opened: list[Scheduler] = []

    class Opener:
        @staticmethod
        def open(name: str = "store") -> Scheduler:
            scheduler = Scheduler.open(tmp_path / name, event_store_url=event_store_url)
            opened.append(scheduler)
            return scheduler

    yield Opener  # type: ignore[misc]
    for scheduler in opened:
        scheduler.close()


def transfer(profile: str, key: str | None = None) -> TaskSubmission:
    submission = TaskSubmission("file-transfer").tag("profile", profile)
    return submission.dedup_key(key) if key else submission


def test_submit_query_and_count(open_scheduler: type[Scheduler]) -> None:
    scheduler = open_scheduler.open()
    scheduler.submit_batch([transfer("dr"), transfer("dr"), transfer("mirror")])
    pending = scheduler.query_tasks(TaskQuery().with_tag("profile", "dr").with_status("pending"))
    assert len(pending) == 2
    assert scheduler.count_by_tag("profile") == [("dr", 2), ("mirror", 1)]


def test_dedup_holds_until_the_task_ends(open_scheduler: type[Scheduler]) -> None:
    scheduler = open_scheduler.open()
    first = scheduler.submit(transfer("dr", "obj-1"))
    again = scheduler.submit(transfer("dr", "obj-1"))
    assert (again.task_id, again.inserted) == (first.task_id, False)
    scheduler.cancel(first.task_id)
    assert scheduler.submit(transfer("dr", "obj-1")).inserted


def test_children_and_parent_finalisation(open_scheduler: type[Scheduler]) -> None:
    scheduler = open_scheduler.open()
    parent = scheduler.submit(transfer("dr")).task_id
    scheduler.start(parent)
    child = scheduler.submit(TaskSubmission("upload-part").tag("part", "1").parent(parent)).task_id
    scheduler.complete(parent)
    assert scheduler.task(parent).status is TaskStatus.WAITING  # type: ignore[union-attr]
    scheduler.start(child)
    scheduler.complete(child)
    assert scheduler.task(parent).status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert scheduler.task(child).tags["profile"] == "dr"  # type: ignore[union-attr]


def test_a_second_instance_sees_writes_and_rebuilds_identically(
    open_scheduler: type[Scheduler],
) -> None:
    writer = open_scheduler.open()
    reader = open_scheduler.open()
    ids = [r.task_id for r in writer.submit_batch([transfer(f"p{i % 3}") for i in range(30)])]
    writer.start(ids[0])
    assert reader.task(ids[0]).status is TaskStatus.RUNNING  # type: ignore[union-attr]
    before = reader.query_tasks()
    assert writer.rebuild_views() == writer.log_position
    assert reader.query_tasks() == before
    assert reader.count_by_tag("profile") == [("p0", 10), ("p1", 10), ("p2", 10)]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_schema()


@pytest.mark.postgres
def test_several_processes_may_create_a_new_postgres_store_at_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL lets all but one of several concurrent CREATE TABLEs fail; opening retries."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 4.0  # every process imported and waiting: they open together
    with context.Pool(4) as pool:
        outcomes = pool.starmap(
            _open_and_submit,
            [(str(tmp_path / f"p{i}"), postgres_url, start_at) for i in range(4)],
        )

    assert outcomes == ["ok"] * 4
    with Scheduler.open(tmp_path / "reader", event_store_url=postgres_url) as scheduler:
        assert len(scheduler.query_tasks()) == 4


def _open_and_submit(folder: str, url: str, start_at: float) -> str:
    time.sleep(max(0.0, start_at - time.time()))
    with Scheduler.open(folder, event_store_url=url) as scheduler:
        scheduler.submit(TaskSubmission("job"))
    return "ok"


@pytest.mark.postgres
def test_a_missing_postgres_schema_is_a_typed_error(tmp_path: Path, postgres_url: str) -> None:
    from taskmill import InvalidStoreConfig

    missing = postgres_url.split("?schema=")[0] + "?schema=taskmill_no_such_schema"
    with pytest.raises(InvalidStoreConfig, match="taskmill_no_such_schema"):
        Scheduler.open(tmp_path, event_store_url=missing)


@pytest.mark.postgres
def test_eventsourcing_settings_in_the_environment_cannot_reorder_the_log(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With POSTGRES_ENABLE_DB_FUNCTIONS, eventsourcing inserts without its table lock, so
    concurrent commits can land out of id order and a view would skip events: taskmill does
    not take eventsourcing's settings from the environment (bar the pool's)."""
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    monkeypatch.setenv("TASKMILL_POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    monkeypatch.setenv("TASKMILL_MAPPER_TOPIC", "no.such:Mapper")
    with Scheduler.open(tmp_path, event_store_url=postgres_url) as scheduler:  # the mapper holds
        scheduler.submit(TaskSubmission("job"))
        assert len(scheduler.query_tasks()) == 1
        # White-box, since out-of-order commits cannot be forced: the table lock stays on.
        assert not scheduler._log.recorder.datastore.enable_db_functions  # type: ignore[attr-defined]
