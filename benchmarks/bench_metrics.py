"""Throughput of the metric suite: 10,000 random counterfactuals scored, stage by stage.

Builds the synthetic cohort (or, with ``--numpy``, a random table with the cohort's spec) and a
random forest, makes random CFs of random query rows (a few mutable features moved within their
bounds), then times fitting the suite, each part of per-CF scoring, the per-query table and the
summaries. The figure to watch is CFs/s of ``summarise`` (it scores every CF from scratch).

    python benchmarks/bench_metrics.py                  # 10,000 CFs, 60 people x 5 days
    python benchmarks/bench_metrics.py --cfs 50000 --numpy
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd


@contextmanager
def _timed(label: str, n_cfs: int, rows: list[tuple[str, float, int]]):
    start = time.perf_counter()
    yield
    rows.append((label, time.perf_counter() - start, n_cfs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfs", type=int, default=10_000)
    parser.add_argument("--per-query", type=int, default=3)
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--numpy", action="store_true", help="a random table, not the cohort")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import sensecf as scf
    from sensecf.data.constraints import changed, violations
    from sensecf.evaluation import MetricSuite
    from sensecf.generators import CounterfactualResult
    from sensecf.generators.base import fill_missing

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    cohort = scf.datasets.synthetic_cohort(
        participants=args.participants, days=args.days, interval_min=15, seed=args.seed
    )
    if args.numpy:  # same features, random rows within the bounds: no cohort physiology
        spec = cohort.spec.replace(id_columns=(), group_column=None)
        n = args.participants * args.days
        lo = np.array([f.bounds[0] for f in spec.features])
        hi = np.array([f.bounds[1] for f in spec.features])
        X = np.vstack([f.round(rng.uniform(lo[j], hi[j], n)) for j, f in enumerate(spec.features)])
        frame = pd.DataFrame(X.T, columns=spec.feature_names)
        frame[spec.target] = rng.integers(0, 2, n)
        cohort = scf.Dataset(frame, spec)
    spec = cohort.spec
    clf = scf.train(
        cohort, "rf", seed=args.seed, params={"n_estimators": 100}, importance_repeats=1
    )
    train_rows, test_rows = clf.split_data(cohort)
    setup = time.perf_counter() - start

    # Random CFs: each moves 1-4 mutable features to a random value within bounds, on the grain.
    n_queries = -(-args.cfs // args.per_query)
    pick = rng.integers(0, len(cohort), n_queries)
    Q = cohort.X.to_numpy(dtype=float)[pick]
    qid = np.repeat(np.arange(n_queries), args.per_query)[: args.cfs]
    C = Q[qid].copy()
    mutable = [j for j, f in enumerate(spec.features) if f.is_mutable]
    for j in mutable:
        feature = spec.features[j]
        move = rng.random(len(C)) < 2.5 / len(mutable)
        C[move, j] = feature.round(rng.uniform(*feature.bounds, move.sum()))
    queries = pd.DataFrame(Q, columns=spec.feature_names)
    queries.insert(0, "query_id", np.arange(n_queries))
    queries["label"] = cohort.y.to_numpy()[pick]
    queries["n_cfs"] = np.bincount(qid, minlength=n_queries)
    queries["seconds"] = rng.uniform(0.5, 2.0, n_queries)
    queries["error"] = ""
    cfs = pd.DataFrame(C, columns=spec.feature_names)
    cfs.insert(0, "rank", np.arange(args.cfs) % args.per_query)
    cfs.insert(0, "method", "random")
    cfs.insert(0, "query_id", qid)
    cfs["valid"] = clf.predict(C) == spec.desired_class
    cfs["source"] = rng.choice(["llm", "repair", "fallback"], args.cfs)
    cfs["llm_calls"] = rng.integers(0, 3, args.cfs)
    cfs["prompt_tokens"] = cfs["llm_calls"] * 400
    cfs["completion_tokens"] = cfs["llm_calls"] * 60
    result = CounterfactualResult("random", spec.desired_class, spec, queries, cfs)

    rows: list[tuple[str, float, int]] = []
    n = args.cfs
    with _timed("fit suite (scales, kNN index)", 0, rows):
        suite = MetricSuite(seed=args.seed).fit(clf, train_rows)
    with _timed("  fit LOF + IsolationForest (desired class)", 0, rows):
        lof, forest = suite._detectors(spec.desired_class)
    # The parts of score_cfs, run on their own to see where time goes.
    with _timed("  part: query/cf matrices", n, rows):
        Qm, Cm = result.query_matrix(), result.cf_matrix()
    with _timed("  part: L0 + distances", n, rows):
        moved = changed(Qm, Cm)
        delta = np.where(moved, np.abs(Cm - Qm), 0.0)
        _ = (delta / suite.mad_.to_numpy()).sum(1), (delta / suite.range_.to_numpy()).sum(1)
    # The detectors take complete rows: gaps filled with the training medians, as the suite does.
    Z = suite._standardise(fill_missing(Cm, suite.median_.to_numpy()))
    with _timed("  part: LOF predict", n, rows):
        lof.predict(Z)
    with _timed("  part: IsolationForest predict", n, rows):
        forest.predict(Z)
    with _timed("  part: kNN (yNN, nn_dist)", n, rows):
        suite.nn_.kneighbors(Z)
    with _timed("  part: violations", n, rows):
        violations(spec, Qm, Cm)
    with _timed("score_cfs", n, rows):
        suite.score_cfs(result)
    with _timed("score_queries (scores CFs again)", n, rows):
        suite.score_queries(result)
    with _timed("summarise (scores CFs again)", n, rows):
        summary = suite.summarise(result)
    with _timed("summarise by label", n, rows):
        suite.summarise(result, by="label")

    print(
        f"sensecf metric benchmark: {n:,} CFs of {n_queries:,} queries, {len(spec.features)} "
        f"features, {len(train_rows)} reference rows, {os.cpu_count()} CPUs "
        f"(data + model setup {setup:.1f} s, not counted)"
    )
    print(f"{'stage':48s} {'seconds':>9s} {'CFs/s':>12s}")
    for label, seconds, count in rows:
        rate = f"{count / seconds:12,.0f}" if count and seconds > 0 else f"{'':12s}"
        print(f"{label:48s} {seconds:9.3f} {rate}")
    row = summary.iloc[0]
    print(
        f"check: validity {row['validity']:.3f}, coverage {row['coverage']:.2f}, "
        f"LOF inliers {row['lof_inlier']:.2f}, violations {int(row['viol_total'])}"
    )


if __name__ == "__main__":
    main()
