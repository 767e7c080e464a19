"""`python -m benchmarks run [--n 10000 100000] [--large] [--repeat 3] [--out DIR] [--smoke]`."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import environment, report
from benchmarks.suite import Settings, run_size
from benchmarks.workload import DEFAULT_SEED

DEFAULT_OUT = Path(__file__).parent / "results"
LARGE_N = 1_000_000
SMOKE_N = 500


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
    run.add_argument("--repeat", type=int, default=3, help="runs per figure (default: 3)")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results folder (default: {DEFAULT_OUT}; a temporary one with --smoke)",
    )
    run.add_argument(
        "--single-count",
        type=int,
        default=2_000,
        help="W1 submits min(N, this) tasks, one durable submit each (default: 2000)",
    )
    run.add_argument(
        "--calls", type=int, default=20, help="timed warm calls per query latency (default: 20)"
    )
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="workload seed")
    run.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run for CI: N={SMOKE_N}, 1 run; fails only on an error",
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    sizes_n = sorted(set(args.n + ([LARGE_N] if args.large else [])))
    repeat, calls = args.repeat, args.calls
    if args.smoke:
        sizes_n, repeat, calls = [SMOKE_N], 1, min(calls, 5)
    if repeat < 1 or calls < 1 or args.single_count < 1 or min(sizes_n) < 1:
        raise SystemExit("--n, --repeat, --calls and --single-count must be positive")
    settings = Settings(repeat=repeat, single_count=args.single_count, calls=calls, seed=args.seed)
    started = time.perf_counter()
    meta = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
        "config": {
            "ns": sizes_n,
            "repeat": repeat,
            "calls": calls,
            "single_count": args.single_count,
            "batch_size": settings.batch_size,
            "seed": args.seed,
            "smoke": args.smoke,
        },
        "machine": environment.machine(),
    }
    sizes = [run_size(n, settings) for n in sizes_n]
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta["load_average_at_end"] = environment.load_average()
    # The same for every N (read from the last store): recorded once.
    settings_seen = [s.info.pop("durability") for s in sizes if "durability" in s.info]
    meta["durability"] = settings_seen[-1] if settings_seen else None
    print(report.markdown(meta, sizes))
    if args.out is None and args.smoke:
        with tempfile.TemporaryDirectory(prefix="taskmill-bench-smoke-") as scratch:
            report.write(Path(scratch), meta, sizes)
    else:
        json_path, md_path = report.write(args.out or DEFAULT_OUT, meta, sizes)
        print(f"wrote {json_path} and {md_path} ({meta['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
