"""Relation violations and validity at a safety margin, for every method side by side.

Builds the synthetic cohort (default size), trains a random forest, runs the benchmark on the
same flagged test rows, and prints per method: validity under the decision rule (0.5), validity
at a margin (P(desired) >= 0.6), relation violations and all violations. By default the
methods search for the decision rule and the margin is only measured; ``--search-margin`` makes
every method whose search can (the oracle, the LLM methods; not DiCE, NICE, CFNOW) search until
it reaches the margin (the benchmark's ``min_proba``).

    python benchmarks/bench_relations.py                      # the acceptance run of issue 11
    python benchmarks/bench_relations.py --participants 60 --days 5 --limit 5
    python benchmarks/bench_relations.py --generators oracle,few-shot --out /tmp/rel  # resumable
    python benchmarks/bench_relations.py --generators oracle,dice-random --search-margin
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import sensecf as scf
from sensecf.evaluation.benchmark import BenchmarkConfig, run_benchmark
from sensecf.evaluation.metrics import MetricSuite

GENERATORS = "oracle,few-shot,dice-random,nice-sparsity,cfnow-greedy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--interval-min", type=int, default=5)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--n-cfs", type=int, default=1)
    parser.add_argument("--margin", type=float, default=0.6)
    parser.add_argument(
        "--search-margin", action="store_true", help="Every method searches to the margin."
    )
    parser.add_argument("--generators", default=GENERATORS)
    parser.add_argument("--cfnow-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", help="Folder for the results and the LLM call cache (a rerun reuses them)."
    )
    args = parser.parse_args()

    start = time.perf_counter()
    data = scf.datasets.synthetic_cohort(
        participants=args.participants,
        days=args.days,
        interval_min=args.interval_min,
        seed=args.seed,
    )
    model = scf.train(data, "rf", seed=args.seed)
    print(f"data and model: {len(data)} rows ({time.perf_counter() - start:.0f} s)")
    names = [n for n in args.generators.split(",") if n]
    generators = {n: ({"limit_seconds": args.cfnow_seconds} if "cfnow" in n else {}) for n in names}
    config = BenchmarkConfig(
        generators=generators,
        limit=args.limit,
        n_cfs=args.n_cfs,
        seed=args.seed,
        by=None,
        min_proba=args.margin if args.search_margin else None,
    )
    bench = run_benchmark(model, data, config, out_dir=args.out)
    train_rows, _ = model.split_data(data)
    suite = MetricSuite(seed=args.seed, margin=args.margin).fit(model, train_rows)
    header = (
        f"{'method':<16}{'queries':>8}{'CFs':>5}{'validity@0.5':>14}"
        f"{f'validity@{args.margin:g}':>14}{'viol_relations':>16}{'viol_total':>12}"
    )
    print(header)
    for result in bench.results:
        row = suite.summarise(result).iloc[0]
        print(
            f"{row['method']:<16}{row['n_queries']:>8}{row['n_cfs']:>5}"
            f"{row['validity']:>14.2f}{row['validity_margin']:>14.2f}"
            f"{row['viol_relations']:>16}{row['viol_total']:>12}"
        )
    for name, reason in bench.failures.items():
        print(f"{name} failed: {reason}")


if __name__ == "__main__":
    # The library reports each finished unit on its loggers: print them as they come.
    logging.basicConfig(format="%(message)s", stream=sys.stdout)
    logging.getLogger("sensecf").setLevel(logging.INFO)
    main()
