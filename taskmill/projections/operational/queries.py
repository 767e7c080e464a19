"""Reads of the operational view. Only constant SQL fragments are joined; values are bound."""

from __future__ import annotations

import contextlib
import enum
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from taskmill.projections.operational.phase import is_active, phase_of
from taskmill.projections.sql_files import load_statements

SQL = load_statements("taskmill.projections.operational.sql", "read.sql")
_MAX_KEY = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks to return, in (priority, submission) order."""

    tags: Sequence[tuple[str, str]] = ()
    statuses: Sequence[str] = ()
    task_types: Sequence[str] = ()
    parent_id: str | None = None
    task_ids: Sequence[str] = ()
    run_after_due: str | None = None
    """Only blocked tasks whose `run_after` is at or before this moment."""
    expires_due: str | None = None
    """Only pending or blocked tasks whose expiry is at or before this moment."""
    lease_expired: str | None = None
    children_done: bool = False
    worker_id: str | None = None
    exclude_groups: Sequence[str] = ()
    after: tuple[int, int] | None = None
    limit: int | None = None
    offset: int = 0


def select_tasks(connection: sqlite3.Connection, query: TaskFilter) -> list[tuple[Any, ...]]:
    """The matching task rows, each a tuple of `records.TASK_COLUMNS`."""
    with _snapshot(connection):
        statement, params = _statement(connection, "task_columns", query)
        return connection.execute(statement, params).fetchall()


def select_task_ids(connection: sqlite3.Connection, query: TaskFilter) -> list[str]:
    """Only the ids of the matching tasks, in the same order (cheap, for the dispatch loop)."""
    with _snapshot(connection):
        statement, params = _statement(connection, "id_columns", query)
        return [row[0] for row in connection.execute(statement, params)]


@contextlib.contextmanager
def _snapshot(connection: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so the counters a plan is chosen by and the rows it reads are
    of the same moment (other processes apply events to the view meanwhile)."""
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")


_TAG_DRIVEN_SELECTS = {
    ("task_columns", False): "task_columns_by_tag",  # joins the task rows anyway
    ("task_columns", True): "task_columns_by_tag",
    ("id_columns", False): "id_columns_by_tag",  # the tag rows' index alone
    ("id_columns", True): "id_columns_by_tag_and_status",
}


class _Plan(enum.Enum):
    TAG_ROWS = "the tag rows hold exactly the matches"
    TAG_ROWS_AND_STATUS = "the tag rows of active tasks, each joined to its task's status"
    STATUS_INDEX = "the tasks' status index, each task's tag probed by primary key"


def _statement(
    connection: sqlite3.Connection, columns: str, query: TaskFilter
) -> tuple[str, list[Any]]:
    """`columns` names the select list: "task_columns" (full rows) or "id_columns"."""
    if _tags_and_one_status(query):
        plan = _tag_and_status_plan(connection, query.tags[0], query.statuses[0])
        if plan is _Plan.STATUS_INDEX:
            return _general_statement(SQL[columns], query, tags_by_probe=True)
        check_status = plan is _Plan.TAG_ROWS_AND_STATUS
        select = SQL[_TAG_DRIVEN_SELECTS[columns, check_status]]
        return _tag_driven_statement(select, query, check_status=check_status)
    return _general_statement(SQL[columns], query)


def _tag_and_status_plan(
    connection: sqlite3.Connection, tag: tuple[str, str], status: str
) -> _Plan:
    """How to read "tag and status" in (priority, seq) order, from the counters. Tag rows
    carry a terminal status itself, but know an unfinished task only as 'active': then they
    hold exactly the matches if every active task with the tag is in that status (a backlog
    of pending tasks), else each row is checked against its task, walking every active task
    with the tag, where the status index walks every task in the status. The smaller walk
    wins (matches turn up at the same rate on both, so for a first page as for all)."""
    if not is_active(status):
        return _Plan.TAG_ROWS
    key, value = tag
    counts = connection.execute(SQL["tag_value_status_counts"], {"key": key, "value": value})
    by_status = {s: n for s, n in counts if is_active(s)}
    active_with_tag = sum(by_status.values())
    if by_status.get(status, 0) == active_with_tag:
        return _Plan.TAG_ROWS
    (with_status,) = connection.execute(SQL["status_total"], {"status": status}).fetchone()
    return _Plan.TAG_ROWS_AND_STATUS if active_with_tag <= with_status else _Plan.STATUS_INDEX


def _tags_and_one_status(query: TaskFilter) -> bool:
    """Tag(s) and one status, nothing on other columns: the page can be read in order from
    one index (see `_tag_and_status_plan`), touching little more than what it returns."""
    return (
        bool(query.tags)
        and len(query.statuses) == 1
        and not (
            query.task_types
            or query.task_ids
            or query.parent_id
            or query.run_after_due
            or query.expires_due
            or query.lease_expired
            or query.children_done
            or query.worker_id
            or query.exclude_groups
        )
    )


def _tag_driven_statement(
    select: str, query: TaskFilter, *, check_status: bool
) -> tuple[str, list[Any]]:
    """Walk the first tag's (key, value, phase, priority, seq) index in order; with
    `check_status`, keep the rows whose task (joined in `select`) has the status."""
    (key, value), *others = query.tags
    status = query.statuses[0]
    parts = [SQL["tag_phase_page"]]
    params: list[Any] = [key, value, phase_of(status)]
    if check_status:
        parts.append(SQL["and_task_status"])
        params.append(status)
    for other_key, other_value in others:
        parts.append(SQL["and_task_has_tag"])
        params += [other_key, other_value]
    if query.after is not None:
        parts.append(SQL["after_tag_cursor"])
        params += list(query.after)
    statement = f"{select}\nWHERE " + "\n".join(parts) + "\n" + SQL["tag_order_and_page"]
    params += [-1 if query.limit is None else query.limit, query.offset]
    return statement, params


