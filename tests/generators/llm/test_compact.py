"""What keeps the LLM generator fast at equal validity: only features in play are asked, answers
are compact (changes only), a local model gets each person's rounds back to back; and the same
repair on a backend that cannot enforce a schema (candidates and must-move in the prompt,
checked after parsing)."""

from __future__ import annotations

import json
import re

import pytest
from scripted import Scripted, current, example, user_text

from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.llm.base import ChatRequest


@pytest.fixture(scope="module")
def queries(toy):
    return select_queries(toy.model, toy.test, limit=6, seed=0)


class Local(Scripted):
    """A model that answers one request at a time, as the embedded llama.cpp does."""

    concurrency = 1


class Plain(Scripted):
    """A backend that cannot enforce a schema (as transformers, or a server in json mode)."""

    supports_schema = False


def test_examples_are_shown_as_changes_and_copying_one_is_a_compact_valid_answer(toy, queries):
    backend = Scripted(lambda r, n: example(r))
    result = LLMGenerator(backend).fit(toy.model, toy.train).generate(queries)
    now = json.loads(current(backend.requests[0]))
    shown = json.loads(example(backend.requests[0]))
    assert shown and all(now[name] != value for name, value in shown.items())  # changes only
    assert result.validity == 1.0 and (result.cfs["round"] == 0).all()
    assert result.cfs["copied_example"].all()
    # Room for the features asked only, not for every mutable feature.
    asked = len(backend.requests[0].schema["properties"])
    assert backend.requests[0].params.max_tokens == 16 * asked + 24


def test_a_local_model_gets_each_persons_rounds_back_to_back(toy, queries):
    def stubborn_then_copy(request: ChatRequest, n: int) -> str:
        return example(request) if "did not work" in user_text(request) else "{}"

    backend = Local(stubborn_then_copy)
    result = LLMGenerator(backend).fit(toy.model, toy.train).generate(queries)
    assert backend.batches == [1, 1] * len(queries)  # person 0: answer, repair; person 1: ...
    persons = [json.loads(current(r)) for r in backend.requests]
    for answer, repair in zip(persons[0::2], persons[1::2], strict=True):
        shared = answer.keys() & repair.keys()  # the same person (other features asked)
        assert shared and all(answer[k] == repair[k] for k in shared)
    assert (result.cfs["round"] == 1).all() and result.validity == 1.0


def test_without_a_schema_the_prompt_offers_the_values_and_they_are_checked(toy, queries):
    def off_the_list_then_copy(request: ChatRequest, n: int) -> str:
        if "did not work" in user_text(request):
            return example(request)
        answer = json.loads(example(request))
        name = next(iter(answer))
        answer[name] = answer[name] + 1 if isinstance(answer[name], int) else answer[name] + 0.3
        return json.dumps(answer)

    backend = Plain(off_the_list_then_copy)
    result = LLMGenerator(backend).fit(toy.model, toy.train).generate(queries)
    first = user_text(backend.requests[0])
    offered = re.search(r"^Values you may give: (.*)$", first, re.M).group(1)
    for name in backend.requests[0].schema["properties"]:
        assert f"{name}: " in offered
    second = user_text(backend.requests[len(queries)])
    assert "is not one of the values offered" in second
    assert (result.cfs["round"] == 1).all() and result.validity == 1.0


def test_without_a_schema_the_last_round_says_what_must_change_and_checks_it(toy, queries):
    backend = Plain(lambda r, n: "{}")  # changes nothing, every round
    LLMGenerator(backend, shots=0, repair_rounds=1).fit(toy.model, toy.train).generate(queries)
    last = backend.requests[len(queries) :]
    for request in last:
        must = re.search(r"These must change: (.*?)\. Change at most", user_text(request)).group(1)
        assert must.split(", ") == request.schema["required"] and must
    assert all("Values you may give" in user_text(r) for r in backend.requests)
