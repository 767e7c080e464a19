"""The operational view: an SQLite file with the current state of every task and its tags."""
