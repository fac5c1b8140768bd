"""The exact oracle against brute force on tables small enough to enumerate every admissible row."""

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from sensecf.data.constraints import allowed_ranges, changed, violations
from sensecf.data.dataset import Dataset
from sensecf.data.scales import FeatureScales
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle.encode import encode_model
from sensecf.models import train

SPEC = DatasetSpec.from_dict(
    {
        "target": "risk",
        "classes": {0: "low", 1: "high"},
        "desired_class": 0,
        "features": [
            {"name": "fixed", "kind": "integer", "bounds": [0, 4], "mutability": "fixed"},
            {"name": "up", "kind": "integer", "bounds": [0, 8], "mutability": "increase"},
            {"name": "down", "kind": "integer", "bounds": [1, 9], "mutability": "decrease"},
            {"name": "free", "bounds": [0, 4], "step": 0.5, "mutability": "both"},
            {
                "name": "code",
                "kind": "categorical",
                "levels": [0, 1, 2],
                "bounds": [0, 2],
                "mutability": "both",
            },
        ],
    }
)


def tiny_data(n: int = 400, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "fixed": rng.integers(0, 5, n).astype(float),
            "up": rng.integers(0, 9, n).astype(float),
            "down": rng.integers(0, 11, n).astype(float),  # data beyond the bounds [1, 9]
            "free": rng.integers(0, 9, n) / 2.0,
            "code": rng.integers(0, 3, n).astype(float),
        }
    )
    score = (
        3.0 * frame["fixed"]
        - 0.6 * frame["up"]
        + 0.5 * frame["down"]
        - 0.7 * (frame["free"] - 2) ** 2
        + 0.8 * (frame["code"] == 2)
        + rng.normal(0, 0.6, n)
    )
    frame["risk"] = (score > 3.5).astype(int)
    return Dataset(frame, SPEC)


ESTIMATORS = {
    "rf": RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0),
    "extra": ExtraTreesClassifier(n_estimators=10, max_depth=5, random_state=0),
    "tree": DecisionTreeClassifier(max_depth=5, random_state=0),
    "gb": GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
    "hgb": HistGradientBoostingClassifier(max_iter=15, max_depth=3, random_state=0),
    "logreg": "logreg",
}


def admissible_rows(query: np.ndarray) -> np.ndarray:
    """Every row a counterfactual of ``query`` may be: the query's value or a grain value in
    the allowed range within bounds, for every feature."""
    lo, hi = allowed_ranges(SPEC, query[None, :])
    values = []
    for j, feature in enumerate(SPEC.features):
        if feature.levels is not None:
            grid = np.asarray(feature.levels, dtype=float)
        else:
            grid = np.arange(feature.bounds[0], feature.bounds[1] + 1e-9, feature.step)
        grid = grid[
            (grid >= max(lo[0, j], feature.bounds[0])) & (grid <= min(hi[0, j], feature.bounds[1]))
        ]
        values.append(np.union1d(grid, [query[j]]))
    return np.array(list(itertools.product(*values)), dtype=float)


def brute_force(model, scale, query, desired=0):
    """Valid admissible rows with their L0 and MAD-L1, best (fewest changes, then L1) first."""
    rows = admissible_rows(query)
    rows = rows[model.predict(rows) == desired]
    l0 = changed(query, rows).sum(axis=1)
    l1 = (np.abs(rows - query) / scale).sum(axis=1)
    order = np.lexsort((l1, l0))
    return rows[order], l0[order], l1[order]


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def fitted(request):
    data = tiny_data()
    model = train(data, ESTIMATORS[request.param], seed=0, importance_repeats=1)
    train_rows, test_rows = model.split_data(data)
    oracle = Oracle(time_limit=60).fit(model, train_rows)
    return request.param, model, train_rows, data, oracle


def flagged_queries(model, data, limit=12):
    X = data.X.to_numpy(dtype=float)
    X = X[model.predict(X) == 1]
    X = X[np.unique(X, axis=0, return_index=True)[1]]
    rng = np.random.default_rng(1)
    return X[rng.choice(len(X), min(limit, len(X)), replace=False)]


