"""Bounds that keep every stored number and every moment computed from one representable."""

MAX_STORED_INTEGER = 2**63 - 1
"""A signed 64-bit integer: what the log's JSON readers and the views' integer columns hold."""

MAX_INTERVAL_SECONDS = 366 * 86_400
"""A year: a lease, a poll interval or a retry's backoff added to the clock stays a `datetime`."""
