"""CFNOW through the real cfnow package, on a small table with every kind of feature."""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
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

from sensecf.data.constraints import violations
from sensecf.data.dataset import Dataset
from sensecf.errors import SensecfError
from sensecf.generators import NotFittedError, select_queries
from sensecf.generators.cfnow import CFNOW
from sensecf.generators.registry import make_generator
from sensecf.models import TrainedClassifier, train

# Not importorskip: importing cfnow directly would try its nltk download.
pytestmark = pytest.mark.skipif(find_spec("cfnow") is None, reason="cfnow is not installed")

LIMIT = 0.25  # cfnow spends the whole limit per query that has a CF: keep the suite quick


@pytest.fixture(scope="module")
def setup(risk_data: Dataset) -> tuple[TrainedClassifier, Dataset, Dataset]:
    data = risk_data
    clf = train(data, "logreg", importance_repeats=1)
    train_rows, test_rows = clf.split_data(data)
    return clf, train_rows, test_rows


@pytest.fixture(scope="module")
def flagged(setup: tuple[TrainedClassifier, Dataset, Dataset]) -> Dataset:
    clf, _, test_rows = setup
    return select_queries(clf, test_rows, limit=3)


# ---- options and setup ---------------------------------------------------------------------
def test_name_and_options_are_checked_at_the_door(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, _ = setup
    assert CFNOW().name == "cfnow-greedy"
    assert CFNOW("random").name == "cfnow-random"
    # Stored as given, checked when fitted (make_generator checks at once).
    for bad in [{"strategy": "random-sequential"}, {"strategy": "GREEDY"}]:
        with pytest.raises(SensecfError, match="strategy"):
            CFNOW(**bad).fit(clf, train_rows)
    for value in [0, -1.0, float("nan"), float("inf"), True, "2"]:
        with pytest.raises(SensecfError, match="limit_seconds"):
            CFNOW(limit_seconds=value).fit(clf, train_rows)
        with pytest.raises(SensecfError, match="limit_seconds"):
            make_generator("cfnow-greedy", limit_seconds=value)
        with pytest.raises(SensecfError, match="search_seconds"):
            CFNOW(search_seconds=value).fit(clf, train_rows)
        with pytest.raises(SensecfError, match="search_seconds"):
            make_generator("cfnow-random", search_seconds=value)
    assert CFNOW(search_seconds=None).search_seconds is None
    assert CFNOW(limit_seconds=1).get_params() == {
        "limit_seconds": 1,
        "search_seconds": 30.0,
        "strategy": "greedy",
    }


@pytest.mark.parametrize("strategy", ["greedy", "random"])
def test_a_clone_from_the_registry_gives_the_same_counterfactuals(
    strategy: str, setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    # cfnow fine-tunes for limit_seconds of wall-clock time, so only a limit that ends the
    # fine-tuning at once makes its answers repeatable (the first search is seeded).
    made = make_generator(f"cfnow-{strategy}", limit_seconds=1e-6)
    twin = clone(made)
    assert twin is not made and twin.get_params() == made.get_params()
    first = made.fit(clf, train_rows).generate(flagged, seed=1)
    again = twin.fit(clf, train_rows).generate(flagged, seed=1)
    assert first.coverage == 1.0
    for got, expected in [(again.cfs, first.cfs), (again.queries, first.queries)]:
        pd.testing.assert_frame_equal(got.drop(columns="seconds"), expected.drop(columns="seconds"))
    # A plain scikit-learn estimator (no TrainedClassifier around it) gives the same answers.
    assert clf.threshold == 0.5
    plain = clone(made).fit(clf.pipeline_, train_rows).generate(flagged, seed=1)
    pd.testing.assert_frame_equal(
        plain.cfs.drop(columns="seconds"), first.cfs.drop(columns="seconds")
    )
    check_columns(first, made)


def test_generate_before_fit_says_so(flagged: Dataset) -> None:
    with pytest.raises(NotFittedError, match="fit"):
        CFNOW().generate(flagged)


def test_import_skips_the_nltk_download_and_prints_nothing() -> None:
    code = (
        "import nltk; before = nltk.download\n"
        "from sensecf.generators.cfnow import _import_cfnow\n"
        "_import_cfnow()\n"
        "assert nltk.download is before\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


# ---- the search ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["greedy", "random"])
def test_each_strategy_fills_the_tidy_table(
    strategy: str, setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    gen = CFNOW(strategy, limit_seconds=LIMIT).fit(clf, train_rows)
    result = gen.generate(flagged, seed=1)
    check_table(result, clf, desired=0)
    check_columns(result, gen)
    assert result.method == f"cfnow-{strategy}"
    assert (result.queries["error"] == "").all()
    assert result.coverage == 1.0 and (result.cfs["source"] == "search").all()
    # It spends its whole time limit on each query that has a CF.
    assert (result.queries["seconds"] >= LIMIT).all()
    # Coded features come back as codes: binary flipped, the group one-hot encoded for cfnow.
    assert set(result.cfs["sex"]) <= {0.0, 1.0}
    assert set(result.cfs["group"]) <= {1.0, 2.0, 3.0}
    # Nothing is repaired: whatever it broke is there for the metrics to count.
    counts = violations(clf.spec, result.query_matrix(), result.cf_matrix())
    kinds = ["fixed", "direction", "bounds", "grain", "relations", "limits", "total"]
    assert list(counts.columns) == kinds


@pytest.mark.slow
def test_n_cfs_keeps_at_most_that_many_distinct_cfs(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    result = (
        CFNOW(limit_seconds=LIMIT).fit(clf, train_rows).generate(flagged.subset([0, 1]), n_cfs=3)
    )
    check_table(result, clf, desired=0)
    per_query = result.cfs.groupby("query_id")
    assert per_query.size().max() <= 3 and per_query.size().max() > 1
    for _, group in per_query:
        assert group["rank"].tolist() == list(range(len(group)))
        assert not group.duplicated(subset=clf.feature_names).any()


@pytest.mark.slow
def test_a_failing_query_is_recorded_and_the_run_goes_on(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, test_rows = setup
    predicted = clf.predict(test_rows.X)
    rows = [int(np.flatnonzero(predicted == 0)[0]), *np.flatnonzero(predicted == 1)[:2]]
    result = CFNOW(limit_seconds=LIMIT).fit(clf, train_rows).generate(test_rows.subset(rows))
    check_table(result, clf, desired=0)
    queries = result.queries
    assert "already puts this query in the desired class" in queries.loc[0, "error"]
    assert queries.loc[0, "n_cfs"] == 0
    assert (queries.loc[1:, "error"] == "").all() and (queries.loc[1:, "n_cfs"] > 0).all()
    assert result.coverage == pytest.approx(2 / 3)


@pytest.mark.slow
def test_its_own_decision_rule_is_re_checked_not_hidden(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
) -> None:
    clf, train_rows, test_rows = setup
    strict = copy.deepcopy(clf)
    strict.threshold = 0.3  # desired (class 0) now needs P(class 0) > 0.7; cfnow stops at 0.5
    p_desired = strict.proba_of(test_rows.X, 0)
    between = np.flatnonzero((p_desired > 0.05) & (p_desired < 0.45))[:3]
    above_half = np.flatnonzero((p_desired > 0.55) & (p_desired < 0.7))[:1]
    gen = CFNOW(limit_seconds=LIMIT).fit(strict, train_rows)
    result = gen.generate(test_rows.subset([*above_half, *between]))
    check_table(result, strict, desired=0)
    assert "away from the desired class" in result.queries.loc[0, "error"]
    # cfnow counts P >= 0.5 as flipped and stops just past it: under the model's own rule
    # (P > 0.7) those CFs are not valid, and the table says so.
    found = result.cfs
    assert len(found) == 3 and (found["proba_desired"] >= 0.5).all()
    assert not found["valid"].any()


def test_a_first_search_past_search_seconds_is_recorded_as_a_timeout(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    gen = CFNOW("random", limit_seconds=LIMIT, search_seconds=1e-9).fit(clf, train_rows)
    result = gen.generate(flagged)
    assert result.coverage == 0.0
    check_columns(result, gen)  # no counterfactual at all: the same columns
    assert result.queries["error"].str.startswith("TimeoutError").all()
    assert result.queries["error"].str.contains("search_seconds").all()


def test_greedy_refuses_a_query_it_could_loop_forever_on(
    setup: tuple[TrainedClassifier, Dataset, Dataset], flagged: Dataset
) -> None:
    clf, train_rows, _ = setup
    frame = flagged.frame.iloc[:1].copy()
    frame["steps"] = 0.0  # a numerical 0 never moves: 5 movable features left, tabu holds 5
    result = CFNOW(limit_seconds=LIMIT).fit(clf, train_rows).generate(frame)
    assert "loop forever" in result.queries.loc[0, "error"]
    assert result.queries.loc[0, "n_cfs"] == 0


@pytest.mark.slow
def test_leaves_global_state_as_it_found_it(
    setup: tuple[TrainedClassifier, Dataset, Dataset],
    flagged: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clf, train_rows, _ = setup
    state = np.random.get_state()  # noqa: NPY002 - cfnow's random search uses this generator
    handlers = list(logging.getLogger().handlers)
    gen = CFNOW("random", limit_seconds=LIMIT).fit(clf, train_rows)
    with caplog.at_level(logging.DEBUG):
        gen.generate(flagged.subset([0]))
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2] == state[2]
    assert logging.getLogger().handlers == handlers
    assert not [r for r in caplog.records if "cfnow" in r.pathname]


# ---- missing values --------------------------------------------------------------------------
def test_a_querys_missing_values_stay_missing_and_the_real_model_judges(gappy):
    queries = gappy.queries.subset(np.arange(4))
    generator = CFNOW("random", limit_seconds=0.1, search_seconds=5.0)
    result = generator.fit(gappy.model, gappy.train).generate(queries, n_cfs=2)
    assert (result.queries["error"] == "").all()
    assert result.coverage == 1.0
    check_missing_kept(result, gappy.model)
    check_columns(result, generator)


def test_cfnow_scores_every_row_with_the_querys_missing_values(gappy):
    check_package_sees_missing(lambda: CFNOW("random", limit_seconds=0.1), gappy)


def test_a_missing_number_stands_in_as_zero_which_cfnow_never_moves(gappy):
    generator = CFNOW("greedy").fit(gappy.model, gappy.train)
    # age, steps, sleep and heart rate: 0; sex and group: their most frequent level.
    reference = gappy.train.frame
    assert generator.stand_ins_[[0, 3, 4, 5]].tolist() == [0.0] * 4
    assert generator.stand_ins_[2] == reference["group"].mode()[0]
    # With six features and one numerical one missing, cfnow can move five: the greedy search
    # could loop forever, so the query is refused with the reason, not run.
    frame = gappy.queries.frame.iloc[:1].copy()
    frame[["group", "steps", "hr_rest"]] = [1.0, 4000.0, 70.0]
    frame["sleep_min"] = np.nan
    result = generator.generate(frame)
    assert "can move only 5 feature(s)" in result.queries["error"].iloc[0]


def test_cfnows_fine_tuning_crash_keeps_its_searchs_answers(gappy, monkeypatch):
    generator = CFNOW("random", limit_seconds=0.1, search_seconds=5.0).fit(gappy.model, gappy.train)
    real = generator.cfnow_.find_tabular
    calls = []

    def crashing_fine_tuning(**kwargs):
        calls.append(kwargs.get("ft_it_max"))
        if "ft_it_max" not in kwargs:  # what cfnow raises when a tuning step finds nothing new
            raise ValueError("all the input arrays must have same number of dimensions")
        return real(**kwargs)

    monkeypatch.setattr(generator.cfnow_, "find_tabular", crashing_fine_tuning)
    result = generator.generate(gappy.queries.subset(np.arange(2)), n_cfs=1)
    assert calls == [None, 0, None, 0]
    assert (result.queries["error"] == "").all() and result.coverage == 1.0
    check_missing_kept(result, gappy.model)
