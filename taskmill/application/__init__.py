"""The thin application layer: commands that load aggregates, enforce invariants and append events."""
