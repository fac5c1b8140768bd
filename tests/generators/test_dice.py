"""DiCE through the real dice-ml package (random, genetic, kdtree) on a small table."""

from __future__ import annotations

import copy
import random

import numpy as np
import pandas as pd
import pytest
from result_checks import check_columns, check_missing_kept, check_package_sees_missing
from sklearn.base import clone

from sensecf.data.constraints import changed, violations
from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import SensecfError
from sensecf.generators.base import NotFittedError, select_queries
from sensecf.generators.dice import DiCE, DiceTimeLimitError
from sensecf.generators.registry import make_generator
from sensecf.models import TrainedClassifier, train

pytest.importorskip("dice_ml")

METHODS = ["random", "genetic", "kdtree"]
FIXED = ["sex", "age"]


def toy_spec(**mutability: str) -> DatasetSpec:
    """Risk rises with s2 and falls with s1; sex and age are fixed, grp is a category."""
    moves = {"s1": "increase", "s2": "decrease", "grp": "both", "noise": "both", **mutability}
    return DatasetSpec(
        name="toy",
        target="y",
        classes={0: "well", 1: "at risk"},
        desired_class=0,
        features=(
            FeatureSpec(name="sex", kind="binary", bounds=(0, 1), mutability="fixed"),
            FeatureSpec(name="age", kind="integer", bounds=(18, 100), mutability="fixed"),
            FeatureSpec(name="s1", bounds=(0, 10), step=0.01, mutability=moves["s1"]),
            FeatureSpec(name="s2", bounds=(0, 10), step=0.01, mutability=moves["s2"]),
            FeatureSpec(
                name="grp",
                kind="categorical",
                levels=(0, 1, 2),
                bounds=(0, 2),
                mutability=moves["grp"],
            ),
            FeatureSpec(name="noise", bounds=(-5, 5), step=0.01, mutability=moves["noise"]),
        ),
    )


def toy_data(n: int = 240, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sex": rng.integers(0, 2, n).astype(float),
            "age": rng.choice([40.0, 50.0, 60.0], n),
            "s1": rng.uniform(1, 9, n).round(2),
            "s2": rng.uniform(1, 9, n).round(2),
            "grp": rng.integers(0, 3, n).astype(float),
            "noise": rng.normal(size=n).round(2),
        }
    )
    score = frame["s2"] - frame["s1"] + 0.8 * frame["sex"] + 0.3 * rng.normal(size=n)
    frame["y"] = (score > 1.0).astype(int)
    return Dataset(frame, toy_spec(), source="toy")


@pytest.fixture(scope="module")
def setup() -> tuple[TrainedClassifier, Dataset, Dataset]:
    data = toy_data()
    clf = train(data, "logreg", importance_repeats=1)
    train_rows, test_rows = clf.split_data(data)
    queries = select_queries(clf, test_rows, limit=4)
    return clf, train_rows, queries


@pytest.fixture(scope="module")
def results(setup):
    clf, train_rows, queries = setup
    return {m: DiCE(m).fit(clf, train_rows).generate(queries, n_cfs=2, seed=0) for m in METHODS}


def with_spec(clf: TrainedClassifier, spec: DatasetSpec) -> TrainedClassifier:
    """The same fitted pipeline under another spec (other mutabilities)."""
    return TrainedClassifier(spec, clf.pipeline_, threshold=clf.threshold)


# ---- the result table -------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_each_method_returns_the_tidy_table(results, setup, method):
    clf, _, queries = setup
    result = results[method]
    spec = clf.spec
    assert result.method == f"dice-{method}"
    assert list(result.cfs.columns[:3]) == ["query_id", "method", "rank"]
    assert list(result.cfs.columns[3 : 3 + len(spec.features)]) == spec.feature_names
    for column in ["proba_desired", "valid", "source", "llm_calls", "seconds", "dice_class"]:
        assert column in result.cfs.columns
    assert len(result.queries) == len(queries)
    assert (result.queries["error"] == "").all()
    counts = result.cfs.groupby("query_id").size()
    assert result.queries["n_cfs"].tolist() == [int(counts.get(i, 0)) for i in range(len(queries))]
    assert (result.queries["n_cfs"] <= 2).all()
    check_columns(result, DiCE(method))
    if len(result.cfs):
        assert set(result.cfs["source"]) == {"search"}
        assert (result.cfs["method"] == f"dice-{method}").all()


@pytest.mark.parametrize("method", ["random", "genetic"])
def test_random_and_genetic_find_counterfactuals(results, method):
    assert results[method].coverage == 1.0
    assert results[method].validity > 0.5


