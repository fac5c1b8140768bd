"""LoRA training mechanics on a tiny random-init Llama with the SmolLM2 tokenizer (no hub)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sensecf.errors import SensecfError
from sensecf.finetuning.training import IGNORE, TrainConfig, encode_pair, train_lora
from sensecf.llm import artifacts

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
pytest.importorskip("gguf")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def tokenizer():
    from sensecf.llm.models import packaged_model_path

    path = packaged_model_path()
    return transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _tiny(tokenizer) -> object:
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
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config)


def _pairs(n: int = 12) -> pd.DataFrame:
    rows = []
    for i in range(n):
        messages = [
            {"role": "system", "content": "Answer JSON."},
            {"role": "user", "content": f"steps {1000 + 100 * i}: {5000 + 100 * i}"},
        ]
        rows.append(
            {"messages": json.dumps(messages), "answer": json.dumps({"steps": 5000 + 100 * i})}
        )
    return pd.DataFrame(rows)


def test_only_answer_tokens_carry_labels(tokenizer) -> None:
    messages = [{"role": "user", "content": "hello"}]
    ids, labels = encode_pair(tokenizer, messages, '{"a": 1}')
    answer = tokenizer('{"a": 1}', add_special_tokens=False)["input_ids"]
    n_prompt = len(ids) - len(answer) - 1
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == [*answer, tokenizer.eos_token_id]
    assert ids[n_prompt:] == labels[n_prompt:]


def test_a_few_steps_lower_the_loss_and_save_an_adapter_that_loads(tokenizer, tmp_path) -> None:
    config = TrainConfig(steps=12, batch_size=4, lr=5e-3, save_every=6, rank=4, alpha=8)
    model, _, result = train_lora(
        _pairs(),
        tmp_path,
        config=config,
        model=_tiny(tokenizer),
        tokenizer=tokenizer,
        progress=False,
    )
    assert result.steps == 12 and result.resumed_from == 0 and len(result.losses) == 12
    assert np.mean(result.losses[-3:]) < np.mean(result.losses[:3])
    assert (tmp_path / artifacts.LOSS_PNG).is_file()
    curve = pd.read_csv(tmp_path / artifacts.LOSS_CSV)
    assert curve["loss"].tolist() == pytest.approx(result.losses)

    # the saved adapter, loaded on a fresh copy of the same base, gives the same logits
    ids = torch.tensor(
        [encode_pair(tokenizer, [{"role": "user", "content": "steps 1000"}], "{")[0]]
    )
    with torch.no_grad():
        trained = model(input_ids=ids).logits
        loaded = peft.PeftModel.from_pretrained(_tiny(tokenizer), tmp_path / artifacts.ADAPTER)
        again = loaded(input_ids=ids).logits
        plain = _tiny(tokenizer)(input_ids=ids).logits
    assert torch.allclose(trained, again, atol=1e-5)
    assert not torch.allclose(trained, plain, atol=1e-3)  # the adapter does something


class _Killed(Exception):
    """Stands in for a run killed mid-way."""


def test_an_interrupted_run_resumes_where_it_stopped(tokenizer, tmp_path) -> None:
    pairs = _pairs()
    config = TrainConfig(steps=6, batch_size=4, lr=5e-3, save_every=2, rank=4, alpha=8)
    _, _, straight = train_lora(
        pairs,
        tmp_path / "a",
        config=config,
        model=_tiny(tokenizer),
        tokenizer=tokenizer,
        progress=False,
    )
    doomed = _tiny(tokenizer)
    calls = {"n": 0}

    def kill_on_fifth_step(module, args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise _Killed

    doomed.register_forward_pre_hook(kill_on_fifth_step)
    with pytest.raises(_Killed):
        train_lora(
            pairs, tmp_path / "b", config=config, model=doomed, tokenizer=tokenizer, progress=False
        )
    state = torch.load(tmp_path / "b" / artifacts.CHECKPOINTS / "state.pt", weights_only=False)
    assert state["step"] == 4
    _, _, resumed = train_lora(
        pairs,
        tmp_path / "b",
        config=config,
        model=_tiny(tokenizer),
        tokenizer=tokenizer,
        progress=False,
    )
    assert resumed.resumed_from == 4
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-4)

    other = TrainConfig(steps=8, batch_size=4, lr=5e-3, save_every=2, rank=4, alpha=8)
    with pytest.raises(SensecfError, match="other training settings"):
        train_lora(pairs, tmp_path / "b", config=other, model=_tiny(tokenizer), tokenizer=tokenizer)


def test_last_layers_adapts_only_the_top_of_the_stack(tokenizer, tmp_path) -> None:
    config = TrainConfig(steps=2, batch_size=4, save_every=2, rank=4, alpha=8, last_layers=1)
    model, _, _ = train_lora(
        _pairs(4),
        tmp_path,
        config=config,
        model=_tiny(tokenizer),
        tokenizer=tokenizer,
        progress=False,
    )
    adapted = {
        n.split(".layers.")[1].split(".")[0] for n, _ in model.named_parameters() if "lora_A" in n
    }
    assert adapted == {"1"}  # the tiny model has layers 0 and 1
