"""Prompt templates for counterfactual questions: readable, and replaceable piece by piece.

A prompt is two chat messages, laid out so that everything that is the same for every person
comes first (llama.cpp then reuses its evaluation of that prefix from one call to the next):

- the **system** message: the role and the task (the desired class is the same for everyone
  in a run), and a glossary with one short line per feature an answer may change — meaning,
  unit and allowed direction (the values themselves are the schema's, or listed in the user
  message for a backend without one);
- the **user** message: the model's current prediction and the probability to pass; this
  person's current values of the features asked (those in play), and the features nobody
  measured for them (``Not measured: …``: no value, nothing to move; the line is left out for
  a person measured in full); which changes help the
  prediction most (measured on the classifier, one feature at a time); for a backend without
  schema enforcement, the values each feature may take; examples; after a failed answer, what
  went wrong. The answer is compact: only the features that change (one left out stays as it
  is), which is what the examples show too — their changes from this person's values.

Every token of the user message is evaluated anew for each person (on 2 CPU cores about 2.5 ms
a token with the packaged model), and a small model copies the length of what it is shown, so
the user message says each thing once and leaves out what a small model does not use: the
fixed features' values (``{fixed}`` puts them back in a template of your own) and the task,
which heads the shared system message instead.

A small model reasons little and copies what its context offers (stack notes, measured), so
the examples carry the knowledge: by default people like this one whom the model puts in the
desired class, already moved onto what this person may change, so copying one is a valid
answer; or worked pairs (another person → a verified counterfactual of theirs).

Numbers are written as in the JSON schema
(:func:`~sensecf.generators.llm.schema.plain_number`); units are in the glossary. No identifier
of a person (id columns) is ever passed in: the context holds feature values only.

Override any text by passing your own :class:`PromptTemplate`, e.g.
``PromptTemplate(system="You are a sleep coach. Answer with JSON only.\\n{features}")``.
Placeholders are checked when the template is built:

>>> PromptTemplate(user="{current}\\n{nonsense}")
Traceback (most recent call last):
...
ValueError: PromptTemplate.user uses unknown placeholder(s) ['nonsense']; it may use ['answer_keys', 'current', 'current_class', 'desired_class', 'examples', 'feedback', 'fixed', 'helps', 'limits', 'needed', 'offered', 'proba', 'unmeasured']
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators.llm.schema import plain_number
from sensecf.llm.base import Messages

Help = Literal["raise", "lower"]

DEFAULT_SYSTEM = """\
You are a health coach. You propose small, realistic changes to a person's daily behaviour so \
that a health-risk model predicts "{desired_class}" for them. Change as few features as \
possible, only in the allowed direction. Answer with one JSON object of the features you \
change and their new values (a feature left out stays as it is), and nothing else.

