"""The metric suite against hand-computed values on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sensecf import Dataset, DatasetSpec, FeatureSpec, train
from sensecf.errors import DataError, SensecfError
from sensecf.evaluation import (
    CF_COLUMNS,
    QUERY_COLUMNS,
    MetricSuite,
    evaluate,
    minimal_l0,
)
from sensecf.evaluation.stats import grouped_intervals, share_interval
from sensecf.generators import CounterfactualResult, NotFittedError
from sensecf.models import TrainedClassifier

SPEC = DatasetSpec(
    target="y",
    classes={0: "well", 1: "ill"},
    desired_class=0,
    features=[
        FeatureSpec(name="a", bounds=(0, 10), step=0.5),
        FeatureSpec(name="b", kind="integer", bounds=(0, 20), mutability="increase"),
        FeatureSpec(name="c", kind="integer", bounds=(0, 5), mutability="fixed", step=2),
    ],
)
# Reference rows: MAD(a) = 1.5; MAD(b) = 0 so b falls back to its std √2; c is constant, so its
# step 2. std(a) (ddof=0) = √(35/12).
REFERENCE = pd.DataFrame(
    {
        "a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "b": [0, 0, 0, 0, 3, 3],
        "c": [2] * 6,
        "y": [0, 0, 0, 1, 1, 1],
    }
)
STD_A = math.sqrt(35 / 12)
MAD = {"a": 1.5, "b": math.sqrt(2), "c": 2.0}


@pytest.fixture(scope="module")
def model():
    a = np.linspace(0, 10, 40)
    df = pd.DataFrame({"a": a, "b": np.arange(40) % 4, "c": 2, "y": (a > 3.5).astype(int)})
    return train(Dataset(df, SPEC), "logreg", importance_repeats=1)


@pytest.fixture(scope="module")
def suite(model):
    return MetricSuite().fit(model, Dataset(REFERENCE, SPEC))


def make_result(**cf_columns) -> CounterfactualResult:
    """Three queries (the last gets no CF) and five hand-made CFs."""
    queries = pd.DataFrame(
        {
            "query_id": [0, 1, 2],
            "a": [5.0, 6.0, 4.0],
            "b": [1.0, 0.0, 3.0],
            "c": [2.0, 2.0, 2.0],
            "label": [1, 1, 0],
            "proba_desired": [0.1, 0.1, 0.2],
            "n_cfs": [3, 2, 0],
            "seconds": [1.0, 2.0, 6.0],
            "error": ["", "", "boom"],
        }
    )
    cfs = pd.DataFrame(
        {
            "query_id": [0, 0, 0, 1, 1],
            "method": "hand",
            "rank": [0, 1, 2, 0, 1],
            "a": [2.0, 3.0, 9.0, 6.0, 1.0],  # the model agrees with `valid` (a > 3.5 is ill)
            "b": [1.0, 4.0, 1.0, -1.0, 0.0],
            "c": [2.0, 2.0, 4.0, 2.5, 2.0],
            "proba_desired": 0.9,
            "valid": [True, True, False, False, True],
            **cf_columns,
        }
    )
    return CounterfactualResult("hand", 0, SPEC, queries, cfs)


LLM_COLUMNS = {
    "source": ["llm", "repair", "fallback", "llm", "fallback"],
    "llm_calls": [1, 2, 0, 1, 0],
    "prompt_tokens": [100, 200, 0, 100, 0],
    "completion_tokens": [10, 20, 0, 10, 0],
}


# ---- fitted state ----------------------------------------------------------------------------
def test_mad_falls_back_to_std_then_step(suite):
    assert suite.mad_.to_dict() == pytest.approx(MAD)
    assert suite.mad_source_.tolist() == ["mad", "std", "step"]
    assert suite.std_.to_dict() == pytest.approx({"a": STD_A, "b": math.sqrt(2), "c": 0.0})
    assert suite.scale_["c"] == 2.0  # a constant feature is standardised by its step
    assert suite.range_.tolist() == [10.0, 20.0, 5.0]  # bounds widths


def test_range_from_data(model):
    fitted = MetricSuite(range_from="data").fit(model, Dataset(REFERENCE, SPEC))
    assert fitted.range_.tolist() == [5.0, 3.0, 5.0]  # c has no data range: its bounds


# ---- per CF -------------------------------------------------------------------------------
def test_per_cf_distances(suite):
    scored = suite.score_cfs(make_result())
    assert list(scored.columns) == list(CF_COLUMNS)
    assert scored["l0"].tolist() == [1, 2, 2, 2, 1]
    expected_mad = [
        3 / 1.5,
        2 / 1.5 + 3 / math.sqrt(2),
        4 / 1.5 + 2 / 2,  # c has MAD 0 and std 0: its step, 2
        1 / math.sqrt(2) + 0.5 / 2,
        5 / 1.5,
    ]
    assert scored["mad_l1"].tolist() == pytest.approx(expected_mad)
    expected_range = [3 / 10, 2 / 10 + 3 / 20, 4 / 10 + 2 / 5, 1 / 20 + 0.5 / 5, 5 / 10]
    assert scored["range_l1"].tolist() == pytest.approx(expected_range)
    expected_l2 = [
        3 / STD_A,
        math.hypot(2 / STD_A, 3 / math.sqrt(2)),
        math.hypot(4 / STD_A, 2 / 2),
        math.hypot(1 / math.sqrt(2), 0.5 / 2),
        5 / STD_A,
    ]
    assert scored["l2_std"].tolist() == pytest.approx(expected_l2)


def test_cost_is_the_effort_of_the_change(model, suite):
    # Without costs in the spec, the effort is the MAD-scaled L1.
    scored = suite.score_cfs(make_result())
    assert scored["cost"].tolist() == pytest.approx(scored["mad_l1"].tolist())
    # a: 1 per unit and 2 to change at all; b keeps its MAD price (1 / √2 per unit).
    costed = SPEC.update_feature("a", cost={"per_unit": 1.0, "fixed": 2.0})
    fitted = MetricSuite().fit(
        TrainedClassifier(costed, model.pipeline_), Dataset(REFERENCE, costed)
    )
    result = make_result()
    result = CounterfactualResult("hand", 0, costed, result.queries, result.cfs)
    expected = [2 + 3, 2 + 2 + 3 / math.sqrt(2), 2 + 4 + 2 / 2, 1 / math.sqrt(2) + 0.5 / 2, 2 + 5]
    assert fitted.score_cfs(result)["cost"].tolist() == pytest.approx(expected)
    assert "cost" in fitted.summarise(result).columns


def test_min_l0_ratio_only_for_valid_cfs(suite):
    scored = suite.score_cfs(make_result(), min_l0=pd.Series({0: 1, 1: 1}))
    assert scored["min_l0"].tolist() == [1, 1, 1, 1, 1]
    ratio = scored["min_l0_ratio"].tolist()
    assert ratio[:2] == [1.0, 2.0] and ratio[4] == 1.0
    assert math.isnan(ratio[2]) and math.isnan(ratio[3])  # invalid CFs
    no_oracle = suite.score_cfs(make_result())
    assert no_oracle["min_l0"].isna().all() and no_oracle["min_l0_ratio"].isna().all()


def test_minimal_l0_from_an_oracle_result(suite):
    oracle = make_result()
    assert minimal_l0(oracle).to_dict() == {0: 1, 1: 1}
    scored = suite.score_cfs(make_result(), min_l0=oracle)
    assert scored["min_l0_ratio"].tolist()[:2] == [1.0, 2.0]


def test_violation_counts(suite):
    scored = suite.score_cfs(make_result())
    # CF 2 changed the fixed c; CF 3 lowered the increase-only b below its bound and gave c
    # (fixed, integer) the value 2.5.
    assert scored["viol_fixed"].tolist() == [0, 0, 1, 1, 0]
    assert scored["viol_direction"].tolist() == [0, 0, 0, 1, 0]
    assert scored["viol_bounds"].tolist() == [0, 0, 0, 1, 0]
    assert scored["viol_grain"].tolist() == [0, 0, 0, 1, 0]
    assert scored.loc[
        3, ["viol_fixed", "viol_direction", "viol_bounds", "viol_grain"]
    ].tolist() == [
        1,
        1,
        1,
        1,
    ]
    assert scored["viol_total"].tolist() == [0, 0, 1, 4, 0]


def test_cost_and_source_are_carried(suite):
    scored = suite.score_cfs(make_result(**LLM_COLUMNS))
    assert scored["source"].tolist() == LLM_COLUMNS["source"]
    assert scored["llm_calls"].tolist() == LLM_COLUMNS["llm_calls"]
    plain = suite.score_cfs(make_result())
    assert (plain["source"] == "search").all() and (plain["prompt_tokens"] == 0).all()


def test_validity_is_always_the_suites_own_models_verdict(model, suite):
    result = make_result(valid=[False] * 5)  # the table says invalid; the model disagrees
    expected = model.predict(result.cf_matrix()) == 0
    assert suite.score_cfs(result)["valid"].tolist() == expected.tolist()
    stale = make_result(valid=[True] * 5)  # a stored verdict cannot make a CF valid either
    assert suite.score_cfs(stale)["valid"].tolist() == expected.tolist()
    strict = MetricSuite(threshold=0.5).fit(model, Dataset(REFERENCE, SPEC))
    expected = model.predict(result.cf_matrix()) == 0
    assert strict.score_cfs(result)["valid"].tolist() == expected.tolist()
    assert expected[[0, 4]].all()  # a = 2 and a = 1 are well inside the desired class


# ---- per query ----------------------------------------------------------------------------
def test_query_table_and_diversity(suite):
    table = suite.score_queries(make_result(), min_l0=pd.Series({0: 1, 1: 1}))
    assert list(table.columns) == list(QUERY_COLUMNS)
    assert table["covered"].tolist() == [True, True, False]
    assert table["n_cfs"].tolist() == [3, 2, 0]
    assert table["n_valid"].tolist() == [2, 1, 0]
    assert table["validity"].tolist()[:2] == pytest.approx([2 / 3, 1 / 2])
    assert math.isnan(table["validity"].iloc[2])
    # Valid CFs only: query 0 averages CFs 0 and 1.
    assert table["l0"].tolist()[:2] == [1.5, 1.0]
    assert table["mad_l1"].iloc[0] == pytest.approx((2 + 2 / 1.5 + 3 / math.sqrt(2)) / 2)
    d01 = 1 / 1.5 + 3 / math.sqrt(2)
    assert table["diversity"].iloc[0] == pytest.approx(d01)
    assert table["diversity"].iloc[1:].isna().all()  # one valid CF, no CF
    assert table["viol_total"].tolist() == [1, 4, 0]  # violations count every CF
    assert table["n_violating"].tolist() == [1, 1, 0]
    assert table["seconds"].tolist() == [1.0, 2.0, 6.0]
    assert table["error"].tolist() == ["", "", "boom"]


def test_diversity_of_three_cfs_with_all_cfs(suite):
    table = suite.score_queries(make_result(), valid_only=False)
    d01 = 1 / 1.5 + 3 / math.sqrt(2)
    d02 = 7 / 1.5 + 0 + 2 / 2
    d12 = 6 / 1.5 + 3 / math.sqrt(2) + 2 / 2
    assert table["diversity"].iloc[0] == pytest.approx((d01 + d02 + d12) / 3)
    assert table["l0"].iloc[0] == pytest.approx(5 / 3)


def test_queries_table_cost_wins_over_cf_sums(suite):
    result = make_result(**LLM_COLUMNS)
    assert suite.score_queries(result)["llm_calls"].tolist() == [3, 1, 0]
    result.queries["llm_calls"] = [3, 1, 4]  # the third query spent calls and got nothing
    assert suite.score_queries(result)["llm_calls"].tolist() == [3, 1, 4]


# ---- summary -------------------------------------------------------------------------------
def test_summary_coverage_validity_and_ci(suite):
    row = suite.summarise(make_result(), min_l0=pd.Series({0: 1, 1: 1})).iloc[0]
    assert row["method"] == "hand"
    assert (row["n_queries"], row["n_cfs"], row["n_valid"]) == (3, 5, 3)
    assert row["coverage"] == pytest.approx(2 / 3)
    assert row["validity"] == pytest.approx(3 / 5)  # pooled over CFs
    assert row["any_valid"] == pytest.approx(2 / 3)
    assert row["query_validity"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # l0 over queries: 1.5 and 1.0 (query 2 has no valid CF, so no value). Two queries, three
    # for coverage: too few clusters for an interval, and the summary says how many there were.
    assert row["l0"] == pytest.approx(1.25) and row["l0_n"] == 2
    assert math.isnan(row["l0_ci_low"]) and math.isnan(row["l0_ci_high"])
    assert row["coverage_n"] == 3 and math.isnan(row["coverage_ci_low"])
    assert row["min_l0_ratio"] == pytest.approx(1.25)
    assert math.isnan(row["diversity_ci_low"])  # a single query has a diversity
    assert row["viol_total"] == 5 and row["viol_fixed"] == 2 and row["n_violating"] == 2
    assert row["seconds"] == pytest.approx(3.0)
    assert math.isnan(row["validity_first"]) and math.isnan(row["fallback_share"])


def people_result(n_people: int = 6, days: int = 3) -> CounterfactualResult:
    """One query per person-day, each with one CF; a person's CFs change their own number of
    features (person p: b moves by p), and every third person's CF is not valid."""
    n = n_people * days
    person = np.repeat(np.arange(n_people), days)
    queries = pd.DataFrame(
        {
            "query_id": np.arange(n),
            "pid": person,
            "a": 5.0,
            "b": 4.0,
            "c": 2.0,
            "n_cfs": 1,
            "seconds": 1.0 + person,
            "error": "",
        }
    )
    cfs = pd.DataFrame(
        {
            "query_id": np.arange(n),
            "method": "people",
            "rank": 0,
            "a": np.where(person % 3 == 2, 5.0, 2.0),
            "b": 4.0 + person % 3,
            "c": 2.0,
            "valid": person % 3 != 2,
        }
    )
    spec = SPEC.model_copy(update={"id_columns": ("pid",), "group_column": "pid"})
    return CounterfactualResult("people", 0, spec, queries, cfs)


