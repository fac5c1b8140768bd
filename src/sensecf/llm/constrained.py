"""Per-row control of a batched ``generate``: a JSON-schema grammar and seeded sampling.

:class:`RowControl` is a ``transformers`` logits processor for a batch in which every row is
its own request. A row with a JSON schema gets its own grammar matcher from llguidance (the
structured-generation engine behind guidance; a logits processor needs only its token masks):
before each step the matcher reads the row's last token and the row's logits outside what the
grammar admits are set to ``-inf``, so even a random model can only write an answer that parses
and satisfies the schema (``enum`` included). A row with no schema is left free.

Sampling is done per row as well, so an answer depends on its own request alone and never on
the other rows of its batch: the row's logits are divided by its temperature, cut to its top_p
nucleus, and given Gumbel noise drawn from the row's own generator (seeded by its
``params.seed``); ``generate`` then runs greedy, and the argmax of logits plus Gumbel noise is a
draw from the softmax (the Gumbel-max trick). Rows at temperature 0 stay greedy.

The JSON is written in one fixed layout, ``{"a": 1, "b": "x"}`` (the separators of Python's
``json.dumps``, no other whitespace): a model cannot pad an answer with endless blanks, and
the layout is the one fine-tuning targets use.

>>> grammar = json_schema_grammar({"type": "object", "properties": {"a": {"enum": [1, 2]}}})
>>> isinstance(grammar, str) and "enum" in grammar
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sensecf.errors import SensecfError
from sensecf.llm.answer_grammar import answer_rules, to_lark

_INSTALL = "pip install llguidance  (or: pip install 'sensecf[finetune]')"
# The layout of every constrained answer: json.dumps' separators, no other whitespace.
_LAYOUT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError as exc:
        raise SensecfError(f"schema-constrained decoding needs llguidance: {_INSTALL}") from exc
    return llguidance


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """The llguidance grammar of answers that satisfy ``schema``, in the fixed JSON layout.

    A schema llguidance cannot compile raises :class:`~sensecf.errors.SensecfError` when the
    matcher is built (:meth:`Grammars.matcher`).

    >>> json.loads(json_schema_grammar({"enum": ["yes", "no"]}))["grammars"][0]["json_schema"]
    {'enum': ['yes', 'no'], 'x-guidance': {'whitespace_flexible': False, 'item_separator': ', ', 'key_separator': ': '}}
    """
    llguidance = _llguidance()
    rules = answer_rules(schema)
    if rules is not None:  # an answer schema: its bounds on the number of keys kept
        return llguidance.LLMatcher.grammar_from_lark(to_lark(rules))
    return llguidance.LLMatcher.grammar_from_json_schema(schema, overrides=dict(_LAYOUT))


def admits(schema: dict[str, Any], text: str) -> bool:
    """Whether ``text`` is strict JSON that an :func:`~sensecf.generators.llm.schema.answer_schema` admits.

    Checks what such a schema says: an object whose keys come in the schema's order, each at
    most once, the required ones among them, as many as ``minProperties``/``maxProperties``
    allow, each value one of its ``enum``; a check on what a decoder returned, not a
    JSON-schema validator.

    >>> schema = {"properties": {"a": {"enum": [1, 2]}, "b": {"enum": [3]}}, "required": ["a"],
    ...           "maxProperties": 1}
    >>> [admits(schema, t) for t in ('{"a": 2}', '{"a": 3}', '{"a": 1', '{"a": 1, "b": 3}')]
    [True, False, False, False]
    """
    try:
        answer = json.loads(text)
    except ValueError:
        return False
    if not isinstance(answer, dict):
        return False
    properties = schema.get("properties", {})
    order = [name for name in properties if name in answer]
    if list(answer) != order or len(order) != len(answer):
        return False  # a key the schema does not name, or keys out of order
    if not set(schema.get("required", [])) <= set(answer):
        return False
    if (
        not schema.get("minProperties", 0)
        <= len(answer)
        <= schema.get("maxProperties", len(answer))
    ):
        return False
    return all(value in properties[name].get("enum", [value]) for name, value in answer.items())


class Grammars:
    """Grammar matchers for one Hugging Face tokenizer: built once, one matcher per request.

    Args:
        tokenizer: a fast (Rust-backed) Hugging Face tokenizer.
        eos_token_ids: the tokens that end an answer (the model's generation config may name
            several); the grammar allows them once the answer is complete.

    Wrapping the tokenizer takes about half a second for a 49k vocabulary; grammars are cached
    per schema, so a batch of requests sharing a schema compiles it once.
    """

    def __init__(self, tokenizer: Any, eos_token_ids: Sequence[int]) -> None:
        _llguidance()  # a clear message when it is missing
        from llguidance.hf import from_tokenizer

        if not eos_token_ids:
            raise SensecfError("constrained decoding needs at least one end-of-answer token id")
        try:
            self.tokenizer = from_tokenizer(tokenizer, eos_token=list(eos_token_ids))
        except ValueError as exc:
            raise SensecfError(
                f"constrained decoding needs a fast Hugging Face tokenizer; got "
                f"{type(tokenizer).__name__} ({exc})"
            ) from exc
        self.vocab_size = int(self.tokenizer.vocab_size)
        self._grammars: dict[str, str] = {}

    def matcher(self, schema: dict[str, Any]) -> Any:
        """A fresh matcher for answers to ``schema`` (raises SensecfError if it cannot compile)."""
        llguidance = _llguidance()
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = json_schema_grammar(schema)
        matcher = llguidance.LLMatcher(self.tokenizer, self._grammars[key], log_level=0)
        if matcher.is_error():
            raise SensecfError(
                f"the JSON schema cannot be used as a grammar: {matcher.get_error()}; "
                f"schema: {key[:200]}"
            )
        return matcher


@dataclass(frozen=True)
class RowSettings:
    """What one row of a batch needs: its matcher (or ``None``) and its sampling settings."""

    matcher: Any = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    # The row's own answer budget, when the batch's ``max_new_tokens`` is larger.
    max_tokens: int | None = None


class RowControl:
    """A logits processor applying each row's grammar mask and sampling (see the module doc).

    Args:
        rows: one :class:`RowSettings` per batch row, in batch order.
        prompt_length: the padded prompt length (tokens before the first generated one).
        eos_token_ids: the tokens that end a row.
        device: where the logits live (the row generators draw their noise there).
        vocab_size: the grammar tokenizer's vocabulary (:attr:`Grammars.vocab_size`); needed
            when a row has a matcher.

    The processor is stateful (it feeds each row's new token to its matcher): use one per
    ``generate`` call.
    """

    def __init__(
        self,
        rows: Sequence[RowSettings],
        prompt_length: int,
        eos_token_ids: Sequence[int],
        device: Any,
        vocab_size: int = 0,
    ) -> None:
        import torch

        self.rows = list(rows)
        self.vocab_size = vocab_size
        self.prompt_length = prompt_length
        self.eos = set(int(t) for t in eos_token_ids)
        self.end_token = int(eos_token_ids[0])
        self.device = torch.device(device)
        self.constrained = [i for i, r in enumerate(self.rows) if r.matcher is not None]
        self.sampled = [i for i, r in enumerate(self.rows) if r.temperature > 0]
        budgets = [r.max_tokens for r in self.rows if r.max_tokens is not None]
        self.capped = [
            i
            for i, r in enumerate(self.rows)
            if r.max_tokens is not None and r.max_tokens < max(budgets)
        ]
        # Plain greedy rows need nothing from it (and skipping it saves a device sync per step).
        self.needed = bool(self.constrained or self.sampled or self.capped)
        self.finished = [False] * len(self.rows)
        self.generators: dict[int, Any] = {}
        for i in self.sampled:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(self.rows[i].seed))
            self.generators[i] = generator
        self._executor: Any = None
        self._mask: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        step = int(input_ids.shape[1]) - self.prompt_length
        if step > 0:
            self._advance(input_ids[:, -1].tolist())
        if self.constrained:
            scores = self._apply_grammar(scores)
        if self.sampled:
            scores = self._apply_sampling(scores)
        if self.capped:
            scores = self._end_spent(scores, step)
        return scores

    def _end_spent(self, scores: Any, step: int) -> Any:
        """End the rows whose own budget is spent: the batch decodes on for longer ones, and
        the extra end token is cut off again by the caller."""
        spent = [
            i
            for i in self.capped
            if not self.finished[i] and step >= (self.rows[i].max_tokens or 0)
        ]
        if not spent:
            return scores
        scores = scores.clone()
        scores[spent] = float("-inf")
        scores[spent, self.end_token] = 0.0
        return scores

    def _advance(self, last: list[int]) -> None:
        """Feed each live row's newest token to its matcher; note rows that have ended."""
        for i, row in enumerate(self.rows):
            if self.finished[i]:
                continue
            token = int(last[i])
            if token in self.eos:
                self.finished[i] = True
            elif row.matcher is not None and not row.matcher.consume_token(token):
                # Cannot happen with the mask applied; end the row rather than decode garbage.
                self.finished[i] = True

    def _apply_grammar(self, scores: Any) -> Any:
        import numpy as np
        import torch
        from llguidance.numpy import fill_next_token_bitmask_par

        llguidance = _llguidance()
        live = [
            (self.rows[i].matcher, i)
            for i in self.constrained
            if not self.finished[i] and not self.rows[i].matcher.is_error()
        ]
        if not live:
            return scores
        if self._mask is None:
            words = (self.vocab_size + 31) // 32
            self._mask = np.full((len(self.rows), words), -1, dtype=np.int32)
            self._executor = llguidance.LLExecutor()
        self._mask.fill(-1)  # rows without a live matcher: every token allowed
        fill_next_token_bitmask_par(self._executor, live, self._mask)
        mask = torch.from_numpy(self._mask).to(scores.device, non_blocking=True)
        bits = torch.arange(32, device=scores.device, dtype=torch.int32)
        allowed = ((mask.unsqueeze(-1) >> bits) & 1).bool().reshape(mask.shape[0], -1)
        width = scores.shape[1]
        if allowed.shape[1] >= width:
            allowed = allowed[:, :width]
        else:  # logits wider than the tokenizer (padded embeddings): the extra ids are not text
            pad = torch.zeros(
                (allowed.shape[0], width - allowed.shape[1]),
                dtype=torch.bool,
                device=allowed.device,
            )
            free = torch.tensor(
                [self.rows[i].matcher is None or self.finished[i] for i in range(len(self.rows))],
                device=allowed.device,
            )
            allowed = torch.cat([allowed, pad | free.unsqueeze(1)], dim=1)
        return scores.masked_fill(~allowed, float("-inf"))

    def _apply_sampling(self, scores: Any) -> Any:
        import torch

        scores = scores.clone()
        for i in self.sampled:
            if self.finished[i]:
                continue
            row = scores[i] / self.rows[i].temperature
            top_p = self.rows[i].top_p
            if top_p < 1.0:
                probs = torch.softmax(row, dim=-1)
                ordered, order = torch.sort(probs, descending=True)
                before = torch.cumsum(ordered, dim=-1) - ordered  # mass of the tokens ahead
                drop = torch.zeros_like(row, dtype=torch.bool)
                drop[order] = before >= top_p
                row = row.masked_fill(drop, float("-inf"))
            uniform = torch.rand(
                row.shape, generator=self.generators[i], device=row.device, dtype=torch.float32
            )
            gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
            scores[i] = row + gumbel.to(row.dtype)
        return scores
