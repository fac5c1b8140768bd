"""Where the certified oracle's seconds go, person by person, phase by phase.

Builds the table and the model as :mod:`bench_oracle` does, fits the oracle alone on the
training rows and explains the flagged held-out people (the benchmark's queries), then prints

- each person's status, minimal number of changes and seconds, and the median per person;
- a phase breakdown from :mod:`cProfile`: the neighbours (batched over all people), the
  programs built (the whole program per person, and each support's where it is split), the
  enumeration of small changes, the mixed-integer solves, and within them HiGHS: the first
  solve of each program apart from its re-solves with cuts (the further distinct solutions
  of the whole program);
- with ``--top N``, the N functions with the most time of their own.

    python benchmarks/profile_oracle.py                          # heart, rf, 30 people, 3 CFs
    python benchmarks/profile_oracle.py --tables synthetic --top 25
    python benchmarks/profile_oracle.py --repeat 2               # same answers twice?
    python benchmarks/profile_oracle.py --tables synthetic --plausibility iforest
    python benchmarks/profile_oracle.py --plausibility iforest --held-rate 0.8  # stricter
    python benchmarks/profile_oracle.py --plausibility iforest --held-neighbours 10

With ``--plausibility iforest`` the oracle is held to the plausibility detector
(``oracle-plausible``), the one the benchmark shares with its metric suite (fitted on the
desired class's training rows, calibrated on the held-out rows); the IsolationForest and LOF
inlier rates of its counterfactuals are printed beside the held-out real rows'; with
``--held-rate R`` it is held to the stricter bar that only a share R of those rows reach,
while both detectors still judge at their calibration (95%); with ``--held-neighbours K``
it is also held to the neighbour bar over K nearest real rows. Counted work
is printed beside the seconds (they vary on a busy machine): the solves per person, the
rows, columns and nonzeros of the programs solved, and the people the search answered.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_oracle import load_table  # the same tables as the benchmark

import sensecf as scf
from sensecf.evaluation.metrics import MetricSuite, share_detector
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle import milp as milp_module

# Phases: (label, module file, function name) of the functions whose cumulative time they are.
PHASES = (
    ("neighbours (all people)", "search.py", "neighbour_candidates"),
    ("programs built (trees.program)", "trees.py", "program"),
    ("enumeration of small changes", "generator.py", "_small_changes"),
    ("MILP (build + HiGHS + cuts)", "milp.py", "solve"),
)


class _CountedMilp:
    """SciPy's ``milp`` as the oracle calls it, its calls' seconds split into the first solve
    of each program and the further ones (the distinct solutions)."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner
        self.first = self.further = 0.0
        self.calls = [0, 0]
        self.program: object = None
        # Rows, columns and nonzeros of each distinct program solved.
        self.sizes: list[tuple[int, int, int]] = []

    def __call__(self, c: np.ndarray, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = self.inner(c, **kwargs)
        seconds = time.perf_counter() - start
        base = kwargs["constraints"][0]
        if base is self.program:  # another solve of the same program: a further solution
            self.further += seconds
            self.calls[1] += 1
        else:
            self.program = base
            self.first += seconds
            self.calls[0] += 1
            self.sizes.append((base.A.shape[0], base.A.shape[1], base.A.nnz))
        return result


def profile(table: str, model_name: str, args: argparse.Namespace, folder: Path) -> None:
    data = load_table(table, folder, args.seed)
    params = json.loads(args.rf_params) if model_name == "rf" else None
    model = scf.train(data, model_name, seed=args.seed, params=params or None)
    train_rows, test_rows = model.split_data(data)
    queries = select_queries(model, test_rows, limit=args.limit, seed=args.seed)
    start = time.perf_counter()
    oracle = Oracle(
        time_limit=args.time_limit,
        plausibility=args.plausibility,
        held_rate=args.held_rate,
        held_neighbours=args.held_neighbours,
    )
    # The detector the benchmark holds the oracle to and its metric suite judges by.
    share_detector(oracle, model, train_rows, calibration=test_rows)
    oracle.fit(model, train_rows)
    fit_seconds = time.perf_counter() - start
    counted = _CountedMilp(milp_module.milp)
    milp_module.milp = counted  # type: ignore[assignment]
    profiler = cProfile.Profile()
    answers = []
    try:
        for _ in range(args.repeat):
            start = time.perf_counter()
            profiler.enable()
            result = oracle.generate(queries, n_cfs=args.n_cfs)
            profiler.disable()
            total = time.perf_counter() - start
            answers.append(result)
    finally:
        milp_module.milp = counted.inner  # type: ignore[assignment]
    table_q = answers[0].queries
    seconds = table_q["solve_seconds"].to_numpy(dtype=float)
    held = "" if args.plausibility == "none" else f" · held to {args.plausibility}"
    print(
        f"\n=== {table} · {model_name} · {len(queries)} flagged held-out people · "
        f"{args.n_cfs} CFs{held}"
    )
    print(f"fit {fit_seconds:.2f} s; generate {total:.2f} s (last of {args.repeat})")
    print(
        f"statuses {table_q['status'].value_counts().to_dict()}; budget "
        f"{table_q['budget'].value_counts().to_dict()}"
    )
    print(f"min_l0 {table_q['min_l0'].tolist()}")
    print(
        f"seconds per person: median {np.median(seconds):.3f}, mean {seconds.mean():.3f}, "
        f"max {seconds.max():.3f}"
    )
    people = len(queries) * args.repeat
    solves = sum(counted.calls)
    print(
        f"solves per person {solves / people:.2f} (programs {counted.calls[0] / people:.2f}, "
        f"re-solves {counted.calls[1] / people:.2f}); solver {table_q['solver'].value_counts().to_dict()}"
    )
    if counted.sizes:
        sizes = np.array(counted.sizes)
        print(
            "program size (median; largest): rows {:.0f}; {}  columns {:.0f}; {}  "
            "nonzeros {:.0f}; {}".format(
                *[v for k in range(3) for v in (np.median(sizes[:, k]), sizes[:, k].max())]
            )
        )
    if args.plausibility != "none":
        _inlier_rates(model, train_rows, test_rows, answers[0], args.held_rate)
    if args.repeat > 1:
        same = all(_same(answers[0], other) for other in answers[1:])
        print(f"answers identical over {args.repeat} runs: {same}")
    stats = pstats.Stats(profiler)
    runs = args.repeat
    print("phase (cumulative seconds per run; they nest: the MILP includes HiGHS)")
    for label, path, name in PHASES:
        cumulative = sum(
            row[3]
            for (file, _, function), row in stats.stats.items()  # type: ignore[attr-defined]
            if function == name and file.endswith(path)
        )
        print(f"  {label:<36}{cumulative / runs:>8.2f}")
    print(
        f"  {'HiGHS, first solve of each program':<36}{counted.first / runs:>8.2f}"
        f"  ({counted.calls[0] // runs} calls)"
    )
    print(
        f"  {'HiGHS, re-solves with cuts':<36}{counted.further / runs:>8.2f}"
        f"  ({counted.calls[1] // runs} calls)"
    )
    if args.dump:
        prefix = f"{args.dump}-{table}-{model_name}"
        drop = ["solve_seconds", "seconds"]
        table_q.drop(columns=drop, errors="ignore").to_csv(f"{prefix}-queries.csv", index=False)
        cfs = answers[0].cfs.drop(columns=drop, errors="ignore")
        cfs.to_csv(f"{prefix}-cfs.csv", index=False, float_format="%.17g")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)


