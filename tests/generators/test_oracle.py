import itertools

import numpy as np
import pytest

from sensecf.data.constraints import allowed_ranges, changed, violations
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle


@pytest.fixture(scope="module")
def result(toy):
    queries = select_queries(toy.model, toy.test, limit=12, seed=0)
    return Oracle().fit(toy.model, toy.train).generate(queries, n_cfs=3)


def test_oracle_is_valid_and_respects_every_constraint(result, toy):
    assert result.coverage == 1.0
    assert result.validity == 1.0
    assert violations(toy.model.spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    assert (result.cfs.groupby("query_id").size() <= 3).all()


def test_min_l0_is_reported_and_matches_the_best_counterfactual(result):
    q = result.queries.set_index("query_id")
    l0 = changed(result.query_matrix(), result.cf_matrix()).sum(axis=1)
    best = result.cfs.assign(l0=l0).groupby("query_id")["l0"].min()
    assert (best == q.loc[best.index, "min_l0"]).all()
    assert q["min_l0_exact"].all()  # the toy task never needs more than 3 changes


def test_min_l0_is_truly_minimal_on_the_grid(toy, result):
    """Brute force over single changes confirms queries reported as needing two or more."""
    oracle = Oracle().fit(toy.model, toy.train)
    q = result.queries
    X = q[toy.model.feature_names].to_numpy(dtype=float)
    for i in np.flatnonzero(q["min_l0"].to_numpy() >= 2):
        lo, hi = allowed_ranges(toy.model.spec, X[i][None, :])
        for j in oracle.mutable_:
            for value in oracle.grid_[j]:
                if lo[0, j] <= value <= hi[0, j]:
                    trial = X[i].copy()
                    trial[j] = value
                    assert toy.model.predict(trial[None, :])[0] == 1


def test_oracle_is_deterministic(toy):
    queries = select_queries(toy.model, toy.test, limit=4, seed=2)
    runs = [Oracle().fit(toy.model, toy.train).generate(queries, n_cfs=2) for _ in range(2)]
    assert runs[0].cfs.drop(columns="seconds").equals(runs[1].cfs.drop(columns="seconds"))


def test_no_desired_rows_means_no_neighbours_but_search_still_runs(toy):
    only_flagged = toy.train.subset(toy.model.predict(toy.train.X) == 1)
    queries = select_queries(toy.model, toy.test, limit=3)
    result = Oracle().fit(toy.model, only_flagged).generate(queries)
    assert result.validity == 1.0  # the exhaustive grid (from flagged rows) still flips them


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_changes", -1), ("grid_size", 1), ("neighbors", 0), ("grid_size_large", 2.5)],
)
def test_options_are_validated(option, value, toy):
    with pytest.raises(ValueError, match=f"`{option}` must be an integer"):
        Oracle(**{option: value}).fit(toy.model, toy.train)


def test_exhaustive_enumerates_every_subset():
    from sensecf.generators.oracle.search import subset_rows

    query = np.zeros(4)
    options = {1: np.array([1.0, 2.0]), 2: np.array([5.0]), 3: np.array([7.0, 8.0])}
    rows = np.vstack(list(subset_rows(query, options, 2)))
    expected = sum(len(options[a]) * len(options[b]) for a, b in itertools.combinations(options, 2))
    assert len(rows) == expected == 2 + 4 + 2
    assert (rows[:, 0] == 0).all() and ((rows != 0).sum(axis=1) == 2).all()
