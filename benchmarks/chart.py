"""Draws W2-W4 latency against N, for taskmill and the baselines, from an analytics_scale run.

    python -m benchmarks.chart [RESULT.json] [--out benchmarks/results/tag-queries.png]

Without a file, the newest `benchmarks/results/analytics-*.json` is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PANELS = (
    ("W2-all", "W2 filter profile=p7 (all matches)"),
    ("W3", "W3 count_by_tag(profile), pending"),
    ("W4", "W4 sum of expected bytes by dst_endpoint, pending"),
)
SERIES = (
    ("W{}", "taskmill", "taskmill (operational view)", "o-"),
    ("W{}-dv", "taskmill", "taskmill (DuckDB view)", "s-"),
    ("W{}", "raw sqlite3", "raw sqlite3", "^--"),
    ("W{}", "duckdb", "raw DuckDB SQL", "v--"),
)


def series(document: dict[str, Any], key: str, system: str) -> tuple[list[int], list[float]]:
    ns, values = [], []
    for size in document["sizes"]:
        value = size["latency_ms"].get(key, {}).get(system)
        if value is not None:
            ns.append(size["n"])
            values.append(value)
    return ns, values


def draw(document: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.5), sharey=True)
    for axis, (key, title) in zip(axes, PANELS, strict=True):
        number = key.split("-")[0].removeprefix("W")
        for pattern, system, label, style in SERIES:
            series_key = pattern.format(number)
            if key == "W4" and series_key == "W4" and system == "taskmill":
                label = "taskmill (DuckDB view)"  # aggregate_tasks is answered by it
            if key.endswith("-all"):
                series_key = series_key.replace(number, f"{number}-all", 1)
            ns, values = series(document, series_key, system)
            if ns:
                axis.plot(ns, values, style, label=label)
        axis.axhline(20, color="grey", linewidth=0.8, linestyle=":")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("tasks (N)")
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=8)
    axes[0].set_ylabel("latency, ms (median of warm calls; dotted: the 20 ms goal)")
    python = document["python"].split()[0]
    figure.suptitle(f"Tag queries against N (Python {python}, {document['timestamp']})")
    figure.tight_layout()
    figure.savefig(out, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chart")
    parser.add_argument("result", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS / "tag-queries.png")
    args = parser.parse_args(argv)
    path = args.result or max(RESULTS.glob("analytics-*.json"), default=None)
    if path is None:
        raise SystemExit("no analytics-*.json result: run python -m benchmarks.analytics_scale")
    draw(json.loads(path.read_text(encoding="utf-8")), args.out)
    print(f"wrote {args.out} from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
