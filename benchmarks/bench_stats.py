"""Speed of the intervals: the cluster bootstrap and the grouped summaries on 10,000 values.

Times :func:`~sensecf.evaluation.stats.bootstrap_mean` on 10,000 values (each its own cluster,
and 500 people × 20 days), :func:`~sensecf.evaluation.stats.grouped_intervals` over 20 groups
of 500 queries (a mean and a yes/no share), and :func:`~sensecf.evaluation.stats.paired_difference`
on 10,000 pairs. Each figure is the best of ``--repeats`` runs, in seconds.

    python benchmarks/bench_stats.py
    python benchmarks/bench_stats.py --values 100000 --resamples 5000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from sensecf.evaluation.stats import bootstrap_mean, grouped_intervals, paired_difference

    rng = np.random.default_rng(args.seed)
    n, b = args.values, args.resamples
    values = rng.normal(size=n)
    people = np.arange(n) // 20
    frame = pd.DataFrame(
        {
            "method": np.arange(n) % 20,
            "person": people,
            "l0": rng.poisson(2.0, size=n).astype(float),
            "valid": (rng.random(n) < 0.7).astype(float),
        }
    )
    other = values + rng.normal(0.1, 1.0, size=n)
    rows = [
        ("bootstrap_mean, each value its own cluster", lambda: bootstrap_mean(values, resamples=b)),
        ("bootstrap_mean, people × 20 days", lambda: bootstrap_mean(values, people, resamples=b)),
        (
            "grouped_intervals, 20 groups, by person",
            lambda: grouped_intervals(
                frame,
                ["l0", "valid"],
                by=["method"],
                clusters="person",
                kinds={"valid": "share"},
                resamples=b,
            ),
        ),
        (
            "grouped_intervals, 20 groups, rows independent",
            lambda: grouped_intervals(
                frame, ["l0", "valid"], by=["method"], kinds={"valid": "share"}, resamples=b
            ),
        ),
        ("paired_difference, pairs", lambda: paired_difference(values, other, resamples=b)),
    ]
    print(f"{n:,} values, {b:,} resamples (best of {args.repeats})")
    for label, fn in rows:
        print(f"  {label:<48} {best_of(args.repeats, fn):8.3f} s")


if __name__ == "__main__":
    main()