def test_summary_intervals_resample_people_when_the_queries_say_who_they_are(suite):
    result = people_result()
    row = suite.summarise(result).iloc[0]
    assert row["n_queries"] == 18 and row["seconds_n"] == 6 and row["any_valid_n"] == 6
    assert row["any_valid"] == pytest.approx(2 / 3)
    # The suite's seed, its people: the same numbers as the statistics module gives.
    by_person = grouped_intervals(
        suite.score_queries(result).assign(person=result.queries["pid"]),
        ["seconds"],
        clusters="person",
        seed=suite.seed,
    ).iloc[0]
    assert (row["seconds_ci_low"], row["seconds_ci_high"]) == pytest.approx(
        (by_person["seconds_ci_low"], by_person["seconds_ci_high"])
    )
    assert 1.0 <= row["seconds_ci_low"] < row["seconds"] < row["seconds_ci_high"] <= 6.0
    # A share stays in [0, 1]; without person ids each query is its own cluster (Wilson).
    assert row["any_valid_ci_low"] >= 0.0 and row["any_valid_ci_high"] <= 1.0
    anonymous = CounterfactualResult(
        "people", 0, SPEC, result.queries.drop(columns="pid"), result.cfs
    )
    flat = suite.summarise(anonymous).iloc[0]
    assert flat["any_valid_n"] == 18
    low, high = share_interval(12, 18)
    assert (flat["any_valid_ci_low"], flat["any_valid_ci_high"]) == pytest.approx(
        (float(low), float(high))
    )
    # Treating a person's days as independent gives a narrower (overconfident) interval.
    width = row["any_valid_ci_high"] - row["any_valid_ci_low"]
    assert flat["any_valid_ci_high"] - flat["any_valid_ci_low"] < width


