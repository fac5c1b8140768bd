"""Per-person limits: the oracle honours them; DiCE ignores them and is measured against them."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import violations
from sensecf.data.limits import PersonLimits
from sensecf.evaluation.metrics import MetricSuite
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle


@pytest.fixture(scope="module")
def ten(toy):
    """Ten flagged rows of ten people, and a limits file for them: keep sleep and hr, at most
    one change, steps at most 12,000."""
    rows = select_queries(toy.model, toy.test, limit=60, seed=0)
    first = ~rows.frame["pid"].duplicated().to_numpy()
    queries = rows.subset(np.flatnonzero(first)[:10])
    assert len(queries) == 10
    table = pd.DataFrame(
        {"pid": queries.frame["pid"], "keep": "sleep;hr", "steps_max": 12000, "max_changes": 1}
    )
    return queries, PersonLimits.from_frame(table, toy.data.spec, toy.data)


def limit_violations(result, limits) -> np.ndarray:
    person = limits.resolve(result.queries.set_index("query_id").loc[result.cfs["query_id"]])
    rows = PersonLimits.rows(result.spec, person)
    return violations(result.spec, result.query_matrix(), result.cf_matrix(), rows).to_numpy()


def test_the_oracle_honours_every_limit(toy, ten):
    queries, limits = ten
    free = Oracle().fit(toy.model, toy.train).generate(queries, n_cfs=2)
    held = Oracle().fit(toy.model, toy.train).generate(queries, n_cfs=2, limits=limits)
    assert limit_violations(free, limits)[:, -2].sum() > 0  # unheld, it breaks them
    assert limit_violations(held, limits).sum() == 0  # held: no limit and no rule broken
    assert held.info["limits"] == "honoured"
    assert held.queries["limits"].str.contains("change at most 1 feature").all()
    assert len(held.cfs) and held.cfs["valid"].all()
    status = held.queries["status"]
    # A person one allowed change cannot flip is certified as such, not left unanswered.
    assert set(status) <= {"optimal", "infeasible"}
    assert (held.queries.loc[status == "optimal", "min_l0"] == 1).all()


def test_dice_ignores_the_limits_and_the_suite_counts_what_it_breaks(toy, ten):
    pytest.importorskip("dice_ml")
    from sensecf.generators.dice import DiCE

    queries, limits = ten
    result = DiCE("random").fit(toy.model, toy.train).generate(queries, n_cfs=2, limits=limits)
    assert result.info["limits"] == "ignored"
    suite = MetricSuite(limits=limits).fit(toy.model, toy.train)
    summary = suite.summarise(result).iloc[0]
    assert summary["viol_limits"] == limit_violations(result, limits)[:, -2].sum() > 0
    unheld = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    assert unheld["viol_limits"] == 0
    assert summary["viol_total"] == unheld["viol_total"] + summary["viol_limits"]


def test_people_without_limits_get_the_answers_they_get_in_a_run_without_any(toy, ten):
    queries, _ = ten
    four = queries.frame["pid"].iloc[:4]
    table = pd.DataFrame({"pid": four, "keep": "sleep;hr", "max_changes": 1})
    some = PersonLimits.from_frame(table, toy.data.spec, toy.data)
    oracle = Oracle().fit(toy.model, toy.train)
    free = oracle.generate(queries, n_cfs=2)
    mixed = oracle.generate(queries, n_cfs=2, limits=some)
    others = ~free.queries["pid"].isin(set(four))
    assert others.sum() == 6
    ids = free.queries.loc[others, "query_id"]
    answers = [*toy.data.spec.feature_names, "query_id", "rank"]
    pd.testing.assert_frame_equal(
        free.cfs.loc[free.cfs["query_id"].isin(ids), answers].reset_index(drop=True),
        mixed.cfs.loc[mixed.cfs["query_id"].isin(ids), answers].reset_index(drop=True),
        check_exact=False,
        atol=1e-9,
        check_like=True,
    )
