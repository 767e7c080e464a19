"""The analytical view: a DuckDB file of every task, its tags and its state changes."""
