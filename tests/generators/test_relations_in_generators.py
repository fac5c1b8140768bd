"""Derived features recomputed centrally, for every generator; relations kept by the project's
own searches and by sparsify, measured (not repaired) for the others."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import recompute, unmet_relations, violations
from sensecf.data.dataset import Dataset
from sensecf.data.relations import Relation
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators import Candidates, CounterfactualGenerator, select_queries
from sensecf.generators.sparsify import sparsify
from sensecf.models import train

NAMES = ["deep", "light", "total", "low", "very_low"]


def relation_spec() -> DatasetSpec:
    return DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="deep", bounds=(0, 300), step=1, mutability="increase"),
            FeatureSpec(name="light", bounds=(0, 600), step=1, mutability="both"),
            FeatureSpec(name="total", bounds=(0, 900), step=1, mutability="increase"),
            FeatureSpec(name="low", bounds=(0, 100), step=0.1, mutability="decrease"),
            FeatureSpec(name="very_low", bounds=(0, 100), step=0.1, mutability="both"),
        ],
        relations=[
            Relation(name="total sleep", derived="total", formula="deep + light"),
            Relation(name="very low within low", check="very_low <= low"),
        ],
    )


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(0)
    n = 300
    deep = rng.integers(20, 150, n).astype(float)
    light = rng.integers(150, 400, n).astype(float)
    low = np.round(rng.uniform(1, 20, n), 1)
    very_low = np.round(low * rng.uniform(0, 0.5, n), 1)
    frame = pd.DataFrame(
        {"deep": deep, "light": light, "total": deep + light, "low": low, "very_low": very_low}
    )
    frame["y"] = ((frame["total"] < 380) | (frame["low"] > 12)).astype(int)
    data = Dataset(frame, relation_spec())
    model = train(data, "logreg", importance_repeats=1)
    return data, model


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


def test_every_method_gets_its_derived_features_recomputed(setting):
    data, model = setting
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


def test_a_method_that_keeps_relations_never_emits_a_broken_one(setting):
    data, model = setting
    queries = select_queries(model, data, limit=20)
    result = KeepingStaleTotals().fit(model, data).generate(queries, n_cfs=2)
    cfs = result.cf_matrix()
    assert violations(data.spec, result.query_matrix(), cfs)["total"].sum() == 0
    assert not unmet_relations(data.spec, cfs).any()


def test_sparsify_never_reverts_a_derived_feature_nor_breaks_a_relation(setting):
    data, model = setting
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