@pytest.mark.parametrize("method", METHODS)
def test_validity_is_rechecked_by_the_project_rule(results, setup, method):
    clf, _, _ = setup
    result = results[method]
    if not len(result.cfs):
        pytest.skip("no counterfactuals to check")
    X = result.cf_matrix()
    assert result.cfs["valid"].tolist() == (clf.predict(X) == 0).tolist()
    np.testing.assert_allclose(result.cfs["proba_desired"], clf.proba_of(X, 0))


@pytest.mark.parametrize("method", METHODS)
def test_fixed_features_stay_and_codes_are_levels(results, setup, method):
    clf, _, _ = setup
    result = results[method]
    if not len(result.cfs):
        pytest.skip("no counterfactuals to check")
    spec = clf.spec
    fixed = [spec.feature_names.index(n) for n in FIXED]
    moved = changed(result.query_matrix(), result.cf_matrix())
    assert not moved[:, fixed].any()
    assert violations(spec, result.query_matrix(), result.cf_matrix())["fixed"].sum() == 0
    # Binary and categorical features reach DiCE as categories: it proposes real levels only.
    assert set(result.cfs["grp"]) <= {0.0, 1.0, 2.0}
    assert set(result.cfs["sex"]) <= {0.0, 1.0}


def test_n_cfs_is_respected(setup):
    clf, train_rows, queries = setup
    gen = DiCE("random").fit(clf, train_rows)
    one = gen.generate(queries, n_cfs=1, seed=0)
    assert (one.queries["n_cfs"] <= 1).all() and one.coverage == 1.0
    three = gen.generate(queries, n_cfs=3, seed=0)
    assert (three.queries["n_cfs"] <= 3).all() and three.queries["n_cfs"].max() == 3


def test_another_desired_class(setup):
    """Augmentation asks for the flagged class: DiCE gets that class's column index."""
    clf, train_rows, _ = setup
    clf = with_spec(clf, toy_spec(s1="both", s2="both"))  # the spec's directions lead to "well"
    well = select_queries(clf, train_rows, rows="all", limit=40)
    well = well.subset(clf.predict(well.X) == 0).subset([0, 1])
    result = DiCE("random").fit(clf, train_rows).generate(well, n_cfs=2, desired_class=1)
    assert result.coverage == 1.0
    assert set(result.cfs["dice_class"]) == {1}
    assert result.cfs["valid"].tolist() == (clf.predict(result.cf_matrix()) == 1).tolist()


# ---- kdtree: rows of the reference data ---------------------------------------------------------
def test_kdtree_returns_reference_rows_of_the_desired_class(setup):
    """Without DiCE's post-hoc search, each kdtree CF is a reference row (rounded to the spec's
    grain) with the query's fixed values, predicted desired by DiCE's argmax rule."""
    clf, train_rows, queries = setup
    result = DiCE("kdtree", posthoc_sparsity=0).fit(clf, train_rows).generate(queries, n_cfs=2)
    assert result.coverage > 0
    reference = train_rows.X.to_numpy(dtype=float)
    for cf, query in zip(result.cf_matrix(), result.query_matrix(), strict=True):
        rows = reference[np.all(np.isclose(reference, cf, atol=1e-6), axis=1)]
        assert len(rows) >= 1
        assert clf.predict_proba(rows[:1]).argmax() == 0
        fixed = [clf.spec.feature_names.index(n) for n in FIXED]
        np.testing.assert_allclose(cf[fixed], query[fixed])


# ---- no counterfactual, failures ----------------------------------------------------------------
@pytest.mark.slow
def test_a_query_without_counterfactual_is_counted_with_none(setup):
    """Only moves that raise the risk are allowed, so no CF exists."""
    clf, train_rows, queries = setup
    harmful = with_spec(clf, toy_spec(s1="decrease", s2="increase", grp="fixed", noise="fixed"))
    for method in ["random", "kdtree"]:
        gen = DiCE(method).fit(harmful, train_rows)
        result = gen.generate(queries, n_cfs=2)
        assert result.queries["n_cfs"].tolist() == [0] * len(queries)
        check_columns(result, gen)
        assert (result.queries["error"] == "").all()
        assert len(result.cfs) == 0 and result.coverage == 0.0
    # genetic's random initialisation samples until it finds valid rows: the time limit stops it.
    result = DiCE("genetic", time_limit=0.5).fit(harmful, train_rows).generate(queries.subset([0]))
    assert result.queries["n_cfs"].tolist() == [0]
    assert result.queries["error"].iloc[0].startswith(DiceTimeLimitError.__name__)