def test_summary_llm_provenance_and_tokens_per_valid_cf(suite):
    row = suite.summarise(make_result(**LLM_COLUMNS)).iloc[0]
    assert row["validity_first"] == pytest.approx(1 / 3)  # only query 0's first answer
    assert row["validity_after_repair"] == pytest.approx(1 / 3)
    assert row["any_valid"] == pytest.approx(2 / 3)  # query 1 rescued by the fallback
    assert row["fallback_share"] == pytest.approx(1 / 3)
    assert (row["llm_calls"], row["prompt_tokens"], row["completion_tokens"]) == (4, 400, 40)
    assert row["llm_calls_per_valid_cf"] == pytest.approx(4 / 3)
    assert row["tokens_per_valid_cf"] == pytest.approx(440 / 3)


def test_per_class_breakdown(suite):
    table = suite.summarise(make_result(), by="label")
    assert table["label"].tolist() == [0, 1]
    assert table["n_queries"].tolist() == [1, 2]
    assert table["coverage"].tolist() == [0.0, 1.0]
    assert table["n_cfs"].tolist() == [0, 5]
    assert math.isnan(table["validity"].iloc[0])
    assert table["validity"].iloc[1] == pytest.approx(3 / 5)
    with pytest.raises(DataError, match="nope"):
        suite.summarise(make_result(), by="nope")


