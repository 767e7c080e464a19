"""Benchmark harness for taskmill: the workloads of issue 5, run side by side with baselines.

Run from the repository root: `python -m benchmarks run [--n 10000 100000] [--large]
[--repeat 3] [--out benchmarks/results]`, or `python -m benchmarks run --smoke` for CI;
`python -m benchmarks dispatch [--n 10000] [--processes 1 4]` for W5 (dispatch) alone.
"""
