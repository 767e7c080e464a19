"""`taskmill events` and `taskmill snapshot`, in-process through `main(argv)`, and as real
processes for `--follow` and `--watch` (stopped with Ctrl-C, i.e. SIGINT)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskSubmission
from taskmill.feed import parse_event

TASKMILL = [sys.executable, "-m", "taskmill"]


def table_rows(out: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line
    ]


def lifecycle(store: Path) -> dict[str, UUID]:
    """Three tasks: a parent waiting for its child (dr, the child pending), one failed (prod)."""
    with Scheduler.open(store) as scheduler:
        parent = scheduler.submit(TaskSubmission("transfer").tag("profile", "dr")).task_id
        failed = scheduler.submit(TaskSubmission("transfer").tag("profile", "prod")).task_id
        scheduler.start(parent)
        scheduler.start(failed)
        child = scheduler.submit(TaskSubmission("part", parent=parent).tag("part", "1")).task_id
        scheduler.fail(failed, "disk\nfull", permanent=True)
        scheduler.complete(parent)
    return {"parent": parent, "failed": failed, "child": child}


# -- events ------------------------------------------------------------------------------------


def test_events_prints_one_line_per_event(cli: Any, store: Path) -> None:
    ids = lifecycle(store)
    with Scheduler.open(store) as scheduler:
        expected = list(scheduler.events())

    result = cli("events")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == len(expected) == 8
    for line, event in zip(lines, expected, strict=True):
        fields = line.split()
        assert fields[0] == str(event.position)
        assert fields[1].endswith("Z") and fields[1].startswith(str(event.timestamp.year))
        assert fields[2] == event.type
        assert fields[3] == str(event.task_id)
        assert fields[4] == event.task_type
    failed = next(line for line in lines if "TaskFailed" in line)
    assert str(ids["failed"]) in failed and "profile=prod" in failed
    assert failed.endswith("error=disk full")  # one line, even for a multi-line error
    child = next(line for line in lines if "TaskSubmitted" in line and str(ids["child"]) in line)
    assert "profile=dr part=1" in child  # inherited tags
    started = next(line for line in lines if "TaskStarted" in line)
    assert started.endswith("attempt=1")


def test_events_json_lines_parse_back_into_events(cli: Any, store: Path) -> None:
    lifecycle(store)
    with Scheduler.open(store) as scheduler:
        expected = list(scheduler.events())

    result = cli("events", "--json")

    assert result.code == 0, result.err
    parsed = [parse_event(json.loads(line)) for line in result.out.splitlines()]
    assert parsed == expected
    first = json.loads(result.out.splitlines()[0])
    assert set(first) >= {"type", "position", "task_id", "task_type", "tags", "timestamp"}


def test_events_filters_by_tag_and_type_and_resumes_from_a_position(cli: Any, store: Path) -> None:
    ids = lifecycle(store)

    dr = cli("events", "--tag", "profile=dr", "--json")
    positions = [json.loads(line)["position"] for line in dr.out.splitlines()]
    tasks = {json.loads(line)["task_id"] for line in dr.out.splitlines()}
    assert tasks == {str(ids["parent"]), str(ids["child"])}

    both = cli("events", "--tag", "profile=dr", "--tag", "part=1", "--json")
    assert {json.loads(line)["task_id"] for line in both.out.splitlines()} == {str(ids["child"])}

    ended = cli("events", "--type", "TaskFailed,TaskWaiting", "--json")
    assert [json.loads(line)["type"] for line in ended.out.splitlines()] == [
        "TaskFailed",
        "TaskWaiting",
    ]
    repeated = cli("events", "--type", "TaskFailed", "--type", "TaskWaiting", "--json")
    assert repeated.out == ended.out

    resumed = cli("events", "--tag", "profile=dr", "--from", str(positions[1]), "--json")
    assert [json.loads(line)["position"] for line in resumed.out.splitlines()] == positions[2:]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "TaskStrated"], "unknown event type(s) TaskStrated"),
        (["--from", "-3"], "argument --from: expected a log position"),
        (["--from", "x"], "argument --from: expected a log position"),
        (["--tag", "novalue"], "argument --tag: expected KEY=VALUE"),
    ],
)
def test_events_reports_bad_input_in_one_line_before_opening_the_store(
    cli: Any, store: Path, argv: list[str], message: str
) -> None:
    result = cli("events", *argv)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("taskmill: error: events") and message in result.err
    assert len(result.err.splitlines()) == 1
    assert not store.exists()


def test_read_commands_do_not_create_a_store(cli: Any, store: Path) -> None:
    for argv in (["events"], ["snapshot"]):
        result = cli(*argv)
        assert result.code == 1 and "no taskmill store" in result.err
    assert not store.exists()


# -- snapshot ----------------------------------------------------------------------------------


def test_snapshot_prints_counts_per_status_and_groups(cli: Any, store: Path) -> None:
    lifecycle(store)
    with Scheduler.open(store) as scheduler:
        scheduler.set_group_limit("s3://a", 2)
        running = scheduler.submit(TaskSubmission("upload", group="s3://a")).task_id
        scheduler.submit(TaskSubmission("upload", group="s3://a"))
        scheduler.start(running)

    result = cli("snapshot")

    assert result.code == 0, result.err
    rows = {row[0]: row[1:] for row in table_rows(result.out)}
    assert rows["pending"] == ["2"] and rows["running"] == ["1"]
    assert rows["waiting"] == ["1"] and rows["failed"] == ["1"] and rows["completed"] == ["0"]
    assert rows["total"] == ["5"]
    assert rows["s3://a"] == ["1", "1", "2"]  # group: running, pending, limit
    assert "Running" in result.out and str(running) in result.out
    assert "Tasks per profile" not in result.out


def test_snapshot_by_tag_prints_tag_stats_per_value(cli: Any, store: Path) -> None:
    lifecycle(store)

    result = cli("snapshot", "--by-tag", "profile")

    assert result.code == 0, result.err
    assert "Tasks per profile" in result.out
    header = next(line for line in result.out.splitlines() if "┃ profile" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == [
        "profile",
        "running",
        "pending",
        "blocked",
        "waiting",
        "completed",
        "failed",
        "dead_letter",
        "cancelled",
        "expired",
        "total",
    ]
    rows = {row[0]: row[1:] for row in table_rows(result.out)}
    assert rows["dr"] == ["0", "1", "0", "1", "0", "0", "0", "0", "0", "2"]
    assert rows["prod"] == ["0", "0", "0", "0", "0", "1", "0", "0", "0", "1"]


def test_snapshot_json(cli: Any, store: Path) -> None:
    lifecycle(store)

    result = cli("snapshot", "--by-tag", "profile", "--json")

    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["counts"]["waiting"] == 1 and data["counts"]["pending"] == 1
    assert data["by_tag"]["key"] == "profile"
    assert data["by_tag"]["values"]["dr"]["pending"] == 1
    assert data["by_tag"]["values"]["prod"]["failed"] == 1
    with Scheduler.open(store) as scheduler:
        assert data["position"] == scheduler.log_position
    plain = json.loads(cli("snapshot", "--json").out)
    assert "by_tag" not in plain and plain["groups"] == {}


@pytest.mark.parametrize("seconds", ["0", "-1", "soon", "inf"])
def test_snapshot_watch_needs_a_positive_number(cli: Any, seconds: str) -> None:
    result = cli("snapshot", "--watch", seconds)
    assert result.code == 2 and "argument --watch" in result.err


# -- as processes: --follow and --watch until Ctrl-C ------------------------------------------


def _environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("TASKMILL_EVENT_STORE", "TASKMILL_HOME")
    }
    env["COLUMNS"] = "200"
    return env


def _default_ctrl_c() -> None:
    """In the child, before Python starts: SIGINT back to its default. A shell that starts
    pytest in the background (without job control) makes it ignored, the child inherits that,
    and Python then installs no KeyboardInterrupt handler: Ctrl-C would never reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_lines(lines: queue.Queue[str], count: int, seconds: float = 20.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while len(got) < count:
        got.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
    return got


def _interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.stderr is not None
    return process.returncode, process.stderr.read()


def test_events_follow_prints_new_events_until_ctrl_c(store: Path) -> None:
    with Scheduler.open(store) as scheduler:
        first = scheduler.submit(TaskSubmission("job").tag("profile", "dr")).task_id
    process = subprocess.Popen(
        [*TASKMILL, "--store", str(store), "events", "--follow", "--tag", "profile=dr", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        preexec_fn=_default_ctrl_c,
    )
    try:
        assert process.stdout is not None
        lines = _lines(process.stdout)
        (line,) = _next_lines(lines, 1)  # the old event: it is following now
        assert json.loads(line)["task_id"] == str(first)
        with Scheduler.open(store) as scheduler:
            scheduler.submit(TaskSubmission("job").tag("profile", "prod"))
            later = scheduler.submit(TaskSubmission("job").tag("profile", "dr")).task_id
            scheduler.start(later)
        events = [json.loads(line) for line in _next_lines(lines, 2)]
    finally:
        code, err = _interrupt(process)
    assert [(e["type"], e["task_id"]) for e in events] == [
        ("TaskSubmitted", str(later)),
        ("TaskStarted", str(later)),
    ]
    assert code == 0, err
    assert lines.empty()


def test_snapshot_watch_refreshes_until_ctrl_c(store: Path) -> None:
    lifecycle(store)
    process = subprocess.Popen(
        [*TASKMILL, "--store", str(store), "snapshot", "--watch", "0.05", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        preexec_fn=_default_ctrl_c,
    )
    try:
        assert process.stdout is not None
        lines = _lines(process.stdout)
        first = json.loads(_next_lines(lines, 1)[0])
        with Scheduler.open(store) as scheduler:
            scheduler.submit(TaskSubmission("job"))
        deadline = time.monotonic() + 20
        latest = first
        while latest["counts"]["pending"] == first["counts"]["pending"]:
            assert time.monotonic() < deadline, "the watch never showed the new task"
            latest = json.loads(_next_lines(lines, 1)[0])
    finally:
        code, err = _interrupt(process)
    assert latest["counts"]["pending"] == first["counts"]["pending"] + 1
    assert code == 0, err


def test_snapshot_watch_with_a_table_refreshes_until_ctrl_c(
    cli: Any, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifecycle(store)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:  # the first refresh shows a new task
            with Scheduler.open(store) as scheduler:
                scheduler.submit(TaskSubmission("job").tag("profile", "dr"))
        if len(naps) == 3:
            raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr("taskmill.cli.snapshot.sleep", sleep)
    result = cli("snapshot", "--watch", "0.5", "--by-tag", "profile")

    assert result.code == 0, result.err
    assert naps == [0.5, 0.5, 0.5]
    assert "Tasks per status" in result.out and "Tasks per profile" in result.out
    rows = {row[0]: row[1:] for row in table_rows(result.out)}
    assert rows["dr"][-1] == "3"  # the last refresh is what stays on screen