def test_a_dice_error_is_recorded_per_query_and_the_run_goes_on(setup):
    clf, train_rows, queries = setup
    # The reference rows lack level 2 of grp: DiCE refuses a query holding it.
    reference = train_rows.subset(train_rows.frame["grp"].to_numpy() != 2)
    frame = queries.frame.copy()
    frame.loc[0, "grp"] = 2.0
    frame.loc[1, "grp"] = 0.0
    gen = DiCE("random").fit(clf, reference)
    result = gen.generate(frame.iloc[:2], n_cfs=1)
    assert "outside the dataset" in result.queries["error"].iloc[0]
    assert result.queries["n_cfs"].iloc[0] == 0
    assert result.queries["error"].iloc[1] == "" and result.queries["n_cfs"].iloc[1] == 1
    # A result without any counterfactual has DiCE's own column too.
    empty = gen.generate(frame.iloc[:1], n_cfs=1)
    assert len(empty.cfs) == 0 and "dice_class" in empty.cfs.columns
    check_columns(empty, gen)


# ---- determinism and silence --------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_counterfactuals_and_global_state_restored(setup):
    clf, train_rows, queries = setup
    firsts = {}
    for method in ["random", "genetic"]:
        gen = DiCE(method).fit(clf, train_rows)
        np.random.seed(123)  # noqa: NPY002 - the global state DiCE draws from
        random.seed(123)
        before = (np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
        first = gen.generate(queries, n_cfs=2, seed=7)
        after = (np.random.get_state()[1], random.getstate())  # noqa: NPY002
        np.testing.assert_array_equal(before[0], after[0])
        assert before[1] == after[1]
        again = gen.generate(queries, n_cfs=2, seed=7)
        pd.testing.assert_frame_equal(
            first.cfs.drop(columns="seconds"), again.cfs.drop(columns="seconds")
        )
        firsts[method] = first
    other = DiCE("random").fit(clf, train_rows).generate(queries, n_cfs=2, seed=8)
    assert not np.array_equal(other.cf_matrix(), firsts["random"].cf_matrix())


def test_dice_prints_nothing(setup, capsys):
    clf, train_rows, queries = setup
    DiCE("random").fit(clf, train_rows).generate(queries.subset([0]), n_cfs=1)
    harmful = with_spec(clf, toy_spec(s1="decrease", s2="increase", grp="fixed", noise="fixed"))
    DiCE("random").fit(harmful, train_rows).generate(
        queries.subset([0]), n_cfs=1
    )  # "No CF found" print
    out, err = capsys.readouterr()
    assert out == "" and err == ""


# ---- options ----------------------------------------------------------------------------------
def test_name_and_options(setup):
    clf, train_rows, _ = setup
    assert DiCE().name == "dice-random"
    gen = DiCE("kdtree", sparsity_weight=0.5, posthoc_sparsity=0, time_limit=5)
    assert gen.name == "dice-kdtree"
    # Stored as given; DiCE's own options are derived when fitting.
    assert gen.get_params()["posthoc_sparsity"] == 0 and gen.time_limit == 5
    assert gen.fit(clf, train_rows).options_ == {"sparsity_weight": 0.5, "posthoc_sparsity": 0.0}
    assert "time_limit=5" in repr(gen)
    with pytest.raises(AttributeError):
        gen.name = "other"  # derived from the method


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("gradient",), {}, "method must be one of"),
        (("genetic",), {"proximity_weight": -1}, "non-negative"),
        (("genetic",), {"diversity_weight": float("nan")}, "non-negative"),
        (("genetic",), {"max_iterations": 0}, "positive integer"),
        (("random",), {"sample_size": True}, "positive integer"),
        (("random",), {"sample_size": 10.5}, "positive integer"),
        (("random",), {"posthoc_sparsity": 2}, r"\[0, 1\]"),
        (("random",), {"time_limit": 0}, "positive number"),
        (("random",), {"proximity_weight": 1.0}, "applies to method genetic only"),
        (("genetic",), {"posthoc_sparsity": 0.1}, "random and kdtree only"),
        (("kdtree",), {"sample_size": 100}, "random only"),
    ],
)
def test_bad_options_are_refused(setup, args, kwargs, message):
    clf, train_rows, _ = setup
    gen = DiCE(*args, **kwargs)  # stored as given; checked when fitted
    with pytest.raises(SensecfError, match=message):
        gen.fit(clf, train_rows)


def test_bad_options_are_refused_by_make_generator():
    with pytest.raises(SensecfError, match="applies to method genetic only, not 'random'"):
        make_generator("dice-random", diversity_weight=1.0)
    with pytest.raises(SensecfError, match="sample_size must be a positive integer; got 0"):
        make_generator("dice-random", sample_size=0)