def test_no_cfs_at_all(suite):
    empty = make_result().cfs.iloc[0:0]
    result = make_result()
    result = CounterfactualResult("none", 0, SPEC, result.queries.assign(n_cfs=0), empty)
    assert suite.score_cfs(result).empty
    row = suite.summarise(result).iloc[0]
    assert row["coverage"] == 0.0 and row["n_cfs"] == 0 and math.isnan(row["validity"])
    assert row["viol_total"] == 0 and math.isnan(row["tokens_per_valid_cf"])


def test_evaluate_concatenates_methods(model):
    other = make_result()
    other.method = "other"
    table = evaluate([make_result(), other], model, Dataset(REFERENCE, SPEC), by="label", seed=1)
    assert table["method"].tolist() == ["hand", "hand", "other", "other"]
    assert table.columns.tolist()[:3] == ["method", "label", "n_queries"]


def test_errors(model, suite):
    with pytest.raises(NotFittedError):
        MetricSuite().score_cfs(make_result())
    with pytest.raises(SensecfError):
        MetricSuite(lof_neighbors=0)
    with pytest.raises(SensecfError):
        MetricSuite(threshold=1.5)
    bad = make_result()
    bad.cfs.loc[0, "query_id"] = 9
    with pytest.raises(DataError, match="query_id"):
        suite.score_cfs(bad)


