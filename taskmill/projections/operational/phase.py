"""A tag row's phase: what the tag rows know of their task's status.

'active' while the task is unfinished, else the terminal status it ended in. Claims, retries
and requeues move a task between unfinished statuses many times; its tag rows (six index
entries for five tags) then move only once, when it ends. The exact status of an active task
is on its task row.
"""

from __future__ import annotations

from taskmill.domain.status import ACTIVE_STATUSES, TaskStatus

ACTIVE_PHASE = "active"


def is_active(status: str) -> bool:
    return TaskStatus(status) in ACTIVE_STATUSES


def phase_of(status: str) -> str:
    return ACTIVE_PHASE if is_active(status) else status
