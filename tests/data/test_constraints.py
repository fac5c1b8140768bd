import numpy as np
import pytest

from sensecf.data.constraints import allowed_ranges, changed, project, violations
from sensecf.data.spec import DatasetSpec, FeatureSpec


@pytest.fixture
def spec():
    return DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="age", kind="integer", bounds=(18, 90), mutability="fixed"),
            FeatureSpec(name="sleep", bounds=(180, 720), step=1, mutability="increase"),
            FeatureSpec(name="hr", bounds=(40, 120), step=0.1, mutability="decrease"),
            FeatureSpec(name="shift", kind="categorical", levels=(0, 1, 2), bounds=(0, 2)),
            FeatureSpec(name="steps", kind="integer", bounds=(0, 30000)),
        ],
    )


def test_changed_ignores_float_noise_and_counts_nan():
    q = np.array([[1000.0, 2.0, 3.0]])
    c = np.array([[1000.0 + 1e-9, 2.1, np.nan]])
    assert changed(q, c).tolist() == [[False, True, True]]


def test_allowed_ranges_follow_direction_and_keep_out_of_bounds_query_values(spec):
    query = np.array([[50, 800, 70, 1, 5000]], dtype=float)  # sleep 800 lies above its bound
    lo, hi = allowed_ranges(spec, query)
    assert lo.tolist() == [[50, 800, 40, 0, 0]]
    assert hi.tolist() == [[50, 800, 70, 2, 30000]]


def test_violations_count_each_kind_once_per_feature(spec):
    query = np.array([[50, 400, 70, 1, 5000]], dtype=float)
    cfs = np.array(
        [
            [50, 450, 65, 2, 6000],  # clean
            [51, 350, 75, 1.5, 5000.5],  # fixed, 2 x direction, 2 x grain
            [50, 800, 30, 1, -10],  # 3 x bounds (sleep above, hr below, steps below)
            [50, 400, 70, 1, 5000],  # unchanged: nothing to violate
        ]
    )
    table = violations(spec, query.repeat(4, axis=0), cfs)
    assert table[["fixed", "direction", "bounds", "grain"]].values.tolist() == [
        [0, 0, 0, 0],
        [1, 2, 0, 2],
        [0, 0, 3, 0],
        [0, 0, 0, 0],
    ]
    assert table["total"].tolist() == [0, 5, 3, 0]


def test_project_produces_admissible_values(spec):
    query = np.array([[50, 400, 70, 1, 5000]], dtype=float)
    candidate = np.array([[61, 390.4, 64.96, 1.7, 40000.6]])
    out = project(spec, query, candidate)
    assert out.tolist() == [[50, 400, 65.0, 2, 30000]]
    assert violations(spec, query, out)["total"].item() == 0


def test_project_leaves_unchanged_values_as_measured(spec):
    # Measured values off the grain (heart rate to three decimals) are not snapped when the
    # candidate leaves them alone: that would count as a change nobody proposed.
    query = np.array([[50, 400.4, 70.123, 1, 5000]], dtype=float)
    candidate = np.array([[50, 450.2, 70.123, 1, 5000]])
    out = project(spec, query, candidate)
    assert out.tolist() == [[50, 450, 70.123, 1, 5000]]
    assert changed(query, out).sum() == 1


def test_project_moves_what_was_measured_when_a_derived_feature_cannot_be_known():
    from sensecf.data.relations import Relation

    sleep = DatasetSpec(
        target="y",
        classes={0: "a", 1: "b"},
        desired_class=0,
        features=[
            FeatureSpec(name=n, bounds=(0, 900)) for n in ("deep", "light", "total", "steps")
        ],
        relations=[Relation(derived="total", formula="deep + light")],
    )
    # An input of the derived feature missing; then the derived feature itself missing.
    query = np.array([[60.0, np.nan, 400.0, 100.0], [60.0, 300.0, np.nan, 100.0]])
    proposal = np.array([[90.0, 50.0, 500.0, 200.0], [90.0, 300.0, 5.0, 200.0]])
    out = project(sleep, query, proposal)
    # The measured, free features move; what nobody measured stays missing; a derived value
    # whose formula reads a missing input stays as measured.
    np.testing.assert_array_equal(
        out, np.array([[90.0, np.nan, 400.0, 200.0], [90.0, 300.0, np.nan, 200.0]])
    )
    assert violations(sleep, query, out)["total"].tolist() == [0, 0]
