"""The benchmark's methods run in worker processes give the serial run's counterfactuals and
tables, and the LLM answers made in workers land in the driver's cache. (On Ray: the study's
tests run a local cluster; ``benchmarks/bench_parallel.py`` compares a benchmark there too.)"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import sensecf as scf
from sensecf.evaluation import benchmark
from sensecf.evaluation.benchmark import BenchmarkConfig, run_benchmark
from sensecf.execution import Execution
from sensecf.llm.cache import add_rows, read_rows

pytestmark = pytest.mark.slow
TIMING = ("seconds", "total_seconds", "seconds_per_query")


@pytest.fixture(scope="module")
def cohort():
    data = scf.datasets.synthetic_cohort(participants=40, days=4, interval_min=15, seed=6)
    model = scf.train(data, "rf", seed=0, params={"n_estimators": 40})
    return data, model


@pytest.fixture(scope="module")
def config():
    pytest.importorskip("llama_cpp")
    return BenchmarkConfig(
        generators={"oracle": {}, "dice-random": {}, "few-shot": {"repair_rounds": 1}},
        limit=4,
        n_cfs=2,
        seed=3,
    )


@pytest.fixture(scope="module")
def serial(cohort, config, tmp_path_factory):
    data, model = cohort
    return run_benchmark(model, data, config, out_dir=tmp_path_factory.mktemp("serial"))


def timeless(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if any(t in c for t in TIMING)])


def same_benchmark(one, other) -> None:
    for mine, theirs in zip(one.results, other.results, strict=True):
        assert mine.method == theirs.method
        pd.testing.assert_frame_equal(timeless(mine.cfs), timeless(theirs.cfs))
        pd.testing.assert_frame_equal(timeless(mine.queries), timeless(theirs.queries))
    pd.testing.assert_frame_equal(
        timeless(one.summary), timeless(other.summary), rtol=0, atol=1e-12
    )
    pd.testing.assert_frame_equal(
        timeless(one.per_query), timeless(other.per_query), rtol=0, atol=1e-12
    )


def answers(folder) -> set[tuple[str, str]]:
    with sqlite3.connect(folder / "llm-cache.sqlite") as db:
        return set(db.execute("SELECT key, text FROM completions").fetchall())


def test_two_worker_processes_give_the_serial_benchmark(
    cohort, config, serial, tmp_path, monkeypatch
):
    data, model = cohort
    # The oracle answers each query alone: in workers its queries go out in slices.
    monkeypatch.setattr(benchmark, "QUERY_CHUNK", 3)
    two = Execution(jobs=2)
    assert benchmark._units("oracle", config, 4, two) == [("oracle", 0, 3), ("oracle", 3, 4)]
    assert benchmark._units("dice-random", config, 4, two) == [("dice-random", 0, 4)]
    assert benchmark._units("oracle", config, 4, Execution()) == [("oracle", 0, 4)]
    # The workers start from the driver's answers but one query's, which they make again and
    # hand back (the study's tests make every answer in a worker).
    rows = read_rows(serial.out_dir / "llm-cache.sqlite")
    first = min(row[0] for row in rows)
    add_rows(tmp_path / "llm-cache.sqlite", [row for row in rows if row[0] != first])
    parallel = run_benchmark(model, data, config, out_dir=tmp_path, execution=two)
    same_benchmark(serial, parallel)
    assert answers(tmp_path) == answers(serial.out_dir) != set()
    for method in ("oracle", "dice-random", "few-shot"):
        assert (tmp_path / "results" / method / "unit.json").is_file()
