"""Writes a run's results: `<timestamp>.json` and `latest.md` in the results folder, and a table
on stdout. The markdown table is padded so it reads the same in a terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.figures import BASELINES, DUCKDB, SPECS, SQLITE, TASKMILL, Figure
from benchmarks.suite import SizeResult
from benchmarks.timing import Summary

COLUMNS = ("N", "figure", TASKMILL, SQLITE, f"vs {SQLITE}", DUCKDB, f"vs {DUCKDB}", "goal")


def to_json(meta: dict[str, Any], sizes: list[SizeResult]) -> dict[str, Any]:
    legend = {
        key: {"title": spec.title, "unit": spec.unit, "goal": spec.goal}
        for key, spec in SPECS.items()
    }
    return {**meta, "figures": legend, "sizes": [_size_json(size) for size in sizes]}


def _size_json(size: SizeResult) -> dict[str, Any]:
    figures = {}
    for figure in size.figures:
        if not figure.results:
            continue
        figures[figure.spec.key] = {
            **{system: _summary_json(s) for system, s in figure.results.items()},
            "speed_vs": {
                b: _round(r) for b in BASELINES if (r := figure.speed_ratio(b)) is not None
            },
            "goal_met": figure.goal_met(),
        }
    return {"n": size.n, "w1_tasks": size.single_count, **size.info, "figures": figures}


def _summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "median": _round(summary.median),
        "min": _round(summary.min),
        "max": _round(summary.max),
        "runs": [_round(v) for v in summary.samples],
    }


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def markdown(meta: dict[str, Any], sizes: list[SizeResult]) -> str:
    machine, config = meta["machine"], meta["config"]
    durability = meta.get("durability") or {}
    source = machine.get("taskmill_source") or {}
    lines = [
        f"# taskmill benchmarks ({meta['timestamp']})",
        "",
        f"- Python {machine['python'].split()[0]} ({machine['implementation']}), "
        f"{machine['platform']}, {machine['cpu_count']} CPUs ({machine['processor']}), "
        f"SQLite {machine['sqlite']}, temp dir on {machine['temp_dir_filesystem']}",
        f"- packages: {', '.join(f'{k} {v}' for k, v in machine['packages'].items())}; "
        f"taskmill at {source.get('commit', '?')}"
        f"{' with uncommitted changes' if source.get('uncommitted_changes_in_taskmill') else ''}",
        f"- load average (1, 5, 15 min) at start {machine.get('load_average_at_start')}, "
        f"at end {meta.get('load_average_at_end')}; run took {meta.get('elapsed_s')} s",
        f"- durability: {_durability_line(durability)}",
        f"- each figure: median of {config['repeat']} runs (min-max); query latencies are the "
        f"median of {config['calls']} warm calls; W1 submits min(N, {config['single_count']:,}) "
        "tasks; `vs` = taskmill's speed / the baseline's (above 1: taskmill is faster)",
        "",
    ]
    rows = [COLUMNS, *[_row(size, figure) for size in sizes for figure in size.figures]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def _row(size: SizeResult, figure: Figure) -> tuple[str, ...]:
    met = figure.goal_met()
    verdict = "" if met is None else (" (met)" if met else " (MISSED)")
    cells = [f"{size.n:,}", f"{figure.spec.title} ({figure.spec.unit})"]
    for system in (TASKMILL, SQLITE, DUCKDB):
        summary = figure.results.get(system)
        cells.append(_cell(summary) if summary else "")
        if system != TASKMILL:
            ratio = figure.speed_ratio(system)
            cells.append("" if ratio is None else f"{_number(ratio)}x")
    cells.append(figure.spec.goal + verdict)
    return tuple(cells)


def _cell(summary: Summary) -> str:
    if len(summary.samples) == 1:
        return _number(summary.median)
    return f"{_number(summary.median)} ({_number(summary.min)}-{_number(summary.max)})"


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _durability_line(durability: dict[str, Any]) -> str:
    parts = []
    for name in ("taskmill_event_store", "taskmill_view", "raw_sqlite3_baseline"):
        setting = durability.get(name, {})
        if "synchronous" in setting:
            parts.append(
                f"{name.replace('_', ' ')} journal={setting['journal_mode']} "
                f"synchronous={setting['synchronous']}"
            )
    return "; ".join(parts) or "unknown"


def write(out: Path, meta: dict[str, Any], sizes: list[SizeResult]) -> tuple[Path, Path]:
    """Write `<timestamp>.json` and `latest.md` (each through a temporary file and a rename)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{meta['timestamp'].replace(':', '').replace('-', '')}.json"
    _write_atomically(json_path, compact_json(to_json(meta, sizes)) + "\n")
    md_path = out / "latest.md"
    _write_atomically(md_path, markdown(meta, sizes))
    return json_path, md_path


def compact_json(document: Any, width: int = 100, indent: str = "") -> str:
    """JSON with every list or object that fits in `width` characters on one line."""
    flat = json.dumps(document, ensure_ascii=False)
    if len(indent) + len(flat) <= width or not isinstance(document, dict | list) or not document:
        return flat
    inner = indent + " "
    if isinstance(document, dict):
        items = [
            f"{inner}{json.dumps(k)}: {compact_json(v, width, inner)}" for k, v in document.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    items = [inner + compact_json(v, width, inner) for v in document]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
