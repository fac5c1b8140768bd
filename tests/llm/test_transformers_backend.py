"""The transformers backend on a tiny random-init Llama (built here, no hub), with a LoRA adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, GenerationParams

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from sensecf.llm.transformers_backend import Transformers  # noqa: E402

# peft 0.21 reads an attribute transformers 5 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")

WORDS = ["hello", "world", "sleep", "steps", "glucose", "stress", "more", "less", "yes", "no"]
WORDS += ["{", "}", ":", ",", '"', "0", "1", "2", "3", "4", "5"]
SPECIAL = ["<unk>", "<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|> ' + m['content'] + ' </s> ' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
MESSAGES = [
    {"role": "system", "content": "yes no"},
    {"role": "user", "content": "hello world more sleep"},
]


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(SPECIAL + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=SPECIAL[4:],
        chat_template=TEMPLATE,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny Llama and tokenizer saved to disk, and a LoRA adapter for it."""
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = _tokenizer()
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")

    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    adapted = peft.get_peft_model(model, lora)
    with torch.no_grad():  # LoRA's B starts at zero: make the adapter actually change something
        for name, param in adapted.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    adapted.save_pretrained(root / "adapter-a")
    return {"base": root / "base", "adapter": root / "adapter-a"}


def test_generates_a_few_tokens_with_counts(tiny: dict[str, Path]) -> None:
    backend = Transformers(tiny["base"])
    out = backend.complete(MESSAGES, params=GenerationParams(max_tokens=5))
    assert isinstance(out.text, str)
    assert out.prompt_tokens > 5
    assert 1 <= out.completion_tokens <= 5
    assert out.seconds > 0
    backend.close()
    backend.close()


def test_greedy_is_repeatable_and_sampling_follows_the_seed(tiny: dict[str, Path]) -> None:
    backend = Transformers(tiny["base"])
    greedy = GenerationParams(max_tokens=6)
    assert (
        backend.complete(MESSAGES, params=greedy).text
        == backend.complete(MESSAGES, params=greedy).text
    )
    hot = GenerationParams(temperature=1.5, max_tokens=8, seed=3)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = backend.complete(MESSAGES, params=hot).text
    after = torch.rand(1)
    assert torch.equal(before, after)  # the caller's global RNG is untouched
    assert backend.complete(MESSAGES, params=hot).text == first
    others = {
        backend.complete(
            MESSAGES, params=GenerationParams(temperature=1.5, max_tokens=8, seed=s)
        ).text
        for s in range(4)
    }
    assert len(others) > 1


def test_adapter_is_applied_and_changes_identity(tiny: dict[str, Path]) -> None:
    plain = Transformers(tiny["base"])
    adapted = Transformers(tiny["base"], adapter=tiny["adapter"])
    assert "adapter" not in plain.identity()
    ident = adapted.identity()
    assert ident["adapter"] == "adapter-a"
    assert len(ident["adapter_sha256"]) == 16
    assert ident != plain.identity()
    assert str(tiny["base"].parent) not in json.dumps(ident)  # no machine paths

    params = GenerationParams(max_tokens=8)
    requests = [ChatRequest(MESSAGES, params=params)]
    [a] = adapted.complete_many(requests)
    [b] = plain.complete_many(requests)
    assert not isinstance(a, Exception) and not isinstance(b, Exception)
    logits = _first_logits(adapted), _first_logits(plain)
    assert not torch.allclose(*logits)


def _first_logits(backend: Transformers) -> object:
    model, tokenizer = backend._load()
    ids = tokenizer("hello world", return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(**ids).logits[0, -1]


def test_a_different_adapter_file_changes_identity(tiny: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "adapter-a"
    shutil.copytree(tiny["adapter"], copy)
    same = Transformers(tiny["base"], adapter=copy).identity()
    assert same == Transformers(tiny["base"], adapter=tiny["adapter"]).identity()
    weights = copy / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert Transformers(tiny["base"], adapter=copy).identity() != same


def test_prompt_longer_than_the_context_is_a_clear_error(tiny: dict[str, Path]) -> None:
    from sensecf.llm.base import LLMError

    backend = Transformers(tiny["base"])
    long = [{"role": "user", "content": "hello " * 300}]
    with pytest.raises(LLMError, match="exceeds the model's context"):
        backend.complete(long, params=GenerationParams(max_tokens=4))


def test_bad_paths_name_the_culprit(tmp_path: Path) -> None:
    with pytest.raises(SensecfError, match="not a saved model folder"):
        Transformers(tmp_path)
    with pytest.raises(SensecfError, match="GGUF model file not found"):
        Transformers(tmp_path / "missing.gguf")
    with pytest.raises(SensecfError, match="not a PEFT adapter folder"):
        Transformers(None, adapter=tmp_path)