def _inlier_rates(
    model: Any, train_rows: Any, test_rows: Any, result: Any, held_rate: float | None
) -> None:
    """The detectors' inlier rates of the valid counterfactuals beside the held-out real rows',
    both judged by the metric suite's detector at its default calibration (the one the oracle
    is held to, whatever stricter bar ``held_rate`` set)."""
    suite = MetricSuite().fit(model, train_rows, calibration=test_rows)
    scores = suite.summarise(result).iloc[0]
    real = suite.reference_rates(model.spec.desired_class)
    held = "" if held_rate is None else f" (held to the bar {held_rate:.0%} of them reach)"
    print(
        f"inlier rate of the valid CFs{held}: IsolationForest {scores['iforest_inlier']:.3f} "
        f"(held-out real rows {real['iforest']:.3f}), LOF {scores['lof_inlier']:.3f} (held-out "
        f"real rows {real['lof']:.3f})"
    )


def _same(a: Any, b: Any) -> bool:
    """The same answers: query tables without seconds, and the counterfactual rows."""
    drop = ["solve_seconds", "seconds"]
    try:
        pd.testing.assert_frame_equal(
            a.queries.drop(columns=drop, errors="ignore"),
            b.queries.drop(columns=drop, errors="ignore"),
        )
        pd.testing.assert_frame_equal(
            a.cfs.drop(columns=drop, errors="ignore"), b.cfs.drop(columns=drop, errors="ignore")
        )
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="heart")
    parser.add_argument("--models", default="rf")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--n-cfs", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--rf-params", default="{}", help="JSON overrides of the forest's defaults")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--plausibility",
        default="none",
        choices=("none", "iforest"),
        help="hold the oracle to the plausibility detector (oracle-plausible)",
    )
    parser.add_argument(
        "--held-rate",
        type=float,
        default=None,
        help="hold the oracle to the IsolationForest bar only this share of held-out real rows "
        "reach (stricter than the 0.95 the metrics judge at)",
    )
    parser.add_argument(
        "--held-neighbours",
        type=int,
        default=None,
        help="also hold the oracle to the neighbour bar over this many nearest real rows",
    )
    parser.add_argument("--repeat", type=int, default=1, help="generate this many times")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--dump", default=None, help="write the answers (CSV) to this prefix")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for table in args.tables.split(","):
            for name in args.models.split(","):
                profile(table, name, args, Path(tmp))


if __name__ == "__main__":
    main()
