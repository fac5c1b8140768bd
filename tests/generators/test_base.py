import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sensecf.data.constraints import violations
from sensecf.data.io import read_table_file, write_table
from sensecf.errors import DataError, SensecfError
from sensecf.generators import (
    Candidates,
    CounterfactualGenerator,
    CounterfactualResult,
    NotFittedError,
    select_queries,
)
from sensecf.generators.base import fill_missing, stand_ins
from sensecf.generators.sparsify import sparsify


class HalfStep(CounterfactualGenerator):
    """Moves sleep and steps up; fails on purpose for very old people; nothing for age 30."""

    name = "half-step"

    def _propose(self, query, n_cfs, desired, rng):
        if query[0] >= 78:
            raise RuntimeError("cannot handle this one")
        if query[0] == 30:
            return Candidates.empty(len(query))
        rows = np.repeat(query[None, :], 3, axis=0)
        rows[:, 1] += [60, 120, 120]  # the last two are identical: one counterfactual
        rows[:, 2] += [2000, 8000, 8000]
        return Candidates(rows, source="search", extra={"note": ["a", "b", "c"]})


def test_generate_builds_both_tables(toy):
    queries = select_queries(toy.model, toy.test)
    result = HalfStep().fit(toy.model, toy.train).generate(queries, n_cfs=3)
    assert isinstance(result, CounterfactualResult)
    q, cfs = result.queries, result.cfs
    assert len(q) == len(queries)
    assert q["query_id"].tolist() == list(range(len(q)))
    assert {"pid", "label", "proba_desired", "n_cfs", "seconds", "error"} <= set(q.columns)
    failed = q["age"] >= 78
    assert (q.loc[failed, "error"].str.contains("RuntimeError: cannot handle")).all()
    assert (q.loc[failed, "n_cfs"] == 0).all()
    served = ~failed & (q["age"] != 30)
    assert (q.loc[served, "n_cfs"] == 2).all()
    assert cfs.columns[:3].tolist() == ["query_id", "method", "rank"]
    assert set(cfs["method"]) == {"half-step"}
    assert cfs.groupby("query_id")["rank"].apply(list).map(lambda r: r == [0, 1]).all()
    expected = toy.model.predict(cfs[toy.model.feature_names]) == 0
    assert (cfs["valid"].to_numpy() == expected).all()
    assert cfs["note"].isin(["a", "b"]).all()
    assert result.coverage == pytest.approx(served.mean())


def test_n_cfs_caps_rows_per_query(toy):
    queries = select_queries(toy.model, toy.test, limit=5, seed=1)
    result = HalfStep().fit(toy.model, toy.train).generate(queries, n_cfs=1)
    assert result.cfs.groupby("query_id").size().max() == 1


def test_result_round_trip(tmp_path, toy):
    queries = select_queries(toy.model, toy.test, limit=6)
    result = HalfStep().fit(toy.model, toy.train).generate(queries, n_cfs=2)
    back = CounterfactualResult.load(result.save(tmp_path / "r"))
    pd.testing.assert_frame_equal(back.cfs, result.cfs)
    pd.testing.assert_frame_equal(back.queries, result.queries)
    assert back.method == "half-step" and back.spec == result.spec
    with pytest.raises(DataError, match="not a counterfactual result folder"):
        CounterfactualResult.load(tmp_path)


def test_errors_at_the_door(toy):
    with pytest.raises(NotFittedError, match="call fit"):
        HalfStep().generate(toy.test)
    gen = HalfStep().fit(toy.model, toy.train)
    with pytest.raises(SensecfError, match="n_cfs must be a positive integer; got 0"):
        gen.generate(toy.test, n_cfs=0)
    with pytest.raises(SensecfError, match="desired_class must be one of"):
        gen.generate(toy.test, desired_class=5)
    with pytest.raises(SensecfError, match="model must be a TrainedClassifier"):
        HalfStep().fit("model", toy.train)


def test_select_queries(toy):
    flagged = select_queries(toy.model, toy.data)
    assert (toy.model.predict(flagged.X) == 1).all()
    assert len(select_queries(toy.model, toy.data, rows="all")) == len(toy.data)
    sample = select_queries(toy.model, toy.data, limit=7, seed=3)
    assert len(sample) == 7
    assert sample.frame.equals(select_queries(toy.model, toy.data, limit=7, seed=3).frame)
    by_id = select_queries(toy.model, toy.data, rows=[3, 5])
    assert set(by_id.frame["pid"]) == {3, 5}
    with pytest.raises(DataError, match=r"unknown pid value\(s\) \[999\]"):
        select_queries(toy.model, toy.data, rows=[999])
    with pytest.raises(SensecfError, match="rows must be 'flagged'"):
        select_queries(toy.model, toy.data, rows="some")


