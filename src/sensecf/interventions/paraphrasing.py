"""The checked LLM paraphrase of an intervention text.

:func:`paraphrase` asks an LLM to rewrite the template text warmly for a patient and keeps its
answer only if :func:`check_paraphrase` finds that it mentions every change, no other feature,
and no number the template does not have; otherwise the template text comes back with the reason.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.interventions.formatting import lower_first, plain_number
from sensecf.interventions.wording import feature_phrase, feature_terms
from sensecf.llm.base import GenerationParams, LLMError

if TYPE_CHECKING:
    from sensecf.interventions.text import Change
    from sensecf.llm.base import LLMBackend

__all__ = ["PARAPHRASE_SYSTEM", "Paraphrase", "check_paraphrase", "paraphrase"]

PARAPHRASE_SYSTEM = (
    "You rewrite a list of suggested changes for the patient it is about. Write warmly, plainly "
    "and briefly, speaking to the patient as 'you'. Mention every change in the list and "
    "nothing else about their health: no other measures, no advice, no reasons. Keep every "
    "number exactly as written, in digits and in the same units, and add no new numbers. "
    "Answer with the rewritten text only."
)


@dataclass(frozen=True)
class Paraphrase:
    """A checked paraphrase: ``text`` is the LLM's rewrite when ``ok``, else the template text.

    ``reason`` says why a rewrite was rejected; ``candidate`` keeps what the backend answered.
    """

    text: str
    ok: bool
    reason: str = ""
    candidate: str = ""


def paraphrase(
    text: str,
    changes: Sequence[Change],
    backend: LLMBackend,
    *,
    spec: DatasetSpec,
    params: GenerationParams | None = None,
) -> Paraphrase:
    """Ask ``backend`` to rewrite the template ``text`` for a patient; keep it if it checks out.

    The rewrite must pass :func:`check_paraphrase` against ``changes`` and ``spec`` (every change
    mentioned, no other feature, no number the template lacks); if it does not, or the backend
    fails, the template text comes back with ``ok=False`` and the reason. With no changes there
    is nothing to rewrite and the backend is not called.
    """
    if not changes:
        return Paraphrase(text, False, "no changes to paraphrase; the template text is kept")
    messages = [
        {"role": "system", "content": PARAPHRASE_SYSTEM},
        {"role": "user", "content": f"Suggested changes:\n{text}"},
    ]
    try:
        answer = backend.complete(
            messages, params=params or GenerationParams(temperature=0.0, max_tokens=300)
        ).text
    except LLMError as exc:
        return Paraphrase(text, False, f"the backend failed: {exc}")
    candidate = answer.strip().strip('"').strip()
    problems = check_paraphrase(candidate, text, changes, spec)
    if problems:
        return Paraphrase(text, False, "; ".join(problems), candidate)
    return Paraphrase(candidate, True, "", candidate)


def check_paraphrase(
    candidate: str, template: str, changes: Sequence[Change], spec: DatasetSpec
) -> list[str]:
    """Problems with a paraphrase of ``template`` (an empty list means it may be used).

    A paraphrase must:

    - contain no number (in digits or words) that the template lacks;
    - recognisably mention each change: a key word of the feature, or a number that only that
      change's sentence has;
    - mention no other feature of ``spec`` (its key words, outside the mentions of changed
      features: "sleep" inside "deep sleep" belongs to deep sleep);
    - not turn a change round: a clause naming a numeric change may not hold words of the other
      direction only ("sleep 40 minutes less" for "more");
    - speak to the patient, not about the rewrite ("Here is the rewritten text"), and be no
      longer than three times the template plus 100 characters.

    The check errs towards rejecting: a rejected paraphrase costs only warmth, since the
    template text is used instead.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> from sensecf.interventions.text import describe_changes
    >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
    ...     FeatureSpec(name="steps", unit="steps", kind="integer", bounds=(0, 50000)),
    ...     FeatureSpec(name="hr_resting", unit="bpm", bounds=(30, 130))])
    >>> changes = describe_changes(spec, [4200, 60], [7200, 60])
    >>> template = changes[0].sentence
    >>> check_paraphrase("Try walking 3,000 more steps each day.", template, changes, spec)
    []
    >>> check_paraphrase("Walk 5,000 more steps to calm your resting heart rate.",
    ...                  template, changes, spec)  # doctest: +NORMALIZE_WHITESPACE
    ['adds a number the template does not have: 5,000',
     'mentions resting heart rate (hr_resting), which the counterfactual does not change']
    """
    if not candidate.strip():
        return ["the answer is empty"]
    problems = []
    if len(candidate) > 3 * len(template) + 100:
        problems.append(f"is too long ({len(candidate)} characters for {len(template)})")
    meta = _META.search(candidate)
    if meta:
        problems.append(f"talks about the rewriting ({meta.group()!r}) instead of to the patient")
    allowed = _numbers(template)
    found = _numbers(candidate)
    extra = sorted(found - allowed)
    if extra:
        listed = ", ".join(plain_number(v) for v in extra)
        problems.append(f"adds a number the template does not have: {listed}")
    own = {
        c.feature: _numbers(c.sentence) - _numbers(feature_phrase(spec.feature(c.feature)).label)
        for c in changes
    }
    spans: list[tuple[int, int]] = []
    for change in changes:
        feature = spec.feature(change.feature)
        hits = _term_spans(feature, candidate)
        spans.extend(hits)
        others = set().union(*(v for k, v in own.items() if k != change.feature))
        distinctive = own[change.feature] - others
        if not hits and not distinctive & found:
            problems.append(f"leaves out the change to {_name_of(feature)}")
        elif feature.levels is not None or change.fixed or not math.isfinite(change.delta):
            continue  # "yes → no" and reported (not advised) changes have no direction to keep
        elif _reverses(candidate, hits, rising=change.delta > 0):
            problems.append(f"may reverse the direction of the change to {_name_of(feature)}")
    moved = {c.feature for c in changes}
    for feature in spec.features:
        if feature.name in moved:
            continue
        stray = [s for s in _term_spans(feature, candidate) if not _overlaps(s, spans)]
        if stray:
            problems.append(
                f"mentions {_name_of(feature)}, which the counterfactual does not change"
            )
    return problems


# ---- the check's helpers ------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![^\W_])(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)")
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1e6,
    "dozen": 12,
    "half": 0.5,
    "quarter": 0.25,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")s?\b", re.IGNORECASE)


def _numbers(text: str) -> set[float]:
    """Every number in a text, in digits or words ("one" and "a" are too common to count)."""
    values = {round(float(m.group().replace(",", "")), 6) for m in _NUMBER.finditer(text)}
    values |= {float(_NUMBER_WORDS[m.group(1).lower()]) for m in _NUMBER_WORD.finditer(text)}
    return values


def _term_spans(feature: FeatureSpec, text: str) -> list[tuple[int, int]]:
    spans = []
    for term in feature_terms(feature):
        words = [re.escape(w) for w in re.split(r"[\s\-]+", term) if w]
        # Whole words, with common endings (step → steps, walk → walking).
        pattern = r"\b" + r"[\s\-]+".join(words) + r"(?:s|es|ing|ed|ly)?\b"
        spans += [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans


_UP_WORDS = frozenset(
    {
        "more",
        "increase",
        "increasing",
        "raise",
        "raising",
        "higher",
        "up",
        "extra",
        "longer",
        "add",
        "adding",
        "boost",
        "gain",
        "rise",
    }
)
_DOWN_WORDS = frozenset(
    {
        "less",
        "fewer",
        "lower",
        "lowering",
        "reduce",
        "reducing",
        "decrease",
        "decreasing",
        "down",
        "cut",
        "shorter",
        "drop",
        "fall",
    }
)


# Small models often comment on their own rewrite; such text is not for the patient.
_META = re.compile(
    r"\b(?:rewrit\w*|original (?:text|list|sentence)|the (?:text|list) above|here is|here's|"
    r"as an ai|i (?:made|added|removed|changed|kept|will keep|'ll keep))\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[!?;\n]|\.(?!\d)|,\s|\b(?:and|but)\b", re.IGNORECASE)


def _reverses(text: str, hits: Sequence[tuple[int, int]], rising: bool) -> bool:
    """True if a clause naming the change has words of the wrong direction and none of the right."""
    right, wrong = (_UP_WORDS, _DOWN_WORDS) if rising else (_DOWN_WORDS, _UP_WORDS)
    # Clauses: sentences, split again at ", " and "and"/"but" (not at 4,200 or 6.5).
    bounds = [0, *(m.end() for m in _CLAUSE_BREAK.finditer(text)), len(text)]
    for start, end in itertools.pairwise(bounds):
        if not any(start <= hit < end for hit, _ in hits):
            continue
        words = set(re.findall(r"[a-z]+", text[start:end].lower()))
        if words & wrong and not words & right:
            return True
    return False


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _name_of(feature: FeatureSpec) -> str:
    label = lower_first(feature_phrase(feature).label)
    return label if label == feature.name else f"{label} ({feature.name})"