@pytest.mark.parametrize("method", METHODS)
def test_a_clone_from_the_registry_gives_the_same_counterfactuals(results, setup, method):
    clf, train_rows, queries = setup
    made = make_generator(f"dice-{method}")
    twin = clone(made)
    assert twin is not made and twin.get_params() == made.get_params()
    assert made.get_params() == DiCE(method).get_params()  # what ``results`` ran
    result = twin.fit(clf, train_rows).generate(queries, n_cfs=2, seed=0)
    for got, expected in [
        (result.cfs, results[method].cfs),
        (result.queries, results[method].queries),
    ]:
        pd.testing.assert_frame_equal(got.drop(columns="seconds"), expected.drop(columns="seconds"))


def test_a_plain_fitted_estimator_gives_the_same_counterfactuals(results, setup):
    clf, train_rows, queries = setup
    estimator = clf.pipeline_  # a scikit-learn pipeline, not a TrainedClassifier
    assert not isinstance(estimator, TrainedClassifier) and clf.threshold == 0.5
    result = DiCE("random").fit(estimator, train_rows).generate(queries, n_cfs=2, seed=0)
    pd.testing.assert_frame_equal(
        result.cfs.drop(columns="seconds"), results["random"].cfs.drop(columns="seconds")
    )


def test_options_reach_dice(setup):
    clf, train_rows, queries = setup
    result = (
        DiCE("genetic", proximity_weight=1.0, diversity_weight=0.5, max_iterations=20)
        .fit(clf, train_rows)
        .generate(queries.subset([0]), n_cfs=1)
    )
    assert result.queries["error"].iloc[0] == ""
    result = (
        DiCE("random", sample_size=50).fit(clf, train_rows).generate(queries.subset([0]), n_cfs=1)
    )
    assert result.queries["error"].iloc[0] == ""


def test_fit_needs_a_mutable_feature_and_generate_needs_fit(setup):
    clf, train_rows, queries = setup
    frozen = with_spec(clf, toy_spec(s1="fixed", s2="fixed", grp="fixed", noise="fixed"))
    with pytest.raises(SensecfError, match="mutable feature"):
        DiCE().fit(frozen, train_rows)
    with pytest.raises(NotFittedError):
        DiCE().generate(queries)


# ---- missing values --------------------------------------------------------------------------
def free_to_move(model: TrainedClassifier) -> TrainedClassifier:
    """The model with every feature mutable both ways: the KD-tree keeps only reference rows
    equal to the query where it may not vary, and a fixed age of 25 to 75 leaves it none."""
    features = tuple(f.model_copy(update={"mutability": "both"}) for f in model.spec.features)
    free = copy.copy(model)
    free.spec = model.spec.model_copy(update={"features": features})
    return free


@pytest.mark.parametrize("method", METHODS)
def test_a_querys_missing_values_stay_missing_and_the_real_model_judges(gappy, method):
    options = {"genetic": {"max_iterations": 30}, "kdtree": {"posthoc_sparsity": 0.0}}
    model = free_to_move(gappy.model) if method == "kdtree" else gappy.model
    generator = DiCE(method, **options.get(method, {}))
    result = generator.fit(model, gappy.train).generate(gappy.queries, n_cfs=2)
    assert (result.queries["error"] == "").all()
    assert result.coverage >= 0.5
    check_missing_kept(result, gappy.model)
    check_columns(result, DiCE(method))
    # DiCE never varies the stand-ins: no value given to a missing feature.
    assert violations(result.spec, result.query_matrix(), result.cf_matrix())["fixed"].sum() == 0


def test_dice_scores_every_row_with_the_querys_missing_values(gappy):
    check_package_sees_missing(lambda: DiCE("random"), gappy)


def test_reference_rows_with_missing_values_get_stand_ins_on_the_grain(gappy):
    gen = DiCE("kdtree").fit(gappy.model, gappy.train)
    frame = gen.dice_data_.data_df
    assert len(frame) == len(gappy.train)  # no row dropped for a gap
    assert not frame[gappy.train.spec.feature_names].isna().any().any()
    assert set(frame["group"]) <= {"1.0", "2.0", "3.0"}


def test_a_query_missing_every_mutable_feature_is_recorded(gappy):
    frame = gappy.queries.frame.iloc[:1].copy()
    frame[["group", "steps", "sleep_min", "hr_rest"]] = np.nan
    result = DiCE("random").fit(gappy.model, gappy.train).generate(frame)
    assert result.queries["n_cfs"].tolist() == [0]
    assert "missing every mutable feature" in result.queries["error"].iloc[0]
