"""The metric suite and the benchmark read the oracle's certificate: certified minimum,
certified-infeasible queries, and coverage against the feasible ones."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.evaluation.benchmark import coverage_lines, feasibility_line
from sensecf.evaluation.metrics import MetricSuite
from sensecf.generators import CounterfactualResult
from sensecf.generators.oracle import Oracle
from sensecf.models import train


class Toy:
    def __init__(self):
        rng = np.random.default_rng(0)
        n = 200
        frame = pd.DataFrame(
            {"age": rng.integers(20, 80, n).astype(float), "steps": rng.integers(0, 20, n) * 500.0}
        )
        frame["risk"] = (
            (frame["age"] / 20 - frame["steps"] / 2500 + rng.normal(0, 0.5, n)) > 0
        ).astype(int)
        spec = DatasetSpec.from_dict(
            {
                "target": "risk",
                "classes": {0: "low", 1: "high"},
                "desired_class": 0,
                "features": [
                    {"name": "age", "kind": "integer", "bounds": [18, 90], "mutability": "fixed"},
                    {
                        "name": "steps",
                        "kind": "integer",
                        "bounds": [0, 30000],
                        "mutability": "increase",
                    },
                ],
            }
        )
        self.model = train(Dataset(frame, spec), "logreg", seed=0, importance_repeats=1)
        self.train, self.test = self.model.split_data(Dataset(frame, spec))


@pytest.fixture(scope="module")
def setting():
    toy = Toy()
    X = toy.test.X.to_numpy(dtype=float)
    flagged = X[toy.model.predict(X) == 1][:4]
    queries = pd.DataFrame(flagged, columns=toy.model.feature_names)
    oracle = Oracle().fit(toy.model, toy.train).generate(queries)
    # Pretend the last query was proven infeasible, to see how it is counted.
    info = oracle.queries.copy()
    info.loc[3, ["status", "min_l0", "min_l0_certified", "n_cfs"]] = [
        "infeasible",
        np.nan,
        False,
        0,
    ]
    oracle = CounterfactualResult(
        "oracle", 0, oracle.spec, info, oracle.cfs[oracle.cfs["query_id"] != 3]
    )
    # A method that copies the oracle's answers but breaks a fixed feature on query 0.
    cfs = oracle.cfs.copy()
    cfs.loc[cfs["query_id"] == 0, "age"] += 5
    other = CounterfactualResult(
        "other", 0, oracle.spec, info.drop(columns="status"), cfs.assign(method="other")
    )
    return toy, oracle, other


def test_query_table_says_which_minimum_is_certified_and_which_query_is_infeasible(setting):
    toy, oracle, _ = setting
    table = MetricSuite().fit(toy.model, toy.train).score_queries(oracle, min_l0=oracle)
    assert table["min_l0_status"].tolist() == ["certified"] * 3 + ["infeasible"]
    assert table["min_l0"].iloc[:3].tolist() == oracle.queries["min_l0"].iloc[:3].tolist()
    assert table["clean_valid"].tolist() == [True, True, True, False]


def test_coverage_is_counted_against_feasible_queries(setting):
    toy, oracle, other = setting
    suite = MetricSuite().fit(toy.model, toy.train)
    mine = suite.summarise(oracle, min_l0=oracle).iloc[0]
    theirs = suite.summarise(other, min_l0=oracle).iloc[0]
    assert (mine["n_feasible"], mine["n_certified_infeasible"], mine["covered_feasible"]) == (
        3,
        1,
        3,
    )
    assert mine["feasible_coverage"] == 1.0 and mine["n_min_l0_certified"] == 3
    assert theirs["covered_feasible"] == 2  # its CF for query 0 changes a fixed feature
    lines = coverage_lines(
        pd.concat([suite.summarise(oracle, min_l0=oracle), suite.summarise(other, min_l0=oracle)])
    )
    assert lines == [
        "oracle: covered 3 of 3 feasible, 1 certified infeasible",
        "other: covered 2 of 3 feasible, 1 certified infeasible",
    ]
    assert feasibility_line(oracle.queries).startswith(
        "oracle: 3 of 4 queries feasible, 1 certified"
    )


def test_without_an_oracle_nothing_is_claimed(setting):
    toy, _, other = setting
    row = MetricSuite().fit(toy.model, toy.train).summarise(other).iloc[0]
    assert row["n_certified_infeasible"] == 0 and row["n_feasible"] == row["n_queries"]
    assert row["n_min_l0_certified"] == 0
