"""The thin application layer: commands load aggregates, check invariants, append events."""
