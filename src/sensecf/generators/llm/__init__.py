"""Counterfactuals from a language model: prompted, schema-constrained, verified, repaired.

This room holds the counterfactual rules of the LLM generator; the language models themselves
(backends, the call cache) are in :mod:`sensecf.llm`. One concept a module:

- :mod:`~sensecf.generators.llm.generator` — :class:`LLMGenerator` and its round loop;
- :mod:`~sensecf.generators.llm.examples` — choosing the few-shot examples: the nearest
  desired-class people, projected onto what this person may change and verified;
- :mod:`~sensecf.generators.llm.probe` — which single moves help, measured on the classifier;
- :mod:`~sensecf.generators.llm.candidates` — the values each feature may take in an answer,
  and how each repair round narrows them;
- :mod:`~sensecf.generators.llm.prompts` — the prompt texts (:class:`PromptTemplate`);
- :mod:`~sensecf.generators.llm.schema` — the per-query JSON schema of an answer;
- :mod:`~sensecf.generators.llm.parse` — tolerant reading of an answer, and its coercion
  onto the query's row;
- :mod:`~sensecf.generators.llm.feedback` — what a repair round says about a failed answer.

For each query the generator

1. writes a prompt: the task and every changeable feature's meaning, unit and direction (a
   system message shared by everyone in a run), then the model's current prediction, this
   person's current values of the features in play, which changes help most (measured on the
   classifier, one feature at a time), and — few-shot — examples: by default the nearest
   training rows of the desired class, moved onto what this person may change, verified by
   the classifier and cut down to the changes they need, so that copying one is a valid
   answer ("the context carries the knowledge": a small model copies what its context
   offers);
2. asks for a compact JSON object of changes (a feature left out stays as it is; at most
   ``max_changes``, 3 by default), with a per-query schema that offers each feature in play an
   ``enum`` of admissible new values: a grid of training quantiles within its allowed range
   and the examples' values (a few-shot first answer: only the features its examples move).
   Fixed and derived features are never asked; they are copied back or follow their inputs;
3. parses the answer tolerantly, rounds it to each feature's step, checks bounds and
   directions (nothing is projected: a broken rule is a failed answer) and verifies it with
   the classifier;
4. repairs a failed answer, up to ``repair_rounds`` times, with feedback (the probability it
   reached, the rules it broke) *and a changed context*, since re-asking a small model with the
   same context returns the same answer (stack notes, measured). Each round shows the next
   examples in line and offers a narrower candidate set: round 1 only values that help on
   their own (the classifier's one-feature probe), round 2 only the examples' values
   (zero-shot: the single most helpful value per feature), and the last round (round 3 with
   the default three) is the last resort: the three strongest helpful features are required
   keys, so they must move (three more with each further round);
5. for several CFs per query, asks further samples at ``sample_temperature`` with their own
   seed and their own examples (the next ones in line), and repairs a repeated answer too;
6. optionally lets the :class:`~sensecf.generators.oracle.Oracle` fill what the LLM could not
   (``fallback=True``, rows marked ``source="fallback"``).

Every CF row records the ``round`` it came from (0 = first answer, ``source="llm"``; later
rounds ``source="repair"``; -1 for the fallback), whether it is a verbatim copy of an example
shown (``copied_example``), and the calls and tokens of the chain of requests that led to it.
Per-query totals, including calls spent on queries left unserved, are in the queries table
(``llm_calls``, ``prompt_tokens``, ``completion_tokens``, ``rounds``, ``rejected_answers``).
Requests go out round by round for all queries at once (``backend.complete_many``), so a
remote server can serve them concurrently. An :class:`~sensecf.llm.base.LLMError` (a backend
down after its retries) propagates; what was answered so far is in the backend's cache.

>>> LLMGenerator(shots=0).name, LLMGenerator().name, LLMGenerator(examples="worked").name
('zero-shot', 'few-shot', 'few-shot-worked')
"""

from sensecf.generators.llm.generator import LLMGenerator
from sensecf.generators.llm.parse import (
    CoercedAnswer,
    ParsedAnswer,
    coerce_answer,
    parse_answer,
    rule_breaks,
)
from sensecf.generators.llm.prompts import (
    PromptContext,
    PromptTemplate,
    answer_row,
    glossary,
    render_messages,
)
from sensecf.generators.llm.schema import answer_schema, plain_number, step_decimals

__all__ = [
    "CoercedAnswer",
    "LLMGenerator",
    "ParsedAnswer",
    "PromptContext",
    "PromptTemplate",
    "answer_row",
    "answer_schema",
    "coerce_answer",
    "glossary",
    "parse_answer",
    "plain_number",
    "render_messages",
    "rule_breaks",
    "step_decimals",
]
