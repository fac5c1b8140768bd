import numpy as np

from sensecf.data.constraints import changed
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.sparsify import sparsify, sparsify_result


def test_sparsify_keeps_validity_and_never_adds_changes(toy):
    queries = select_queries(toy.model, toy.test).X.to_numpy(dtype=float)
    # A heavy-handed counterfactual: every mutable feature pushed to its healthy extreme.
    cfs = queries.copy()
    cfs[:, 1], cfs[:, 2], cfs[:, 3], cfs[:, 4] = 700, 25000, 45, 0
    assert (toy.model.predict(cfs) == 0).all()
    sparse = sparsify(toy.model, queries, cfs, desired_class=0)
    assert (toy.model.predict(sparse) == 0).all()
    before, after = changed(queries, cfs).sum(1), changed(queries, sparse).sum(1)
    assert (after <= before).all() and after.mean() < before.mean()
    # Every remaining change is one of the original ones, at the original value.
    moved = changed(queries, sparse)
    assert np.array_equal(sparse[moved], cfs[moved])
    # Minimal: undoing any single remaining change loses validity.
    for i in range(len(sparse)):
        for j in np.flatnonzero(moved[i]):
            trial = sparse[i].copy()
            trial[j] = queries[i, j]
            assert toy.model.predict(trial[None, :])[0] == 1


def test_invalid_counterfactuals_are_left_alone(toy):
    queries = select_queries(toy.model, toy.test).X.to_numpy(dtype=float)[:3]
    cfs = queries.copy()
    cfs[:, 5] = (cfs[:, 5] + 1) % 3  # a change that does not flip anything
    assert np.array_equal(sparsify(toy.model, queries, cfs, 0), cfs)


def test_sparsify_result_is_its_own_method(toy):
    queries = select_queries(toy.model, toy.test, limit=8)
    # Any result will do: sparsifying it makes a method of its own.
    result = Oracle(neighbors=3).fit(toy.model, toy.train).generate(queries, n_cfs=3)
    sparse = sparsify_result(result, toy.model)
    assert sparse.method == "oracle+sparsify"
    assert set(sparse.cfs["method"]) == {"oracle+sparsify"}
    assert sparse.validity == 1.0
    assert not sparse.cfs.duplicated(subset=["query_id", *toy.model.feature_names]).any()
    assert (sparse.queries["seconds"] >= result.queries["seconds"]).all()
    assert sparse.queries["n_cfs"].sum() == len(sparse.cfs)
