"""Few-shot examples: verified desired-class rows within each person's rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gaps import gapped_task

from sensecf.data.constraints import violations
from sensecf.data.scales import FeatureScales
from sensecf.generators import select_queries
from sensecf.generators.llm.examples import ExampleBank


@pytest.fixture(scope="module")
def bank(toy) -> ExampleBank:
    spec, model = toy.model.spec, toy.model
    X = toy.train.X.to_numpy(dtype=float)
    labels = toy.train.frame[spec.target].to_numpy()
    scale = FeatureScales.from_reference(spec, X).scale
    return ExampleBank(spec, model, X, model.predict(X), labels, scale, least=3)


@pytest.fixture(scope="module")
def flagged(toy) -> np.ndarray:
    return select_queries(toy.model, toy.test, limit=5, seed=2).X.to_numpy(dtype=float)


def test_nearest_examples_are_verified_distinct_and_within_the_rules(toy, bank, flagged):
    desired = toy.model.spec.desired_class
    shown = bank.nearest(flagged, desired, count=6)
    assert len(shown) == len(flagged)
    for query, rows in zip(flagged, shown, strict=True):
        assert 0 < len(rows) <= 6
        assert (toy.model.predict(rows) == desired).all()
        assert len(np.unique(rows, axis=0)) == len(rows)
        queries = np.repeat(query[None, :], len(rows), axis=0)
        assert violations(toy.model.spec, queries, rows)["total"].sum() == 0


def test_the_pool_prefers_rows_labelled_and_predicted_desired(toy, bank):
    desired = toy.model.spec.desired_class
    pool = bank.pool(desired)
    both = (bank.predicted == desired) & (bank.labels == desired)
    np.testing.assert_array_equal(pool, bank.X[both])
    strict = replace(bank, least=int(both.sum()) + 1)
    np.testing.assert_array_equal(strict.pool(desired), bank.X[bank.predicted == desired])


def test_worked_pairs_are_flagged_people_and_their_verified_counterfactuals(toy, bank, flagged):
    desired = toy.model.spec.desired_class
    factuals, cfs = bank.worked(flagged, desired, count=3)
    for people, rows in zip(factuals, cfs, strict=True):
        assert len(people) == len(rows) and 0 < len(rows) <= 3
        assert (toy.model.predict(people) != desired).all()
        assert (toy.model.predict(rows) == desired).all()
        assert violations(toy.model.spec, people, rows)["total"].sum() == 0


@pytest.fixture(scope="module")
def gapped(toy):
    return gapped_task(toy)


def test_examples_for_a_gapped_query_keep_its_gaps_and_come_from_gapped_people(gapped):
    bank = ExampleBank.from_reference(gapped.model, gapped.train)
    assert np.isnan(bank.pool(0)).any()  # the people examples come from have gaps too
    spec, X = gapped.model.spec, gapped.X
    for query, rows in zip(X, bank.nearest(X, 0, count=4, max_changes=3), strict=True):
        assert 0 < len(rows) <= 4
        missing = np.isnan(query)
        assert np.isnan(rows[:, missing]).all() and np.isfinite(rows[:, ~missing]).all()
        assert (gapped.model.predict(rows) == 0).all()
        assert (
            violations(spec, np.repeat(query[None, :], len(rows), axis=0), rows)["total"].sum() == 0
        )


def test_a_person_missing_values_is_not_nearer_for_it(toy, bank, flagged):
    query = flagged[0]
    near = bank.pool(0)[:20].copy()
    gapped = near.copy()
    gapped[:, 1:4] = np.nan  # the same people without sleep, steps and hr
    mine = bank.distance(query, near, near)
    partial = bank.distance(query, gapped, gapped)
    known = mine - _terms(bank, query, near)  # the sum over the features both have
    d = len(query)
    # compared over what both have, scaled to the whole row: not the smaller sum it would be
    # if a missing value counted as no difference
    np.testing.assert_allclose(partial, known * d / (d - 3))
    assert (partial[known > 0] > known[known > 0]).all()
    nothing = np.full((1, d), np.nan)
    assert bank.distance(query, nothing, nothing)[0] == np.inf


def _terms(bank, query, rows):
    """The scaled differences of sleep, steps and hr (the features left out)."""
    return (np.abs(rows[:, 1:4] - query[1:4]) / bank.scale[1:4]).sum(axis=1)


def test_worked_pairs_for_gapped_queries_show_people_whose_values_may_be_missing(gapped):
    bank = ExampleBank.from_reference(gapped.model, gapped.train)
    factuals, cfs = bank.worked(gapped.X, 0, count=3)
    for people, rows in zip(factuals, cfs, strict=True):
        assert len(people) == len(rows) and len(rows)
        assert (gapped.model.predict(rows) == 0).all()
        assert np.array_equal(np.isnan(people), np.isnan(rows))  # their gaps stay theirs
