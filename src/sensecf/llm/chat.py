"""Chat prompts for a Hugging Face tokenizer, the same in training and in serving.

Three things a model family's chat template can do that a counterfactual prompt must survive:

- **refuse a system message.** Mistral-7B-Instruct v0.1 (and BioMistral, which derives from it)
  raises "Conversation roles must alternate user/assistant/…" on a ``system`` turn; other
  templates drop it silently. Either way the system text is folded into the first user turn
  (system text, a blank line, the user text) and the prompt rendered again.
- **be missing.** A base checkpoint (Llama-3.1-8B, not -Instruct) has no template; it gets
  :data:`DEFAULT_CHAT_TEMPLATE` (``### System:`` / ``### User:`` / ``### Answer:`` sections, the
  answer closed by the end-of-sequence token), noted in the log when the model loads.
- **tokenize an answer differently alone.** A SentencePiece tokenizer (Mistral, Llama 2) adds a
  word-start marker to text tokenized on its own (``{`` becomes ``▁{``), while after the prompt
  the same answer starts with a bare ``{``: the answer grammar allows only the latter. So a
  training pair is tokenized as prompt and answer together (:func:`encode_chat_pair`) and the
  answer's tokens are those that follow the prompt's, exactly what serving sends and decodes.

>>> fold_system([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
[{'role': 'user', 'content': 'Be brief.\\n\\nHi'}]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sensecf.errors import SensecfError

logger = logging.getLogger(__name__)

# For checkpoints with no template of their own; the answer ends with the EOS token, which the
# serving backend stops on.
DEFAULT_CHAT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}"
    "{{ '### Answer:\\n' + m['content'] + (eos_token if eos_token else '') + '\\n\\n' }}"
    "{% else %}{{ '### ' + (m['role'] | capitalize) + ':\\n' + m['content'] + '\\n\\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Answer:\\n' }}{% endif %}"
)


# Put in front of a template that refuses a system turn: the same folding, done by the template,
# for servers that render prompts themselves (vLLM's --chat-template).
FOLD_SYSTEM_PREFIX = (
    "{%- if messages and messages[0]['role'] == 'system' and messages | length > 1 -%}"
    "{%- set messages = [{'role': messages[1]['role'], 'content': messages[0]['content'] "
    "+ '\\n\\n' + messages[1]['content']}] + messages[2:] -%}{%- endif -%}"
)


def fold_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with every system turn's text put in front of the first user turn.

    >>> fold_system([{"role": "user", "content": "Hi"}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    text = "\n\n".join(system)
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{text}\n\n{message['content']}"
            return rest
    return [{"role": "user", "content": text}, *rest]


def has_template(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` carries a chat template of its own."""
    return bool(getattr(tokenizer, "chat_template", None))


def note_template(tokenizer: Any, where: str) -> None:
    """Log, when a model is loaded, that its tokenizer has no template and the default serves."""
    if not has_template(tokenizer):
        logger.info(
            f"{where} has no chat template: prompts use sensecf's default "
            "(### System / ### User / ### Answer sections)"
        )


def render_chat(
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    *,
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for ``messages`` by the tokenizer's chat template (see the module).

    A system message the template refuses or drops is folded into the first user turn; a
    tokenizer with no template uses :data:`DEFAULT_CHAT_TEMPLATE`.

    Raises :class:`~sensecf.errors.SensecfError` when the template fails even then.
    """
    from jinja2.exceptions import TemplateError

    template = None if has_template(tokenizer) else DEFAULT_CHAT_TEMPLATE

    def render(turns: list[dict[str, str]]) -> str:
        text = tokenizer.apply_chat_template(
            turns,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
        return str(text)

    turns = [dict(m) for m in messages]
    system = [m["content"] for m in turns if m["role"] == "system"]
    try:
        text = render(turns)
        # A template may drop a system turn without a word: then it is folded too.
        if all(part in text for part in system):
            return text
    except TemplateError as exc:
        if not system:
            raise SensecfError(f"the chat template refused the messages: {exc}") from exc
    try:
        return render(fold_system(turns))
    except TemplateError as exc:
        roles = [m["role"] for m in turns]
        raise SensecfError(
            f"the chat template refused the messages (roles {roles}), even with the system "
            f"text folded into the first user turn: {exc}"
        ) from exc


def served_template(tokenizer: Any) -> str:
    """The chat template that renders what :func:`render_chat` renders, for a server to use.

    The tokenizer's own (or the default) when it keeps a system turn; otherwise it with
    :data:`FOLD_SYSTEM_PREFIX` in front.
    """
    own = tokenizer.chat_template if has_template(tokenizer) else DEFAULT_CHAT_TEMPLATE
    probe = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    if render_chat(tokenizer, probe) == render_chat(tokenizer, fold_system(probe)):
        return FOLD_SYSTEM_PREFIX + str(own)
    return str(own)


def encode_chat(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    """Token ids of the prompt for ``messages``, ending with the generation prompt.

    The rendered template already holds the special tokens (BOS): none are added again.
    """
    prompt = render_chat(tokenizer, messages)
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def encode_chat_pair(
    tokenizer: Any, messages: Sequence[dict[str, str]], answer: str
) -> tuple[list[int], list[int]]:
    """Token ids of the prompt (as :func:`encode_chat` gives them) and of the answer after it.

    The answer's ids are those of prompt + answer tokenized together, past the prompt's: the
    tokens a served model writes after exactly that prompt. Where the two tokenizations do not
    share the prompt's tokens (a merge across the boundary), the answer is tokenized on its
    own, with a warning.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from transformers import PreTrainedTokenizerFast
    >>> core = Tokenizer(models.WordLevel({"<unk>": 0, "hi": 1, "{}": 2}, unk_token="<unk>"))
    >>> core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    >>> tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>",
    ...     chat_template="{% for m in messages %}{{ m['content'] + ' ' }}{% endfor %}")
    >>> encode_chat_pair(tok, [{"role": "user", "content": "hi"}], "{}")
    ([1], [2])
    """
    prompt = render_chat(tokenizer, messages)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    joined = list(tokenizer(prompt + answer, add_special_tokens=False)["input_ids"])
    if joined[: len(prompt_ids)] == prompt_ids:
        return prompt_ids, joined[len(prompt_ids) :]
    logger.warning(
        "the prompt's last tokens merge with the answer's first; the answer is tokenized on its "
        "own, and its first token may differ from what the model writes when served"
    )
    return prompt_ids, list(tokenizer(answer, add_special_tokens=False)["input_ids"])
