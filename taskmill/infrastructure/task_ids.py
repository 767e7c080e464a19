"""New task ids: time-ordered UUIDs (version 7, RFC 9562) instead of random ones.

Every index keyed on a task id (the log's `(originator_id, version)`, the view's `tasks.id` and
`task_tags (task_id, key)`) then takes new tasks at its right-hand edge, and a dispatch cycle
touches the few pages its recent tasks live on, instead of one random page per task: the
working set stays in SQLite's page cache as the store grows (`docs/performance.md` has the
figures). Ids also sort by submission time, to the millisecond.

Layout: 48 bits of Unix time in milliseconds (from the command's clock, so a test clock gives
test ids), the version (7), 12 random bits, the RFC 4122 variant, 62 random bits. The 74 random
bits make ids unique without any shared state, also across processes and machines.
"""

from __future__ import annotations

import os
from datetime import datetime
from uuid import UUID

_MILLIS_MASK = (1 << 48) - 1
_VERSION_7 = 0x7 << 76
_VARIANT_RFC4122 = 0b10 << 62
_RAND_B_MASK = (1 << 62) - 1


def new_task_id(now: datetime) -> UUID:
    """A version 7 UUID for a task submitted at `now` (an aware datetime)."""
    millis = max(0, int(now.timestamp() * 1000)) & _MILLIS_MASK
    random = int.from_bytes(os.urandom(10))  # 80 bits, 74 of them used
    rand_a = (random >> 62) & 0xFFF
    rand_b = random & _RAND_B_MASK
    return UUID(int=(millis << 80) | _VERSION_7 | (rand_a << 64) | _VARIANT_RFC4122 | rand_b)
