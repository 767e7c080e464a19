"""Writes a run's results: `<timestamp>.json` and `latest.md` in the results folder, and a table
on stdout. The markdown table is padded so it reads the same in a terminal."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks.figures import (
    BASELINES,
    DUCKDB,
    HUEY,
    SQLITE,
    TASKMILL,
    Figure,
    figure_order,
    w5_key,
)
from benchmarks.huey_baseline import NOT_INSTALLED
from benchmarks.suite import SizeResult
from benchmarks.timing import Summary

SYSTEMS = (TASKMILL, SQLITE, DUCKDB, HUEY)
COLUMNS = (
    "N",
    "figure",
    *(c for s in SYSTEMS for c in (s, f"vs {s}")[: 1 + (s != TASKMILL)]),
    "goal",
)
HUEY_FIGURES = ("W1", "W1b", "W2-100", "W2-all", "W3", "W4", "W5-submit", "W5-run-", "W5-e2e-")


def _huey_figure(key: str) -> bool:
    """Whether Huey measures this figure (when installed)."""
    return any(key == k or (k.endswith("-") and key.startswith(k)) for k in HUEY_FIGURES)


def _huey_installed(meta: dict[str, Any]) -> bool:
    return bool(meta.get("huey", {}).get("installed"))


def to_json(meta: dict[str, Any], sizes: list[SizeResult]) -> dict[str, Any]:
    specs = {figure.spec.key: figure.spec for size in sizes for figure in size.figures}
    legend = {
        key: {"title": spec.title, "unit": spec.unit, "goal": spec.goal}
        for key, spec in sorted(specs.items(), key=lambda item: figure_order(item[0]))
    }
    sizes_json = [_size_json(size, _huey_installed(meta)) for size in sizes]
    return {**meta, "figures": legend, "sizes": sizes_json}


def _size_json(size: SizeResult, huey_installed: bool) -> dict[str, Any]:
    figures = {}
    for figure in size.figures:
        if not figure.results:
            continue
        missing = (
            {} if huey_installed or not _huey_figure(figure.spec.key) else {HUEY: NOT_INSTALLED}
        )
        figures[figure.spec.key] = {
            **{system: _summary_json(s) for system, s in figure.results.items()},
            **missing,
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
        f"- Python {' '.join(machine['python'].split())} ({machine['implementation']}), "
        f"{machine['platform']}, {machine['cpu_count']} CPUs ({machine['processor']}), "
        f"SQLite {machine['sqlite']}, temp dir on {machine['temp_dir_filesystem']}",
        f"- packages: "
        f"{', '.join(f'{k} {v or NOT_INSTALLED}' for k, v in machine['packages'].items())}; "
        f"taskmill at {source.get('commit', '?')}"
        f"{' with uncommitted changes' if source.get('uncommitted_changes_in_taskmill') else ''}",
        f"- load average (1, 5, 15 min) at start {machine.get('load_average_at_start')}, "
        f"at end {meta.get('load_average_at_end')}; run took {meta.get('elapsed_s')} s",
        f"- durability: {_durability_line(durability)}",
        f"- each figure: median of {config['repeat']} runs (min-max); "
        + (
            f"query latencies are the median of {config['calls']} warm calls; "
            if "calls" in config
            else ""
        )
        + f"W1 submits min(N, {config['single_count']:,}) tasks; "
        "`vs` = taskmill's speed / the baseline's (above 1: taskmill is faster; W5's raw sqlite3 "
        "baseline is one process, for every process count; W5's Huey runs with as many consumer "
        "threads as taskmill has processes)",
        f"- huey: {_huey_line(meta.get('huey') or {})}",
        "",
    ]
    installed = _huey_installed(meta)
    rows = [
        COLUMNS,
        *[_row(size, figure, installed) for size in sizes for figure in size.figures],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.extend(_w5_notes(sizes))
    return "\n".join(lines) + "\n"


def _w5_notes(sizes: list[SizeResult]) -> list[str]:
    """What the W5 rows rest on: the checks, the set-up, issue 3's comparison, peak RSS."""
    measured = [size for size in sizes if "w5" in size.info]
    if not measured:
        return []
    config = measured[0].info["w5"]["config"]
    processes = config["processes"]
    lines = [
        "",
        "W5 dispatch: the workload submitted with submit_batch of "
        f"{config['submit_batch_size']:,}, then run until idle by a no-op `async def` executor in "
        f"{' and '.join(map(str, processes))} worker "
        f"{'process' if processes == [1] else 'processes'} (max_concurrency "
        f"{config['concurrency']} each, poll {config['poll_seconds']} s), each a child process "
        "(1 process too) released at a start barrier; the run is timed from the barrier until "
        "the last worker exits. Baseline: a raw sqlite3 claim/complete loop in one process "
        f"(claims of {config['concurrency']}; WAL, synchronous=FULL), its rows loaded like W1b. "
        "Each process count has its own fresh store, so the submit phase has a sample per "
        "process count and run.",
        "",
    ]
    for size in measured:
        w5 = size.info["w5"]
        runs = [run for rep in w5["runs"] for run in rep["taskmill"]]
        events = sorted({run["run_events"] for run in runs})
        lines.append(
            f"- N={size.n:,}: verified={str(w5['verified']).lower()} in all {len(runs)} runs "
            f"(every task COMPLETED in the view, the executor called N times in all, "
            f"{'/'.join(f'{e:,}' for e in events)} events appended per run for "
            f"{2 * size.n:,} starts and completions)"
        )
        figures = {figure.spec.key: figure for figure in size.figures}
        single = figures.get("W1")
        e2e = []
        for p in processes:
            figure = figures.get(w5_key("e2e", p))
            if figure is None or TASKMILL not in figure.results:
                continue
            rate = figure.results[TASKMILL].median
            ratio = ""
            if single is not None and TASKMILL in single.results:
                ratio = f", {_number(rate / single.results[TASKMILL].median)}x single submit"
            e2e.append(f"{_processes(p)} {_number(rate)} tasks/s{ratio}")
        if e2e:
            base = ""
            if single is not None and TASKMILL in single.results:
                base = (
                    f"; single submit (W1, {size.single_count:,} tasks, same run) "
                    f"{_number(single.results[TASKMILL].median)} tasks/s"
                )
            lines.append(f"  - issue 3, end-to-end (submit + run, medians): {'; '.join(e2e)}{base}")
        split = []
        for p in processes:
            mine = [run for run in runs if run["processes"] == p]
            if mine:
                submit = statistics.median(run["submit_s"] for run in mine)
                run_s = statistics.median(run["run_s"] for run in mine)
                split.append(f"{_processes(p)} submit {submit:.2f} s + run {run_s:.2f} s")
        raw = [rep["raw_sqlite3"] for rep in w5["runs"]]
        split.append(
            f"raw sqlite3 load {statistics.median(r['load_s'] for r in raw):.2f} s + "
            f"run {statistics.median(r['run_s'] for r in raw):.2f} s"
        )
        lines.append(f"  - time (medians): {'; '.join(split)}")
        huey = [run for rep in w5["runs"] for run in rep.get("huey", [])]
        if huey:
            threads = sorted({run["worker_threads"] for run in huey})
            timing = []
            for t in threads:
                mine = [run for run in huey if run["worker_threads"] == t]
                submit = statistics.median(run["submit_s"] for run in mine)
                run_s = statistics.median(run["run_s"] for run in mine)
                timing.append(
                    f"{t} consumer thread{'s' if t > 1 else ''} "
                    f"enqueue {submit:.2f} s + run {run_s:.2f} s"
                )
            verified = all(run["verified"] for run in huey)
            lines.append(
                f"  - Huey (one enqueue per task, then Consumer(worker_type='thread') in the "
                f"harness process; verified={str(verified).lower()}: the task ran N times, the "
                f"queue empty), medians: {'; '.join(timing)}"
            )
    largest = max(measured, key=lambda size: size.n)
    runs = [run for rep in largest.info["w5"]["runs"] for run in rep["taskmill"]]
    rss = []
    for p in processes:
        workers = [w for run in runs if run["processes"] == p for w in run["workers"]]
        if workers:
            peak = max(w["peak_rss_mib"] for w in workers)
            starts = [w["rss_at_start_mib"] for w in workers if w["rss_at_start_mib"] is not None]
            at_start = f" (RSS at the start barrier {max(starts):.0f} MiB)" if starts else ""
            rss.append(
                f"{_processes(p)} {peak:.0f} MiB{' per process at most' if p > 1 else ''}{at_start}"
            )
    lines.append(
        f"- peak RSS of a scheduler process during W5 at the largest N ({largest.n:,}): "
        + "; ".join(rss)
    )
    return lines


