"""Per-person limits in the LLM generator: stated in the prompt, held by the schema and the
checks, a breaking answer repaired; the fallback oracle held to them too."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scripted import Scripted, copy_first, user_text

from sensecf.data.constraints import violations
from sensecf.data.limits import PersonLimits
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator

RULES = "keep sleep and hr as they are; steps at most 12000; change at most 1 feature"


def ten_people(toy):
    """Ten flagged rows of ten people, each kept from changing sleep and hr, steps at most
    12,000 and one change at most."""
    rows = select_queries(toy.model, toy.test, limit=60, seed=0)
    first = ~rows.frame["pid"].duplicated().to_numpy()
    queries = rows.subset(np.flatnonzero(first)[:10])
    table = pd.DataFrame(
        {"pid": queries.frame["pid"], "keep": "sleep;hr", "steps_max": 12000, "max_changes": 1}
    )
    return queries, PersonLimits.from_frame(table, toy.data.spec, toy.data)


def breaks(result, limits) -> int:
    person = limits.resolve(result.queries.set_index("query_id").loc[result.cfs["query_id"]])
    rows = PersonLimits.rows(result.spec, person)
    return int(violations(result.spec, result.query_matrix(), result.cf_matrix(), rows).sum().sum())


def greedy_then_copy(request, n: int) -> str:
    """First a breaking answer (a kept feature, steps past the person's bound, two changes),
    then, told what broke, an example."""
    if "did not work" in user_text(request):
        return copy_first(request, n)
    return json.dumps({"sleep": 600, "steps": 20000, "smoker": 0})


def test_the_llm_generator_honours_every_limit(toy):
    queries, limits = ten_people(toy)
    backend = Scripted(greedy_then_copy)
    generator = LLMGenerator(backend, repair_rounds=3, fallback=True).fit(toy.model, toy.train)
    result = generator.generate(queries, n_cfs=2, limits=limits)
    assert result.info["limits"] == "honoured"
    assert breaks(result, limits) == 0 and len(result.cfs)
    first = backend.requests[0]
    assert f"This person's limits: {RULES}." in user_text(first)
    properties = first.schema["properties"]
    assert "sleep" not in properties and "hr" not in properties  # a kept feature is never asked
    assert first.schema["maxProperties"] == 1
    assert max(properties.get("steps", {}).get("enum", [0])) <= 12000
    repaired = [r for r in backend.requests if "did not work" in user_text(r)]
    assert repaired and "change at most 1" in user_text(repaired[0])
    assert "outside the plausible range 0 to 12000" in user_text(repaired[0])
    assert set(result.cfs["source"]) <= {"repair", "fallback"}  # every first answer broke them


def test_without_limits_the_prompt_is_as_before(toy):
    queries, _ = ten_people(toy)
    backend = Scripted(copy_first)
    LLMGenerator(backend, repair_rounds=0).fit(toy.model, toy.train).generate(queries.subset([0]))
    assert "limits" not in user_text(backend.requests[0])


@pytest.mark.slow
def test_the_embedded_model_keeps_to_the_limits(toy):
    pytest.importorskip("llama_cpp")
    queries, limits = ten_people(toy)
    generator = LLMGenerator(repair_rounds=0).fit(toy.model, toy.train)
    try:  # the grammar alone: a kept feature is never asked, the cap is the schema's
        result = generator.generate(queries.subset([0]), limits=limits)
    finally:
        generator.close()
    assert (result.queries["llm_calls"] >= 1).all()
    assert breaks(result, limits) == 0
