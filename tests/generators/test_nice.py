"""NICE through the real nicex package, on a small table with every kind of feature."""

from __future__ import annotations

import copy
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest
from result_checks import (
    check_columns,
    check_missing_kept,
    check_package_sees_missing,
    check_table,
)
from sklearn.base import clone

from sensecf.data.constraints import changed, violations
from sensecf.data.dataset import Dataset
from sensecf.errors import SensecfError
from sensecf.generators import NotFittedError, select_queries
from sensecf.generators.nice import NICE, ReconstructionError
from sensecf.generators.registry import make_generator
from sensecf.models import TrainedClassifier, train

pytestmark = pytest.mark.skipif(find_spec("nice") is None, reason="nicex is not installed")

OPTIMIZATIONS = ["sparsity", "proximity", "plausibility"]


@pytest.fixture(scope="module")
def setup(risk_data: Dataset) -> tuple[TrainedClassifier, Dataset, Dataset]:
    data = risk_data
    clf = train(data, "rf", params={"n_estimators": 30, "n_jobs": 1}, importance_repeats=1)
    train_rows, test_rows = clf.split_data(data)
    return clf, train_rows, test_rows


@pytest.fixture(scope="module")
def flagged(setup: tuple[TrainedClassifier, Dataset, Dataset]) -> Dataset:
    clf, _, test_rows = setup
    return select_queries(clf, test_rows, limit=5)