# ---- plausibility ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clusters():
    spec = DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="u", bounds=(-200, 200)),
            FeatureSpec(name="v", bounds=(-200, 200)),
        ],
    )
    rng = np.random.default_rng(0)
    well = rng.normal(0, 1, size=(100, 2))
    ill = rng.normal(6, 1, size=(100, 2))
    df = pd.DataFrame(np.vstack([well, ill]).round(3), columns=["u", "v"])
    df["y"] = [0] * 100 + [1] * 100
    data = Dataset(df, spec)
    clf = train(data, "logreg", importance_repeats=1)
    return spec, data, clf


def test_plausibility_sanity(clusters):
    spec, data, clf = clusters
    train_rows = clf.split_data(data)[0]
    on_row = train_rows.frame[train_rows.y == 0].iloc[0][["u", "v"]].to_numpy()
    far = np.array([100.0, -100.0])
    other_class = np.array([6.0, 6.0])
    queries = pd.DataFrame(
        {"query_id": [0], "u": [6.0], "v": [6.0], "n_cfs": [3], "seconds": [0.1], "error": [""]}
    )
    cfs = pd.DataFrame(np.vstack([on_row, far, other_class]), columns=["u", "v"])
    cfs = cfs.assign(query_id=0, method="x", rank=[0, 1, 2], valid=[True, True, False])
    result = CounterfactualResult("x", 0, spec, queries, cfs)
    scored = MetricSuite(seed=0).fit(clf, train_rows).score_cfs(result)
    assert scored["lof_inlier"].tolist() == [1.0, 0.0, 0.0]  # LOF knows class 0 only
    assert scored["iforest_inlier"].tolist()[:2] == [1.0, 0.0]
    assert scored["nn_dist"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert scored["nn_dist"].iloc[1] > 10
    assert scored["ynn"].iloc[0] == 1.0 and scored["ynn"].iloc[2] == 0.0


def test_missing_values_do_not_crash(suite):
    result = make_result()
    result.cfs.loc[4, "b"] = np.nan
    scored = suite.score_cfs(result)
    row = scored.iloc[4]
    assert row["viol_bounds"] == 1 and row["l0"] == 2
    assert math.isnan(row["mad_l1"]) and math.isnan(row["lof_inlier"]) and math.isnan(row["ynn"])
    assert scored.iloc[:4]["lof_inlier"].notna().all()


def test_validity_at_a_margin_beside_the_decision_rule(model):
    clf, data, result = model, Dataset(REFERENCE, SPEC), make_result()
    proba = clf.proba_of(result.cf_matrix(), result.desired_class)
    assert (proba >= 0.6).any() and (proba < 0.6).any()
    plain = MetricSuite().fit(clf, data)
    assert "valid_margin" not in plain.score_cfs(result)
    assert "validity_margin" not in plain.summarise(result)
    suite = MetricSuite(margin=0.6).fit(clf, data)
    scored = suite.score_cfs(result)
    assert scored["valid_margin"].tolist() == (proba >= 0.6).tolist()
    row = suite.summarise(result).iloc[0]
    assert row["validity_margin"] == pytest.approx((proba >= 0.6).sum() / len(proba))
    assert row["validity"] == pytest.approx(3 / 5)  # the generator's rule, unchanged
    with pytest.raises(SensecfError, match="margin"):
        MetricSuite(margin=1.5)


def test_first_answer_validity_counts_only_the_first_sample(suite):
    # Query 0's valid round-0 answer is its second sample: not a first answer.
    row = suite.summarise(make_result(**LLM_COLUMNS, sample=[1, 0, -1, 0, -1])).iloc[0]
    assert row["validity_first"] == 0.0
    assert row["validity_after_repair"] == pytest.approx(1 / 3)  # still valid after repair
    scored = suite.score_cfs(make_result(**LLM_COLUMNS, sample=[1, 0, -1, 0, -1]))
    assert scored["first_answer"].tolist() == [False, False, False, True, False]


def test_copy_shares_from_the_examples_a_query_was_shown(suite):
    result = make_result()
    # Query 0 was shown (a=2, b=1) and (a=3, b=9); query 1 nothing.
    result.queries["examples_shown"] = ["[[2.0, 1.0, 2.0], [3.0, 9.0, 2.0]]", "[]", "[]"]
    scored = suite.score_cfs(result)
    # CF 0 (a=2, b=1) is example 1 whole; CF 1 (a=3, b=4) took a from example 2, not b.
    assert scored["copied_example"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert scored["example_share"].tolist()[:2] == [1.0, 0.5]
    assert scored["copied_example"].tolist()[3:] == [0.0, 0.0]  # no examples: no copy
    table = suite.score_queries(result)
    assert table["copied_example"].iloc[0] == 0.5  # over its two valid CFs
    assert table["example_share"].iloc[0] == pytest.approx(0.75)
    plain = suite.summarise(make_result()).iloc[0]
    assert math.isnan(plain["copied_example"]) and math.isnan(plain["example_share"])


# ---- a query's missing values ----------------------------------------------------------------
def missing_b_result() -> CounterfactualResult:
    """One query missing b; three CFs: two keep b missing, one gives it a value (and moves c)."""
    queries = pd.DataFrame(
        {"query_id": [0], "a": [6.0], "b": [np.nan], "c": [2.0], "label": [1], "n_cfs": [3]}
    )
    cfs = pd.DataFrame(
        {
            "query_id": [0, 0, 0],
            "method": "hand",
            "rank": [0, 1, 2],
            "a": [1.0, 2.5, 1.0],
            "b": [np.nan, np.nan, 3.0],
            "c": [2.0, 2.0, 4.0],
            "valid": True,
        }
    )
    return CounterfactualResult("hand", 0, SPEC, queries, cfs)


def test_a_querys_missing_feature_adds_no_distance(suite, model):
    result = missing_b_result()
    scored = suite.score_cfs(result)
    kept, given = scored.iloc[0], scored.iloc[2]
    assert kept["l0"] == 1 and kept["viol_total"] == 0
    assert kept["mad_l1"] == pytest.approx(5 / 1.5)
    assert kept["range_l1"] == pytest.approx(5 / 10)
    assert kept["l2_std"] == pytest.approx(5 / STD_A)
    # A value given to the missing b is a change and a violation, but has no size.
    assert given["l0"] == 3 and given["viol_fixed"] == 2  # a; b given a value; fixed c moved
    assert given["mad_l1"] == pytest.approx(5 / 1.5 + 2 / 2.0)
    # Judged by the model on the row with NaN, as the generators judge it.
    expected = model.predict(result.cf_matrix()) == 0
    assert scored["valid"].tolist() == expected.tolist() and expected[:2].all()


def test_plausibility_is_finite_for_cfs_keeping_a_missing_value(suite):
    scored = suite.score_cfs(missing_b_result())
    for column in ("lof_inlier", "iforest_inlier", "ynn", "nn_dist"):
        assert scored[column].notna().all(), column
    # The detectors see b at the training median (0), as the reference rows had it filled.
    filled = missing_b_result()
    filled.cfs["b"] = [0.0, 0.0, 3.0]
    filled.queries["b"] = 0.0
    twin = suite.score_cfs(filled)
    assert twin["nn_dist"].iloc[:2].tolist() == pytest.approx(scored["nn_dist"].iloc[:2].tolist())


def test_diversity_ignores_a_feature_missing_in_both_cfs(suite):
    table = suite.score_queries(missing_b_result(), valid_only=False)
    # Pairs: (0, 1) |1 - 2.5| / 1.5; (0, 2) b missing in one, c: 2/2; (1, 2) 1.5/1.5 + 1.
    expected = np.mean([1.0, 1.0, 2.0])
    assert table["diversity"].iloc[0] == pytest.approx(expected)


def test_reference_rows_with_missing_values_are_scaled_and_indexed_without_them(model):
    holey = REFERENCE.copy()
    holey.loc[[0, 5], "a"] = np.nan  # a: 2, 3, 4, 5 -> MAD 1.0
    fitted = MetricSuite().fit(model, Dataset(holey, SPEC))
    assert fitted.mad_["a"] == pytest.approx(1.0) and fitted.median_["a"] == pytest.approx(3.5)
    assert np.isfinite(fitted.reference_z_).all()
    scored = fitted.score_cfs(missing_b_result())
    assert scored[["mad_l1", "lof_inlier", "nn_dist"]].notna().all().all()
