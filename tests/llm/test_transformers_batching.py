"""Batched and schema-constrained generation on a tiny random-init Llama with SmolLM2's tokenizer.

The tokenizer (and its chat template) comes from the packaged GGUF; the model is built from a
config here, so no hub is needed. A random model writes noise: whatever it answers inside a
schema is admissible only because the grammar allowed nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensecf.errors import SensecfError
from sensecf.generators.llm.schema import answer_schema
from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("llguidance")

from sensecf.llm.cache import CachedBackend  # noqa: E402
from sensecf.llm.constrained import admits  # noqa: E402
from sensecf.llm.models import packaged_model_path  # noqa: E402
from sensecf.llm.transformers_backend import (  # noqa: E402
    MIN_SHARED_PREFIX,
    Transformers,
    shared_prefix,
)

TOPICS = ["sleep", "steps", "glucose", "stress", "heart rate", "screen time", "water"]


def _messages(i: int) -> list[dict[str, str]]:
    # Prompts of different lengths, so batches need left padding.
    return [
        {"role": "system", "content": "Answer with one JSON object."},
        {"role": "user", "content": f"Suggest {TOPICS[i % len(TOPICS)]} values. " * (1 + i % 4)},
    ]


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with the SmolLM2 tokenizer, saved as a model folder."""
    gguf = packaged_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():  # wider logits than the default init: no near-ties, varied noise
        model.lm_head.weight.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("smol") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _count_generate(backend: Transformers) -> list[int]:
    """Wrap the loaded model's ``generate`` to record each call's batch size."""
    model, _ = backend._load()
    calls: list[int] = []
    original = model.generate

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    model.generate = counted
    return calls


def _texts(answers: list[Completion | Exception]) -> list[str]:
    assert all(isinstance(a, Completion) for a in answers), answers
    return [a.text for a in answers]  # type: ignore[union-attr]


def test_batched_greedy_equals_one_at_a_time(smol: Path) -> None:
    params = GenerationParams(max_tokens=12)
    requests = [ChatRequest(_messages(i), params=params) for i in range(7)]
    batched = Transformers(smol, batch_size=3)
    calls = _count_generate(batched)
    together = batched.complete_many(requests)
    assert sorted(calls) == [1, 3, 3]  # one generate per batch, not per request
    single = Transformers(smol, batch_size=1)
    alone = [single.complete(r.messages, params=params) for r in requests]
    assert _texts(together) == [a.text for a in alone]
    assert [a.completion_tokens for a in together] == [a.completion_tokens for a in alone]  # type: ignore[union-attr]
    assert [a.prompt_tokens for a in together] == [a.prompt_tokens for a in alone]  # type: ignore[union-attr]
    assert len(set(_texts(together))) > 1  # the prompts really differ
    assert all(a.seconds > 0 for a in together)  # type: ignore[union-attr]


def test_rows_with_their_own_budgets_decode_in_one_batch(smol: Path) -> None:
    budgets = [2, 12, 5, 9, 3, 12]
    requests = [
        ChatRequest(
            _messages(i),
            SCHEMAS[0] if i == 4 else None,
            GenerationParams(max_tokens=budget, temperature=1.0 if i == 3 else 0.0, seed=i),
        )
        for i, budget in enumerate(budgets)
    ]
    batched = Transformers(smol, batch_size=6)
    calls = _count_generate(batched)
    together = batched.complete_many(requests)
    assert calls == [6]  # not one generate per budget
    single = Transformers(smol, batch_size=1)
    alone = [single.complete(r.messages, schema=r.schema, params=r.params) for r in requests]
    assert _texts(together) == [a.text for a in alone]
    counts = [a.completion_tokens for a in together]  # type: ignore[union-attr]
    assert counts == [a.completion_tokens for a in alone]
    assert all(n <= budget for n, budget in zip(counts, budgets, strict=True))
    assert counts[0] == 2  # a short budget is spent, not stretched to the batch's longest


def test_each_answer_is_cached_as_it_arrives(smol: Path, tmp_path: Path) -> None:
    params = GenerationParams(max_tokens=6)
    requests = [ChatRequest(_messages(i), params=params) for i in range(5)]
    arrived: list[int] = []
    with CachedBackend(Transformers(smol, batch_size=2), tmp_path / "llm.sqlite") as llm:
        first = llm.complete_many(requests, on_result=lambda i, _a: arrived.append(i))
        assert sorted(arrived) == list(range(5))
        assert llm.stats()["entries"] == 5
        again = llm.complete_many(requests)
        assert llm.hits == 5
    assert _texts(again) == _texts(first)
    assert all(a.cached for a in again)  # type: ignore[union-attr]


SCHEMAS = [
    answer_schema({"sleep": [360, 420, 450, 480], "steps": [5000, 8000, 12000]}),
    answer_schema({"smoker": ["yes", "no"], "bmi": [22.5, 24.1, 27.0]}),
    answer_schema({"stress": [1, 2, 3, 4, 5]}),
    answer_schema({"glucose": [5.4, 6.1], "water": [1.5, 2.0, 2.5], "mood": ["low", "high"]}),
    # compact answers: some of the keys, in order, at least one and at most two
    answer_schema({"a": [1, 2], "b": [3, 4], "c": [5], "d": [6, 7]}, required=[], max_changes=2),
    answer_schema({"x": [10, 20], "y": ["up"], "z": [0.5]}, required=["y"], max_changes=1),
]


