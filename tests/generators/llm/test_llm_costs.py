"""Effort costs in the LLM prompt: the system message names the cheaper changes."""

from __future__ import annotations

from scripted import Scripted, copy_first

from sensecf.data.dataset import Dataset
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.models import TrainedClassifier


def _system(toy, spec) -> str:
    backend = Scripted(copy_first)
    model = TrainedClassifier(spec, toy.model.pipeline_)
    train = Dataset(toy.train.frame, spec)
    queries = select_queries(model, Dataset(toy.test.frame, spec), limit=2, seed=0)
    LLMGenerator(backend, repair_rounds=0).fit(model, train).generate(queries)
    systems = {r.messages[0]["content"] for r in backend.requests}
    assert len(systems) == 1  # the same for everyone: the shared prefix
    return systems.pop()


def test_the_prompt_names_the_cheaper_changes_only_where_the_spec_has_costs(toy):
    assert "Cheaper changes first" not in _system(toy, toy.model.spec)
    spec = toy.model.spec.update_feature("steps", cost={"per_unit": 0.0001})
    spec = spec.update_feature("sleep", cost={"fixed": 5.0, "per_unit": 0.1})
    spec = spec.update_feature("hr", cost={"fixed": 3.0})
    last = _system(toy, spec).splitlines()[-1]
    assert last.startswith("Cheaper changes first: steps")
    assert "sleep" not in last and "hr" not in last
