"""A view swapped in after a rebuild survives a power cut: its file and the rename are synced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import taskmill.infrastructure.durable_files as durable_files
from taskmill import Scheduler, TaskSubmission


def _record_syncs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What is synced and renamed, in order: inode numbers for fsyncs, ("replace", target)."""
    steps: list[object] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        steps.append(os.fstat(descriptor).st_ino)
        real_fsync(descriptor)

    def replace(source: str | Path, target: str | Path) -> None:
        steps.append(("replace", Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(durable_files.os, "fsync", fsync)
    monkeypatch.setattr(durable_files.os, "replace", replace)
    return steps


def test_replace_durably_syncs_the_file_then_renames_then_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "new.tmp", tmp_path / "live"
    source.write_text("complete")
    inode = source.stat().st_ino
    steps = _record_syncs(monkeypatch)

    durable_files.replace_durably(source, target)

    assert steps == [inode, ("replace", "live"), tmp_path.stat().st_ino]
    assert target.read_text() == "complete"


def test_a_rebuilt_view_is_on_disk_before_it_is_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = tmp_path / "views"
    with Scheduler.open(tmp_path) as scheduler:
        scheduler.submit(TaskSubmission("job"))
        steps = _record_syncs(monkeypatch)

        scheduler.rebuild_views()

        live_operational = views / (views / "operational.current").read_text().strip()
        renames = [step for step in steps if isinstance(step, tuple)]
        assert renames == [("replace", "operational.current"), ("replace", "analytics.duckdb")]
        pointer_swap = steps.index(renames[0])
        assert live_operational.stat().st_ino in steps[:pointer_swap]  # synced before named
        analytics_swap = steps.index(renames[1])
        assert (views / "analytics.duckdb").stat().st_ino == steps[analytics_swap - 1]
        assert scheduler.query_tasks() != []
