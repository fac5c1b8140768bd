"""Paired comparisons against a reference, and the ★ that only a clear lead earns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sensecf.errors import SensecfError
from sensecf.evaluation.benchmark import (
    BenchmarkConfig,
    benchmark_best,
    benchmark_comparisons,
    summary_table,
)
from sensecf.evaluation.catalog import CATALOG
from sensecf.evaluation.comparisons import COMPARISON_COLUMNS, PERSON
from sensecf.evaluation.stats import holm


def per_query(n_people: int = 12, days: int = 3) -> pd.DataFrame:
    """Per-query rows of four methods: 'sparse' changes one feature fewer than 'oracle' on
    every query, 'twin' is the oracle to the digit, 'close' differs by noise."""
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(n_people), days)
    base = rng.integers(2, 5, size=people.size).astype(float)
    frames = []
    for method, l0 in {
        "oracle": base,
        "twin": base,
        "sparse": base - 1,
        "close": base + rng.choice([-1.0, 0.0, 1.0], size=people.size),
    }.items():
        frames.append(
            pd.DataFrame(
                {
                    "method": method,
                    "query_id": np.arange(people.size),
                    PERSON: people,
                    "covered": True,
                    "l0": l0,
                    "seconds": 0.5 + rng.normal(0, 0.01, size=people.size),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_every_method_is_compared_with_the_reference_and_holm_is_applied():
    table = benchmark_comparisons(per_query(), "oracle")
    assert list(table.columns) == ["method", *COMPARISON_COLUMNS]
    assert set(table["method"]) == {"twin", "sparse", "close"}
    assert (table["reference"] == "oracle").all()
    # Only headline measures with a direction that the per-query table has.
    assert set(table["measure"]) == {"coverage", "l0", "seconds"}
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"]))
    assert (table["p_holm"] >= table["p_value"]).all()
    rows = table.set_index(["method", "measure"])
    sparse = rows.loc[("sparse", "l0")]
    assert sparse["n"] == 12  # clustered by person: 12 people, 36 queries
    assert sparse["mean_diff"] == -1 and sparse["verdict"] == "better"  # fewer changes
    twin = rows.loc[("twin", "l0")]
    assert twin["mean_diff"] == 0 and twin["verdict"] == "indistinguishable"


def test_a_query_without_a_value_on_either_side_is_left_out():
    rows = per_query()
    rows.loc[(rows["method"] == "sparse") & (rows[PERSON] == 0), "l0"] = np.nan
    table = benchmark_comparisons(rows, "oracle").set_index(["method", "measure"])
    assert table.loc[("sparse", "l0"), "n"] == 11
    assert table.loc[("twin", "l0"), "n"] == 12


def test_the_reference_must_be_one_of_the_methods():
    config = BenchmarkConfig(generators=["oracle", "dice-random+sparsify"], reference="nice")
    with pytest.raises(SensecfError, match="one of the run's methods .*got 'nice'"):
        config.reference_name()
    sparse = BenchmarkConfig(
        generators=["oracle", "dice-random+sparsify"], reference="dice-random+sparsify"
    )
    assert sparse.reference_name() == "dice-random+sparsify"
    assert BenchmarkConfig(generators=["oracle"]).reference_name() == "oracle"
    with pytest.raises(SensecfError, match="got 'nice'"):
        benchmark_comparisons(per_query(), "nice")


def test_a_star_only_for_a_lead_that_holds():
    headline = CATALOG.view("headline")
    rows = per_query()
    best = benchmark_best(rows, headline)
    assert best["l0"].leader == "sparse" and best["l0"].marked  # better than every other
    # Without 'sparse', the oracle and its twin tie: the lowest mean earns no ★.
    tied = benchmark_best(rows[rows["method"] != "sparse"], headline)
    assert not tied["l0"].marked and "twin" in tied["l0"].tied_with
    summary = pd.DataFrame({"method": ["oracle", "twin", "sparse"], "l0": [3.0, 3.0, 2.0]})
    shown = summary_table(summary, best=best)
    assert shown.loc[shown["method"] == "sparse", "L0"].item() == "2.00 ★"
    assert not shown["L0"].str.contains("★").iloc[:2].any()
    assert not summary_table(summary, best=tied)["L0"].str.contains("★").any()
