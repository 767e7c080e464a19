"""Compiles an aggregate into one DuckDB query over the analytical view and runs it.

Only names this module chooses reach the SQL text: generated tag columns (tag_<n>), fields from
`NUMERIC_FIELDS`, functions from `FUNCTIONS` and parameter names. Tag keys, values, statuses,
types and times are bound as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from taskmill.projections.sql_files import load_statements

if TYPE_CHECKING:
    import duckdb  # imported when a view is opened: processes that never aggregate skip it

SQL = load_statements("taskmill.projections.analytical.sql", "read.sql")

NUMERIC_FIELDS = (
    "priority",
    "attempts",
    "expected_read_bytes",
    "expected_write_bytes",
    "expected_net_rx_bytes",
    "expected_net_tx_bytes",
    "actual_read_bytes",
    "actual_write_bytes",
    "actual_net_rx_bytes",
    "actual_net_tx_bytes",
    "queue_ms",
    "duration_ms",
)
"""The fields an aggregate can sum, average, or take the min or max of."""

MUTABLE_FIELDS = frozenset(
    {
        "status",
        "attempts",
        "actual_read_bytes",
        "actual_write_bytes",
        "actual_net_rx_bytes",
        "actual_net_tx_bytes",
        "queue_ms",
        "duration_ms",
    }
)
"""Fields that change after submission: read from the state at `as_of` when one is given."""

FUNCTIONS = ("sum", "avg", "min", "max")


@dataclass(frozen=True, slots=True)
class AggregateSpec:
    """A validated aggregate (built by `taskmill.TaskAggregate`)."""

    group_tags: tuple[str, ...] = ()
    group_status: bool = False
    group_type: bool = False
    measures: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    statuses: tuple[str, ...] = ()
    task_types: tuple[str, ...] = ()
    submitted_from: datetime | None = None
    submitted_until: datetime | None = None
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """Rows of (group tag values..., status?, task_type?, count, measures...)."""

    group_tags: tuple[str, ...]
    group_status: bool
    group_type: bool
    measures: tuple[tuple[str, str], ...]
    rows: list[tuple[Any, ...]]


def run_aggregate(
    connection: duckdb.DuckDBPyConnection, spec: AggregateSpec, tag_columns: dict[str, str]
) -> AggregateResult:
    sql, params = compile_aggregate(spec, tag_columns)
    rows = connection.execute(sql, params).fetchall()
    return AggregateResult(spec.group_tags, spec.group_status, spec.group_type, spec.measures, rows)


def compile_aggregate(
    spec: AggregateSpec, tag_columns: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    ctes: list[str] = []
    joins: list[str] = []
    where: list[str] = []

    def field(name: str) -> str:
        source = "s" if spec.as_of is not None and name in MUTABLE_FIELDS else "t"
        return f"{source}.{name}"

    def tag_value(index: int, key: str, role: str) -> str:
        """An expression for the task's value of tag `key` (NULL when it has none)."""
        column = tag_columns.get(key)
        if column is not None:
            return f"t.{column}"
        alias = f"{role}{index}"
        params[f"{alias}_key"] = key
        fragment = SQL["tag_values_of_key"].replace("$key", f"${alias}_key")
        joins.append(f"LEFT JOIN ({fragment}) AS {alias} ON {alias}.task_id = t.task_id")
        return f"{alias}.value"

    if spec.as_of is not None:
        params["as_of"] = spec.as_of
        ctes.append(f"s AS ({SQL['state_as_of']})")
        joins.append("JOIN s ON s.task_id = t.task_id")

    selected: list[str] = []
    for index, key in enumerate(spec.group_tags):
        selected.append(tag_value(index, key, "g"))
    if spec.group_status:
        selected.append(field("status"))
    if spec.group_type:
        selected.append("t.task_type")
    group_count = len(selected)

    for index, (key, value) in enumerate(spec.tags):
        params[f"tag_value_{index}"] = value
        where.append(f"{tag_value(index, key, 'f')} = $tag_value_{index}")
    if spec.statuses:
        names = _bind(params, "status", spec.statuses)
        where.append(f"{field('status')} IN ({names})")
    if spec.task_types:
        names = _bind(params, "task_type", spec.task_types)
        where.append(f"t.task_type IN ({names})")
    if spec.submitted_from is not None:
        params["submitted_from"] = spec.submitted_from
        where.append("t.submitted_at >= $submitted_from")
    if spec.submitted_until is not None:
        params["submitted_until"] = spec.submitted_until
        where.append("t.submitted_at < $submitted_until")

    selected.append("count(*)")
    for function, name in spec.measures:
        if function not in FUNCTIONS or name not in NUMERIC_FIELDS:
            raise ValueError(f"not an aggregate: {function}({name})")  # TaskAggregate checks
        selected.append(f"{function}({field(name)})")

    positions = [str(i) for i in range(1, group_count + 1)]
    ordering = ["count(*) DESC", *[f"{i} ASC NULLS LAST" for i in positions]]
    sql = (
        (f"WITH {', '.join(ctes)} " if ctes else "")
        + f"SELECT {', '.join(selected)} FROM tasks AS t "
        + " ".join(joins)
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + (f" GROUP BY {', '.join(positions)}" if positions else "")
        + f" ORDER BY {', '.join(ordering)}"
    )
    return sql, params


def _bind(params: dict[str, Any], prefix: str, values: tuple[str, ...]) -> str:
    names = []
    for index, value in enumerate(dict.fromkeys(values)):
        params[f"{prefix}_{index}"] = value
        names.append(f"${prefix}_{index}")
    return ", ".join(names)
