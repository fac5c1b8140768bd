"""The oracle keeps the spec's relations: derived features follow their inputs, checks hold,
and its certificates stay honest (brute force over every admissible row agrees).

The spec has a linear derived feature (a sum), a ratio of two (efficiency, read from the sum)
and a linear check; the exact program encodes all three."""

import itertools

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import count_changes, recompute, unmet_relations, violations
from sensecf.data.dataset import Dataset
from sensecf.data.relations import Relation
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import SensecfError
from sensecf.evaluation import MetricSuite
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


def _admissible(spec, query):
    """Every row the query may become by its inputs, derived features recomputed, that breaks
    no rule."""
    columns = [spec.feature_names.index(name) for name in INPUTS]
    grids = [np.arange(spec.features[j].bounds[0], spec.features[j].bounds[1] + 1) for j in columns]
    combos = np.array(list(itertools.product(*grids)), dtype=float)
    rows = np.repeat(query[None, :], len(combos), axis=0)
    rows[:, columns] = combos
    rows = recompute(spec, rows)
    ok = violations(spec, np.broadcast_to(query, rows.shape), rows)["total"].to_numpy() == 0
    return rows[ok]


def _brute_force_min_l0(model, spec, query, desired):
    """The fewest changes over every admissible row that keeps the relations."""
    rows = _admissible(spec, query)
    rows = rows[model.predict(rows) == desired] if len(rows) else rows
    if not len(rows):
        return np.inf
    # Derived features follow their inputs: they are not changes a person makes.
    return int(count_changes(spec, np.broadcast_to(query, rows.shape), rows).min())


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("rf", {"n_estimators": 40}),
        pytest.param("rf", None, marks=pytest.mark.slow, id="rf-300-trees"),
        ("logreg", None),
    ],
)
def test_every_counterfactual_keeps_the_relations_and_the_certificates_hold(data, kind, params):
    model = train(data, kind, seed=0, importance_repeats=1, params=params)
    spec = model.spec
    oracle = Oracle(time_limit=8).fit(model, data)
    # The program encodes the sum, the ratio and the check: no fallback to the search.
    assert oracle.path_ == "milp"
    assert oracle.unsupported_reason_ == ""
    if kind == "rf":  # the forest splits on both derived features
        encoding = oracle.encoding_
        for name in ("total", "efficiency"):
            assert (encoding.feature == spec.feature_names.index(name)).any()
    queries = select_queries(model, data, limit=8, seed=0)
    result = oracle.generate(queries, n_cfs=3)
    cfs, query_rows = result.cf_matrix(), result.query_matrix()
    assert len(cfs)
    assert result.validity == 1.0
    np.testing.assert_allclose(recompute(spec, cfs), cfs)
    assert not unmet_relations(spec, cfs).any()
    assert violations(spec, query_rows, cfs)["total"].sum() == 0
    info = result.queries.set_index("query_id")
    assert set(info["solver"]) == {"milp"}
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
        if np.isfinite(truth):  # the oracle never misses a person brute force can help
            assert row["status"] in ("optimal", "feasible")
    assert claims >= 6
    # The suite counts changes as the oracle does (derived features left out): its L0 of the
    # best valid counterfactual is the certified minimum.
    scores = MetricSuite().fit(model, data).score_cfs(result)
    best = scores[scores["valid"]].groupby("query_id")["l0"].min()
    certified = info.index[info["min_l0_certified"].astype(bool)]
    assert (best.loc[certified].to_numpy() == info.loc[certified, "min_l0"].to_numpy()).all()


def test_a_forest_whose_labels_come_from_the_derived_features_is_solved_exactly():
    """The label is a rule on the sum and the ratio: the forest's splits on them decide."""
    data = _data()
    spec = data.spec
    frame = data.frame.copy()
    frame["y"] = ((frame["total"] < 7) | (frame["efficiency"] < 70)).astype(int)
    dataset = Dataset(frame, spec)
    model = train(dataset, "rf", seed=0, importance_repeats=1, params={"n_estimators": 20})
    oracle = Oracle(time_limit=20).fit(model, dataset)
    assert oracle.path_ == "milp"
    queries = select_queries(model, dataset, limit=6, seed=1)
    result = oracle.generate(queries, n_cfs=2)
    info = result.queries.set_index("query_id")
    X = info[spec.feature_names].to_numpy(float)
    for query_id, query in zip(info.index, X, strict=True):
        truth = _brute_force_min_l0(model, spec, query, spec.desired_class)
        row = info.loc[query_id]
        assert row["status"] != "infeasible" or truth == np.inf
        if row["min_l0_certified"]:
            assert row["min_l0"] == truth
    assert info["min_l0_certified"].astype(bool).sum() >= 4
    cfs = result.cf_matrix()
    assert violations(spec, result.query_matrix(), cfs)["total"].sum() == 0


def test_a_relation_the_program_cannot_encode_sends_the_oracle_to_the_search(data):
    spec = relation_spec()
    bent = DatasetSpec(
        target=spec.target,
        classes=spec.classes,
        desired_class=spec.desired_class,
        features=spec.features,
        relations=[
            Relation(name="longest stage", derived="total", formula="max(deep, light)"),
            *spec.relations[1:],
        ],
    )
    frame = data.frame.copy()
    frame[bent.feature_names] = recompute(bent, frame[bent.feature_names].to_numpy(float))
    bent_data = Dataset(frame, bent)
    model = train(bent_data, "logreg", seed=0, importance_repeats=1)
    oracle = Oracle(time_limit=5).fit(model, bent_data)
    assert oracle.path_ == "search"
    # The max is not linear, and the ratio reads it.
    assert "longest stage" in oracle.unsupported_reason_
    assert "sleep efficiency" in oracle.unsupported_reason_
    with pytest.raises(SensecfError, match="longest stage"):
        Oracle(method="exact").fit(model, bent_data)


def test_supports_only_keeps_the_relations_and_proves_the_same_minimum(data, monkeypatch):
    """Under relations ``programs="supports"`` never solves the whole program: each query's
    work is its supports' programs, and what it proves is what brute force finds."""
    import sensecf.generators.oracle.milp as milp_module

    model = train(data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 40})
    spec = model.spec
    queries = select_queries(model, data, limit=8, seed=0)
    oracle = Oracle(programs="supports", time_limit=None).fit(model, data)
    widths = []
    real = milp_module.milp

    def counting(c, **options):
        widths.append(len(c))
        return real(c, **options)

    monkeypatch.setattr(milp_module, "milp", counting)
    result = oracle.generate(queries, n_cfs=3)
    split_widths = list(widths)
    widths.clear()
    Oracle(time_limit=None).fit(model, data).generate(queries, n_cfs=3)
    # Every program it solved is smaller than any query's whole program.
    assert split_widths and max(split_widths) < min(widths)
    cfs = result.cf_matrix()
    assert result.validity == 1.0
    assert not unmet_relations(spec, cfs).any()
    assert violations(spec, result.query_matrix(), cfs)["total"].sum() == 0
    info = result.queries
    assert set(info["budget"]) == {"work"}
    proven = 0
    for row in info.itertuples(index=False):
        query = np.array([getattr(row, name) for name in spec.feature_names], dtype=float)
        truth = _brute_force_min_l0(model, spec, query, spec.desired_class)
        if row.status == "optimal":
            proven += 1
            assert row.min_l0 == truth
        if row.status == "infeasible":
            assert truth == np.inf
    assert proven >= 6
