"""Pausing Python's cyclic garbage collector while a page of the log is replayed.

Decoding a page builds thousands of short-lived containers (event models, their dicts, tag
maps), and every 700 of them start a collection that walks the young objects again: replaying
a log of 20,000 submissions spent about 30% of its time there. The page's objects are freed
by reference counting as soon as it is applied, so nothing is lost by collecting after it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block, if it was enabled; re-enable it after.

    Process-wide, so keep the block short (one page). A caller that disabled the collector
    itself keeps it disabled; a thread that finds it paused by another page leaves it alone.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