class Batched(CounterfactualGenerator):
    """Serves all queries at once; times every other query itself when ``timed``."""

    name = "batched"

    def __init__(self, *, timed: bool = True) -> None:
        self.timed = timed

    def _propose_batch(self, X, n_cfs, desired, rng, progress=False):
        out = []
        for i, query in enumerate(X):
            rows = np.repeat(query[None, :], 2, axis=0)
            rows[:, 1] += [60, 90]
            extra = {"round": [0, 1]} if i % 3 else {}  # some queries lack the extra column
            seconds = 0.25 * (i + 1) if self.timed and i % 2 == 0 else None
            out.append(Candidates(rows, source=["llm", "repair"], extra=extra, seconds=seconds))
        return out


def test_a_batch_reports_each_query_its_own_seconds(toy):
    queries = select_queries(toy.model, toy.test, limit=6, seed=2)
    result = Batched().fit(toy.model, toy.train).generate(queries, n_cfs=2)
    seconds = result.queries["seconds"].to_numpy()
    timed = np.arange(len(seconds)) % 2 == 0
    np.testing.assert_allclose(seconds[timed], 0.25 * (np.flatnonzero(timed) + 1))
    # The untimed queries share what is left of the batch's time, equally.
    assert len(set(seconds[~timed])) == 1 and seconds[~timed][0] >= 0
    # Each CF carries its query's seconds over the rows proposed for it.
    per_cf = result.cfs["seconds"].to_numpy()
    np.testing.assert_allclose(per_cf, seconds[result.cfs["query_id"]] / 2)


def test_a_batch_that_cannot_time_its_queries_reports_the_average(toy):
    queries = select_queries(toy.model, toy.test, limit=5, seed=2)
    result = Batched(timed=False).fit(toy.model, toy.train).generate(queries)
    assert result.queries["seconds"].nunique() == 1 and result.queries["seconds"].iloc[0] > 0


def test_a_query_timing_must_be_a_number(toy):
    class Negative(HalfStep):
        def _propose(self, query, n_cfs, desired, rng):
            return Candidates(query[None, :], seconds=-1.0)

    with pytest.raises(SensecfError, match="reported seconds -1.0; expected a number >= 0"):
        Negative().fit(toy.model, toy.train).generate(toy.test.subset([0]))


def test_the_table_of_a_batch(toy):
    queries = select_queries(toy.model, toy.test, limit=6, seed=2)
    result = Batched().fit(toy.model, toy.train).generate(queries, n_cfs=1)
    cfs = result.cfs
    names = toy.model.feature_names
    assert list(cfs.columns) == [
        "query_id",
        "method",
        "rank",
        *names,
        "proba_desired",
        "valid",
        "source",
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
        "seconds",
        "round",
    ]
    assert cfs["query_id"].tolist() == list(range(len(queries)))  # n_cfs=1: the first row
    assert (cfs["rank"] == 0).all() and (cfs["source"] == "llm").all()
    assert cfs["round"].isna().tolist() == [i % 3 == 0 for i in range(len(queries))]
    np.testing.assert_allclose(cfs["sleep"], result.queries["sleep"] + 60)
    assert str(cfs["llm_calls"].dtype) == "int64" and str(cfs["method"].dtype) != "object"


def test_an_empty_result_has_the_contract_columns_and_dtypes(toy):
    class Declared(HalfStep):
        extra_cf_columns = ("note",)
        query_info_columns = ("why",)

    young = toy.test.subset(toy.test.frame["age"].to_numpy() == 30)
    assert len(young)  # HalfStep proposes nothing for age 30
    result = Declared().fit(toy.model, toy.train).generate(young)
    assert len(result.cfs) == 0 and result.coverage == 0.0
    names = toy.model.feature_names
    assert list(result.cfs.columns[-2:]) == ["seconds", "note"]
    assert (result.cfs.dtypes[names] == "float64").all()
    assert result.cfs["valid"].dtype == bool and result.cfs["query_id"].dtype == "int64"
    assert result.queries["why"].isna().all()

    # With counterfactuals, a declared column no proposal filled is there too, empty.
    class Unfilled(Declared):
        extra_cf_columns = ("note", "unused")

    result = Unfilled().fit(toy.model, toy.train).generate(select_queries(toy.model, toy.test))
    assert list(result.cfs.columns[-2:]) == ["note", "unused"] and len(result.cfs)
    assert result.cfs["unused"].isna().all() and result.cfs["note"].notna().all()


def test_a_plain_fitted_estimator_gives_the_same_counterfactuals(toy):
    queries = select_queries(toy.model, toy.test, limit=6)
    assert toy.model.threshold == 0.5
    wrapped = HalfStep().fit(toy.model, toy.train).generate(queries, n_cfs=2)
    plain = HalfStep().fit(toy.model.pipeline_, toy.train).generate(queries, n_cfs=2)
    pd.testing.assert_frame_equal(
        plain.cfs.drop(columns="seconds"), wrapped.cfs.drop(columns="seconds")
    )
    pd.testing.assert_frame_equal(
        plain.queries.drop(columns="seconds"), wrapped.queries.drop(columns="seconds")
    )


