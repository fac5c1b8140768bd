"""Tiny random-init chat models of the Llama-3 and Mistral families, built with no network.

For tests and device checks of the Hugging Face path (fine-tuning, merging, serving): a model
folder as ``save_pretrained`` writes it, whose tokenizer is trained here on a small corpus and
behaves as its family's does where it matters:

- ``llama``: byte-level BPE (every text encodes), ``<|begin_of_text|>``, a Llama-3.1-style
  template with header tokens that accepts a system turn, answers closed by ``<|eot_id|>``;
  no pad token, and a generation config naming three end tokens, as Llama-3.1 does.
- ``mistral``: SentencePiece-style BPE (``▁`` marks a word start and text alone gets one, so
  ``{`` alone is ``▁{``; unknown characters fall back to byte tokens), ``<s>``/``</s>``, the
  Mistral-7B-Instruct v0.1 template that refuses a system turn, and a sliding window.

``chat_template=False`` saves the tokenizer with no template (a base checkpoint's case).
A random model writes noise; what these models test is mechanics, not answers.

>>> tokenizer = tiny_tokenizer("mistral")
>>> tokenizer.convert_ids_to_tokens(tokenizer("{", add_special_tokens=False)["input_ids"])[0]
'▁{'
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sensecf.errors import SensecfError

FAMILIES = ("llama", "mistral")

LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim "
    "+ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
# Mistral-7B-Instruct v0.1's template, as BioMistral-7B ships it.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)
LLAMA_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
]
MISTRAL_SPECIAL = ["<unk>", "<s>", "</s>"]

# Words the counterfactual prompts use, so that the BPE learns a few useful merges.
CORPUS = [
    'You propose counterfactual changes. Answer with one JSON object: {"sleep": 480, "steps": 9000}.',
    "The model flags this person as high risk (probability 0.82). Goal: low risk.",
    "sleep minutes 420: 450, 480, 510; steps 6000: 8000, 10000; resting heart rate 72: 68, 64",
    "glucose time in range 61 %: 70, 75; stress 3: 2, 1; age 54 (fixed); hr 71.5: 69.0",
    "Suggest values. Nearest people of the desired class: sleep 465, steps 9400, hr 66.2.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 0.5 12.5 -1 yes no true false null [ ] { } : , \" ' ( ) %",
]


def tiny_tokenizer(family: str, corpus: Sequence[str] = CORPUS, *, vocab_size: int = 400) -> Any:
    """A fast tokenizer of ``family`` (``llama`` or ``mistral``) trained on ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    _check_family(family)
    if family == "llama":
        core = Tokenizer(models.BPE())
        core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        core.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=LLAMA_SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        core.train_from_iterator(list(corpus), trainer)
        return PreTrainedTokenizerFast(
            tokenizer_object=core,
            bos_token="<|begin_of_text|>",
            eos_token="<|eot_id|>",
            additional_special_tokens=LLAMA_SPECIAL[2:4] + LLAMA_SPECIAL[5:],
            chat_template=LLAMA_TEMPLATE,
        )
    # SentencePiece as transformers' Llama/Mistral fast tokenizers model it: spaces become "▁",
    # one more in front of the text, byte tokens for what the vocabulary lacks.
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=MISTRAL_SPECIAL, show_progress=False
    )
    draft = Tokenizer(models.BPE(unk_token="<unk>"))
    draft.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    draft.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    draft.train_from_iterator(list(corpus), trainer)
    spec = json.loads(draft.to_str())
    vocab = spec["model"]["vocab"]
    for byte in range(256):  # byte fallback: any character encodes
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    spec["model"]["byte_fallback"] = True
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ],
    }
    core = Tokenizer.from_str(json.dumps(spec))
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        chat_template=MISTRAL_TEMPLATE,
    )


def build_tiny_model(
    family: str,
    folder: str | os.PathLike,
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    context: int = 2048,
    sliding_window: int | None = 4096,
    chat_template: bool = True,
    generation: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """Save a random-init ``family`` model (float32) and its tokenizer to ``folder``.

    ``sliding_window`` applies to ``mistral`` (4096, as Mistral-7B v0.1 and BioMistral);
    ``generation``: more settings for the saved generation config (a checkpoint's own sampling
    defaults, e.g. ``{"repetition_penalty": 1.3}``).

    >>> import tempfile
    >>> path = build_tiny_model("llama", tempfile.mkdtemp())
    >>> sorted(p.name for p in path.iterdir() if p.suffix == ".json")[:2]
    ['config.json', 'generation_config.json']
    """
    import torch
    import transformers

    _check_family(family)
    tokenizer = tiny_tokenizer(family)
    if not chat_template:
        tokenizer.chat_template = None
    common: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": context,
        "bos_token_id": tokenizer.bos_token_id,
        "tie_word_embeddings": False,
    }
    if family == "llama":
        eos = tokenizer.convert_tokens_to_ids(["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"])
        config: Any = transformers.LlamaConfig(eos_token_id=eos, **common)
        model_class: Any = transformers.LlamaForCausalLM
    else:
        eos = [tokenizer.eos_token_id]
        config = transformers.MistralConfig(
            eos_token_id=eos[0], sliding_window=sliding_window, **common
        )
        model_class = transformers.MistralForCausalLM
    torch.manual_seed(seed)
    model = model_class(config)
    with torch.no_grad():  # wider logits than the default init: fewer near-ties between tokens
        model.lm_head.weight.normal_(0, 0.5)
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos if len(eos) > 1 else eos[0],
        **(generation or {}),
    )
    out = Path(folder)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise SensecfError(f"model family must be one of {', '.join(FAMILIES)}; got {family!r}")
