"""Seconds per query of every counterfactual method, side by side in one process.

Builds a synthetic cohort, trains a random forest, and runs the benchmark (same queries, same
model) for each method, printing seconds per query, CFs per second and validity.

    python benchmarks/bench_generators.py                          # 20 queries, every method
    python benchmarks/bench_generators.py --limit 50 --generators oracle,dice-genetic
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time

import sensecf as scf
from sensecf.evaluation.benchmark import DEFAULT_GENERATORS, BenchmarkConfig
from sensecf.progress import peak_memory_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--n-cfs", type=int, default=3)
    parser.add_argument("--generators", default=",".join(DEFAULT_GENERATORS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    data = scf.datasets.synthetic_cohort(
        participants=args.participants, days=args.days, interval_min=10, seed=args.seed
    )
    model = scf.train(data, "rf", seed=args.seed)
    print(
        f"data and model: {len(data)} rows, AUROC {model.metrics_['auroc']:.3f} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    config = BenchmarkConfig(
        generators=args.generators, limit=args.limit, n_cfs=args.n_cfs, seed=args.seed
    )
    with tempfile.TemporaryDirectory() as out:
        result = scf.run_benchmark(model, data, config, out_dir=out)
    summary = (
        result.summary[result.summary["label"].isna()]
        if "label" in result.summary
        else (result.summary)
    )
    print(f"\n{'method':<24}{'s/query':>9}{'CFs/s':>9}{'validity':>10}{'coverage':>10}")
    for row in summary.itertuples(index=False):
        total = row.seconds * row.n_queries
        rate = row.n_cfs / total if total > 0 else float("nan")
        print(
            f"{row.method:<24}{row.seconds:>9.3f}{rate:>9.1f}{row.validity:>10.2f}"
            f"{row.coverage:>10.2f}"
        )
    for name, reason in result.failures.items():
        print(f"{name:<24} failed: {reason}")
    peak = peak_memory_mb()
    print(f"\npeak RSS {peak:.0f} MB")


if __name__ == "__main__":
    # The library reports each finished unit on its loggers: print them as they come.
    logging.basicConfig(format="%(message)s", stream=sys.stdout)
    logging.getLogger("sensecf").setLevel(logging.INFO)
    main()
