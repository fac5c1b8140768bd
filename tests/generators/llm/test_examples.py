"""Few-shot examples: verified desired-class rows within each person's rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

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
