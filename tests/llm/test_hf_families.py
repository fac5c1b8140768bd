"""Serving tiny random-init Llama-3 and Mistral family models (built here, no hub).

What a Llama-3.1-8B or BioMistral-7B checkpoint brings that the SmolLM2-shaped tests do not: a
template that refuses a system turn, a tokenizer that marks a word start (``▁{``), several end
tokens, no pad token, a sliding window, and the checkpoint's own generation settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensecf.generators.llm.schema import answer_schema
from sensecf.llm.base import ChatRequest, Completion, GenerationParams

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llguidance")

from sensecf.llm.chat import DEFAULT_CHAT_TEMPLATE, encode_chat_pair, render_chat  # noqa: E402
from sensecf.llm.constrained import admits  # noqa: E402
from sensecf.llm.models import _digest  # noqa: E402
from sensecf.llm.tiny import build_tiny_model  # noqa: E402
from sensecf.llm.transformers_backend import Transformers  # noqa: E402

FAMILIES = ["llama", "mistral"]
TOPICS = ["sleep", "steps", "glucose", "stress", "heart rate"]
SYSTEM = "You propose counterfactual changes. Answer with one JSON object."
SCHEMA = answer_schema({"sleep": [420, 450, 480], "steps": [6000, 8000, 10000]})


def _messages(i: int) -> list[dict[str, str]]:
    user = f"Suggest {TOPICS[i % len(TOPICS)]} values. " * (1 + i % 3)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {family: build_tiny_model(family, root / family) for family in FAMILIES}


def test_a_template_that_refuses_a_system_turn_gets_it_in_the_first_user_turn(
    models: dict[str, Path],
) -> None:
    from jinja2.exceptions import TemplateError

    tokenizer = transformers.AutoTokenizer.from_pretrained(models["mistral"])
    with pytest.raises(TemplateError, match="alternate"):  # the family's template as shipped
        tokenizer.apply_chat_template(_messages(0), tokenize=False, add_generation_prompt=True)
    text = render_chat(tokenizer, _messages(0))
    assert text == f"<s>[INST] {SYSTEM}\n\nSuggest sleep values.  [/INST]"
    llama = transformers.AutoTokenizer.from_pretrained(models["llama"])
    text = render_chat(llama, _messages(0))  # a template that takes a system turn keeps it
    assert "<|start_header_id|>system<|end_header_id|>" in text


def test_a_checkpoint_without_a_template_gets_the_default(models: dict[str, Path]) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(models["llama"])
    tokenizer.chat_template = None
    text = render_chat(tokenizer, _messages(1))
    assert text.startswith("<|begin_of_text|>### System:\n" + SYSTEM)
    assert text.endswith("### Answer:\n")
    assert "bos_token" in DEFAULT_CHAT_TEMPLATE


@pytest.mark.parametrize("family", FAMILIES)
def test_the_answer_is_tokenized_as_it_follows_the_prompt(
    models: dict[str, Path], family: str
) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(models[family])
    answer = '{"sleep": 450}'
    prompt, ids = encode_chat_pair(tokenizer, _messages(0), answer)
    assert tokenizer.decode(ids) == answer
    whole = tokenizer(render_chat(tokenizer, _messages(0)) + answer, add_special_tokens=False)
    assert prompt + ids == whole["input_ids"]
    alone = tokenizer.convert_ids_to_tokens(
        tokenizer(answer, add_special_tokens=False)["input_ids"]
    )
    first = tokenizer.convert_ids_to_tokens(ids)[0]
    assert not first.startswith("▁")  # what a served model writes after the prompt
    if family == "mistral":
        assert alone[0].startswith("▁")  # the trap: the answer on its own has a word start


def _texts(answers: list[Completion | Exception]) -> list[str]:
    assert all(isinstance(a, Completion) for a in answers), answers
    return [a.text for a in answers]  # type: ignore[union-attr]


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_greedy_answers_equal_one_at_a_time(models: dict[str, Path], family: str) -> None:
    requests = [
        ChatRequest(_messages(i), SCHEMA if i % 2 else None, GenerationParams(max_tokens=24))
        for i in range(6)
    ]
    batched = Transformers(models[family], batch_size=6)
    together = batched.complete_many(requests)
    single = Transformers(models[family], batch_size=1)
    alone = [single.complete(r.messages, schema=r.schema, params=r.params) for r in requests]
    assert _texts(together) == [a.text for a in alone]
    for request, text in zip(requests, _texts(together), strict=True):
        if request.schema is not None:
            assert admits(request.schema, text), text
    model, _ = batched._load()
    if family == "mistral":  # the sliding-window model takes transformers' own cache
        assert model.config.sliding_window == 4096
        assert Transformers._prefilled(model, [[1, 2, 3]], 0, 3, 8) is None
    else:
        assert Transformers._prefilled(model, [[1, 2, 3]], 0, 3, 8) is not None


def test_the_checkpoint_generation_settings_do_not_reach_greedy_answers(tmp_path: Path) -> None:
    plain = build_tiny_model("llama", tmp_path / "plain")
    # A checkpoint's sampling defaults: with them, greedy answers would change.
    pushy = build_tiny_model(
        "llama",
        tmp_path / "pushy",
        generation={"repetition_penalty": 50.0, "no_repeat_ngram_size": 1, "num_beams": 2},
    )
    assert transformers.GenerationConfig.from_pretrained(pushy).repetition_penalty == 50.0
    requests = [ChatRequest(_messages(i), params=GenerationParams(max_tokens=16)) for i in range(3)]
    assert _texts(Transformers(pushy).complete_many(requests)) == _texts(
        Transformers(plain).complete_many(requests)
    )


def test_generation_is_never_compiled(models: dict[str, Path]) -> None:
    from transformers import StaticCache
    from transformers.generation import CompileConfig

    backend = Transformers(models["llama"])
    model, tokenizer = backend._load()
    config = backend._generation_config(model, tokenizer, 8)
    assert config.disable_compile
    cache = StaticCache(config=model.config, max_cache_len=16)
    # Where transformers would compile (a static cache on any device), ours does not.
    forced = transformers.GenerationConfig(compile_config=CompileConfig())
    forced.compile_config._compile_all_devices = True
    assert model._valid_auto_compile_criteria({"cache": cache}, forced)
    config.compile_config = forced.compile_config
    assert not model._valid_auto_compile_criteria({"cache": cache}, config)


def test_the_base_is_hashed_once_per_file(models: dict[str, Path]) -> None:
    _digest.cache_clear()
    first = Transformers(models["mistral"]).identity()
    again = Transformers(models["mistral"]).identity()
    assert first == again
    info: Any = _digest.cache_info()
    assert (info.misses, info.hits) == (1, 1)
