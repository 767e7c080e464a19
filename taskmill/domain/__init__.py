"""The pure domain: task lifecycle, tag rules and dedup claims. No I/O, no clocks in event bodies."""
