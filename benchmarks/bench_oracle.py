"""The certified oracle against the baselines: coverage on every person, certificates, seconds.

For each table (the default synthetic cohort; a UCI-heart-like table read with the packaged
heart spec) and each model (random forest with the project defaults, logistic regression), runs
the benchmark on up to ``--limit`` flagged held-out people and prints:

- the oracle's answers (optimal / feasible / infeasible / time limit) and the share of people
  whose minimal number of changes is certified;
- per method, people with a valid counterfactual that breaks no constraint, out of the people
  the oracle did not prove infeasible, and the people where the method has one and the oracle
  none (must be 0);
- seconds per person.

No download is possible here, so the heart table is generated: 303 rows in the UCI
``processed.cleveland.data`` form whose per-class distributions follow the published Cleveland
summaries (age, sex, chest pain, blood pressure, cholesterol, ECG, heart rate, angina, ST
depression, slope, vessels, thal), then read with :func:`sensecf.datasets.read_uci_heart`.

    python benchmarks/bench_oracle.py                       # both tables, rf and logreg, 30 people
    python benchmarks/bench_oracle.py --tables heart --models rf --limit 40
    python benchmarks/bench_oracle.py --rf-params '{"max_depth": 8}'
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sensecf as scf
from sensecf.evaluation.benchmark import BenchmarkConfig

BASELINES = ("dice-random", "nice-sparsity", "cfnow-greedy")


def heart_like_rows(n: int = 303, seed: int = 0) -> list[str]:
    """Rows in the UCI processed.cleveland.data form, per-class distributions as published."""
    rng = np.random.default_rng(seed)

    def pick(levels: list[float], p_sick: list[float], p_well: list[float], sick: bool) -> float:
        return float(rng.choice(levels, p=p_sick if sick else p_well))

    lines = []
    for _ in range(n):
        sick = bool(rng.random() < 0.46)
        oldpeak = (
            0.0 if rng.random() < (0.15 if sick else 0.5) else rng.exponential(1.9 if sick else 1.1)
        )
        row = [
            int(np.clip(rng.normal(56.6 if sick else 52.5, 8 if sick else 9.5), 29, 77)),
            int(rng.random() < (0.82 if sick else 0.56)),
            pick([1, 2, 3, 4], [0.05, 0.07, 0.14, 0.74], [0.10, 0.25, 0.41, 0.24], sick),
            int(np.clip(rng.normal(134 if sick else 129, 19 if sick else 16), 94, 200)),
            int(np.clip(rng.normal(251 if sick else 242, 49 if sick else 53), 126, 564)),
            int(rng.random() < (0.16 if sick else 0.14)),
            pick([0, 1, 2], [0.42, 0.02, 0.56], [0.58, 0.01, 0.41], sick),
            int(np.clip(rng.normal(139 if sick else 158, 22.6 if sick else 19), 71, 202)),
            int(rng.random() < (0.55 if sick else 0.14)),
            round(float(np.clip(oldpeak, 0, 6.2)), 1),
            pick([1, 2, 3], [0.25, 0.65, 0.10], [0.65, 0.30, 0.05], sick),
            pick([0, 1, 2, 3], [0.33, 0.31, 0.22, 0.14], [0.80, 0.13, 0.05, 0.02], sick),
            pick([3, 6, 7], [0.27, 0.09, 0.64], [0.79, 0.04, 0.17], sick),
            int(rng.integers(1, 5)) if sick else 0,
        ]
        lines.append(",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row))
    return lines


def load_table(name: str, folder: Path, seed: int) -> scf.Dataset:
    if name == "synthetic":
        return scf.datasets.synthetic_cohort(seed=seed)
    path = folder / "processed.cleveland.data"
    path.write_text("\n".join(heart_like_rows(seed=seed)) + "\n")
    return scf.datasets.read_uci_heart(path)


def clean_valid(scores: pd.DataFrame) -> pd.DataFrame:
    """Per method and query: does it have a valid counterfactual that breaks no constraint?"""
    ok = scores.assign(clean=scores["valid"].astype(bool) & (scores["viol_total"] == 0))
    return ok.groupby(["method", "query_id"])["clean"].any().unstack("method", fill_value=False)


def report(table: str, model_name: str, model: scf.TrainedClassifier, bench, secs: float) -> None:
    oracle = next(r for r in bench.results if r.method == "oracle").queries.set_index("query_id")
    n = len(oracle)
    status = oracle["status"].value_counts().to_dict()
    budget = oracle["budget"].value_counts().to_dict() if "budget" in oracle else {}
    infeasible = oracle.index[oracle["status"] == "infeasible"]
    feasible = oracle.index.difference(infeasible)
    certified = int(oracle["min_l0_certified"].astype(bool).sum())
    print(
        f"\n=== {table} · {model_name} ({model.metrics_['auroc']:.3f} AUROC) · {n} flagged people"
    )
    print(
        f"oracle answers: {status}; minimal L0 certified for {certified}/{n} ({certified / n:.0%})"
        f"; budget {budget}"
    )
    print(
        f"oracle min L0 (certified people): mean {oracle.loc[oracle['min_l0_certified'].astype(bool), 'min_l0'].mean():.2f}"
    )
    clean = clean_valid(bench.scores).reindex(oracle.index, fill_value=False)
    seconds = (
        bench.summary[bench.summary["label"].isna()] if "label" in bench.summary else bench.summary
    )
    seconds = seconds.set_index("method")["seconds"]
    print(
        f"{'method':<16}{'covered (clean)':>18}{'of feasible':>13}{'beats oracle':>14}{'s/person':>10}"
    )
    for method in ["oracle", *BASELINES]:
        if method not in clean.columns:
            print(f"{method:<16} (failed: {bench.failures.get(method, 'no result')})")
            continue
        has = clean[method]
        beats = int((has & ~clean["oracle"]).sum())
        print(
            f"{method:<16}{int(has.sum()):>18}{f'{int(has[feasible].sum())}/{len(feasible)}':>13}"
            f"{beats:>14}{seconds.get(method, float('nan')):>10.2f}"
        )
    print(
        f"covered by the oracle: {int(clean['oracle'][feasible].sum())} of {len(feasible)} feasible, "
        f"{len(infeasible)} certified infeasible ({secs:.0f} s for this block)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="synthetic,heart")
    parser.add_argument("--models", default="rf,logreg")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--n-cfs", type=int, default=3)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="oracle seconds per person on top of its work budget (default: none, reproducible)",
    )
    parser.add_argument("--rf-params", default="{}", help="JSON overrides of the forest's defaults")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generators = {
        "oracle": {"time_limit": args.time_limit},
        "dice-random": {},
        "nice-sparsity": {},
        "cfnow-greedy": {"limit_seconds": 1.0},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for table in args.tables.split(","):
            start = time.perf_counter()
            data = load_table(table, Path(tmp), args.seed)
            print(f"{table}: {len(data)} rows ({time.perf_counter() - start:.0f} s to build)")
            for name in args.models.split(","):
                start = time.perf_counter()
                params = json.loads(args.rf_params) if name == "rf" else None
                model = scf.train(data, name, seed=args.seed, params=params or None)
                config = BenchmarkConfig(
                    generators=generators, limit=args.limit, n_cfs=args.n_cfs, seed=args.seed
                )
                bench = scf.run_benchmark(model, data, config)
                report(table, name, model, bench, time.perf_counter() - start)


if __name__ == "__main__":
    main()
