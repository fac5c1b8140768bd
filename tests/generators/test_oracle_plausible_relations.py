"""The oracle held to plausibility under relations: the program split by support (derived
features following each support's features) agrees with brute force over the inliers."""

import numpy as np
import pytest
from test_oracle_relations import INPUTS, _admissible, _data

from sensecf.data.constraints import count_changes, recompute
from sensecf.data.scales import FeatureScales
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle import supports as supports_module
from sensecf.models import train
from sensecf.models.plausibility import PlausibilityDetector, Standardiser


@pytest.fixture(scope="module")
def fitted():
    data = _data()
    model = train(data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 40})
    train_rows, test_rows = model.split_data(data)
    spec = model.spec
    X = train_rows.X.to_numpy(dtype=float)
    held = test_rows.X.to_numpy(dtype=float)[test_rows.y.to_numpy() == 0]
    # Strict (half the held-out real rows outliers), so that plausibility costs changes.
    detector = PlausibilityDetector(n_estimators=15, seed=2, inlier_rate=0.5).fit(
        Standardiser.for_spec(spec, X), X[train_rows.y.to_numpy() == 0], held
    )
    oracle = Oracle(plausibility="iforest", detector=detector, time_limit=None)
    return model, data, detector, oracle.fit(model, train_rows), X


def test_the_plausible_minimum_under_relations_matches_brute_force(fitted, monkeypatch):
    model, data, detector, oracle, X = fitted
    spec = model.spec
    solved = []
    original = supports_module.SupportSearch._solve

    def counted(self, support, avoid):
        solved.append(support)
        return original(self, support, avoid)

    monkeypatch.setattr(supports_module.SupportSearch, "_solve", counted)
    queries = select_queries(model, data, limit=10, seed=0)
    result = oracle.generate(queries, n_cfs=2)
    assert solved  # the program was split by support
    info = result.queries.set_index("query_id")
    scale = FeatureScales.from_reference(spec, X).scale
    cfs = result.cf_matrix()
    assert detector.inliers(cfs).all() and result.validity == 1.0
    np.testing.assert_allclose(recompute(spec, cfs), cfs)
    # Derived features follow their inputs: the price is the inputs' moves.
    inputs = [spec.feature_names.index(name) for name in INPUTS]
    proven = 0
    for i, query in enumerate(info[spec.feature_names].to_numpy(float)):
        rows = _admissible(spec, query)
        rows = rows[(model.predict(rows) == 0) & detector.inliers(rows)]
        row = info.loc[i]
        if not len(rows):
            assert row["status"] == "infeasible", i
            continue
        l0 = count_changes(spec, np.broadcast_to(query, rows.shape), rows)
        assert row["min_l0"] >= l0.min(), i  # never fewer changes than any inlier makes
        if row["status"] == "optimal":
            proven += 1
            assert row["min_l0"] == l0.min(), i
            mine = cfs[result.cfs["query_id"].to_numpy() == i][0]
            moves = np.abs(rows[l0 == l0.min()] - query)[:, inputs] / scale[inputs]
            best = moves.sum(axis=1).min()
            mine_moves = np.abs(mine - query)[inputs] / scale[inputs]
            assert mine_moves.sum() <= best * (1 + 1e-3) + 1e-9, i
    assert proven
