"""The LLM generator and the spec's relations: derived features are never asked and follow their
inputs; an answer that breaks a check goes back with feedback that names the relation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scripted import Scripted, current, user_text

from sensecf.data.constraints import violations
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.llm.parse import coerce_answer, parse_answer, relation_breaks
from sensecf.generators.llm.probe import probe
from sensecf.llm.base import ChatRequest

RELATION_FEEDBACK = "very_low must stay ≤ low (very low within low)"


def enums(request: ChatRequest) -> dict[str, list[float]]:
    assert request.schema is not None
    return {name: prop["enum"] for name, prop in request.schema["properties"].items()}


def healthy(request: ChatRequest) -> dict[str, float]:
    """The answer that helps most: as much sleep as offered, as little low share as offered
    while the very-low share stays within it."""
    offered = enums(request)
    answer = {name: max(offered[name]) for name in ("deep", "light") if name in offered}
    very_low = json.loads(current(request)).get("very_low")
    kept = [v for v in offered.get("low", []) if very_low is not None and v >= very_low]
    if kept:
        answer["low"] = min(kept)
    return answer


class NonEnforcing(Scripted):
    """The same script behind a backend whose decoder does not keep to the schema."""

    supports_schema = False


@pytest.fixture(scope="module")
def queries(relation_task):
    data, model = relation_task
    return select_queries(model, data, limit=8, seed=1)


@pytest.mark.parametrize("backend_type", [Scripted, NonEnforcing])
def test_a_derived_feature_is_never_asked_and_an_answer_for_it_is_ignored(
    relation_task, queries, backend_type
):
    data, model = relation_task

    def with_a_total(request: ChatRequest, n: int) -> str:
        return json.dumps({**healthy(request), "total": 1})  # a total that cannot be true

    backend = backend_type(with_a_total)
    result = LLMGenerator(backend, repair_rounds=2).fit(model, data).generate(queries)
    for request in backend.requests:  # neither asked nor shown as a value to give
        assert "total" not in enums(request) and enums(request)
        assert '"total"' not in user_text(request)
    cfs = result.cf_matrix()
    assert len(cfs) == len(queries) and result.validity == 1.0
    assert np.array_equal(cfs[:, 2], cfs[:, 0] + cfs[:, 1])  # the total follows its inputs
    assert (cfs[:, 2] > result.query_matrix()[result.cfs["query_id"], 2]).all()
    assert (
        violations(data.spec, result.query_matrix()[result.cfs["query_id"]], cfs)["total"].sum()
        == 0
    )
    assert (result.cfs["source"] == "llm").all()  # the first answers, none sent back


def test_an_answer_breaking_a_check_is_repaired_with_feedback_naming_the_relation(
    relation_task, queries
):
    data, model = relation_task
    broke: list[str] = []

    def above_low_then_fixed(request: ChatRequest, n: int) -> str:
        answer = healthy(request)
        if "did not work" in user_text(request):
            return json.dumps(answer)  # very_low left as it is: the check holds again
        offered = enums(request)
        low = answer.get("low", float(json.loads(current(request))["low"]))
        above = [v for v in offered.get("very_low", []) if v > low]
        if above:  # the very-low share above the low one it is part of
            answer["very_low"] = max(above)
            broke.append(current(request))
        return json.dumps(answer)

    backend = Scripted(above_low_then_fixed)
    result = LLMGenerator(backend, repair_rounds=2).fit(model, data).generate(queries)
    assert broke, "no first answer broke the check: the test shows nothing"
    repairs = [r for r in backend.requests if "did not work" in user_text(r)]
    assert len(repairs) == len(broke)
    for request in repairs:
        assert RELATION_FEEDBACK in user_text(request)
        assert "this answer gives low = " in user_text(request)
    assert result.validity == 1.0 and len(result.cfs) == len(queries)
    sources = result.cfs["source"].value_counts().to_dict()
    assert sources.get("repair", 0) == len(broke)
    assert (result.cfs.loc[result.cfs["source"] == "repair", "round"] == 1).all()
    X = result.query_matrix()[result.cfs["query_id"]]
    assert violations(data.spec, X, result.cf_matrix())["relations"].sum() == 0
    assert (result.queries["rejected_answers"].sum()) == len(broke)


def test_coerce_recomputes_derived_features_and_names_a_broken_check(relation_task):
    data, _ = relation_task
    spec = data.spec
    query = np.array([60.0, 250.0, 310.0, 8.0, 2.0])
    given = parse_answer('{"deep": 90, "very_low": 9.5, "total": 5}', ["deep", "light", "very_low"])
    assert given.ignored == ["total"]
    coerced = coerce_answer(spec, query, given)
    assert coerced.row.tolist() == [90.0, 250.0, 340.0, 8.0, 9.5]
    assert not coerced.problems and not coerced.admissible
    assert coerced.relations == {
        "very low within low": RELATION_FEEDBACK + "; this answer gives low = 8 and very_low = 9.5"
    }
    assert relation_breaks(spec, query, query) == {}


def test_a_derived_feature_moved_against_its_direction_is_said_as_a_consequence(relation_task):
    data, _ = relation_task
    # light may move both ways, the total only up: less light sleep lowers the total.
    coerced = coerce_answer(
        data.spec,
        np.array([60.0, 250.0, 310.0, 8.0, 2.0]),
        parse_answer('{"light": 200}', ["light"]),
    )
    assert coerced.row[2] == 260.0
    assert coerced.problems == {
        "total": "total is computed from deep and light, and this answer takes it from 310 to "
        "260: it may only increase"
    }


def test_the_probe_moves_proposable_features_with_their_derived_ones_recomputed(relation_task):
    data, _ = relation_task

    class TotalOnly:  # the desired class's probability grows with the total alone
        def predict_with_proba(self, rows, desired):
            return None, rows[:, 2] / 1000

    X = np.array([[60.0, 250.0, 310.0, 8.0, 2.0]])
    grids = [np.array([60.0, 90.0]), np.array([250.0, 300.0]), np.array([310.0, 400.0])]
    grids += [np.array([8.0]), np.array([2.0])]
    common = dict(
        grids=grids, steps=np.ones(5), mutable=np.array([0, 1, 3, 4]), names=data.spec.feature_names
    )
    lo, hi = np.zeros((1, 5)), np.full((1, 5), 900.0)
    found = probe(TotalOnly(), X, lo, hi, np.array([0.31]), 0, spec=data.spec, **common)
    assert found.helps[0] == [("light", "raise"), ("deep", "raise")]
    stale = probe(TotalOnly(), X, lo, hi, np.array([0.31]), 0, **common)
    assert stale.helps[0] == []  # without the spec a stage's change never reaches the total
