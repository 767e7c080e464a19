"""Running tasks: executor registry, the task context, and the dispatch loop."""