Features that may change (name: meaning; unit; direction):
{features}{cheaper}"""

DEFAULT_USER = """\
The model predicts "{current_class}" (probability of "{desired_class}" {proba}; it must pass \
{needed}).
Now: {current}
{unmeasured}{limits}Helps most: {helps}
{offered}{examples}{feedback}"""

DEFAULT_NEAREST = "Changes that worked for people like this one:\n{rows}\n"
DEFAULT_OFFERED = "Values you may give: {values}\n"
DEFAULT_WORKED = (
    'Other people, and changes that made the model predict "{desired_class}" for them:\n{rows}\n'
)
# A person's own limits (features to keep, tighter bounds, a cap on changes), in words.
DEFAULT_LIMITS = "This person's limits: {rules}.\n"
# Where the spec states effort costs: the features whose typical change costs least.
DEFAULT_CHEAPER = "Cheaper changes first: {names}."
DEFAULT_FEEDBACK = "An earlier answer did not work: {problems}. Give a different answer.\n"
# A feature nobody measured for this person: named, never given a value or a range. It is not
# asked (the schema leaves it out), and every counterfactual keeps it missing.
DEFAULT_UNMEASURED = "Not measured (leave out): {names}\n"
# How a missing value reads wherever a prompt would show one (an example's, a fixed feature's).
NOT_MEASURED = "not measured"

_FIELDS: dict[str, set[str]] = {
    "system": {"features", "desired_class", "cheaper"},
    "user": {
        "offered",
        "current_class",
        "desired_class",
        "proba",
        "needed",
        "current",
        "fixed",
        "helps",
        "examples",
        "feedback",
        "answer_keys",
        "unmeasured",
        "limits",
    },
    "nearest": {"desired_class", "rows"},
    "worked": {"desired_class", "rows"},
    "feedback": {"problems"},
    "offered": {"values"},
    "unmeasured": {"names"},
    "cheaper": {"names"},
    "limits": {"rules"},
}


@dataclass(frozen=True)
class PromptTemplate:
    """The texts a prompt is made of; ``str.format`` placeholders in braces.

    ``system`` takes ``features`` (the glossary, one line per mutable feature) and ``cheaper``
    (the rendered ``cheaper`` block on a line of its own, naming the features whose changes
    cost least where the spec states effort costs; else nothing). ``user`` takes
    ``current_class``, ``desired_class``, ``proba`` (current probability of the desired class),
    ``needed`` (the probability to pass), ``current`` (the changeable features' values, as
    ``name value`` pairs: not JSON, so that a small model copies the examples' changes rather
    than the whole row of current values), ``fixed`` (the fixed features' values), ``helps`` (helpful changes, strongest
    first), ``examples`` (the rendered ``nearest`` or ``worked`` block, or nothing zero-shot),
    ``feedback`` (the rendered ``feedback`` block, or nothing), ``offered`` (the rendered
    ``offered`` block: the values each feature may take and which must change, written out for
    a backend that cannot enforce a schema; else nothing), ``unmeasured`` (the rendered
    ``unmeasured`` block naming the features that may change but were not measured for this
    person; nothing when every one was), ``limits`` (the rendered ``limits`` block stating the
    person's own limits; nothing without) and ``answer_keys`` (the features asked: those with
    more than one admissible value; the default text leaves it out).

    >>> PromptTemplate().system.startswith("You are a health coach")
    True
    """

    system: str = DEFAULT_SYSTEM
    user: str = DEFAULT_USER
    nearest: str = DEFAULT_NEAREST
    worked: str = DEFAULT_WORKED
    feedback: str = DEFAULT_FEEDBACK
    offered: str = DEFAULT_OFFERED
    unmeasured: str = DEFAULT_UNMEASURED
    cheaper: str = DEFAULT_CHEAPER
    limits: str = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        for f in fields(self):
            text = getattr(self, f.name)
            if not isinstance(text, str):
                raise TypeError(f"PromptTemplate.{f.name} must be a string")
            try:
                used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            except ValueError as exc:
                raise ValueError(
                    f"PromptTemplate.{f.name} is not a valid template: {exc}"
                ) from None
            unknown = sorted(used - _FIELDS[f.name])
            if unknown:
                raise ValueError(
                    f"PromptTemplate.{f.name} uses unknown placeholder(s) {unknown}; "
                    f"it may use {sorted(_FIELDS[f.name])}"
                )


@dataclass
class PromptContext:
    """Everything one prompt says about one query.

    ``query`` is the row in spec order; ``proba`` the current probability of the desired
    class and ``needed`` the one to pass; ``helps`` lists helpful changes, strongest first, as
    (feature name, direction); ``examples`` are answer-shaped rows (mutable feature → value)
    and, for worked pairs, ``factuals`` the people they came from; ``problems`` what was wrong
    with an earlier answer. ``asked``: the features the answer may give (``None``: every
    mutable one); ``offered``: feature → the values it may take, written into the prompt for a
    backend without schema enforcement, with ``must_move`` the features that must change and
    ``max_changes`` the most features an answer may change (``None``: any number).
    ``cheaper``: the features whose changes cost least, cheapest first (where the spec states
    effort costs; see :meth:`~sensecf.data.scales.EffortPrices.cheaper`). ``limits``: the
    person's own limits in words (:meth:`sensecf.data.limits.Limits.text`; empty: none).
    A missing value (NaN) in ``query`` is a feature nobody measured: the prompt names it as
    not measured and states no value for it.
    """

    spec: DatasetSpec
    desired_class: int
    query: np.ndarray
    proba: float
    needed: float
    helps: Sequence[tuple[str, Help]] = ()
    examples: Sequence[Mapping[str, int | float | None]] = ()
    factuals: Sequence[Mapping[str, int | float | None]] | None = None
    problems: str = ""
    asked: Sequence[str] | None = None
    offered: Mapping[str, Sequence[int | float]] | None = None
    must_move: Sequence[str] = ()
    max_changes: int | None = None
    cheaper: Sequence[str] = ()
    limits: str = ""


def render_messages(template: PromptTemplate, context: PromptContext) -> Messages:
    """The system and user messages for one query.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "rested", 1: "tired"}, desired_class=0,
    ...     features=[FeatureSpec(name="age", unit="years", bounds=(18, 99), mutability="fixed"),
    ...               FeatureSpec(name="sleep", description="Sleep per night", unit="min",
    ...                           bounds=(0, 900), step=1, mutability="increase")])
    >>> ctx = PromptContext(spec, 0, np.array([40.0, 380.0]), proba=0.2, needed=0.5,
    ...                     helps=[("sleep", "raise")], examples=[{"sleep": 450}])
    >>> system, user = (m["content"] for m in render_messages(PromptTemplate(), ctx))
    >>> print(system.splitlines()[-1])
    - sleep: Sleep per night; min; raise only
    >>> print("\\n".join(user.splitlines()[1:5]))
    Now: sleep 380
    Helps most: raise sleep
    <BLANKLINE>
    Changes that worked for people like this one:

    A feature nobody measured for this person is named apart, with no value:

    >>> ctx.query = np.array([40.0, np.nan])
    >>> print(render_messages(PromptTemplate(), ctx)[1]["content"].splitlines()[2])
    Not measured (leave out): sleep

    Where the spec states effort costs, the system message names the cheaper changes:

    >>> ctx.cheaper = ["sleep"]
    >>> print(render_messages(PromptTemplate(), ctx)[0]["content"].splitlines()[-1])
    Cheaper changes first: sleep.
    """
    spec = context.spec
    mutable = [f.name for f in spec.mutable_features]
    asked = set(mutable if context.asked is None else context.asked)
    desired_name = spec.classes[context.desired_class]
    others = [name for c, name in spec.classes.items() if c != context.desired_class]
    examples = ""
    if context.examples:
        rows = _example_rows(context.examples, context.factuals)
        block = template.worked if context.factuals is not None else template.nearest
        examples = "\n" + block.format(desired_class=desired_name, rows=rows)
    feedback = template.feedback.format(problems=context.problems) if context.problems else ""
    if feedback and not examples:
        feedback = "\n" + feedback
    # A feature nobody measured has no value to state and none to move to: it is named once,
    # apart, and never asked (a small model copies a value it sees, and there is none).
    measured = np.isfinite(np.asarray(context.query, dtype=float))
    current = ", ".join(
        f"{f.name} {_value_text(f, context.query[j])}"
        for j, f in _mutable(spec)
        if f.name in asked and measured[j]
    )
    missing = [f.name for j, f in _mutable(spec) if not measured[j]]
    unmeasured = template.unmeasured.format(names=", ".join(missing)) if missing else ""
    offered = ""
    if context.offered is not None:
        values = "; ".join(
            f"{name}: {', '.join(str(v) for v in vals)}" for name, vals in context.offered.items()
        )
        if context.must_move:
            values += f". These must change: {', '.join(context.must_move)}"
        if context.max_changes is not None:
            values += f". Change at most {context.max_changes} features"
        offered = template.offered.format(values=values)
    fixed = [
        f"{f.name} {_value_text(f, context.query[j])}"
        for j, f in enumerate(spec.features)
        if not f.is_mutable
    ]
    helps = [f"{direction} {name}" for name, direction in context.helps]
    user = template.user.format(
        current_class=" or ".join(others),
        desired_class=desired_name,
        proba=f"{context.proba:.2f}",
        needed=f"{context.needed:.2f}",
        current=current,
        fixed=", ".join(fixed) or "none",
        helps=", ".join(helps) or "none found",
        examples=examples,
        feedback=feedback,
        offered=offered,
        unmeasured=unmeasured,
        limits=template.limits.format(rules=context.limits) if context.limits else "",
        answer_keys=", ".join(n for n in mutable if n in asked and n not in missing),
    )
    # The same for everyone (the shared prefix): the spec's features, not this person's asked.
    cheaper = [n for n in context.cheaper if n in mutable]
    system = template.system.format(
        features=glossary(spec),
        desired_class=desired_name,
        cheaper="\n" + template.cheaper.format(names=", ".join(cheaper)) if cheaper else "",
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def glossary(spec: DatasetSpec) -> str:
    """One short line per mutable feature: meaning, unit, and the allowed direction.

    The same for every person, so it heads the prompt and is evaluated once per run. The
    meaning is the description's first clause without parenthetical remarks (the model needs
    the name's sense, not the clinical targets); bounds are left to the schema.
    Fixed features are not listed: the user message gives their values, and an answer never
    changes them.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 99), mutability="fixed"),
    ...     FeatureSpec(name="smoker", kind="binary", bounds=(0, 1), mutability="decrease",
    ...                 level_names=("no", "yes")),
    ...     FeatureSpec(name="hr", description="Resting heart rate (lowest hour); target < 60",
    ...                 unit="bpm", bounds=(30, 130))])
    >>> print(glossary(spec))
    - smoker: lower only (0 = no, 1 = yes)
    - hr: Resting heart rate; bpm; raise or lower
    """
    lines = []
    for _, feature in _mutable(spec):
        head = _meaning(feature.description)
        if feature.unit:
            head = f"{head}; {feature.unit}" if head else feature.unit
        lines.append(f"- {feature.name}: " + (f"{head}; " if head else "") + _rule_text(feature))
    return "\n".join(lines)


def _meaning(description: str) -> str:
    """A description's first clause (up to the first ``;``), without parenthetical remarks.

    >>> _meaning("REM (dreaming) sleep in that night; target 90 min")
    'REM sleep in that night'
    """
    head = re.sub(r"\s*\([^()]*\)", "", description.split(";")[0])
    return head.strip().rstrip(".")


def _rule_text(feature: FeatureSpec) -> str:
    rule = {
        "fixed": "fixed",
        "increase": "raise only",
        "decrease": "lower only",
        "both": "raise or lower",
    }[feature.mutability]
    if feature.levels is not None:
        names = feature.level_names or tuple(str(plain_number(v)) for v in feature.levels)
        codes = ", ".join(
            f"{plain_number(v)} = {n}" if feature.level_names else n
            for v, n in zip(feature.levels, names, strict=True)
        )
        return f"{rule} ({codes})"
    return rule


def _mutable(spec: DatasetSpec) -> list[tuple[int, FeatureSpec]]:
    return [(j, f) for j, f in enumerate(spec.features) if f.is_mutable]


def _number(feature: FeatureSpec, value: float) -> int | float | None:
    return plain_number(value, float(feature.step)) if np.isfinite(value) else None


def _value_text(feature: FeatureSpec, value: float) -> str:
    if not np.isfinite(value):
        return NOT_MEASURED
    number = plain_number(value, float(feature.step))
    if feature.level_names is not None and feature.levels is not None and value in feature.levels:
        return f"{number} ({feature.level_names[feature.levels.index(value)]})"
    return str(number)


def _json(row: Mapping[str, int | float | None]) -> str:
    """A row as JSON; a missing value (``None``) reads ``"not measured"``, not ``null``.

    >>> _json({"sleep": 420, "spo2": None})
    '{"sleep": 420, "spo2": "not measured"}'
    """
    shown = {k: NOT_MEASURED if v is None else v for k, v in row.items()}
    return json.dumps(shown, separators=(", ", ": "))


def _example_rows(
    examples: Sequence[Mapping[str, int | float | None]],
    factuals: Sequence[Mapping[str, int | float | None]] | None,
) -> str:
    lines = []
    for i, example in enumerate(examples):
        label = _letter(i)
        if factuals is None:
            lines.append(f"Person {label}: {_json(example)}")
        else:
            lines.append(f"Person {label} before: {_json(factuals[i])}")
            lines.append(f"Person {label} after: {_json(example)}")
    return "\n".join(lines)


def _letter(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < len(letters) else f"{letters[i // 26 - 1]}{letters[i % 26]}"


def answer_row(spec: DatasetSpec, row: np.ndarray) -> dict[str, int | float | None]:
    """A row's mutable features as an answer-shaped mapping, numbers written as in the schema.

    A missing value is ``None`` (JSON ``null``).

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 90), mutability="fixed"),
    ...     FeatureSpec(name="hr", bounds=(30, 200), step=0.1)])
    >>> answer_row(spec, np.array([50.0, 61.04]))
    {'hr': 61}
    """
    return {f.name: _number(f, row[j]) for j, f in _mutable(spec)}