def test_every_supported_model_is_encoded_exactly(fitted):
    _, model, train_rows, _, oracle = fitted
    assert oracle.path_ == "milp", oracle.unsupported_reason_
    encoding = encode_model(model, train_rows.X.to_numpy(dtype=float))
    X = admissible_rows(np.array([2.0, 0, 9, 0, 0]))
    np.testing.assert_allclose(
        encoding.link.proba(encoding.score(X)), model.proba_of(X, 1), atol=1e-7
    )


def test_minimum_matches_brute_force_and_is_certified(fitted):
    _, model, train_rows, data, oracle = fitted
    queries = flagged_queries(model, data)
    result = oracle.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=1)
    info = result.queries.set_index("query_id")
    scale = FeatureScales.from_reference(SPEC, train_rows.X.to_numpy(dtype=float)).scale
    seen = set()
    for i, query in enumerate(queries):
        rows, l0, l1 = brute_force(model, scale, query)
        if not len(rows):
            assert info.loc[i, "status"] == "infeasible"
            assert info.loc[i, "n_cfs"] == 0
            seen.add("infeasible")
            continue
        assert info.loc[i, "status"] == "optimal"
        assert bool(info.loc[i, "min_l0_certified"])
        assert info.loc[i, "min_l0"] == l0[0] == info.loc[i, "min_l0_bound"]
        cf = result.cfs[result.cfs["query_id"] == i][SPEC.feature_names].to_numpy(dtype=float)[0]
        got = (np.abs(cf - query) / scale).sum()
        assert got <= l1[0] * (1 + 1e-3) + 1e-9  # the smallest MAD-L1 among the fewest changes
        seen.add("optimal")
    assert result.validity == 1.0
    assert violations(SPEC, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    assert "optimal" in seen


def test_a_person_no_allowed_change_can_flip_is_certified_infeasible(fitted):
    _, model, _, data, oracle = fitted
    # The fixed feature dominates the risk: at its highest value nothing else can undo it.
    X = data.X.to_numpy(dtype=float)
    X = np.unique(X[(X[:, 0] == 4) & (model.predict(X) == 1)], axis=0)[:6]
    hopeless = np.array([not len(brute_force(model, np.ones(5), q)[0]) for q in X])
    assert hopeless.any()
    result = oracle.generate(pd.DataFrame(X, columns=SPEC.feature_names))
    status = result.queries["status"].to_numpy()
    assert (status[hopeless] == "infeasible").all() and (status[~hopeless] == "optimal").all()
    assert (result.queries["n_cfs"].to_numpy()[hopeless] == 0).all()
    assert np.isnan(result.queries["min_l0"].to_numpy()[hopeless]).all()


def test_k_solutions_are_distinct_and_each_best_among_new_feature_sets(fitted):
    _, model, train_rows, data, oracle = fitted
    scale = FeatureScales.from_reference(SPEC, train_rows.X.to_numpy(dtype=float)).scale
    queries = flagged_queries(model, data, limit=5)
    result = oracle.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=3)
    assert result.validity == 1.0
    assert violations(SPEC, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    for i, query in enumerate(queries):
        cfs = result.cfs[result.cfs["query_id"] == i][SPEC.feature_names].to_numpy(dtype=float)
        assert len(np.unique(cfs, axis=0)) == len(cfs)
        rows, l0, l1 = brute_force(model, scale, query)
        # At least as many as there are minimal sets of changed features, up to k.
        sets = np.unique(changed(query, rows), axis=0)
        minimal = [s for s in sets if not any((t <= s).all() and (t != s).any() for t in sets)]
        assert len(cfs) >= min(3, len(minimal))
        if len(cfs) < 2:
            continue
        first = changed(query, cfs[0])
        second = changed(query, cfs[1])
        assert not (second >= first).all() or (changed(query, rows) >= first).all()
        # The second is the best row whose changed set is not a superset of the first's.
        other = ~(changed(query, rows) >= first).all(axis=1)
        if other.any():
            best = np.flatnonzero(other)[0]
            assert second.sum() == l0[best]
            got = (np.abs(cfs[1] - query) / scale).sum()
            assert got <= l1[best] * (1 + 1e-3) + 1e-9


def test_threshold_and_margin_are_respected():
    data = tiny_data()
    model = train(data, ESTIMATORS["rf"], seed=0, importance_repeats=1)
    train_rows, _ = model.split_data(data)
    model.threshold = 0.35
    queries = flagged_queries(model, data, limit=6)
    frame = pd.DataFrame(queries, columns=SPEC.feature_names)
    plain = Oracle().fit(model, train_rows).generate(frame)
    margin = Oracle(margin=0.1).fit(model, train_rows).generate(frame)
    assert (plain.cfs["proba_desired"] > 0.65).all() and plain.validity == 1.0
    assert (margin.cfs["proba_desired"] >= 0.75 - 1e-9).all()
    # A margin can only make the fewest changes larger.
    both = plain.queries["min_l0"].fillna(99) <= margin.queries["min_l0"].fillna(99)
    assert both.all()


def test_the_desired_class_may_be_the_positive_one():
    data = tiny_data()
    model = train(data, ESTIMATORS["rf"], seed=0, importance_repeats=1)
    train_rows, _ = model.split_data(data)
    X = data.X.to_numpy(dtype=float)
    healthy = X[model.predict(X) == 0][:5]
    result = (
        Oracle()
        .fit(model, train_rows)
        .generate(pd.DataFrame(healthy, columns=SPEC.feature_names), desired_class=1)
    )
    answered = result.queries["status"] != "infeasible"
    assert result.validity == 1.0 and (result.queries.loc[answered, "n_cfs"] > 0).all()


def test_an_unsupported_model_falls_back_to_the_search_and_it_is_exact_on_small_grids():
    data = tiny_data()
    model = train(data, KNeighborsClassifier(n_neighbors=7), seed=0, importance_repeats=1)
    train_rows, _ = model.split_data(data)
    oracle = Oracle().fit(model, train_rows)
    assert oracle.path_ == "search" and "KNeighborsClassifier" in oracle.unsupported_reason_
    queries = flagged_queries(model, data, limit=6)
    result = oracle.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=2)
    info = result.queries
    assert (info["solver"] == "search").all()
    assert violations(SPEC, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    scale = np.ones(5)
    for i, query in enumerate(queries):
        rows, l0, _ = brute_force(model, scale, query)
        # Every feature here has few admissible values, so the search enumerates them all.
        if len(rows):
            assert info.loc[i, "status"] == "optimal" and info.loc[i, "min_l0"] == l0[0]
            assert bool(info.loc[i, "min_l0_certified"])
        else:
            assert info.loc[i, "status"] == "infeasible"


def test_method_forces_a_path():
    data = tiny_data()
    knn = train(data, KNeighborsClassifier(), seed=0, importance_repeats=1)
    train_rows, _ = knn.split_data(data)
    with pytest.raises(SensecfError, match="cannot encode"):
        Oracle(method="exact").fit(knn, train_rows)
    rf = train(data, ESTIMATORS["rf"], seed=0, importance_repeats=1)
    assert Oracle(method="search").fit(rf, train_rows).path_ == "search"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("method", "fast", "`method` must be one of"),
        ("time_limit", 0, "`time_limit` must be a positive number"),
        ("margin", -0.1, "`margin` must be a non-negative number"),
        ("beam_width", 0, "`beam_width` must be an integer"),
    ],
)
def test_new_options_are_validated_when_fitting(option, value, message):
    data = tiny_data(n=60)
    model = train(data, "logreg", seed=0, importance_repeats=1)
    oracle = Oracle(**{option: value})
    assert oracle.get_params()[option] == value  # stored as given
    with pytest.raises(ValueError, match=message):
        oracle.fit(model, data)
