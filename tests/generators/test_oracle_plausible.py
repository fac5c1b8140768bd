"""The oracle held to plausibility: the detector's trees in the program, against brute force."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from test_oracle_exact import SPEC, admissible_rows, flagged_queries, tiny_data

from sensecf.data.constraints import changed, violations
from sensecf.data.scales import FeatureScales
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle.isolation import read_isolation_forest, verify_detector
from sensecf.generators.registry import make_generator
from sensecf.models import train
from sensecf.models.plausibility import PlausibilityDetector, Standardiser


@pytest.fixture(scope="module", params=["rf", "gb"])
def fitted(request):
    data = tiny_data()
    estimator = (
        RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
        if request.param == "rf"
        else GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0)
    )
    model = train(data, estimator, seed=0, importance_repeats=1)
    # Half the held-out real rows outliers: a detector strict enough to cost changes.
    train_rows, detector = low_risk_detector(model, data, inlier_rate=0.5)
    oracle = Oracle(plausibility="iforest", detector=detector, time_limit=60).fit(model, train_rows)
    return model, train_rows, data, detector, oracle


def low_risk_detector(model, data, inlier_rate):
    """The model's training rows, and a small detector on their low-risk rows calibrated on the
    held-out low-risk rows at ``inlier_rate``."""
    train_rows, test_rows = model.split_data(data)
    X = train_rows.X.to_numpy(dtype=float)
    held = test_rows.X.to_numpy(dtype=float)[test_rows.y.to_numpy() == 0]
    detector = PlausibilityDetector(n_estimators=12, seed=3, inlier_rate=inlier_rate).fit(
        Standardiser.for_spec(SPEC, X), X[train_rows.y.to_numpy() == 0], held
    )
    return train_rows, detector


def test_the_encoded_detector_reproduces_score_samples(fitted):
    _, train_rows, _, detector, _ = fitted
    rng = np.random.default_rng(0)
    lo = np.array([f.bounds[0] for f in SPEC.features], dtype=float)
    hi = np.array([f.bounds[1] for f in SPEC.features], dtype=float)
    points = lo + rng.random((3000, len(lo))) * (hi - lo) * 1.4 - 0.2 * (hi - lo)
    points[rng.random(points.shape) < 0.05] = np.nan  # missing values: the median
    trees = read_isolation_forest(detector)
    mine = -(2.0 ** -trees.score(points))
    np.testing.assert_allclose(mine, detector.iforest_scores(points), rtol=0, atol=1e-9)
    assert verify_detector(trees, detector, train_rows.X.to_numpy(dtype=float)) <= 1e-9
    # The inlier rule as a linear bound on the summed path lengths.
    inside = trees.score(points) >= detector.path_length_bound()
    np.testing.assert_array_equal(inside, detector.inliers(points))


def test_plausible_minimum_matches_brute_force_over_inliers(fitted):
    model, train_rows, data, detector, oracle = fitted
    queries = flagged_queries(model, data, limit=10)
    result = oracle.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=2)
    assert result.method == "oracle-plausible"
    info = result.queries.set_index("query_id")
    scale = FeatureScales.from_reference(SPEC, train_rows.X.to_numpy(dtype=float)).scale
    seen = set()
    for i, query in enumerate(queries):
        rows = admissible_rows(query)
        rows = rows[(model.predict(rows) == 0) & detector.inliers(rows)]
        if not len(rows):
            assert info.loc[i, "status"] == "infeasible", i
            assert info.loc[i, "n_cfs"] == 0
            seen.add("infeasible")
            continue
        l0 = changed(query, rows).sum(axis=1)
        l1 = (np.abs(rows - query) / scale).sum(axis=1)
        best = l0.min()
        assert info.loc[i, "status"] == "optimal", i
        assert bool(info.loc[i, "min_l0_certified"])
        assert info.loc[i, "min_l0"] == best == info.loc[i, "min_l0_bound"]
        cf = result.cfs[result.cfs["query_id"] == i][SPEC.feature_names].to_numpy(dtype=float)
        got = (np.abs(cf[0] - query) / scale).sum()
        assert got <= l1[l0 == best].min() * (1 + 1e-3) + 1e-9
        seen.add("optimal")
    cfs = result.cf_matrix()
    assert detector.inliers(cfs).all() and result.validity == 1.0
    assert violations(SPEC, result.query_matrix(), cfs)["total"].sum() == 0
    assert "optimal" in seen
    # Plausibility has a price here: some person needs more changes than without it.
    plain = Oracle(time_limit=60).fit(model, train_rows)
    plain = plain.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=1)
    more = info["min_l0"].to_numpy() > plain.queries.set_index("query_id")["min_l0"].to_numpy()
    assert more.any()


def test_the_search_path_filters_by_the_same_detector(fitted):
    model, train_rows, data, detector, exact = fitted
    queries = pd.DataFrame(flagged_queries(model, data, limit=10), columns=SPEC.feature_names)
    oracle = Oracle(method="search", plausibility="iforest", detector=detector)
    result = oracle.fit(model, train_rows).generate(queries, n_cfs=2)
    assert len(result.cfs) and detector.inliers(result.cf_matrix()).all()
    # On a grid this small the search is exhaustive: the same plausible minimum.
    found = result.queries["min_l0"].to_numpy()
    proven = exact.generate(queries, n_cfs=1).queries["min_l0"].to_numpy()
    np.testing.assert_array_equal(found, proven)


def test_options_and_name():
    oracle = make_generator("oracle-plausible", detector_trees=20, inlier_rate=0.9)
    assert oracle.name == "oracle-plausible" and oracle.plausibility == "iforest"
    assert make_generator("oracle").name == "oracle"
    with pytest.raises(Exception, match="plausibility"):
        make_generator("oracle", plausibility="lof")
    with pytest.raises(Exception, match="inlier_rate"):
        make_generator("oracle-plausible", inlier_rate=2.0)


def test_a_stricter_bar_holds_the_answers_while_the_shared_detector_stays(fitted):
    model, train_rows, data, detector, _ = fitted
    queries = pd.DataFrame(flagged_queries(model, data, limit=10), columns=SPEC.feature_names)
    threshold = detector.iforest_threshold_
    strict = Oracle(plausibility="iforest", detector=detector, held_rate=0.3, time_limit=60)
    result = strict.fit(model, train_rows).generate(queries, n_cfs=2)
    assert detector.iforest_threshold_ == threshold  # the suite's detector is not changed
    bar = detector.held_at(0.3)
    cfs = result.cf_matrix()
    assert len(cfs) and bar.inliers(cfs).all() and result.validity == 1.0
    # A stricter bar costs changes where it binds, never saves any.
    usual = Oracle(plausibility="iforest", detector=detector, time_limit=60).fit(model, train_rows)
    usual = usual.generate(queries, n_cfs=1).queries.set_index("query_id")
    mine = result.queries.set_index("query_id")
    both = mine["status"].eq("optimal") & usual["status"].eq("optimal")
    assert both.any()
    assert (mine.loc[both, "min_l0"] >= usual.loc[both, "min_l0"]).all()
    with pytest.raises(Exception, match="held_rate"):
        make_generator("oracle-plausible", held_rate=0.0)