def _huey_line(huey: dict[str, Any]) -> str:
    if not huey.get("installed"):
        return f"{NOT_INSTALLED} (its figures are not measured; `pip install .[bench]`)"
    return (
        f"{huey['version']}, {huey['storage']}; task {huey['task']}. W1/W1b: {huey['W1/W1b']}. "
        f"W2/W3: {huey['W2/W3']}. W5: {huey['W5']}"
    )


def _row(size: SizeResult, figure: Figure, huey_installed: bool) -> tuple[str, ...]:
    met = figure.goal_met()
    verdict = "" if met is None else (" (met)" if met else " (MISSED)")
    cells = [f"{size.n:,}", f"{figure.spec.title} ({figure.spec.unit})"]
    for system in SYSTEMS:
        summary = figure.results.get(system)
        if summary:
            cells.append(_cell(summary))
        elif system == HUEY and not huey_installed and _huey_figure(figure.spec.key):
            cells.append(NOT_INSTALLED)
        else:
            cells.append("")
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
    for name in ("taskmill_event_store", "taskmill_view", "raw_sqlite3_baseline", "huey_sqlite"):
        setting = durability.get(name, {})
        if "synchronous" in setting:
            parts.append(
                f"{name.replace('_', ' ')} journal={setting['journal_mode']} "
                f"synchronous={setting['synchronous']}"
            )
    return "; ".join(parts) or "unknown"


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def write(
    out: Path, meta: dict[str, Any], sizes: list[SizeResult], suffix: str = ""
) -> tuple[Path, Path]:
    """Write `<timestamp><suffix>.json` and `latest<suffix>.md` (each through a temporary file
    and a rename); `suffix` keeps a partial run (`-dispatch`) from replacing the full table."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{meta['timestamp'].replace(':', '').replace('-', '')}{suffix}.json"
    _write_atomically(json_path, compact_json(to_json(meta, sizes)) + "\n")
    md_path = out / f"latest{suffix}.md"
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
