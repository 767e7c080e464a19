"""The workload of issue 5, kept exactly: N `file-transfer` tasks with the same 5 tags each.

Rows are plain data, generated once from a seed, so taskmill and every baseline store the very
same tasks; each system builds its own ids and submissions inside its timed region.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from taskmill import TaskSubmission

TASK_TYPE = "file-transfer"
PROFILES = tuple(f"p{i}" for i in range(20))
SRC_ENDPOINTS = tuple(f"s3://src-{i}.example.com" for i in range(5))
DST_ENDPOINTS = tuple(f"s3://dst-{i}.example.com" for i in range(5))
DIRECTIONS = ("left_to_right", "right_to_left")
FILTER_KEY, FILTER_VALUE = "profile", "p7"  # W2
COUNT_KEY = "profile"  # W3, W7
SUM_KEY = "dst_endpoint"  # W4
DEFAULT_SEED = 2024


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task of the workload: its position, its five tags and its expected network bytes."""

    index: int
    tags: dict[str, str]
    expected_net_tx_bytes: int


def make_workload(n: int, seed: int = DEFAULT_SEED) -> list[TaskRow]:
    """The first `n` tasks of the seeded workload (the same `n` and seed give the same rows)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tags = {
            "profile": rng.choice(PROFILES),
            "src_endpoint": rng.choice(SRC_ENDPOINTS),
            "dst_endpoint": rng.choice(DST_ENDPOINTS),
            "object_key": f"data/2024/obj-{i}.csv",
            "direction": rng.choice(DIRECTIONS),
        }
        rows.append(TaskRow(i, tags, rng.randint(1_024, 1_073_741_824)))
    return rows


def to_submission(row: TaskRow) -> TaskSubmission:
    """The taskmill submission of one row, built the way a user would write it."""
    submission = TaskSubmission(TASK_TYPE)
    for key, value in row.tags.items():
        submission.tag(key, value)
    return submission.expected_io(net_tx_bytes=row.expected_net_tx_bytes)


def batches(rows: list[TaskRow], size: int) -> list[list[TaskRow]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]