def test_parameters_are_stored_as_given_and_clone_works():
    gen = Batched(timed=False)
    assert gen.get_params() == {"timed": False} and repr(gen) == "Batched(timed=False)"
    twin = clone(gen.set_params(timed=True))
    assert twin.timed is True and not hasattr(twin, "model_")


# ---- missing values --------------------------------------------------------------------------
class Answers(CounterfactualGenerator):
    """Three answers per query: steps up (missing values kept), steps up with every missing
    value given 1, and steps up with a measured value dropped to NaN."""

    name = "answers"

    def _propose(self, query, n_cfs, desired, rng):
        kept = query.copy()
        kept[3] += 20000
        filled = np.where(np.isnan(kept), 1.0, kept)
        dropped = kept.copy()
        dropped[0] = np.nan
        return Candidates(np.vstack([kept, filled, dropped]))


def test_a_cf_is_judged_with_its_querys_missing_values(gappy, tmp_path):
    result = Answers().fit(gappy.model, gappy.train).generate(gappy.queries, n_cfs=3)
    Q, C = result.query_matrix(), result.cf_matrix()
    kept, filled, dropped = (result.cfs["rank"].to_numpy() == r for r in range(3))
    assert np.isnan(result.queries[gappy.model.feature_names].to_numpy()).any()
    # Kept missing: judged by the model on the row with NaN.
    assert (np.isnan(C[kept]) == np.isnan(Q[kept])).all()
    np.testing.assert_allclose(result.cfs["proba_desired"][kept], gappy.model.proba_of(C[kept], 0))
    # A value given to a missing feature stays in the table, and counts as a violation.
    assert not np.isnan(C[filled]).any()
    broken = violations(result.spec, Q[filled], C[filled])["fixed"].to_numpy()
    assert (broken == np.isnan(Q[filled]).sum(axis=1)).all()
    # A measured value dropped to NaN is not judged: not valid, no probability.
    assert np.isnan(result.cfs["proba_desired"][dropped]).all()
    assert not result.cfs["valid"][dropped].any()
    # The tables keep NaN through Parquet and CSV.
    back = CounterfactualResult.load(result.save(tmp_path / "run"))
    pd.testing.assert_frame_equal(back.cfs, result.cfs)
    pd.testing.assert_frame_equal(back.queries, result.queries)
    write_table(result.cfs, tmp_path / "cfs.csv")
    again = read_table_file(tmp_path / "cfs.csv")
    np.testing.assert_array_equal(
        np.isnan(again[gappy.model.feature_names].to_numpy()), np.isnan(C)
    )


def test_sparsify_keeps_missing_values_missing(gappy):
    result = Answers().fit(gappy.model, gappy.train).generate(gappy.queries, n_cfs=2)
    Q = result.query_matrix()
    out = sparsify(gappy.model, Q, result.cf_matrix(), desired_class=0)
    valid = result.cfs["valid"].to_numpy()
    kept = result.cfs["rank"].to_numpy() == 0
    assert valid.any() and (gappy.model.predict(out[valid]) == 0).all()
    # A value that stays missing is no change, so nothing is reverted into or out of it.
    assert (np.isnan(out[kept]) == np.isnan(Q[kept])).all()
    assert not np.isnan(out[~np.isnan(Q)]).any()


def test_derived_features_are_not_recomputed_into_or_out_of_a_missing_value(relation_task):
    data, model = relation_task
    queries = data.frame.iloc[:2].copy()
    queries.loc[queries.index[0], "deep"] = np.nan  # total measured, one input not
    queries.loc[queries.index[1], "total"] = np.nan  # total not measured, inputs are

    class Longer(CounterfactualGenerator):
        name = "longer"

        def _propose(self, query, n_cfs, desired, rng):
            row = query.copy()
            row[1] += 60  # light
            return Candidates(row)

    result = Longer().fit(model, data).generate(queries)
    C = result.cf_matrix()
    assert C[0, 2] == queries["total"].iloc[0]  # kept, not dropped to NaN
    assert np.isnan(C[1, 2])  # still missing, not filled in
    assert np.isfinite(result.cfs["proba_desired"]).all()


def test_stand_ins_fill_missing_values_on_the_grain(gappy):
    X = gappy.train.X.to_numpy(dtype=float)
    values = stand_ins(gappy.train.spec, X)
    filled = fill_missing(X, values)
    assert not np.isnan(filled).any()
    assert (filled[~np.isnan(X)] == X[~np.isnan(X)]).all()
    assert values[2] in (1.0, 2.0, 3.0) and values[4] == round(float(np.nanmedian(X[:, 4])), 1)
    # A column with no value at all: the middle of its bounds.
    X[:, 5] = np.nan
    assert stand_ins(gappy.train.spec, X)[5] == 80.0