# ---- options and setup ---------------------------------------------------------------------
def test_name_and_options_are_checked_at_the_door(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, _ = setup
    assert [NICE(o).name for o in OPTIMIZATIONS] == [f"nice-{o}" for o in OPTIMIZATIONS]
    assert NICE().name == "nice-sparsity"
    # Stored as given, checked when fitted (make_generator checks at once).
    with pytest.raises(SensecfError, match="optimization"):
        NICE("none").fit(clf, train_rows)
    with pytest.raises(SensecfError, match="callable"):
        NICE("plausibility", auto_encoder="mlp").fit(clf, train_rows)
    with pytest.raises(SensecfError, match="callable"):
        make_generator("nice-plausibility", auto_encoder="mlp")
    with pytest.raises(SensecfError, match="only with optimization='plausibility'"):
        NICE("sparsity", auto_encoder=lambda X: np.zeros(len(X))).fit(clf, train_rows)
    with pytest.raises(SensecfError, match="only with optimization='plausibility'"):
        make_generator("nice-proximity", auto_encoder=lambda X: np.zeros(len(X)))
    with pytest.raises(SensecfError, match="seed"):
        NICE(seed=True).fit(clf, train_rows)
    with pytest.raises(SensecfError, match="seed"):
        make_generator("nice-sparsity", seed=1.5)
    assert NICE(seed=np.int64(3)).get_params()["seed"] == 3


@pytest.mark.parametrize("optimization", OPTIMIZATIONS)
def test_a_clone_from_the_registry_gives_the_same_counterfactuals(
    optimization: str, setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    made = make_generator(f"nice-{optimization}")
    twin = clone(made)
    assert twin is not made and twin.get_params() == made.get_params()
    first = made.fit(clf, train_rows).generate(flagged)
    again = twin.fit(clf, train_rows).generate(flagged)
    assert first.coverage == 1.0
    for got, expected in [(again.cfs, first.cfs), (again.queries, first.queries)]:
        pd.testing.assert_frame_equal(got.drop(columns="seconds"), expected.drop(columns="seconds"))
    check_columns(first, made)


def test_a_plain_fitted_estimator_gives_the_same_counterfactuals(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    assert clf.threshold == 0.5
    wrapped = NICE().fit(clf, train_rows).generate(flagged)
    plain = NICE().fit(clf.pipeline_, train_rows).generate(flagged)  # a scikit-learn pipeline
    pd.testing.assert_frame_equal(
        plain.cfs.drop(columns="seconds"), wrapped.cfs.drop(columns="seconds")
    )


def test_generate_before_fit_says_so(flagged: Dataset) -> None:
    with pytest.raises(NotFittedError, match="fit"):
        NICE().generate(flagged)


def test_fit_leaves_the_reference_rows_alone(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, _ = setup
    before = train_rows.frame.copy()
    gen = NICE().fit(clf, train_rows)
    pd.testing.assert_frame_equal(train_rows.frame, before)
    assert set(gen.neighbours_) == {0, 1} and min(gen.neighbours_.values()) > 0


# ---- the search ----------------------------------------------------------------------------
@pytest.mark.parametrize("optimization", OPTIMIZATIONS)
def test_each_mode_fills_the_tidy_table_with_one_cf_per_query(
    optimization: str, setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    result = NICE(optimization).fit(clf, train_rows).generate(flagged, n_cfs=3)
    check_table(result, clf, desired=0)
    assert result.method == f"nice-{optimization}"
    assert (result.queries["error"] == "").all()
    assert (result.queries["n_cfs"] == 1).all() and (result.cfs["rank"] == 0).all()
    # Every changed value is copied from a reference row: coded features stay codes, integers
    # whole; fixed features and directions are not respected, and nothing is repaired.
    queries, cfs = result.query_matrix(), result.cf_matrix()
    moved = changed(queries, cfs)
    assert moved.any(axis=1).all()
    reference = train_rows.X.to_numpy()
    for j in range(cfs.shape[1]):
        assert np.isin(cfs[moved[:, j], j], reference[:, j]).all()
    counts = violations(clf.spec, queries, cfs)
    assert (counts["grain"] == 0).all()


def test_plausibility_uses_the_auto_encoder_given(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    inner = ReconstructionError(seed=3).fit(train_rows.X.to_numpy())
    calls: list[int] = []

    def auto_encoder(X: np.ndarray) -> np.ndarray:
        calls.append(len(X))
        return inner(X)

    result = NICE("plausibility", auto_encoder=auto_encoder).fit(clf, train_rows).generate(flagged)
    check_table(result, clf, desired=0)
    assert calls and result.coverage == 1.0


def test_a_failing_query_is_recorded_and_the_run_goes_on(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, test_rows = setup
    predicted = clf.predict(test_rows.X)
    rows = [int(np.flatnonzero(predicted == 0)[0]), *np.flatnonzero(predicted == 1)[:2]]
    result = NICE().fit(clf, train_rows).generate(test_rows.subset(rows))
    check_table(result, clf, desired=0)
    queries = result.queries
    assert "already puts this query in the desired class" in queries.loc[0, "error"]
    assert queries.loc[0, "n_cfs"] == 0
    assert (queries.loc[1:, "error"] == "").all() and (queries.loc[1:, "n_cfs"] == 1).all()


def test_without_a_neighbour_of_the_desired_class_each_query_says_why(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    only_flagged = train_rows.subset(train_rows.y.to_numpy() == 1)
    gen = NICE().fit(clf, only_flagged)
    result = gen.generate(flagged)
    assert result.coverage == 0.0
    assert result.queries["error"].str.contains("no neighbour to copy from").all()
    check_columns(result, gen)  # no counterfactual at all: the same columns


def test_the_desired_class_is_given_not_guessed(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, test_rows = setup
    healthy = test_rows.subset(clf.predict(test_rows.X) == 0).subset([0, 1])
    result = NICE().fit(clf, train_rows).generate(healthy, desired_class=1)  # augmentation
    check_table(result, clf, desired=1)
    assert result.coverage == 1.0 and result.cfs["valid"].all()


def test_its_own_decision_rule_is_re_checked_not_hidden(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, test_rows = setup
    strict = copy.deepcopy(clf)
    strict.threshold = 0.3  # desired (class 0) now needs P(class 0) > 0.7; NICE takes argmax
    p_desired = strict.proba_of(test_rows.X, 0)
    rows = np.flatnonzero(p_desired < 0.45)[:4]
    result = NICE().fit(strict, train_rows).generate(test_rows.subset(rows))
    check_table(result, strict, desired=0)
    found = result.cfs
    assert len(found) == 4 and (found["proba_desired"] >= 0.5).all()
    # Argmax is satisfied at P >= 0.5; the model's own rule (P > 0.7) judges each answer.
    short = found["proba_desired"] <= 0.7
    assert short.any() and not found.loc[short, "valid"].any()


def test_reference_rows_with_missing_values_are_kept_with_stand_ins(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    frame = train_rows.frame.copy()
    frame.loc[: len(frame) // 2, "sleep_min"] = np.nan
    holey = Dataset(frame, train_rows.spec)
    gen = NICE().fit(clf, holey)
    neighbours = gen.explainer_.data.X_train
    assert len(neighbours) == len(frame) and not np.isnan(neighbours.astype(float)).any()
    assert gen.stand_ins_[4] == np.nanmedian(frame["sleep_min"]).round(1)
    result = gen.generate(flagged)
    check_table(result, clf, desired=0)
    assert result.coverage == 1.0 and np.isfinite(result.cf_matrix()).all()


# ---- the default auto-encoder --------------------------------------------------------------
def test_reconstruction_error_is_seeded_and_copes_with_missing_values(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    _, train_rows, test_rows = setup
    X = train_rows.X.to_numpy()
    first = ReconstructionError(seed=1).fit(X)(test_rows.X.to_numpy())
    again = ReconstructionError(seed=1).fit(X)(test_rows.X.to_numpy())
    np.testing.assert_array_equal(first, again)
    assert first.shape == (len(test_rows),) and (first >= 0).all()
    holey = test_rows.X.to_numpy().copy()
    holey[0, 3] = np.nan
    assert np.isfinite(ReconstructionError(seed=1).fit(X)(holey)).all()


# ---- missing values --------------------------------------------------------------------------
@pytest.mark.parametrize("optimization", OPTIMIZATIONS)
def test_a_querys_missing_values_stay_missing_and_the_real_model_judges(gappy, optimization):
    result = NICE(optimization).fit(gappy.model, gappy.train).generate(gappy.queries)
    assert result.coverage >= 0.5
    # A query NICE cannot flip without its missing values says so; nothing else fails.
    failed = result.queries.loc[result.queries["n_cfs"] == 0, "error"]
    assert failed.str.contains("copied every value of its nearest neighbour").all()
    check_missing_kept(result, gappy.model)
    check_columns(result, NICE(optimization))


def test_nice_scores_every_row_with_the_querys_missing_values(gappy):
    check_package_sees_missing(NICE, gappy)
