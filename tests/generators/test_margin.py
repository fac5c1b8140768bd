"""A safety margin: the search goes on until P(desired) reaches it; validity stays the rule."""

import numpy as np
import pytest

from sensecf.errors import SensecfError
from sensecf.generators import select_queries
from sensecf.generators.base import margin_model
from sensecf.generators.oracle import Oracle
from sensecf.generators.sparsify import sparsify_result


def test_margin_model_grants_the_desired_class_only_at_the_margin(toy):
    X = toy.test.X.to_numpy(dtype=float)
    strict = margin_model(toy.model, 0, 0.8)
    p0 = toy.model.proba_of(X, 0)
    assert np.array_equal(strict.predict(X) == 0, p0 >= 0.8)
    assert toy.model.threshold == 0.5  # the model itself is untouched
    with pytest.raises(SensecfError, match="below what the decision rule already asks"):
        margin_model(toy.model, 0, 0.3)
    with pytest.raises(SensecfError, match="strictly between 0 and 1"):
        margin_model(toy.model, 0, 1.0)


def test_the_oracle_searches_to_the_margin_and_sparsify_keeps_it(toy):
    queries = select_queries(toy.model, toy.test, limit=8)
    oracle = Oracle(max_changes=1, neighbors=4).fit(toy.model, toy.train)
    plain = oracle.generate(queries, n_cfs=2)
    assert "valid_margin" not in plain.cfs and "min_proba" not in plain.info
    strict = oracle.generate(queries, n_cfs=2, min_proba=0.8)
    assert strict.info["min_proba"] == 0.8
    cfs = strict.cfs
    assert len(cfs) > 0 and (cfs["proba_desired"] >= 0.8).all()
    assert cfs["valid_margin"].all() and cfs["valid"].all()
    assert (plain.cfs["proba_desired"] < 0.8).any()  # the plain search stops earlier
    sparse = sparsify_result(strict, toy.model)
    assert (sparse.cfs["proba_desired"] >= 0.8).all() and sparse.cfs["valid_margin"].all()