def _general_statement(
    select: str, query: TaskFilter, *, tags_by_probe: bool = False
) -> tuple[str, list[Any]]:
    """Any filter. With `tags_by_probe`, tags are checked by a primary-key probe of each task
    the other conditions select (so SQLite walks the task rows' indexes, in order)."""
    where: list[str] = []
    params: list[Any] = []
    single_status = query.statuses[0] if len(query.statuses) == 1 else None
    for key, value in query.tags:
        if tags_by_probe:
            where.append(SQL["has_tag"])
            params += [key, value]
        elif single_status is not None:
            where.append(SQL["by_tag_and_phase"])
            params += [key, value, phase_of(single_status)]
        else:
            where.append(SQL["by_tag"])
            params += [key, value]
    if query.statuses:
        by_status = SQL["by_status_not_indexed" if query.task_ids else "by_status"]
        where.append(_any_of(by_status, len(query.statuses)))
        params += list(query.statuses)
    if query.task_types:
        where.append(_any_of(SQL["by_type"], len(query.task_types)))
        params += list(query.task_types)
    if query.task_ids:
        where.append(_any_of(SQL["by_id"], len(query.task_ids)))
        params += list(query.task_ids)
    if query.parent_id is not None:
        where.append(SQL["by_parent"])
        params.append(query.parent_id)
    for fragment, bound in (
        ("run_after_due", query.run_after_due),
        ("expires_due", query.expires_due),
        ("lease_expired", query.lease_expired),
        ("by_worker", query.worker_id),
    ):
        if bound is not None:
            where.append(SQL[fragment])
            params.append(bound)
    if query.children_done:
        where.append(SQL["children_done"])
    if query.exclude_groups:
        marks = ", ".join("?" * len(query.exclude_groups))
        where.append(SQL["not_in_groups"].replace("(?)", f"({marks})"))
        params += list(query.exclude_groups)
    if query.after is not None:
        where.append(SQL["after_cursor"])
        params += list(query.after)
    statement = select
    # SQLite, knowing nothing of the data, would rather walk every pending or blocked task by
    # status than read the few due ones from a partial index (the filters imply its WHERE).
    if query.expires_due is not None:
        statement += " " + SQL["via_unstarted_expiry"]
    elif query.run_after_due is not None:
        statement += " " + SQL["via_blocked_until"]
    if where:
        statement += "\nWHERE " + "\n  AND ".join(where)
    statement += "\n" + SQL["order_and_page"]
    params += [-1 if query.limit is None else query.limit, query.offset]
    return statement, params


def _any_of(fragment: str, count: int) -> str:
    """`column = ?` for one value, `(column = ? OR ...)` for several."""
    if count == 1:
        return fragment
    return "(" + " OR ".join([fragment] * count) + ")"


def count_by_tag(
    connection: sqlite3.Connection, key: str, status: str | None
) -> list[tuple[str, int]]:
    if status is None:
        rows = connection.execute(SQL["count_by_tag"], {"key": key})
    else:
        rows = connection.execute(SQL["count_by_tag_and_status"], {"key": key, "status": status})
    return [(value, int(n)) for value, n in rows]


def tag_values(connection: sqlite3.Connection, key: str) -> list[str]:
    return [row[0] for row in connection.execute(SQL["tag_values"], {"key": key})]


def tag_keys(connection: sqlite3.Connection, prefix: str) -> list[str]:
    if not prefix:
        return [row[0] for row in connection.execute(SQL["all_tag_keys"])]
    rows = connection.execute(SQL["tag_keys"], {"prefix": prefix, "prefix_end": prefix + _MAX_KEY})
    return [row[0] for row in rows]


def status_counts(connection: sqlite3.Connection) -> dict[str, int]:
    return {status: int(n) for status, n in connection.execute(SQL["status_counts"])}


def tags_of_tasks(
    connection: sqlite3.Connection, task_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """All tags of each of the tasks, in one query (tasks the view lacks are left out)."""
    found: dict[str, dict[str, str]] = {}
    if not task_ids:
        return found
    ids = orjson.dumps(list(task_ids)).decode()
    for task_id, key, value in connection.execute(SQL["tags_of_tasks"], {"ids": ids}):
        found.setdefault(task_id, {})[key] = value
    return found


def view_position(connection: sqlite3.Connection, application_name: str) -> int:
    """The last log position applied to the view (read in the caller's transaction)."""
    row = connection.execute(
        SQL["view_position"], {"application_name": application_name}
    ).fetchone()
    return 0 if row is None else int(row[0])


def tag_stats(connection: sqlite3.Connection, key: str) -> list[tuple[str, str, int]]:
    """(value, status, number of tasks) for every value of the tag, from the counters."""
    return [
        (value, status, int(n))
        for value, status, n in connection.execute(SQL["tag_stats"], {"key": key})
    ]


def group_status_counts(connection: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(group, status, number of tasks) of the pending and running tasks of every group."""
    return [
        (group, status, int(n))
        for group, status, n in connection.execute(SQL["group_status_counts"])
    ]


def running_tasks(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """(id, type, tags JSON, group, attempts, started_at, worker_id) of every running task."""
    return connection.execute(SQL["running_tasks"]).fetchall()
