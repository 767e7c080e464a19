"""Read models built from the log: each follows it in order and records its position with its rows."""