def _check_admissible(text: str, schema: dict[str, Any]) -> None:
    answer = json.loads(text)
    assert set(schema["required"]) <= set(answer)
    assert list(answer) == [name for name in schema["properties"] if name in answer]
    assert schema.get("minProperties", 0) <= len(answer) <= schema.get("maxProperties", 99)
    for name, value in answer.items():
        assert value in schema["properties"][name]["enum"], (name, value)
    assert admits(schema, text)


def test_random_model_answers_only_what_the_schema_admits(smol: Path) -> None:
    requests = [
        ChatRequest(
            _messages(i),
            SCHEMAS[i % len(SCHEMAS)],
            GenerationParams(temperature=0.0 if i % 2 else 1.5, max_tokens=64, seed=i),
        )
        for i in range(12)
    ]
    free = ChatRequest(_messages(3), None, GenerationParams(max_tokens=10))
    backend = Transformers(smol, batch_size=4)
    assert backend.supports_schema
    answers = backend.complete_many([*requests, free])
    for request, answer in zip(requests, answers, strict=False):
        assert isinstance(answer, Completion)
        _check_admissible(answer.text, request.schema or {})
    unconstrained = answers[-1]
    assert isinstance(unconstrained, Completion)
    with pytest.raises(ValueError):  # the same random model, left free, writes no JSON
        json.loads(unconstrained.text)
    # Constrained greedy and seeded rows in a batch equal the same requests one at a time.
    single = Transformers(smol, batch_size=1)
    for request, answer in zip(requests, answers, strict=False):
        alone = single.complete(request.messages, schema=request.schema, params=request.params)
        assert alone.text == answer.text  # type: ignore[union-attr]


def test_a_sampled_answer_does_not_depend_on_its_batch(smol: Path) -> None:
    hot = GenerationParams(temperature=1.0, max_tokens=10, seed=5)
    target = ChatRequest(_messages(1), params=hot)
    backend = Transformers(smol, batch_size=8)
    alone = backend.complete(target.messages, params=hot).text
    company = [ChatRequest(_messages(i), params=GenerationParams(max_tokens=10)) for i in range(5)]
    answers = backend.complete_many([*company, target])
    assert _texts(answers)[-1] == alone
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    others = {
        backend.complete(target.messages, params=GenerationParams(1.0, 10, 1.0, s)).text
        for s in range(4)
    }
    assert torch.equal(torch.rand(1), before)  # the caller's global RNG is untouched
    assert len(others) > 1


def test_one_bad_request_does_not_sink_its_batch(smol: Path) -> None:
    params = GenerationParams(max_tokens=8)
    long = ChatRequest([{"role": "user", "content": "sleep " * 600}], params=params)
    impossible = ChatRequest(_messages(2), {"enum": []}, params)
    good = [ChatRequest(_messages(i), params=params) for i in range(3)]
    backend = Transformers(smol, batch_size=8)
    answers = backend.complete_many([good[0], long, good[1], impossible, good[2]])
    assert isinstance(answers[1], LLMError)
    assert "exceeds the model's context" in str(answers[1])
    assert isinstance(answers[3], LLMError)
    assert "grammar" in str(answers[3])
    assert all(isinstance(answers[i], Completion) for i in (0, 2, 4))
    with pytest.raises(LLMError, match="exceeds the model's context"):
        backend.complete(long.messages, params=params)


def test_defaults_follow_the_device(smol: Path) -> None:
    backend = Transformers(smol)
    assert backend.device == "auto"
    model, _ = backend._load()
    assert next(model.parameters()).device.type == "cpu"  # no GPU here
    assert next(model.parameters()).dtype == torch.float32
    assert backend.default_batch_size_ == 16
    assert Transformers(smol, batch_size=3, device="cpu").batch_size == 3
    with pytest.raises(SensecfError, match="batch_size must be a positive integer"):
        Transformers(smol, batch_size=0)


def test_a_shared_system_message_is_evaluated_once_and_answers_stay_the_same(smol: Path) -> None:
    system = "Answer with one JSON object of the values asked, nothing else. " * 4
    params = GenerationParams(max_tokens=12)
    requests = [
        ChatRequest([{"role": "system", "content": system}, _messages(i)[1]], params=params)
        for i in range(6)
    ]
    batched = Transformers(smol, batch_size=6)
    model, tokenizer = batched._load()
    prompts = [Transformers._encode(tokenizer, r) for r in requests]
    assert shared_prefix(prompts) >= MIN_SHARED_PREFIX  # the path under test is taken
    calls = _count_generate(batched)
    together = batched.complete_many(requests)
    assert calls == [6]
    single = Transformers(smol, batch_size=1)
    alone = [single.complete(r.messages, params=params) for r in requests]
    assert _texts(together) == [a.text for a in alone]
    assert [a.prompt_tokens for a in together] == [len(p) for p in prompts]  # type: ignore[union-attr]
