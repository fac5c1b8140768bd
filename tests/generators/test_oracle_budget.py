"""The oracle's budget is counted work: the same query gets the same answer on an idle and on a
busy machine, a small budget gives a weaker answer every time, and a seconds limit, where one
is asked for, still stops it and is recorded."""

import multiprocessing

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle import generator as oracle_generator
from sensecf.models import train


def _burn(stop) -> None:
    """Keep one core busy until told to stop."""
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x = (x * 31 + 7) % 1_000_003


def _answers(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The query table and the counterfactual rows, without the seconds they took."""
    return (
        result.queries.drop(columns=["solve_seconds", "seconds"], errors="ignore").reset_index(
            drop=True
        ),
        result.cfs.drop(columns="seconds").reset_index(drop=True),
    )


@pytest.mark.parametrize("method", ["auto", "search"])
def test_answers_are_the_same_idle_and_with_every_core_busy(toy, method):
    queries = select_queries(toy.model, toy.test, limit=6, seed=3)
    oracle = Oracle(method=method).fit(toy.model, toy.train)
    _same_idle_and_busy(oracle, queries)


def test_a_forests_answers_are_the_same_idle_and_with_every_core_busy():
    # A forest over ten features: its programs are split by support (see .supports).
    model, data, _ = _deep_forest()
    queries = select_queries(model, data, limit=4, seed=1)
    _same_idle_and_busy(Oracle().fit(model, data), queries)


def _same_idle_and_busy(oracle: Oracle, queries: Dataset) -> None:
    """The oracle's answers twice idle and once with a busy process on every core."""
    idle = _answers(oracle.generate(queries, n_cfs=3))
    again = _answers(oracle.generate(queries, n_cfs=3))
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burners = [context.Process(target=_burn, args=(stop,), daemon=True) for _ in range(2)]
    for burner in burners:
        burner.start()
    try:
        busy = _answers(oracle.generate(queries, n_cfs=3))
    finally:
        stop.set()
        for burner in burners:
            burner.join(timeout=10)
    for other in (again, busy):
        pd.testing.assert_frame_equal(other[0], idle[0])
        pd.testing.assert_frame_equal(other[1], idle[1])
    assert set(idle[0]["budget"]) == {"work"}


def _flagged_only(toy) -> Dataset:
    """Reference rows the model flags: no neighbours, so only the search itself answers."""
    return toy.train.subset(toy.model.predict(toy.train.X) == 1)


def test_a_small_search_budget_gives_the_same_weaker_answer_every_time(toy):
    queries = select_queries(toy.model, toy.test, limit=4, seed=0)
    reference = _flagged_only(toy)
    full = Oracle(method="search").fit(toy.model, reference).generate(queries).queries
    assert set(full["status"]) == {"optimal"}
    small = Oracle(method="search", max_candidates=1).fit(toy.model, reference)
    runs = [_answers(small.generate(queries)) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0])
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
    # No subset size fits one row and there are no neighbours: the budget ran out empty.
    assert set(runs[0][0]["status"]) == {"time_limit"}
    assert set(runs[0][0]["budget"]) == {"work"}
    assert runs[0][1].empty


def _deep_forest() -> tuple:
    """A forest whose program for one query needs about a hundred branch-and-bound nodes."""
    rng = np.random.default_rng(0)
    d, n = 10, 600
    X = rng.normal(0, 1, (n, d)).clip(-1.2, 4).round(2)
    y = (X @ rng.uniform(0.5, 1.5, d) + rng.normal(0, 0.3, n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(d)]).assign(y=y)
    spec = DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name=f"f{j}", bounds=(-1.2, 4), step=0.01, mutability="both")
            for j in range(d)
        ],
    )
    data = Dataset(frame, spec)
    model = train(
        data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 60, "max_depth": 8}
    )
    queries = select_queries(model, data, limit=6, seed=0)
    return model, data, queries.subset(np.arange(len(queries.X)) == 5)


@pytest.mark.slow
def test_a_small_node_limit_leaves_the_minimum_bounded_every_time(monkeypatch):
    model, data, query = _deep_forest()
    # The whole program, as for a query with too many supports to split it by support (split,
    # each support's program closes at its root and one node proves the minimum).
    monkeypatch.setattr(oracle_generator, "MAX_SUPPORTS", 0)
    # No seconds cap: on a busy machine the root of the whole program alone can pass it.
    oracle = Oracle(node_limit=1, margin=0.3, time_limit=None).fit(model, data)
    runs = [_answers(oracle.generate(query)) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0])
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
    row = runs[0][0].iloc[0]
    # With enough nodes the program proves 3 changes; one node finds them but proves only 2.
    assert (row["status"], row["min_l0"], row["min_l0_bound"]) == ("feasible", 3.0, 2.0)
    assert row["budget"] == "work"


def test_a_seconds_limit_still_stops_the_oracle_and_is_recorded(toy):
    queries = select_queries(toy.model, toy.test, limit=3, seed=0)
    reference = _flagged_only(toy)
    oracle = Oracle(method="search", time_limit=1e-9).fit(toy.model, reference)
    assert oracle.get_params()["time_limit"] == 1e-9
    info = oracle.generate(queries).queries
    # The deadline has passed before the first subset size, and there are no neighbours.
    assert set(info["budget"]) == {"seconds"}
    assert set(info["status"]) == {"time_limit"}
    unlimited = Oracle(method="search").fit(toy.model, reference).generate(queries).queries
    assert set(unlimited["budget"]) == {"work"}
    assert set(unlimited["status"]) == {"optimal"}


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("node_limit", 0, "`node_limit` must be an integer ≥ 1; got 0"),
        ("node_limit", 2.5, "`node_limit` must be an integer ≥ 1; got 2.5"),
        ("max_candidates", None, "`max_candidates` must be an integer ≥ 1; got None"),
        ("time_limit", -1.0, "`time_limit` must be a positive number of seconds or None"),
        ("max_support_solves", 0, "`max_support_solves` must be an integer ≥ 1; got 0"),
        ("programs", "whole", "`programs` must be one of \\['auto', 'supports'\\]; got 'whole'"),
    ],
)
def test_budget_options_are_validated(toy, option, value, message):
    with pytest.raises(ValueError, match=message):
        Oracle(**{option: value}).fit(toy.model, toy.train)
