"""The oracle keeps the spec's relations: derived features follow their inputs, checks hold,
and its certificates stay honest (brute force over every admissible row agrees)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import changed, recompute, unmet_relations, violations
from sensecf.data.dataset import Dataset
from sensecf.data.relations import Relation
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import SensecfError
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.models import train

INPUTS = ("deep", "light", "awake")


def relation_spec() -> DatasetSpec:
    return DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="age", bounds=(18, 90), step=1, mutability="fixed"),
            FeatureSpec(name="deep", bounds=(0, 6), step=1, mutability="both"),
            FeatureSpec(name="light", bounds=(0, 6), step=1, mutability="both"),
            FeatureSpec(name="awake", bounds=(1, 6), step=1, mutability="decrease"),
            FeatureSpec(name="total", bounds=(0, 12), step=1, mutability="both"),
            FeatureSpec(name="efficiency", bounds=(0, 100), mutability="both"),
        ],
        relations=[
            Relation(name="total sleep", derived="total", formula="deep + light"),
            Relation(
                name="sleep efficiency",
                derived="efficiency",
                formula="100 * total / (total + awake)",
            ),
            Relation(name="deep within light", check="deep <= light"),
        ],
    )


def _data() -> Dataset:
    rng = np.random.default_rng(0)
    n = 400
    light = rng.integers(0, 7, n).astype(float)
    deep = np.minimum(rng.integers(0, 7, n), light).astype(float)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 80, n).astype(float),
            "deep": deep,
            "light": light,
            "awake": rng.integers(1, 7, n).astype(float),
            "total": 0.0,
            "efficiency": 0.0,
        }
    )
    spec = relation_spec()
    frame[spec.feature_names] = recompute(spec, frame[spec.feature_names].to_numpy(float))
    score = 0.6 * frame["total"] + 0.05 * frame["efficiency"] - 0.05 * frame["age"]
    frame["y"] = (score + rng.normal(0, 0.5, n) < 5).astype(int)
    return Dataset(frame, spec)


@pytest.fixture(scope="module")
def data():
    return _data()


def _brute_force_min_l0(model, spec, query, desired):
    """The fewest changes over every admissible row that keeps the relations."""
    columns = [spec.feature_names.index(name) for name in INPUTS]
    grids = [np.arange(spec.features[j].bounds[0], spec.features[j].bounds[1] + 1) for j in columns]
    combos = np.array(list(itertools.product(*grids)), dtype=float)
    rows = np.repeat(query[None, :], len(combos), axis=0)
    rows[:, columns] = combos
    rows = recompute(spec, rows)
    queries = np.broadcast_to(query, rows.shape)
    ok = violations(spec, queries, rows)["total"].to_numpy() == 0
    ok &= model.predict(rows) == desired
    if not ok.any():
        return np.inf
    return int(changed(queries[ok], rows[ok]).sum(axis=1).min())


@pytest.mark.parametrize("kind", ["rf", "logreg"])
def test_every_counterfactual_keeps_the_relations_and_the_certificates_hold(data, kind):
    model = train(data, kind, seed=0, importance_repeats=1)
    spec = model.spec
    oracle = Oracle(time_limit=20).fit(model, data)
    # The program does not encode the relations: the oracle says so and searches instead.
    assert oracle.path_ == "search"
    assert "total sleep" in oracle.unsupported_reason_
    assert "sleep efficiency" in oracle.unsupported_reason_
    queries = select_queries(model, data, limit=8, seed=0)
    result = oracle.generate(queries, n_cfs=3)
    cfs, query_rows = result.cf_matrix(), result.query_matrix()
    assert len(cfs)
    assert result.validity == 1.0
    np.testing.assert_allclose(recompute(spec, cfs), cfs)
    assert not unmet_relations(spec, cfs).any()
    assert violations(spec, query_rows, cfs)["total"].sum() == 0
    info = result.queries.set_index("query_id")
    desired = spec.desired_class
    X = info[spec.feature_names].to_numpy(float)
    claims = 0
    for query_id, query in zip(info.index, X, strict=True):
        truth = _brute_force_min_l0(model, spec, query, desired)
        row = info.loc[query_id]
        if row["status"] == "infeasible":
            assert truth == np.inf
        if row["status"] == "optimal" and row["min_l0_certified"]:
            claims += 1
            assert row["min_l0"] == truth
        if np.isfinite(row["min_l0_bound"]):
            assert row["min_l0_bound"] <= truth
    # Every input has a few admissible values: the search sees them all and proves its answers.
    assert claims > 0


def test_the_exact_method_refuses_a_spec_whose_relations_it_cannot_encode(data):
    model = train(data, "logreg", seed=0, importance_repeats=1)
    with pytest.raises(SensecfError, match="sleep efficiency"):
        Oracle(method="exact").fit(model, data)
