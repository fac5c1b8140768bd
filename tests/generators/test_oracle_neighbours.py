"""The neighbour bar in the exact program: its rows against brute force, and the oracle held to it."""

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from test_oracle_exact import SPEC, admissible_rows, flagged_queries, tiny_data
from test_oracle_plausible import low_risk_detector

from sensecf.data.constraints import changed
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle.budget import Budget
from sensecf.generators.oracle.milp import ProgramBuilder, solve
from sensecf.generators.oracle.neighbours import hold_near
from sensecf.models import train
from sensecf.models.plausibility import NeighbourBar


def _bar(anchors, k, threshold, densities=None, factor=np.inf) -> NeighbourBar:
    width = anchors.shape[1]
    # The rows are spec-wide (5 features); the bar reads the first ``width``.
    return NeighbourBar(
        np.arange(width), np.ones(width), np.zeros(5), anchors, k, threshold, 0.9, densities, factor
    )


def _within(points, bar):
    """Brute force over every choice of k anchors: some choice meets both of the program's
    sums (the distance budget, and the budget relative to the anchors' own distances)."""
    gaps = np.abs(points[:, None, :] - bar.anchors[None, :, :]).sum(axis=2)
    own = np.full(len(bar.anchors), np.inf) if bar.densities is None else bar.factor * bar.densities
    inside = np.zeros(len(points), dtype=bool)
    for chosen in itertools.combinations(range(len(bar.anchors)), bar.k):
        picked = gaps[:, list(chosen)].sum(axis=1)
        inside |= (picked <= bar.k * bar.threshold) & (picked <= own[list(chosen)].sum())
    return inside


def _least(points, query, bar):
    """Brute force: the fewest changes, then the smallest L1, among points within the bar."""
    inside = _within(points, bar)
    if not inside.any():
        return None
    l0 = (~np.isclose(points, query)).sum(axis=1)
    l1 = np.abs(points - query).sum(axis=1)
    order = np.lexsort((l1[inside], l0[inside]))
    return int(l0[inside][order[0]]), float(l1[inside][order[0]])


@pytest.mark.parametrize("seed", range(6))
def test_the_bar_as_rows_gives_the_brute_force_minimum_over_the_programs_values(seed):
    rng = np.random.default_rng(seed)
    query = np.array([0.0, 1.0, 2.0])
    chains = [np.unique(np.r_[query[j], rng.integers(-6, 7, 5).astype(float)]) for j in range(3)]
    anchors = rng.integers(-6, 7, size=(12, 3)).astype(float)
    points = np.array(list(itertools.product(*chains)))
    # A bar some points meet and the query does not (else the answer is the query itself);
    # on odd seeds with its second part, loose enough that some of those points meet it too.
    k = int(rng.integers(1, 4))
    gaps = np.sort(np.abs(points[:, None, :] - anchors[None]).sum(axis=2), axis=1)[:, :k]
    spread = np.sort(gaps.mean(axis=1))
    threshold = float(spread[int(rng.integers(6, 12))])
    bar = _bar(anchors, k, threshold)
    if seed % 2:  # the tightest second part some point meets (it binds on seeds 1 and 5)
        densities = rng.uniform(1.0, 4.0, len(anchors))
        bars = (_bar(anchors, k, threshold, densities, f) for f in np.linspace(0.2, 4.0, 39))
        bar = next(b for b in bars if _within(points, b).any())
    builder = ProgramBuilder(SPEC, np.r_[query, 0.0, 0.0], np.ones(5))
    for j in range(3):
        builder.add_chain(j, chains[j])
    hold_near(builder, bar, np.arange(len(anchors)), slack=1e-9)
    outcome = solve(builder, 1, Budget(node_limit=100_000, max_candidates=1))
    expected = _least(points, query, bar)
    assert expected is not None
    assert outcome.status == "optimal"
    got = outcome.solutions[0][:3]
    assert (~np.isclose(got, query)).sum() == expected[0]
    assert np.abs(got - query).sum() == pytest.approx(expected[1], abs=1e-6)
    assert bar.inliers(np.r_[got, 0.0, 0.0][None, :])[0]  # the bar's own verdict agrees
    # Nothing inside a bar below every point's distance: proven so.
    none = solve(
        _held(query, chains, _bar(anchors, k, float(spread[0]) * 0.5)),
        1,
        Budget(node_limit=100_000, max_candidates=1),
    )
    assert none.status == "infeasible"


def _held(query, chains, bar):
    builder = ProgramBuilder(SPEC, np.r_[query, 0.0, 0.0], np.ones(5))
    for j in range(3):
        builder.add_chain(j, chains[j])
    hold_near(builder, bar, np.arange(len(bar.anchors)))
    return builder


def test_a_feature_held_as_intervals_is_measured_at_its_exact_value():
    # "free" takes every half step in [0, 4]: the bar's distance reads the value itself.
    query = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    builder = ProgramBuilder(SPEC, query, np.ones(5))
    builder.add_intervals(3, np.array([0.0, 0.5]), np.array([0, 7]))
    anchors = np.array([[2.5], [3.0], [4.0]])
    bar = NeighbourBar(np.array([3]), np.ones(1), np.zeros(5), anchors, 2, 0.75, 0.9)
    hold_near(builder, bar, np.arange(3), slack=1e-9)
    outcome = solve(builder, 1, Budget(node_limit=100_000, max_candidates=1))
    # Nearest 2 anchors at mean distance ≤ 0.75 from the fewest half steps: 2.0 (0.5 and 1.0).
    assert outcome.status == "optimal"
    assert outcome.solutions[0][3] == pytest.approx(2.0)


@pytest.fixture(scope="module")
def held():
    data = tiny_data()
    estimator = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    model = train(data, estimator, seed=0, importance_repeats=1)
    train_rows, detector = low_risk_detector(model, data, inlier_rate=0.9)
    oracle = Oracle(
        plausibility="iforest", detector=detector, held_neighbours=5, time_limit=60
    ).fit(model, train_rows)
    return model, train_rows, data, detector, oracle


def test_the_oracle_held_to_the_bar_answers_within_it(held):
    model, _, data, detector, oracle = held
    queries = flagged_queries(model, data, limit=8)
    result = oracle.generate(pd.DataFrame(queries, columns=SPEC.feature_names), n_cfs=2)
    strict = oracle.detectors_[0].detector
    bar = strict.neighbour_bar_
    assert bar is not None and bar.k == 5
    assert strict.iforest_threshold_ == detector.iforest_threshold_  # no stricter IF bar asked
    assert detector.neighbour_bar_ is None  # the shared detector is untouched
    cfs = result.cf_matrix()
    assert len(cfs)
    assert strict.holds(cfs).all()
    assert (model.predict(cfs) == 0).all()
    info = result.queries.set_index("query_id")
    for i, query in enumerate(queries):
        rows = admissible_rows(query)
        rows = rows[(model.predict(rows) == 0) & strict.holds(rows)]
        status = info.loc[i, "status"]
        assert status in ("optimal", "feasible", "infeasible")
        if status != "infeasible":
            # Over the anchors nearest the person the program's bar is the stricter one.
            assert len(rows) and info.loc[i, "min_l0"] >= changed(query, rows).sum(axis=1).min()


def test_held_neighbours_is_validated():
    with pytest.raises(ValueError, match="held_neighbours"):
        Oracle(plausibility="iforest", held_neighbours=0).fit(*_tiny_model())


def _tiny_model():
    data = tiny_data(n=120)
    model = train(data, RandomForestClassifier(n_estimators=3, random_state=0), seed=0)
    return model, model.split_data(data)[0]
