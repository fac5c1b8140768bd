"""The nearest-example generator: the few-shot prompt's examples, returned as they are."""

import json

import numpy as np

from sensecf.data.constraints import violations
from sensecf.generators import select_queries
from sensecf.generators.llm.examples import ExampleBank
from sensecf.generators.registry import make_generator


def test_it_returns_the_examples_a_few_shot_prompt_shows_nearest_first(toy):
    queries = select_queries(toy.model, toy.test, limit=6, seed=0)
    generator = make_generator("nearest-example").fit(toy.model, toy.train)
    result = generator.generate(queries, n_cfs=3)
    assert result.method == "nearest-example" and result.coverage == 1.0
    assert result.validity == 1.0  # verified by the classifier, as the prompt's examples are
    spec = toy.model.spec
    assert violations(spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
    bank = ExampleBank.from_reference(toy.model, toy.train)
    X = queries.X.to_numpy(dtype=float)
    for i, shown in enumerate(bank.nearest(X, 0, 3)):
        rows = result.cfs[result.cfs["query_id"] == i].sort_values("rank")
        assert np.array_equal(rows[spec.feature_names].to_numpy(), shown)
        assert json.loads(result.queries["examples_shown"].iloc[i]) == shown.tolist()
    assert (result.cfs["source"] == "search").all() and (result.cfs["llm_calls"] == 0).all()


def test_a_feature_the_query_is_missing_stays_missing_in_every_example(toy):
    queries = select_queries(toy.model, toy.test, limit=4, seed=1)
    frame = queries.frame.copy()
    frame.loc[frame.index[:2], "sleep"] = np.nan
    frame.loc[frame.index[2], "hr"] = np.nan
    result = make_generator("nearest-example").fit(toy.model, toy.train).generate(frame, n_cfs=3)
    spec = toy.model.spec
    X = frame[spec.feature_names].to_numpy(dtype=float)
    for i, query in enumerate(X):
        rows = result.cfs.loc[result.cfs["query_id"] == i, spec.feature_names].to_numpy(float)
        assert len(rows) and np.isnan(rows[:, np.isnan(query)]).all()
        assert np.isfinite(rows[:, ~np.isnan(query)]).all()
        shown = np.array(json.loads(result.queries["examples_shown"].iloc[i]), dtype=float)
        np.testing.assert_array_equal(shown, rows)
    assert violations(spec, result.query_matrix(), result.cf_matrix())["total"].sum() == 0
