"""The pure domain: task lifecycle, tag rules, dedup claims. No I/O, no clocks in events."""
