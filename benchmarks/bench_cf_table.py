"""Seconds to build the result table: 5,000 queries x 3 counterfactuals, through the base class.

A generator that proposes every query's rows at once (no search: precomputed rows with LLM-style
provenance, an extra column, a duplicate per query and an empty proposal now and then) is run
through ``generate``; the figures are the time ``_cf_table`` takes to turn the proposals into
the ``cfs`` table (best of ``--repeats``) and the whole ``generate`` call. ``--save`` writes
both tables, so two versions of the package can be checked for identical output:

    PYTHONPATH=src python benchmarks/bench_cf_table.py --save /tmp/after
    PYTHONPATH=/tmp/old/src python benchmarks/bench_cf_table.py --save /tmp/before
    python benchmarks/bench_cf_table.py --compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _compare(before: Path, after: Path) -> None:
    for name in ("cfs", "queries"):
        a = pd.read_pickle(before / f"{name}.pkl")
        b = pd.read_pickle(after / f"{name}.pkl")
        pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
        print(f"{name}: identical columns, dtypes and values (seconds aside), {len(a)} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--per-query", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="write cfs.pkl and queries.pkl here")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        _compare(*args.compare)
        return

    import sensecf as scf
    from sensecf.generators.base import Candidates, CounterfactualGenerator

    rng = np.random.default_rng(args.seed)
    n, k = args.queries, args.per_query
    frame = pd.DataFrame(
        {f"x{j}": rng.normal(size=2 * n).round(2) for j in range(8)} | {"pid": np.arange(2 * n)}
    )
    frame["y"] = (frame["x0"] + frame["x1"] + rng.normal(size=2 * n) > 0).astype(int)
    spec = scf.infer_spec(frame, "y", id_columns=["pid"])
    data = scf.Dataset(frame, spec)
    clf = scf.train(data, "logreg", seed=args.seed, importance_repeats=1)
    queries = data.subset(np.arange(n))
    X = queries.X.to_numpy(dtype=float)

    proposals = []
    for i in range(n):
        if i % 17 == 0:  # now and then a query without counterfactual
            proposals.append(Candidates.empty(X.shape[1]))
            continue
        rows = X[i] + rng.normal(scale=0.5, size=(k + 1, X.shape[1])).round(2)
        rows[k] = rows[0]  # a repeated answer: one counterfactual
        proposals.append(
            Candidates(
                rows,
                source=["llm"] * k + ["repair"],
                llm_calls=1,
                prompt_tokens=[100] * (k + 1),
                completion_tokens=20,
                extra={"round": [0] * k + [1]},
            )
        )

    class Precomputed(CounterfactualGenerator):
        name = "precomputed"

        def _propose_batch(self, X, n_cfs, desired, rng, progress=False):
            return proposals

    gen = Precomputed().fit(clf, data)
    seconds = [0.01] * n
    table_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        gen._cf_table(proposals, seconds, spec.desired_class, k)
        table_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    result = gen.generate(queries, n_cfs=k)
    whole = time.perf_counter() - start

    print(f"package: {scf.__file__}")
    print(f"{n} queries, up to {k} CFs each: {len(result.cfs)} CF rows")
    print(f"build the cfs table (best of {args.repeats}): {min(table_times):.3f} s")
    print(f"whole generate (one batch, no search):       {whole:.3f} s")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        result.cfs.to_pickle(args.save / "cfs.pkl")
        result.queries.to_pickle(args.save / "queries.pkl")


if __name__ == "__main__":
    main()
