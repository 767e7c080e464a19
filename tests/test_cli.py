"""The `taskmill` command line, run in-process through `main(argv)` (and once as a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from taskmill import Scheduler, TaskQuery, TaskStatus, TaskSubmission

MISSING = "00000000-0000-4000-8000-000000000000"


def submitted_id(result: Any) -> UUID:
    assert result.code == 0, result.err
    return UUID(result.out.split()[0])


def table_rows(out: str) -> list[list[str]]:
    """The cells of a rich table's body rows (one table line per row: the tests keep it wide)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line
    ]


def table_header(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if "┃" in line)
    return [cell.strip() for cell in line.split("┃")[1:-1]]


def snapshot(store: Path) -> tuple[int, int]:
    """(log position, number of tasks): what a rejected command must leave unchanged."""
    with Scheduler.open(store) as scheduler:
        return scheduler.log_position, len(scheduler.query_tasks())


# -- submit ------------------------------------------------------------------------------------


def test_submit_prints_the_id_and_stores_every_option(cli: Any, store: Path) -> None:
    result = cli(
        "submit", "file-transfer",
        "--tag", "profile=disaster-recovery", "--tag", "url=s3://b/k?x=1",
        "--priority", "64", "--group", "s3://play.min.io", "--dedup-key", "data/report.csv",
        "--payload", '{"plan": [1, 2]}', "--max-retries", "5", "--ttl", "90",
        "--expected-net-tx-bytes", "1048576", "--expected-read-bytes", "10",
    )  # fmt: skip
    task_id = submitted_id(result)
    assert result.out.strip() == f"{task_id} inserted"
    assert result.err == ""
    with Scheduler.open(store) as scheduler:
        record = scheduler.task(task_id)
    assert record is not None
    assert record.task_type == "file-transfer"
    assert record.user_tags == {"profile": "disaster-recovery", "url": "s3://b/k?x=1"}
    assert (record.priority, record.group, record.dedup_key) == (
        64, "s3://play.min.io", "data/report.csv",
    )  # fmt: skip
    assert record.payload == {"plan": [1, 2]}
    assert (record.max_retries, record.ttl_seconds) == (5, 90.0)
    assert record.expected_io.net_tx_bytes == 1_048_576
    assert record.expected_io.read_bytes == 10
    assert record.status is TaskStatus.PENDING


def test_submit_stores_the_expected_write_and_net_rx_bytes(cli: Any, store: Path) -> None:
    task_id = submitted_id(
        cli("submit", "t", "--expected-write-bytes", "4096", "--expected-net-rx-bytes", "512")
    )
    zero = submitted_id(cli("submit", "t", "--expected-write-bytes", "0"))
    with Scheduler.open(store) as scheduler:
        record = scheduler.task(task_id)
        unset = scheduler.task(zero)
    assert record is not None and unset is not None
    assert record.expected_io.model_dump() == {
        "read_bytes": 0,
        "write_bytes": 4096,
        "net_rx_bytes": 512,
        "net_tx_bytes": 0,
    }
    assert unset.expected_io.write_bytes == 0
    sums = cli(
        "aggregate", "--sum", "expected_write_bytes", "--sum", "expected_net_rx_bytes", "--json"
    )  # fmt: skip
    assert sums.json() == [
        {"count": 2, "sum_expected_write_bytes": 4096, "sum_expected_net_rx_bytes": 512}
    ]


def test_submit_json_reports_a_duplicate_as_not_inserted(cli: Any) -> None:
    first = cli("submit", "t", "--dedup-key", "k", "--json")
    second = cli("submit", "t", "--dedup-key", "k", "--json")
    assert first.code == second.code == 0
    assert first.json()["inserted"] is True
    assert second.json() == {"task_id": first.json()["task_id"], "inserted": False}
    text = cli("submit", "t", "--dedup-key", "k")
    assert text.out.startswith(f"{first.json()['task_id']} not inserted")


def test_submit_run_after_and_parent(cli: Any, store: Path) -> None:
    later = cli("submit", "t", "--run-after", "2999-01-01T00:00:00Z")
    parent = submitted_id(cli("submit", "t", "--tag", "profile=a", "--tag", "k=v"))
    child = submitted_id(cli("submit", "t", "--parent", str(parent), "--tag", "k=w"))
    with Scheduler.open(store) as scheduler:
        blocked = scheduler.task(submitted_id(later))
        record = scheduler.task(child)
    assert blocked is not None and blocked.status is TaskStatus.BLOCKED
    assert record is not None and record.parent_id == parent
    assert record.user_tags == {"profile": "a", "k": "w"}


