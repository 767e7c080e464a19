"""Read models built from the log: each follows it in order, writing its position with its rows."""
