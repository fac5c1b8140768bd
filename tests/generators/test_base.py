import numpy as np
import pandas as pd
import pytest

from sensecf.errors import DataError, SensecfError
from sensecf.generators import (
    Candidates,
    CounterfactualGenerator,
    CounterfactualResult,
    NotFittedError,
    select_queries,
)


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
