"""The oracle on queries with missing features: a missing value stays missing in every
counterfactual, and the program follows the classifier's own missing-value branch exactly,
checked against brute force on models trained on data with gaps."""

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from test_oracle_exact import SPEC, tiny_data

from sensecf.data.constraints import allowed_ranges, changed, violations
from sensecf.data.dataset import Dataset
from sensecf.data.scales import FeatureScales
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle.encode import encode_model, verify, with_gaps
from sensecf.generators.oracle.encoding import UnsupportedModel, read_preprocessing
from sensecf.models import TrainedClassifier, train

NAMES = SPEC.feature_names


def gappy_data(n: int = 400, seed: int = 0) -> Dataset:
    """The tiny task with gaps: 'up' missing for a fifth of the rows, 'free' and 'code' together
    for some, 'fixed' and 'down' here and there."""
    data = tiny_data(n, seed)
    rng = np.random.default_rng(seed + 10)
    frame = data.frame.copy()
    frame.loc[rng.random(n) < 0.2, "up"] = np.nan
    frame.loc[rng.random(n) < 0.15, ["free", "code"]] = np.nan
    frame.loc[rng.random(n) < 0.1, "fixed"] = np.nan
    frame.loc[rng.random(n) < 0.1, "down"] = np.nan
    return Dataset(frame, SPEC)


def forest_behind_an_imputer(data: Dataset) -> TrainedClassifier:
    """A model as earlier versions saved them: the median imputer in front of the forest."""
    pipeline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("model", RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0)),
        ]
    ).fit(data.X, data.y)
    return TrainedClassifier(SPEC, pipeline, estimator_name="rf")


MODELS = {
    "forest": RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0),
    "hgb": HistGradientBoostingClassifier(max_iter=8, max_depth=3, random_state=0),
    "logreg": "logreg",
}


def admissible_rows(query: np.ndarray) -> np.ndarray:
    """Every row a counterfactual of ``query`` may be (a missing feature stays missing)."""
    lo, hi = allowed_ranges(SPEC, query[None, :])
    values = []
    for j, feature in enumerate(SPEC.features):
        if np.isnan(query[j]):
            values.append(np.array([np.nan]))
            continue
        if feature.levels is not None:
            grid = np.asarray(feature.levels, dtype=float)
        else:
            grid = np.arange(feature.bounds[0], feature.bounds[1] + 1e-9, feature.step)
        low, high = max(lo[0, j], feature.bounds[0]), min(hi[0, j], feature.bounds[1])
        values.append(np.union1d(grid[(grid >= low) & (grid <= high)], [query[j]]))
    return np.array(list(itertools.product(*values)), dtype=float)


def brute_force(model, scale, query, desired=0):
    """Valid admissible rows with their L0 and MAD-L1, best (fewest changes, then L1) first."""
    rows = admissible_rows(query)
    rows = rows[model.predict(rows) == desired]
    l0 = changed(query, rows).sum(axis=1)
    l1 = np.nansum(np.abs(rows - query) / scale, axis=1)
    order = np.lexsort((l1, l0))
    return rows[order], l0[order], l1[order]


def gappy_queries(model, data, limit=10):
    """Flagged rows of the data that have gaps, and flagged complete rows with gaps made."""
    X = data.X.to_numpy(dtype=float)
    own = X[np.isnan(X).any(axis=1)]
    made = with_gaps(X[np.isfinite(X).all(axis=1)][:60])
    Q = np.vstack([own, made])
    Q = Q[model.predict(Q) == 1]
    Q = pd.DataFrame(Q).drop_duplicates().to_numpy()
    rng = np.random.default_rng(3)
    return Q[rng.choice(len(Q), min(limit, len(Q)), replace=False)]


@pytest.fixture(scope="module", params=[*MODELS, "forest behind an imputer", "complete data"])
def fitted(request):
    data = gappy_data()
    if request.param == "forest behind an imputer":
        model = forest_behind_an_imputer(data)
        train_rows = data
    elif request.param == "complete data":  # never missing in training: the larger child
        complete = tiny_data()
        model = train(complete, MODELS["forest"], seed=0, importance_repeats=1)
        train_rows, _ = model.split_data(complete)
    else:
        model = train(data, MODELS[request.param], seed=0, importance_repeats=1)
        train_rows, _ = model.split_data(data)
    oracle = Oracle(time_limit=60).fit(model, train_rows)
    return request.param, model, train_rows, data, oracle


