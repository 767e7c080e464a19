"""`python -m benchmarks run [--n 10000 100000] [--large] [--repeat 3] [--out DIR] [--smoke]`
runs every workload; `python -m benchmarks dispatch [--n 10000] [--processes 1 4]
[--concurrency 64] [--repeat 3] [--out DIR] [--smoke]` runs W5 (dispatch) alone, beside W1."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import environment, huey_baseline, report
from benchmarks.dispatch import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POLL_SECONDS,
    DEFAULT_PROCESSES,
    DispatchConfig,
)
from benchmarks.suite import Settings, SizeResult, run_dispatch_size, run_size
from benchmarks.workload import DEFAULT_SEED

DEFAULT_OUT = Path(__file__).parent / "results"
LARGE_N = 1_000_000
SMOKE_N = 500
SMOKE_PROCESSES = (1, 2)
DISPATCH_N = 10_000
DISPATCH_SINGLE_COUNT = 1_000


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the workloads on taskmill and its baselines")
    run.add_argument(
        "--n",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        metavar="N",
        help="task counts (default: 10000 100000)",
    )
    run.add_argument("--large", action="store_true", help=f"also N = {LARGE_N:,}")
    _common(run, single_count=2_000)
    run.add_argument(
        "--calls", type=int, default=20, help="timed warm calls per query latency (default: 20)"
    )
    run.add_argument(
        "--w5-max-n",
        type=int,
        default=10_000,
        metavar="N",
        help="run W5 (dispatch) only at N up to this; 0 skips it (default: 10000, since W5 "
        "at 100,000 adds over ten minutes; `python -m benchmarks dispatch --n N` for more)",
    )
    dispatch = commands.add_parser(
        "dispatch", help="W5 alone: run N no-op tasks until idle with 1 and with 4 processes"
    )
    dispatch.add_argument(
        "--n",
        type=int,
        nargs="+",
        default=[DISPATCH_N],
        metavar="N",
        help=f"task counts (default: {DISPATCH_N})",
    )
    _common(dispatch, single_count=DISPATCH_SINGLE_COUNT)
    return top


def _common(command: argparse.ArgumentParser, *, single_count: int) -> None:
    command.add_argument("--repeat", type=int, default=3, help="runs per figure (default: 3)")
    command.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results folder (default: {DEFAULT_OUT}; a temporary one with --smoke)",
    )
    command.add_argument(
        "--single-count",
        type=int,
        default=single_count,
        help=f"W1 submits min(N, this) tasks, one durable submit each (default: {single_count})",
    )
    command.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=list(DEFAULT_PROCESSES),
        metavar="P",
        help="W5: worker process counts (default: 1 4)",
    )
    command.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"W5: max_concurrency of each worker, and the baseline's claim size "
        f"(default: {DEFAULT_CONCURRENCY})",
    )
    command.add_argument(
        "--poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        help=f"W5: the workers' poll_seconds (default: {DEFAULT_POLL_SECONDS}, taskmill's)",
    )
    command.add_argument("--seed", type=int, default=DEFAULT_SEED, help="workload seed")
    command.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run for CI: N={SMOKE_N}, 1 run, W5 with "
        f"{' and '.join(map(str, SMOKE_PROCESSES))} processes; fails only on an error",
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    dispatch_only = args.command == "dispatch"
    sizes_n = sorted(set(args.n + ([LARGE_N] if getattr(args, "large", False) else [])))
    repeat, calls = args.repeat, getattr(args, "calls", 1)
    processes = tuple(sorted(set(args.processes)))
    if args.smoke:
        sizes_n, repeat, calls, processes = [SMOKE_N], 1, min(calls, 5), SMOKE_PROCESSES
    if repeat < 1 or calls < 1 or args.single_count < 1 or min(sizes_n) < 1:
        raise SystemExit("--n, --repeat, --calls and --single-count must be positive")
    if min(processes) < 1 or args.concurrency < 1 or args.poll_seconds <= 0:
        raise SystemExit("--processes, --concurrency and --poll-seconds must be positive")
    w5_max_n = None if dispatch_only else args.w5_max_n
    config = DispatchConfig(processes, args.concurrency, args.poll_seconds)
    settings = Settings(
        repeat=repeat,
        single_count=args.single_count,
        calls=calls,
        seed=args.seed,
        dispatch=None if w5_max_n == 0 else config,
        dispatch_max_n=w5_max_n or None,
    )
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
        "python": sys.version,
        "config": {
            "ns": sizes_n,
            "repeat": repeat,
            "calls": calls,
            "single_count": args.single_count,
            "batch_size": settings.batch_size,
            "seed": args.seed,
            "smoke": args.smoke,
            "w5": None if settings.dispatch is None else config.as_json(),
            "w5_ns": [n for n in sizes_n if settings.runs_dispatch(n)],
        },
        "machine": environment.machine(),
        "huey": huey_baseline.describe(),
    }
    if dispatch_only:
        meta["config"].pop("calls")
    measure: Callable[[int, Settings], SizeResult] = (
        run_dispatch_size if dispatch_only else run_size
    )
    sizes = [measure(n, settings) for n in sizes_n]
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta["load_average_at_end"] = environment.load_average()
    # The same for every N (read from the last store): recorded once.
    settings_seen = [s.info.pop("durability") for s in sizes if "durability" in s.info]
    meta["durability"] = settings_seen[-1] if settings_seen else None
    print(report.markdown(meta, sizes))
    suffix = "-dispatch" if dispatch_only else ""
    if args.out is None and args.smoke:
        with tempfile.TemporaryDirectory(prefix="taskmill-bench-smoke-") as scratch:
            report.write(Path(scratch), meta, sizes, suffix)
    else:
        json_path, md_path = report.write(args.out or DEFAULT_OUT, meta, sizes, suffix)
        print(f"wrote {json_path} and {md_path} ({meta['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
