"""Effort costs in the oracle's objective: a cheaper change wins among equals, or outright."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from sensecf.data.constraints import changed
from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators.oracle import Oracle
from sensecf.models import TrainedClassifier


def _task(costs: dict[str, dict[str, float]]) -> tuple[TrainedClassifier, Dataset]:
    """Risk unless a ≥ 5 or b + c ≥ 10 (b and c at most 6 each): one change of a, or two of
    b and c, clears it."""
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "pid": np.arange(n),
            "a": rng.integers(0, 10, n).astype(float),
            "b": rng.integers(0, 7, n).astype(float),
            "c": rng.integers(0, 7, n).astype(float),
        }
    )
    frame["risk"] = ((frame["a"] < 5) & (frame["b"] + frame["c"] < 10)).astype(int)
    spec = DatasetSpec(
        target="risk",
        classes={0: "low", 1: "high"},
        desired_class=0,
        id_columns=("pid",),
        features=tuple(
            FeatureSpec(name=n, kind="integer", bounds=hi, mutability="increase", cost=costs.get(n))
            for n, hi in (("a", (0, 9)), ("b", (0, 6)), ("c", (0, 6)))
        ),
    )
    data = Dataset(frame, spec)
    forest = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0)
    forest.fit(frame[["a", "b", "c"]], frame["risk"])
    return TrainedClassifier(spec, forest), data


def _moved(oracle: Oracle, data: Dataset, query: list[float]) -> list[str]:
    queries = pd.DataFrame({"pid": [-1], "a": [query[0]], "b": [query[1]], "c": [query[2]]})
    result = oracle.generate(queries)
    assert result.validity == 1.0
    row = result.cf_matrix()[0]
    return [
        n for n, m in zip(data.spec.feature_names, changed(np.array(query), row), strict=True) if m
    ]


def test_costs_pick_the_cheaper_of_two_single_changes():
    # Risk unless a ≥ 5 or b ≥ 4 once c is 6: a or b alone clears it.
    for dear, cheap in (("a", "b"), ("b", "a")):
        model, data = _task({dear: {"fixed": 5.0}, cheap: {"per_unit": 0.1}})
        oracle = Oracle(method="exact").fit(model, data)
        assert _moved(oracle, data, [2.0, 2.0, 6.0]) == [cheap]


def test_cost_objective_takes_two_cheap_changes_over_one_dear_one():
    model, data = _task({"a": {"fixed": 100.0}, "b": {"fixed": 1.0}, "c": {"fixed": 1.0}})
    fewest = Oracle(method="exact").fit(model, data)
    cheapest = Oracle(method="exact", objective="cost").fit(model, data)
    assert _moved(fewest, data, [2.0, 3.0, 3.0]) == ["a"]
    assert _moved(cheapest, data, [2.0, 3.0, 3.0]) == ["b", "c"]
    result = cheapest.generate(pd.DataFrame({"pid": [-1], "a": [2.0], "b": [3.0], "c": [3.0]}))
    assert result.queries["status"].iloc[0] == "feasible"  # the cheapest is proven, not the fewest
    assert not result.queries["min_l0_certified"].iloc[0]


def test_objective_is_checked():
    with pytest.raises(ValueError, match="`objective` must be one of"):
        Oracle(objective="effort")._validate_params()