def test_the_program_matches_brute_force_and_missing_values_stay_missing(fitted):
    name, model, train_rows, data, oracle = fitted
    assert oracle.path_ == "milp", oracle.unsupported_reason_
    queries = gappy_queries(model, data, limit=30)
    assert np.isnan(queries).any(axis=1).all()
    result = oracle.generate(pd.DataFrame(queries, columns=NAMES), n_cfs=2)
    info = result.queries.set_index("query_id")
    assert (info["solver"] == "milp").all()
    scale = FeatureScales.from_reference(SPEC, train_rows.X.to_numpy(dtype=float)).scale
    seen = set()
    for i, query in enumerate(queries):
        rows, l0, l1 = brute_force(model, scale, query)
        cfs = result.cfs[result.cfs["query_id"] == i][NAMES].to_numpy(dtype=float)
        # No counterfactual gives a missing feature a value.
        assert np.isnan(cfs[:, np.isnan(query)]).all()
        if not len(rows):
            assert info.loc[i, "status"] == "infeasible" and not len(cfs)
            seen.add("infeasible")
            continue
        assert info.loc[i, "status"] == "optimal", (name, query)
        assert bool(info.loc[i, "min_l0_certified"])
        assert info.loc[i, "min_l0"] == l0[0] == info.loc[i, "min_l0_bound"]
        got = np.nansum(np.abs(cfs[0] - query) / scale)
        assert got <= l1[0] * (1 + 1e-3) + 1e-9  # the smallest MAD-L1 among the fewest changes
        seen.add("optimal")
    assert result.validity == 1.0
    assert violations(SPEC, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    assert "optimal" in seen


def test_the_encoding_is_verified_on_rows_with_gaps(fitted):
    name, model, train_rows, data, _ = fitted
    reference = train_rows.X.to_numpy(dtype=float)
    encoding = encode_model(model, reference)
    rows = with_gaps(data.X.to_numpy(dtype=float)[:100])
    rows = np.vstack([rows, data.X.to_numpy(dtype=float)])
    np.testing.assert_allclose(
        encoding.link.proba(encoding.score(rows)), model.proba_of(rows, 1), atol=1e-7
    )
    if hasattr(encoding, "missing_left") and encoding.preprocessing.steps is None:
        # The verification catches a missing-value branch read the wrong way round.
        wrong = replace(encoding, missing_left=~encoding.missing_left)
        with pytest.raises(UnsupportedModel, match="missing values"):
            verify(wrong, model, reference)


def test_the_preprocessing_says_what_a_missing_value_becomes():
    data = gappy_data()
    reference = data.X.to_numpy(dtype=float)
    assert np.isnan(reference).any()
    forest = train(data, MODELS["forest"], seed=0, importance_repeats=1)
    native = read_preprocessing(forest, reference)
    assert native.steps is None and np.isnan(native.missing).all()
    logreg = train(data, "logreg", seed=0, importance_repeats=1)
    imputed = read_preprocessing(logreg, reference)
    medians = logreg.pipeline_.named_steps["impute"].statistics_
    np.testing.assert_allclose(imputed.missing, imputed.slope * medians + imputed.shift)
    # Every reference row has a gap: the affine check still runs, on each value.
    gappy = with_gaps(reference[np.isfinite(reference).all(axis=1)])
    assert read_preprocessing(logreg, gappy).missing == pytest.approx(imputed.missing)


def test_the_search_keeps_missing_values_missing():
    data = gappy_data()
    model = train(data, MODELS["forest"], seed=0, importance_repeats=1)
    train_rows, _ = model.split_data(data)
    queries = gappy_queries(model, data, limit=6)
    result = (
        Oracle(method="search")
        .fit(model, train_rows)
        .generate(pd.DataFrame(queries, columns=NAMES), n_cfs=2)
    )
    assert (result.queries["solver"] == "search").all()
    assert result.validity == 1.0
    for i, query in enumerate(queries):
        cfs = result.cfs[result.cfs["query_id"] == i][NAMES].to_numpy(dtype=float)
        assert np.isnan(cfs[:, np.isnan(query)]).all()
    assert violations(SPEC, result.query_matrix(), result.cf_matrix())["total"].sum() == 0


def test_relations_with_a_missing_feature():
    """A missing feature outside the relations leaves the program exact; one a relation reads
    sends that query to the search (the relation's rows need its value)."""
    from test_oracle_relations import _brute_force_min_l0, _data

    data = _data()
    frame = data.frame.copy()
    frame.loc[frame.index % 6 == 0, "age"] = np.nan
    data = Dataset(frame, data.spec)
    spec = data.spec
    model = train(data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 20})
    oracle = Oracle(time_limit=8).fit(model, data)
    assert oracle.path_ == "milp"
    X = data.X.to_numpy(dtype=float)
    flagged = X[model.predict(X) == 1]
    no_age = flagged[np.isnan(flagged[:, 0])][:5]
    no_deep = flagged[~np.isnan(flagged[:, 0])][:2].copy()
    no_deep[:, [spec.feature_names.index(n) for n in ("deep", "total", "efficiency")]] = np.nan
    queries = np.vstack([no_age, no_deep])
    result = oracle.generate(pd.DataFrame(queries, columns=spec.feature_names), n_cfs=2)
    info = result.queries.set_index("query_id")
    solvers = info["solver"].to_numpy()
    assert (solvers[: len(no_age)] == "milp").all() and (solvers[len(no_age) :] == "search").all()
    for i, query in enumerate(queries):
        cfs = result.cfs[result.cfs["query_id"] == i][spec.feature_names].to_numpy(dtype=float)
        assert np.isnan(cfs[:, np.isnan(query)]).all()
        if i < len(no_age) and info.loc[i, "min_l0_certified"]:
            assert info.loc[i, "min_l0"] == _brute_force_min_l0(model, spec, query, 0)
    assert (info["min_l0_certified"].to_numpy()[: len(no_age)]).any()
    assert violations(spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    assert result.validity == 1.0
