"""The fine-tuned generator: compact requests, the same checks, repair rounds and columns."""

from __future__ import annotations

import json
import re

from finetune_task import Task

from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.finetuned import FineTunedGenerator
from sensecf.generators.registry import make_generator
from sensecf.llm.base import ChatRequest, Completion, LLMBackend


class Scripted(LLMBackend):
    """Answers by a rule on the request and how many calls came before."""

    name = "scripted"
    supports_schema = True

    def __init__(self, policy) -> None:
        self.policy = policy
        self.requests: list[ChatRequest] = []

    def _complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        return Completion(self.policy(request, len(self.requests) - 1), 50, 8)


def _near(request: ChatRequest) -> str:
    found = re.search(r"^near: (\{.*\})$", request.messages[-1]["content"], re.M)
    return found.group(1) if found else "{}"


def _strongest(request: ChatRequest) -> str:
    """Every feature in play at its first offered value (the one that helps most alone)."""
    props = request.schema["properties"]
    return json.dumps({name: p["enum"][0] for name, p in props.items()})


def _flagged(task: Task):
    _, test_rows = task.model.split_data(task.data)
    return test_rows.subset(task.model.predict(test_rows.X) != task.data.spec.desired_class)


def test_requests_are_compact_and_answers_are_verified(task: Task, tmp_path) -> None:
    fmt = CompactFormat(target="high risk")
    fmt.save(tmp_path)
    backend = Scripted(lambda r, n: _strongest(r))
    train_rows, _ = task.model.split_data(task.data)
    gen = make_generator(
        "fine-tuned", backend=backend, model_dir=tmp_path, repair_rounds=0, schema=True
    )
    queries = _flagged(task)
    result = gen.fit(task.model, train_rows).generate(queries, n_cfs=1)
    first = backend.requests[0]
    assert first.messages[0]["content"] == fmt.system
    user = first.messages[-1]["content"]
    assert user.startswith("P(high risk) ") and "goal below 0.50" in user
    assert "age" not in user  # fixed features are never in play
    # the schema offers exactly the values each prompt line lists after the current one,
    # requires nothing and caps the changes
    for line in user.splitlines()[1:]:
        if line.startswith("near:") or line == "together:":
            continue
        name, rest = line.split(" ", 1)
        _, values = rest.split(":")
        assert first.schema["properties"][name]["enum"] == [json.loads(v) for v in values.split()]
    assert first.schema["required"] == [] and first.schema["maxProperties"] == 3
    assert result.method == "fine-tuned"
    for column in ("round", "sample", "copied_example", "llm_calls", "source"):
        assert column in result.cfs.columns
    assert (result.cfs["valid"] == (task.model.predict(result.cf_matrix()) == 0)).all()
    assert result.validity > 0.8


def test_a_failed_answer_is_asked_again_with_new_context_and_sampling(task: Task) -> None:
    def unchanged_then_near(request: ChatRequest, n: int) -> str:
        return "{}" if request.params.temperature == 0 else _near(request)

    backend = Scripted(unchanged_then_near)
    train_rows, _ = task.model.split_data(task.data)
    fmt = CompactFormat(target="high risk", examples=1)
    gen = FineTunedGenerator(backend, format=fmt, repair_rounds=2, schema=True)
    queries = _flagged(task).subset(range(3))
    result = gen.fit(task.model, train_rows).generate(queries, n_cfs=1)
    firsts = [r for r in backend.requests if r.params.temperature == 0]
    repairs = [r for r in backend.requests if r.params.temperature > 0]
    assert len(firsts) == 3 and repairs
    # a repair shows the next example in line, not the same prompt again
    assert (
        all(_near(r) != _near(firsts[0]) for r in repairs[:1]) or len(set(map(_near, repairs))) > 1
    )
    valid = result.cfs[result.cfs["valid"]]
    assert len(valid) and (valid["source"] == "repair").all() and (valid["round"] >= 1).all()
    assert (result.queries["llm_calls"] >= 2).all()


def test_without_a_schema_an_answer_outside_the_offer_is_rejected(task: Task) -> None:
    def off_grid(request: ChatRequest, n: int) -> str:
        lines = request.messages[-1]["content"].splitlines()[1:]
        line = next(x for x in lines if x.startswith("sleep "))  # a fine step: 0.123 is off it
        name, rest = line.split(" ", 1)
        return json.dumps({name: float(rest.split(":")[0]) + 0.123})

    backend = Scripted(off_grid)
    train_rows, _ = task.model.split_data(task.data)
    gen = FineTunedGenerator(backend, format=CompactFormat(), repair_rounds=0, schema=False)
    result = gen.fit(task.model, train_rows).generate(_flagged(task).subset(range(3)), n_cfs=1)
    assert all(r.schema is None for r in backend.requests)
    assert len(result.cfs) == 0 and (result.queries["rejected_answers"] == 1).all()


def test_the_first_line_holds_the_cheapest_single_change_that_reaches_the_goal(task: Task) -> None:
    def first_offer(request: ChatRequest, n: int) -> str:
        line = request.messages[-1]["content"].splitlines()[1]
        if line == "together:":
            return "{}"
        name, rest = line.split(" ", 1)
        return json.dumps({name: json.loads(rest.split(": ")[1].split()[0])})

    backend = Scripted(first_offer)
    train_rows, _ = task.model.split_data(task.data)
    gen = FineTunedGenerator(backend, format=CompactFormat(), repair_rounds=0)
    queries = _flagged(task)
    result = gen.fit(task.model, train_rows).generate(queries, n_cfs=1)
    served = [
        r for r in backend.requests if r.messages[-1]["content"].splitlines()[1] != "together:"
    ]
    assert served, "some people are served by one change"
    assert len(result.cfs) == len(served) and result.cfs["valid"].all()
    scale = gen.examples_.scale  # the MAD scales the generator ranks by
    names = task.data.spec.feature_names
    for request in served:
        lines = request.messages[-1]["content"].splitlines()[1:]
        alone = lines[: lines.index("together:")] if "together:" in lines else lines
        costs = []
        for line in alone:
            name, rest = line.split(" ", 1)
            current, values = rest.split(": ")
            j = names.index(name)
            costs.append(abs(float(values.split()[0]) - float(current)) / scale[j])
        assert costs == sorted(costs)
