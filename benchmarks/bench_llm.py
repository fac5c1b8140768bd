"""The LLM generator on the synthetic cohort: validity, repair, copying, sparsity and cost.

Builds the default synthetic cohort, trains a random forest, takes 50 flagged test rows and
runs the LLM generator (few-shot with the nearest desired-class people, and zero-shot; no
fallback) through the embedded SmolLM2-135M, then prints per method: first-answer validity,
validity after repair, the repair-round distribution, how often an answer is a verbatim copy
of an example, features changed with and without sparsify (and against the oracle's minimal
number), constraint violations, calls and tokens per valid CF, and seconds per query.

    python benchmarks/bench_llm.py                                   # 200 x 10 cohort, 50 queries
    python benchmarks/bench_llm.py --participants 100 --limit 10 --methods few-shot
    python benchmarks/bench_llm.py --cache runs/llm-cache.sqlite     # a rerun makes no new calls

With ``--cache`` the seconds of a rerun are those of cache hits; the token counts are those of
the original calls.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import sensecf as scf
from sensecf.data.constraints import changed, violations
from sensecf.generators import select_queries, sparsify_result
from sensecf.generators.llm import LLMGenerator
from sensecf.llm.llama_cpp import LlamaCpp

METHODS = {
    "few-shot": {"shots": 3, "examples": "nearest"},
    "zero-shot": {"shots": 0},
    "few-shot-worked": {"shots": 3, "examples": "worked"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--repair-rounds", type=int, default=3)
    parser.add_argument("--methods", default="few-shot,zero-shot", help=",".join(METHODS))
    parser.add_argument("--cache", default=None, help="SQLite answer cache (reruns are free)")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")

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

    backend = LlamaCpp(n_threads=args.threads)
    if args.cache:
        from sensecf.llm.cache import CachedBackend

        backend = CachedBackend(backend, args.cache)
    rows = []
    try:
        for method in methods:
            generator = LLMGenerator(
                backend, repair_rounds=args.repair_rounds, fallback=False, **METHODS[method]
            ).fit(clf, train_rows)
            t0 = time.perf_counter()
            result = generator.generate(queries, seed=args.seed)
            wall = time.perf_counter() - t0
            rows.append(report(method, result, clf, suite, oracle, wall))
    finally:
        backend.close()
    print("\n" + pd.DataFrame(rows).set_index("method").T.to_string())


def report(method, result, clf, suite, oracle, wall: float) -> dict[str, object]:
    """Print one method's figures; return its summary row."""
    spec = clf.spec
    n = len(result.queries)
    cfs = result.cfs  # round and copied_example are there even when no query got a CF
    summary = suite.summarise(result, min_l0=oracle).iloc[0]
    sparse = sparsify_result(result, clf)
    sparse_summary = suite.summarise(sparse, min_l0=oracle).iloc[0]
    valid = cfs["valid"].to_numpy(dtype=bool)
    l0 = changed(result.query_matrix(), result.cf_matrix()).sum(axis=1)
    l0_sparse = changed(sparse.query_matrix(), sparse.cf_matrix()).sum(axis=1)
    n_violations = int(violations(spec, result.query_matrix(), result.cf_matrix())["total"].sum())
    rounds = cfs.loc[valid, "round"].value_counts().sort_index()
    unserved = n - int(cfs.loc[valid, "query_id"].nunique())
    print(f"\n== {method}: {n} queries, {len(cfs)} CFs, {wall / max(n, 1):.1f} s per query")
    print(
        f"first-answer validity {summary['validity_first']:.2f}; after repair "
        f"{summary['validity_after_repair']:.2f}; CF validity {summary['validity']:.2f}; "
        f"coverage {summary['coverage']:.2f}"
    )
    print(
        "valid CFs by round: "
        + ", ".join(f"round {int(r)}: {c}" for r, c in rounds.items())
        + f"; queries without a valid CF: {unserved}"
    )
    print(
        f"verbatim copies of an example: {cfs['copied_example'].mean() if len(cfs) else np.nan:.2f} "
        f"of CFs ({cfs.loc[valid, 'copied_example'].mean() if valid.any() else np.nan:.2f} "
        "of valid ones)"
    )
    print(
        f"features changed (valid CFs): {l0[valid].mean() if valid.any() else np.nan:.2f}, "
        f"after sparsify {l0_sparse[sparse.cfs['valid'].to_numpy(bool)].mean():.2f}; "
        f"oracle's minimal {oracle.queries['min_l0'].mean():.2f}; "
        f"minimal-L0 ratio {summary['min_l0_ratio']:.2f} -> {sparse_summary['min_l0_ratio']:.2f}"
    )
    q = result.queries
    print(
        f"constraint violations {n_violations}; answers rejected (unreadable or rule broken) "
        f"{int(q['rejected_answers'].sum())}; LLM calls {int(q['llm_calls'].sum())}, "
        f"per valid CF {summary['llm_calls_per_valid_cf']:.2f}; tokens per valid CF "
        f"{summary['tokens_per_valid_cf']:.0f} (prompt {summary['prompt_tokens_per_valid_cf']:.0f}"
        f", completion {summary['completion_tokens_per_valid_cf']:.0f})"
    )
    return {
        "method": method,
        "queries": n,
        "validity_first": round(float(summary["validity_first"]), 3),
        "validity_after_repair": round(float(summary["validity_after_repair"]), 3),
        "cf_validity": round(float(summary["validity"]), 3),
        "violations": n_violations,
        "copy_rate": round(float(cfs["copied_example"].mean()), 3) if len(cfs) else np.nan,
        "l0_valid": round(float(l0[valid].mean()), 2) if valid.any() else np.nan,
        "l0_sparsified": round(float(sparse_summary["l0"]), 2),
        "calls_per_valid_cf": round(float(summary["llm_calls_per_valid_cf"]), 2),
        "tokens_per_valid_cf": round(float(summary["tokens_per_valid_cf"]), 0),
        "s_per_query": round(wall / max(n, 1), 1),
    }


if __name__ == "__main__":
    main()