# -- where the store is ------------------------------------------------------------------------


def test_store_may_follow_the_command(run: Any, store: Path) -> None:
    submitted_id(run("submit", "t", "--store", str(store)))
    assert snapshot(store) == (1, 1)


def test_store_may_follow_views_before_its_action(run: Any, store: Path) -> None:
    submitted_id(run("--store", str(store), "submit", "t"))
    result = run("views", "--store", str(store), "rebuild")
    assert result.code == 0, result.err
    assert result.out.startswith("operational: replayed 1 events in ")


def test_taskmill_home_names_the_store(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TASKMILL_HOME", str(home))
    task_id = submitted_id(run("submit", "t"))
    assert str(task_id) in run("ls").out
    assert snapshot(home)[1] == 1
    # --store wins over the environment.
    other = tmp_path / "other"
    submitted_id(run("--store", str(other), "submit", "t"))
    assert snapshot(home)[1] == 1 and snapshot(other)[1] == 1


def test_default_store_is_dot_taskmill(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    submitted_id(run("submit", "t"))
    assert snapshot(tmp_path / ".taskmill")[1] == 1


# -- ls ----------------------------------------------------------------------------------------


def test_ls_prints_a_table_by_priority(cli: Any) -> None:
    low = submitted_id(cli("submit", "slow", "--priority", "200", "--tag", "profile=b"))
    high = submitted_id(cli("submit", "fast", "--priority", "3", "--tag", "profile=a"))
    result = cli("ls")
    assert result.code == 0 and result.err == ""
    assert table_header(result.out) == ["id", "type", "status", "priority", "tags"]
    assert table_rows(result.out) == [
        [str(high), "fast", "pending", "3", "profile=a"],
        [str(low), "slow", "pending", "200", "profile=b"],
    ]


def test_ls_shows_tag_values_literally_not_as_markup(cli: Any) -> None:
    submitted_id(cli("submit", "t", "--tag", "style=[bold]loud[/bold]"))
    assert "style=[bold]loud[/bold]" in cli("ls").out


def test_ls_filters_and_json_gives_full_records(cli: Any, store: Path) -> None:
    wanted = submitted_id(cli("submit", "a", "--tag", "profile=dr", "--tag", "zone=eu"))
    submitted_id(cli("submit", "a", "--tag", "profile=dr", "--tag", "zone=us"))
    submitted_id(cli("submit", "b", "--tag", "profile=dr", "--tag", "zone=eu"))
    submitted_id(cli("submit", "a", "--tag", "profile=dr", "--run-after", "2999-01-01"))
    result = cli("ls", "--tag", "profile=dr", "--tag", "zone=eu", "--type", "a", "--json")
    with Scheduler.open(store) as scheduler:
        record = scheduler.task(wanted)
    assert record is not None
    assert result.json() == [record.model_dump(mode="json")]

    assert len(cli("ls", "--status", "blocked", "--json").json()) == 1
    assert len(cli("ls", "--status", "pending", "--json").json()) == 3
    assert len(cli("ls", "--status", "pending,blocked", "--json").json()) == 4
    assert len(cli("ls", "--status", "pending", "--status", "blocked", "--json").json()) == 4
    assert len(cli("ls", "--limit", "2", "--json").json()) == 2
    assert cli("ls", "--tag", "profile=none", "--json").json() == []


# -- count-by-tag ------------------------------------------------------------------------------


def test_count_by_tag(cli: Any) -> None:
    for profile in ("dr", "dr", "mirror"):
        submitted_id(cli("submit", "t", "--tag", f"profile={profile}"))
    submitted_id(cli("submit", "t", "--tag", "profile=mirror", "--run-after", "2999-01-01"))
    assert cli("count-by-tag", "profile", "--json").json() == [
        {"value": "dr", "count": 2},
        {"value": "mirror", "count": 2},
    ]
    assert cli("count-by-tag", "profile", "--status", "blocked", "--json").json() == [
        {"value": "mirror", "count": 1}
    ]
    table = cli("count-by-tag", "profile")
    assert table.code == 0
    assert table_header(table.out) == ["profile", "tasks"]
    assert table_rows(table.out) == [["dr", "2"], ["mirror", "2"]]
    assert table_rows(cli("count-by-tag", "taskmill.type").out) == [["t", "4"]]
    assert table_rows(cli("count-by-tag", "no-such-key").out) == []


# -- audit -------------------------------------------------------------------------------------


def test_audit_shows_every_event_in_order(cli: Any, store: Path) -> None:
    task_id = submitted_id(cli("submit", "t", "--tag", "profile=dr"))
    with Scheduler.open(store) as scheduler:
        scheduler.start(task_id, worker_id="w1")
        scheduler.complete(task_id)
        expected = [entry.model_dump(mode="json") for entry in scheduler.history(task_id)]
    assert cli("audit", str(task_id), "--json").json() == expected

    result = cli("audit", str(task_id))
    assert result.code == 0 and str(task_id) in result.out
    assert result.out.splitlines()[0] == f"task {task_id}"
    assert table_header(result.out) == ["version", "time", "event", "details"]
    rows = table_rows(result.out)
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert [row[2] for row in rows] == ["TaskSubmitted", "TaskStarted", "TaskCompleted"]
    for row, entry in zip(rows, expected, strict=True):
        moment = datetime.fromisoformat(entry["timestamp"])
        assert row[1] == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert '"profile":"dr"' in rows[0][3] and 'worker_id="w1"' in rows[1][3]


# -- views rebuild -----------------------------------------------------------------------------


def test_views_rebuild_replays_the_log(cli: Any, store: Path) -> None:
    for n in range(3):
        submitted_id(cli("submit", "t", "--tag", f"n={n}"))
    before = cli("ls", "--json").json()
    sums = cli("aggregate", "--group-by-tag", "n", "--json").json()
    result = cli("views", "rebuild")
    assert result.code == 0
    lines = result.out.splitlines()
    head = snapshot(store)[0]
    assert [line.split(" events in ")[0] for line in lines] == [
        f"operational: replayed {head}",
        f"analytical: replayed {head}",
    ]
    assert all("events/s" in line for line in lines)
    assert cli("aggregate", "--group-by-tag", "n", "--json").json() == sums
    only = cli("views", "rebuild", "--view", "analytical")
    assert only.out.startswith(f"analytical: replayed {head} events in ")
    assert "Traceback" not in result.err and "error" not in result.err
    assert cli("ls", "--json").json() == before


def test_views_rebuild_of_the_operational_view_only(cli: Any, store: Path) -> None:
    for n in range(3):
        submitted_id(cli("submit", "t", "--tag", f"n={n}"))
    sums = cli("aggregate", "--group-by-tag", "n", "--json").json()
    before = cli("ls", "--json").json()
    views = store / "views"
    pointer = (views / "operational.current").read_text()
    analytical = (views / "analytics.duckdb").stat().st_ino
    head = snapshot(store)[0]

    result = cli("views", "rebuild", "--view", "operational")

    assert result.code == 0, result.err
    (line,) = result.out.splitlines()
    assert line.startswith(f"operational: replayed {head} events in ") and "events/s" in line
    assert "operational view" in result.err  # its progress bar, the only one
    assert "analytical" not in result.out + result.err
    assert "Traceback" not in result.err
    # A fresh operational file was swapped in; the analytical one is the same file as before.
    assert (views / "operational.current").read_text() != pointer
    assert (views / "analytics.duckdb").stat().st_ino == analytical
    assert cli("ls", "--json").json() == before
    assert cli("aggregate", "--group-by-tag", "n", "--json").json() == sums
    # Whereas rebuilding the analytical view replaces its file (and names only it).
    only = cli("views", "rebuild", "--view", "analytical")
    assert only.out.splitlines()[0].startswith(f"analytical: replayed {head} events in ")
    assert len(only.out.splitlines()) == 1 and "operational" not in only.out
    assert (views / "analytics.duckdb").stat().st_ino != analytical
    assert cli("aggregate", "--group-by-tag", "n", "--json").json() == sums


def test_views_rebuild_of_an_empty_log(cli: Any, store: Path) -> None:
    Scheduler.open(store).close()
    result = cli("views", "rebuild")
    assert result.code == 0 and result.out.startswith("operational: replayed 0 events")


@pytest.mark.parametrize("argv", [["ls"], ["count-by-tag", "k"], ["views", "rebuild"]])
def test_reading_a_missing_store_says_so_and_creates_nothing(
    run: Any, tmp_path: Path, argv: list[str]
) -> None:
    missing = tmp_path / "missing"
    result = run("--store", str(missing), *argv)
    assert result.code == 1
    assert result.err == f"taskmill: error: store: no taskmill store at {str(missing)!r}\n"
    assert not missing.exists()


# -- help --------------------------------------------------------------------------------------


def test_help_exits_zero(run: Any) -> None:
    result = run("--help")
    assert result.code == 0 and "count-by-tag" in result.out
    assert run("submit", "--help").code == 0


def test_module_and_script_run_as_processes(store: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TASKMILL_EVENT_STORE"}
    module = subprocess.run(
        [sys.executable, "-m", "taskmill", "--help"], capture_output=True, text=True, env=env
    )
    assert module.returncode == 0 and module.stdout.startswith("usage: taskmill")
    script = Path(sys.executable).with_name("taskmill")
    if script.exists():
        shown = subprocess.run([script, "--help"], capture_output=True, text=True, env=env)
        assert shown.returncode == 0 and "views" in shown.stdout
    failed = subprocess.run(
        [sys.executable, "-m", "taskmill", "--store", str(store), "ls", "--status", "nope"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.splitlines() == [failed.stderr.strip()]
    assert failed.stderr.startswith("taskmill: error: status: unknown status 'nope'")


# -- bad input ---------------------------------------------------------------------------------

BAD_INPUT = [
    # (arguments, exit code, what the message says)
    (["submit"], 2, "submit: the following arguments are required: TYPE"),
    (["submit", "t", "--tag", "novalue"], 2, "argument --tag: expected KEY=VALUE"),
    (["submit", "t", "--tag", "=v"], 2, "argument --tag: expected KEY=VALUE"),
    (["submit", "t", "--tag", "a=1", "--tag", "a=2"], 2, "tag 'a' given more than once"),
    (["submit", "t", "--tag", "taskmill.x=1"], 2, "reserved"),
    (["submit", "t", "--tag", "k" * 65 + "=v"], 2, "must be 1-64"),
    (["submit", "t", "--tag", "k=" + "v" * 257], 2, "at most 256"),
    (["submit", "t", "--priority", "256"], 2, "priority: 256 is out of range 0-255"),
    (["submit", "t", "--priority", "high"], 2, "argument --priority: invalid int value"),
    (["submit", "t", "--payload", "{not json"], 2, "argument --payload: not valid JSON"),
    (["submit", "t", "--run-after", "tomorrow"], 2, "argument --run-after: expected an ISO"),
    (["submit", "t", "--parent", "nope"], 2, "argument --parent: 'nope' is not a task id"),
    (["submit", "t", "--parent", MISSING], 2, f"parent_id: task {MISSING} does not exist"),
    (["submit", "t", "--ttl", "0"], 2, "ttl: must be a positive number"),
    (["submit", "t", "--max-retries", "-1"], 2, "max_retries"),
    (["submit", "t", "--expected-read-bytes", "-5"], 2, "expected_io.read_bytes"),
    (["submit", "t", "--expected-write-bytes", "-1"], 2, "expected_io.write_bytes"),
    (["submit", "t", "--expected-net-rx-bytes", "-1"], 2, "expected_io.net_rx_bytes"),
    (["submit", "t", "--expected-net-rx-bytes", "1.5"], 2, "argument --expected-net-rx-bytes"),
    (["submit", ""], 2, "task_type"),
    (["ls", "--status", "bogus"], 2, "status: unknown status 'bogus' (allowed: pending"),
    (["ls", "--status", "pending,bogus"], 2, "unknown status 'bogus'"),
    (["ls", "--tag", "novalue"], 2, "argument --tag: expected KEY=VALUE"),
    (["ls", "--limit", "-1"], 2, "limit: must be a non-negative integer"),
    (["count-by-tag", "profile", "--status", "nope"], 2, "unknown status 'nope'"),
    (["count-by-tag"], 2, "the following arguments are required: KEY"),
    (["audit", "not-a-uuid"], 2, "argument TASK_ID: 'not-a-uuid' is not a task id (UUID)"),
    (["audit", MISSING], 1, f"task {MISSING} does not exist"),
    (["views"], 2, "the following arguments are required: ACTION"),
    (["views", "drop"], 2, "invalid choice: 'drop'"),
    (["frobnicate"], 2, "argument COMMAND: invalid choice: 'frobnicate'"),
    ([], 2, "the following arguments are required: COMMAND"),
]


def _case_id(argv: list[str]) -> str:
    text = " ".join(argv) or "(nothing)"
    return text if len(text) <= 40 else text[:39] + "~"


@pytest.mark.parametrize(
    ("argv", "code", "message"), BAD_INPUT, ids=[_case_id(argv) for argv, _, _ in BAD_INPUT]
)
def test_bad_input_is_one_line_and_persists_nothing(
    cli: Any, store: Path, argv: list[str], code: int, message: str
) -> None:
    submitted_id(cli("submit", "existing", "--tag", "profile=dr"))
    before = snapshot(store)
    result = cli(*argv)
    assert result.code == code
    assert result.out == ""
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result.err
    assert result.err.startswith("taskmill: error: ")
    assert message in result.err
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["submit", "t", "--tag", "taskmill.type=x"],
        ["submit", "t", "--priority", "-1"],
        ["submit", "t", "--payload", "["],
        ["ls", "--status", "nope"],
        ["count-by-tag", "k", "--status", "nope"],
        ["audit", "xyz"],
    ],
    ids=_case_id,
)
def test_bad_input_does_not_create_a_store(run: Any, tmp_path: Path, argv: list[str]) -> None:
    store = tmp_path / "never"
    assert run("--store", str(store), *argv).code == 2
    assert not store.exists()


def test_an_unknown_parent_in_a_new_store_submits_nothing(run: Any, tmp_path: Path) -> None:
    # The parent is looked up in the store, so the store is opened (and created) first.
    store = tmp_path / "new"
    result = run("--store", str(store), "submit", "x", "--parent", MISSING)
    assert result.code == 2 and result.out == ""
    assert result.err == f"taskmill: error: parent_id: task {MISSING} does not exist\n"
    assert snapshot(store) == (0, 0)


def test_a_store_that_is_a_file_is_one_line(run: Any, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = run("--store", str(not_a_folder), "ls")
    assert result.code == 2 and result.out == ""
    assert result.err == f"taskmill: error: store: {str(not_a_folder)!r} is not a folder\n"


def test_other_taskmill_errors_exit_one(
    run: Any, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that is not about the input (say, writers kept conflicting) exits 1."""
    from taskmill import ConcurrencyConflict

    def conflict(self: Scheduler, submission: TaskSubmission) -> None:
        raise ConcurrencyConflict("gave up after 8 conflicting concurrent updates")

    monkeypatch.setattr(Scheduler, "submit", conflict)
    result = run("--store", str(store), "submit", "t")
    assert result.code == 1
    assert result.err == "taskmill: error: gave up after 8 conflicting concurrent updates\n"


# -- demo --------------------------------------------------------------------------------------


def test_demo_runs_a_tagged_workload_and_summarises_it(cli: Any, store: Path) -> None:
    result = cli("demo", "--tasks", "300", "--seed", "1")
    assert result.code == 0, result.err
    assert "Tasks per profile and status (count_by_tag" in result.out
    assert "Bytes queued per destination endpoint" in result.out
    assert "Audit of data/2024/obj-" in result.out
    with Scheduler.open(store) as scheduler:
        types = dict(scheduler.count_by_tag("taskmill.type"))
        assert types["file-transfer"] == 300
        split = scheduler.query_tasks(TaskQuery().with_type("file-transfer"))
        parents = [t for t in split if t.children_total]
        assert parents and types["upload-part"] == 3 * len(parents)
        statuses = {t.status for t in scheduler.query_tasks()}
        assert statuses <= {TaskStatus.COMPLETED, TaskStatus.FAILED}  # everything ran
        assert TaskStatus.FAILED in statuses  # the corrupt transfers failed for good
        retried = [t for t in split if t.attempts == 2 and t.status is TaskStatus.COMPLETED]
        assert retried  # the flaky ones succeeded on their second attempt
        assert len(scheduler.tag_values("demo_run")) == 1
        assert scheduler.group_limit("s3://play.min.io") == 6


def test_demo_runs_twice_on_one_store(cli: Any, store: Path) -> None:
    assert cli("demo", "--tasks", "300").code == 0
    assert cli("demo", "--tasks", "300").code == 0
    with Scheduler.open(store) as scheduler:
        assert len(scheduler.tag_values("demo_run")) == 2


def test_demo_refuses_a_tiny_workload(run: Any, store: Path) -> None:
    result = run("--store", str(store), "demo", "--tasks", "5")
    assert result.code == 2
    assert result.err == "taskmill: error: --tasks: at least 100 (got 5)\n"


# -- worker ------------------------------------------------------------------------------------

TASKMILL = [sys.executable, "-m", "taskmill"]
WORKER_APP = """
from taskmill import Scheduler

def make(store):
    scheduler = Scheduler.open(store)

    @scheduler.executor("echo")
    def echo(ctx):
        ctx.record_io(net_tx_bytes=len(ctx.task.payload["text"]))

    return scheduler
"""


def test_worker_runs_the_apps_executors_until_idle(store: Path, tmp_path: Path) -> None:
    (tmp_path / "echo_app.py").write_text(WORKER_APP)
    with Scheduler.open(store) as scheduler:
        ids = [
            r.task_id
            for r in scheduler.submit_batch(
                [TaskSubmission("echo", payload={"text": "x" * n}) for n in range(1, 6)]
            )
        ]
    completed = subprocess.run(
        [*TASKMILL, "--store", str(store), "worker", "--app", "echo_app:make", "--until-idle"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    with Scheduler.open(store) as scheduler:
        records = [scheduler.task(i) for i in ids]
    assert [r.status for r in records if r] == [TaskStatus.COMPLETED] * 5
    assert [r.actual_io.net_tx_bytes for r in records if r] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("nocolon", "expected MODULE:ATTRIBUTE"),
        ("no_such_module_xyz:app", "cannot import 'no_such_module_xyz'"),
        ("json:no_such_attribute", "'json' has no attribute 'no_such_attribute'"),
        ("json:dumps", "is neither a Scheduler nor a function returning one"),
    ],
)
def test_worker_reports_a_bad_app_in_one_line(
    run: Any, store: Path, app: str, message: str
) -> None:
    result = run("--store", str(store), "worker", "--app", app, "--until-idle")
    assert result.code == 2
    assert result.err.startswith("taskmill: error: --app: ") and message in result.err
    assert result.err.count("\n") == 1


SIGNALLED_APP = """
import asyncio
import time
from pathlib import Path

from taskmill import Scheduler

MARKS = Path(__file__).parent


class Observed(Scheduler):
    async def run(self, stop_event=None):
        # Marks the moment the CLI's signal handler set the stop event.
        async def watch():
            await stop_event.wait()
            (MARKS / "stopping").touch()

        watcher = asyncio.ensure_future(watch())
        try:
            await super().run(stop_event)
        finally:
            watcher.cancel()


def make(store):
    scheduler = Observed.open(store, max_concurrency=1)

    @scheduler.executor("slow")
    def slow(ctx):
        (MARKS / f"started-{ctx.task.id}").touch()
        deadline = time.monotonic() + 30
        while not (MARKS / f"release-{ctx.task.id}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("never released")
            time.sleep(0.01)
        ctx.record_io(write_bytes=7)

    return scheduler
"""


def _wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[str], seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"worker exited ({process.returncode}) before {what}:\n{err}")
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_runs_until_signalled_then_finishes_its_running_task_and_exits_zero(
    store: Path, tmp_path: Path, signum: int
) -> None:
    marks = tmp_path / "app"
    marks.mkdir()
    (marks / "signalled_app.py").write_text(SIGNALLED_APP)
    scheduler = Scheduler.open(store)
    first = scheduler.submit(TaskSubmission("slow")).task_id

    def status(task_id: UUID) -> TaskStatus | None:
        record = scheduler.task(task_id)
        return None if record is None else record.status

    process = subprocess.Popen(
        [*TASKMILL, "--store", str(store), "worker", "--app", "signalled_app:make"],
        cwd=marks,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "TASKMILL_EVENT_STORE"},
    )
    try:
        _wait_until((marks / f"started-{first}").exists, "the first task started", process)
        (marks / f"release-{first}").touch()
        _wait_until(lambda: status(first) is TaskStatus.COMPLETED, "first completed", process)
        # Idle now, yet still running (no --until-idle): it takes work submitted later.
        second = scheduler.submit(TaskSubmission("slow")).task_id
        _wait_until((marks / f"started-{second}").exists, "the second task started", process)
        queued = scheduler.submit(TaskSubmission("slow")).task_id  # its one slot is busy
        process.send_signal(signum)
        _wait_until((marks / "stopping").exists, "the stop event set", process)
        (marks / f"release-{second}").touch()  # the running task finishes only after the signal
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        scheduler.close()

    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "running; Ctrl-C to stop" in err
    with Scheduler.open(store) as after:
        finished = after.task(second)
        untouched = after.task(queued)
        history = [entry.event for entry in after.history(second)]
    assert finished is not None and finished.status is TaskStatus.COMPLETED
    assert finished.actual_io.write_bytes == 7
    assert history == ["TaskSubmitted", "TaskStarted", "TaskCompleted"]
    # Once stopping, the worker started nothing new: the last task waits for another worker.
    assert untouched is not None and untouched.status is TaskStatus.PENDING
    assert untouched.attempts == 0
