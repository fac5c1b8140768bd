"""The same numbers wherever the units run: a benchmark and an augmentation study, serial, in
worker processes and on a local Ray cluster, with their wall times and whether every table and
counterfactual row is equal to the serial run's.

The benchmark asks the oracle, DiCE random and the few-shot LLM (the embedded model) about
``--queries`` flagged held-out person-days of the default synthetic cohort; the study runs the
oracle, DiCE random, SMOTE and the few-shot arm on it over 2 seeds and 2 scarcity levels.

    python benchmarks/bench_parallel.py                      # serial, --jobs 2, Ray (local)
    python benchmarks/bench_parallel.py --modes serial,jobs --queries 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

import sensecf as scf
from sensecf.evaluation.benchmark import BenchmarkConfig, run_benchmark
from sensecf.execution import Execution

MODES = {
    "serial": Execution(),
    "jobs": Execution(jobs=2),
    "ray": Execution(jobs=2, ray="local"),
}


def timeless(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if "seconds" in c])


def equal(one: pd.DataFrame, other: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(timeless(one), timeless(other), rtol=0, atol=1e-12)
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="serial,jobs,ray")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--what", default="benchmark,study")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",")]
    data = scf.datasets.synthetic_cohort()
    model = scf.train(data, "rf", seed=0)
    with tempfile.TemporaryDirectory(prefix="sensecf-parallel-") as tmp:
        root = Path(tmp)
        if "benchmark" in args.what:
            config = BenchmarkConfig(
                generators=["oracle", "dice-random", "few-shot"], limit=args.queries, n_cfs=3
            )
            runs = {}
            for mode in modes:
                start = time.perf_counter()
                runs[mode] = run_benchmark(
                    model, data, config, out_dir=root / f"bench-{mode}", execution=MODES[mode]
                )
                seconds = time.perf_counter() - start
                same = all(
                    equal(a.cfs, b.cfs) and equal(a.queries, b.queries)
                    for a, b in zip(runs[modes[0]].results, runs[mode].results, strict=True)
                ) and equal(runs[modes[0]].summary, runs[mode].summary)
                print(f"benchmark {mode:<7} {seconds:7.1f} s  equal to {modes[0]}: {same}")
        if "study" in args.what:
            settings = {
                "generators": ["oracle", "dice-random", "few-shot"],
                "oversamplers": ["smote"],
                "scenarios": [0.5, 0.75],
                "seeds": 2,
                "max_queries": 40,
            }
            studies = {}
            for mode in modes:
                start = time.perf_counter()
                studies[mode] = scf.augmentation_study(
                    data, out_dir=root / f"study-{mode}", execution=MODES[mode], **settings
                )
                seconds = time.perf_counter() - start
                first = studies[modes[0]]
                same = (
                    equal(first.results, studies[mode].results)
                    and first.rows.equals(studies[mode].rows)
                    and equal(first.comparisons, studies[mode].comparisons)
                )
                print(f"study     {mode:<7} {seconds:7.1f} s  equal to {modes[0]}: {same}")


if __name__ == "__main__":
    main()
