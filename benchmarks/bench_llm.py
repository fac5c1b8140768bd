"""The LLM generator on the synthetic cohort: speed, validity, and what the model adds.

Builds the default synthetic cohort, trains a random forest, takes 50 flagged held-out rows
and runs the LLM generator (few-shot with the nearest desired-class people by default; no
fallback) through the embedded SmolLM2-135M, beside the two references it must be read
against: ``nearest-example`` (the same examples the prompt shows, returned without an LLM) and
the oracle search. Prints one table: median and mean seconds per person, first-answer validity
(round 0, first sample), validity after repair, constraint violations, the copy shares
(answers equal to a whole example; changed values equal to an example's value), features
changed, calls and tokens per valid CF; and the machine's load before and after.

    python benchmarks/bench_llm.py                                   # 200 x 10 cohort, 50 rows
    python benchmarks/bench_llm.py --limit 20 --methods few-shot,zero-shot
    python benchmarks/bench_llm.py --cache runs/llm-cache.sqlite     # a rerun makes no new calls

With ``--cache`` the seconds of a rerun are those of cache hits; the token counts are those of
the original calls.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

import sensecf as scf
from sensecf.data.constraints import violations
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.nearest import NearestExample
from sensecf.llm.llama_cpp import LlamaCpp

METHODS = {
    "few-shot": {"examples": "nearest"},
    "zero-shot": {"shots": 0},
    "few-shot-worked": {"examples": "worked"},
}
# Always in the table (no LLM, seconds): accepted in --methods for a complete command line.
REFERENCES = ("oracle", "nearest-example")


def load() -> str:
    """The 1-, 5- and 15-minute load averages, and the cores."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--repair-rounds", type=int, default=3)
    parser.add_argument(
        "--methods",
        default="few-shot",
        help=f"LLM methods among {','.join(METHODS)} ({' and '.join(REFERENCES)} always run)",
    )
    parser.add_argument("--cache", default=None, help="SQLite answer cache (reruns are free)")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp decoding threads")
    parser.add_argument(
        "--threads-batch", type=int, default=None, help="llama.cpp prompt-evaluation threads"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS and m not in REFERENCES]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {[*METHODS, *REFERENCES]}")
    methods = [m for m in methods if m in METHODS]

    print(f"before: {load()}")
    start = time.perf_counter()
    data = scf.datasets.synthetic_cohort(participants=args.participants, days=args.days, seed=0)
    clf = scf.train(data, "rf", seed=args.seed)
    train_rows, test_rows = clf.split_data(data)
    queries = select_queries(clf, test_rows, limit=args.limit, seed=args.seed)
    print(
        f"cohort {args.participants} x {args.days}: {len(data)} rows; rf AUROC "
        f"{clf.metrics_['auroc']:.3f}; {len(queries)} flagged test queries "
        f"({time.perf_counter() - start:.0f} s)"
    )
    oracle = scf.Oracle().fit(clf, train_rows).generate(queries)
    suite = scf.MetricSuite().fit(clf, train_rows)
    nearest = NearestExample().fit(clf, train_rows).generate(queries)
    rows = [report(oracle, clf, suite, oracle), report(nearest, clf, suite, oracle)]

    backend = LlamaCpp(n_threads=args.threads, n_threads_batch=args.threads_batch)
    print(f"llama.cpp threads: {backend.n_threads} decoding, {backend.n_threads_batch} prompt")
    if args.cache:
        from sensecf.llm.cache import CachedBackend

        backend = CachedBackend(backend, args.cache)
    try:
        for method in methods:
            generator = LLMGenerator(
                backend, repair_rounds=args.repair_rounds, fallback=False, **METHODS[method]
            ).fit(clf, train_rows)
            result = generator.generate(queries, seed=args.seed)
            rows.append(report(result, clf, suite, oracle))
    finally:
        backend.close()
    print("\n" + pd.DataFrame(rows).set_index("method").T.to_string())
    print(f"\nafter: {load()}")


def report(result, clf, suite, oracle) -> dict[str, object]:
    """One method's figures, as a column of the printed table."""
    s = suite.summarise(result, min_l0=oracle).iloc[0]
    seconds = result.queries["seconds"]
    broken = violations(clf.spec, result.query_matrix(), result.cf_matrix())["total"].sum()
    return {
        "method": result.method,
        "queries": len(result.queries),
        "median s/person": round(float(seconds.median()), 2),
        "mean s/person": round(float(seconds.mean()), 2),
        "coverage": round(float(s["coverage"]), 2),
        "validity (CFs)": round(float(s["validity"]), 2),
        "first-answer validity": round(float(s["validity_first"]), 2),
        "after repair": round(float(s["validity_after_repair"]), 2),
        "violations": int(broken),
        "whole-row copies": round(float(s["copied_example"]), 2),
        "changed values from examples": round(float(s["example_share"]), 2),
        "L0 (valid)": round(float(s["l0"]), 2),
        "L0 / oracle min": round(float(s["min_l0_ratio"]), 2),
        "calls/valid CF": round(float(s["llm_calls_per_valid_cf"]), 2),
        "tokens/valid CF": round(float(s["tokens_per_valid_cf"]), 0),
    }


if __name__ == "__main__":
    main()
