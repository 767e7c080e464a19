"""Opening a store: where it lives, creating it or not, and typed errors for bad locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskmill import (
    InvalidQuery,
    InvalidStoreConfig,
    Scheduler,
    StoreNotFound,
    TaskSubmission,
)


def test_open_creates_the_store_by_default(tmp_path: Path) -> None:
    with Scheduler.open(tmp_path / "new") as scheduler:
        scheduler.submit(TaskSubmission("t"))
    assert (tmp_path / "new" / "events.db").exists()


def test_open_without_create_refuses_a_missing_store_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="no taskmill store"):
        Scheduler.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


def test_open_without_create_opens_an_existing_store(tmp_path: Path) -> None:
    with Scheduler.open(tmp_path) as scheduler:
        task_id = scheduler.submit(TaskSubmission("t")).task_id
    with Scheduler.open(tmp_path, create=False) as scheduler:
        assert scheduler.task(task_id) is not None


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InvalidStoreConfig, match="is not a folder"):
        Scheduler.open(path)


def test_taskmill_home_is_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKMILL_HOME", str(tmp_path / "home"))
    with Scheduler.open() as scheduler:
        scheduler.submit(TaskSubmission("t"))
    assert (tmp_path / "home" / "events.db").exists()


def test_an_unknown_event_store_scheme_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidStoreConfig, match="unsupported URL scheme 'mysql'"):
        Scheduler.open(tmp_path, event_store_url="mysql://localhost/db")


@pytest.mark.parametrize("method", ["task", "history"])
def test_a_malformed_task_id_is_an_invalid_query(tmp_path: Path, method: str) -> None:
    with Scheduler.open(tmp_path) as scheduler, pytest.raises(InvalidQuery, match="not a task id"):
        getattr(scheduler, method)("not-a-uuid")


def _open_files_under(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to list this process's open files")
    found = []
    for fd in fds.iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue  # closed while listing
        if target.startswith(str(folder.resolve())):
            found.append(target)
    return found


def test_close_lets_go_of_every_file_of_the_store(tmp_path: Path) -> None:
    kept = []  # the schedulers stay referenced: only close() may release their files
    for _ in range(3):
        scheduler = Scheduler.open(tmp_path)
        scheduler.submit(TaskSubmission("job"))
        assert scheduler.query_tasks() != []  # opened the views too
        scheduler.close()
        kept.append(scheduler)

    assert _open_files_under(tmp_path) == []
