"""Adapters to the outside world: the event store backend, serialisation, clocks."""
