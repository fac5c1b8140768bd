"""The oracle's search for models without an exact encoding, and its batched neighbour stage."""

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensecf.data.constraints import changed, violations
from sensecf.data.scales import FeatureScales
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle.search import neighbour_candidates
from sensecf.models import train


@pytest.fixture(scope="module")
def mlp(toy):
    model = train(
        toy.data,
        make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, random_state=0)
        ),
        seed=0,
        importance_repeats=1,
    )
    train_rows, test_rows = model.split_data(toy.data)
    return model, train_rows, test_rows


def test_an_mlp_is_searched_and_its_answers_are_honest(mlp):
    model, train_rows, test_rows = mlp
    oracle = Oracle(time_limit=30).fit(model, train_rows)
    assert oracle.path_ == "search" and "has no exact encoding" in oracle.unsupported_reason_
    queries = select_queries(model, test_rows, limit=6, seed=0)
    assert len(queries) == 6
    result = oracle.generate(queries, n_cfs=2)
    info = result.queries
    assert result.validity == 1.0
    assert violations(model.spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    assert (info["solver"] == "search").all()
    # Continuous features are searched on a grid: nothing is certified, optimal means "on it".
    assert not info["min_l0_certified"].any()
    assert set(info["status"]) <= {"optimal", "feasible", "not_found", "time_limit"}
    has = info["n_cfs"] > 0
    assert (info.loc[has, "status"].isin(["optimal", "feasible"])).all()
    l0 = changed(result.query_matrix(), result.cf_matrix()).sum(axis=1)
    best = result.cfs.assign(l0=l0).groupby("query_id")["l0"].min()
    assert (best == info.set_index("query_id").loc[best.index, "min_l0"]).all()


class EveryHabit:
    """Low risk only with long sleep, many steps, a low heart rate and no smoking."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        met = [X[:, 1] >= 480, X[:, 2] >= 10000, X[:, 3] <= 65, X[:, 4] == 0]
        habits = np.sum(met, axis=0)
        low = np.where(habits == 4, 0.9, 0.1 * habits)  # each habit helps, all four flip it
        return np.column_stack([low, 1 - low])


@pytest.mark.parametrize(("max_rows", "status"), [(200_000, "optimal"), (500, "feasible")])
def test_the_search_goes_beyond_three_changes(toy, max_rows, status):
    """Four changes are needed; found exhaustively, or by the beam when the budget is small."""
    model = EveryHabit()
    reference = toy.train.subset(model.predict_proba(toy.train.X)[:, 0] < 0.5)  # no neighbours
    oracle = Oracle(max_rows=max_rows).fit(model, reference)
    assert oracle.path_ == "search"
    query = pd.DataFrame(
        [[50, 400.0, 5000, 75.0, 1, 0]], columns=["age", "sleep", "steps", "hr", "smoker", "shift"]
    )
    result = oracle.generate(query, n_cfs=1)
    info = result.queries.iloc[0]
    assert (info["status"], info["min_l0"], info["n_cfs"]) == (status, 4, 1)
    assert result.validity == 1.0
    assert violations(toy.model.spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0


def test_neighbour_stage_is_one_batch_for_all_queries(toy):
    model, spec = toy.model, toy.model.spec
    X = toy.train.X.to_numpy(dtype=float)
    pool = X[model.predict(X) == 0]
    queries = select_queries(model, toy.test, limit=5, seed=0).X.to_numpy(dtype=float)
    scale = FeatureScales.from_reference(spec, X).scale
    calls = []
    original = type(model).predict_with_proba

    def counting(self, rows, cls):
        calls.append(len(rows))
        return original(self, rows, cls)

    type(model).predict_with_proba = counting
    try:
        found = neighbour_candidates(model, spec, scale, pool, queries, 0, neighbors=3)
    finally:
        type(model).predict_with_proba = original
    assert len(found) == len(queries)
    assert calls[0] == len(queries) * min(len(pool), 40)  # every query's neighbours in one call
    for query, rows in zip(queries, found, strict=True):
        assert 0 < len(rows) <= 3
        assert (model.predict(rows) == 0).all()
        assert violations(spec, np.broadcast_to(query, rows.shape), rows)["total"].sum() == 0
