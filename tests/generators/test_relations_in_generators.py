"""Derived features recomputed centrally, for every generator; relations kept by the project's
own searches and by sparsify, measured (not repaired) for the others."""

import numpy as np

from sensecf.data.constraints import recompute, unmet_relations, violations
from sensecf.generators import Candidates, CounterfactualGenerator, select_queries
from sensecf.generators.sparsify import sparsify


class StaleTotals(CounterfactualGenerator):
    """Adds deep sleep but writes a made-up total; lowers `low` under `very_low`."""

    name = "stale"

    def _propose(self, query, n_cfs, desired, rng):
        row = query.copy()
        row[0] += 60
        row[2] = 1.0  # a total that cannot be true
        broken = query.copy()
        broken[3] = max(broken[4] - 1.0, 0.0)
        broken[0] += 120
        return Candidates(np.vstack([row, broken]))


class KeepingStaleTotals(StaleTotals):
    name = "stale-kept"
    keeps_relations = True


def test_every_method_gets_its_derived_features_recomputed(relation_task):
    data, model = relation_task
    queries = select_queries(model, data, limit=20)
    result = StaleTotals().fit(model, data).generate(queries, n_cfs=2)
    cfs = result.cf_matrix()
    assert len(cfs) == 2 * len(queries)
    assert np.array_equal(cfs[:, 2], cfs[:, 0] + cfs[:, 1])
    expected = model.predict(cfs) == 0  # judged on the recomputed rows
    assert np.array_equal(result.cfs["valid"].to_numpy(), expected)
    # A baseline is measured, not repaired: the broken check stays and is counted.
    counts = violations(data.spec, result.query_matrix(), cfs)["relations"].to_numpy()
    low_broken = cfs[:, 3] < cfs[:, 4]
    assert low_broken.any() and np.array_equal(counts, low_broken.astype(int))


def test_a_method_that_keeps_relations_never_emits_a_broken_one(relation_task):
    data, model = relation_task
    queries = select_queries(model, data, limit=20)
    result = KeepingStaleTotals().fit(model, data).generate(queries, n_cfs=2)
    cfs = result.cf_matrix()
    assert violations(data.spec, result.query_matrix(), cfs)["total"].sum() == 0
    assert not unmet_relations(data.spec, cfs).any()


def test_sparsify_never_reverts_a_derived_feature_nor_breaks_a_relation(relation_task):
    data, model = relation_task
    queries = select_queries(model, data).X.to_numpy(dtype=float)
    cfs = queries.copy()
    cfs[:, 0] = 300  # deep sleep to its maximum
    cfs[:, 3] = np.minimum(cfs[:, 3], 1.0)  # low to (near) zero
    cfs[:, 4] = np.minimum(cfs[:, 4], cfs[:, 3])
    cfs = recompute(data.spec, cfs)
    assert violations(data.spec, queries, cfs)["total"].sum() == 0
    sparse = sparsify(model, queries, cfs, desired_class=0)
    assert violations(data.spec, queries, sparse)["total"].sum() == 0
    assert np.array_equal(sparse[:, 2], sparse[:, 0] + sparse[:, 1])
    valid_before = model.predict(cfs) == 0
    assert (model.predict(sparse)[valid_before] == 0).all()
