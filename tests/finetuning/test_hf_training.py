"""LoRA training and merging on tiny random-init Llama-3 and Mistral family models (no hub).

The Hugging Face path as ``sensecf finetune --base HF_DIR`` takes it: the base loaded by
``load_base`` (on the CPU here, with the fallback line that says so), pairs rendered by each
family's template (Mistral's refuses the system turn), a training step, a run killed and resumed,
and the adapter merged into a Hugging Face folder that answers as base + adapter does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from sensecf.finetuning.training import IGNORE, TrainConfig, encode_pair, load_base, train_lora
from sensecf.llm import artifacts

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from sensecf.finetuning.export import export_merged  # noqa: E402
from sensecf.llm.chat import render_chat  # noqa: E402
from sensecf.llm.tiny import build_tiny_model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
FAMILIES = ["llama", "mistral"]
CONFIG = TrainConfig(
    steps=3, batch_size=2, lr=5e-3, save_every=1, rank=4, alpha=8, device="cpu", warmup=0.0
)


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bases")
    return {family: build_tiny_model(family, root / family) for family in FAMILIES}


def _pairs(n: int = 6) -> pd.DataFrame:
    rows = []
    for i in range(n):
        messages = [
            {"role": "system", "content": "Answer with one JSON object."},
            {"role": "user", "content": f"steps {1000 + 100 * i}: {5000 + 100 * i}"},
        ]
        answer = json.dumps({"steps": 5000 + 100 * i})
        rows.append({"messages": json.dumps(messages), "answer": answer})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("family", FAMILIES)
def test_pairs_end_with_the_answer_as_served(bases: dict[str, Path], family: str) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(bases[family])
    messages = json.loads(_pairs()["messages"][0])
    ids, labels = encode_pair(tokenizer, messages, '{"steps": 5000}')
    n_prompt = labels.count(IGNORE)
    prompt = tokenizer(render_chat(tokenizer, messages), add_special_tokens=False)["input_ids"]
    assert ids[:n_prompt] == prompt
    answer = ids[n_prompt:]
    assert answer[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(answer[:-1]) == '{"steps": 5000}'
    assert tokenizer.convert_ids_to_tokens(answer)[0].startswith("{")  # not "▁{"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_run_killed_mid_way_resumes_and_the_merge_answers_as_the_adapter(
    bases: dict[str, Path], family: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sensecf.finetuning.training"):
        model, tokenizer, device = load_base(bases[family], CONFIG)
    assert device == "cpu" and "no CUDA device" in caplog.text  # the fallback, said plainly
    assert tokenizer.pad_token_id is not None  # Llama-3 and Mistral name none
    _, _, straight = train_lora(
        _pairs(), tmp_path / "a", config=CONFIG, model=model, tokenizer=tokenizer, progress=False
    )
    assert straight.steps == 3 and all(loss > 0 for loss in straight.losses)

    doomed, tokenizer, _ = load_base(bases[family], CONFIG)
    calls = {"n": 0}

    def kill_on_third_step(module: object, args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    doomed.register_forward_pre_hook(kill_on_third_step)
    with pytest.raises(KeyboardInterrupt):
        train_lora(
            _pairs(),
            tmp_path / "b",
            config=CONFIG,
            model=doomed,
            tokenizer=tokenizer,
            progress=False,
        )
    fresh, tokenizer, _ = load_base(bases[family], CONFIG)
    trained, _, resumed = train_lora(
        _pairs(), tmp_path / "b", config=CONFIG, model=fresh, tokenizer=tokenizer, progress=False
    )
    assert resumed.resumed_from == 2
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-4)

    merged = export_merged(bases[family], tmp_path / "b" / artifacts.ADAPTER, tmp_path / "m")
    assert not (tmp_path / "m.tmp").exists()
    ids = torch.tensor([encode_pair(tokenizer, json.loads(_pairs()["messages"][1]), "{")[0]])
    plain = transformers.AutoModelForCausalLM.from_pretrained(merged)
    assert not any("lora" in name for name in plain.state_dict())  # a plain model folder
    assert transformers.AutoConfig.from_pretrained(merged).model_type == family
    with torch.no_grad():
        adapted = trained(input_ids=ids).logits
        alone = plain(input_ids=ids).logits
        base = transformers.AutoModelForCausalLM.from_pretrained(bases[family])(input_ids=ids)
    assert torch.allclose(adapted, alone, atol=1e-4)
    assert not torch.allclose(adapted, base.logits, atol=1e-4)  # the adapter did something
