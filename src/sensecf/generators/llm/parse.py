"""Tolerant reading of an LLM answer, and its coercion onto a query's feature row.

:func:`parse_answer` finds the JSON object in whatever the model wrote (code fences, text before
or after, a truncated object) and reads one number per expected feature: numbers, numbers
written as strings (``"420"``, ``"420 min"``), booleans as 0/1. A missing key is reported, not
guessed; a value that is not a finite number (NaN, infinity, free text — a prompt-injection
string is just such a value) is rejected with its reason.

:func:`coerce_answer` assembles a full feature row for the query: fixed features copied from
the query, features the answer leaves out kept at their current value, values within half a
step of the current one read as "unchanged", others rounded to the feature's step; derived
features are then computed from their inputs (a value the answer gives for one is ignored: it
is never asked). So is a value for a feature nobody measured for this person (missing in the
query): it is never asked either, and it stays missing — not an error, nothing to repair. Nothing is clipped or projected: a value out of bounds or moved the wrong way stays as
it is, and :func:`rule_breaks` names it, as :func:`relation_breaks` names a relation the row
breaks (``cgm_tbr54 must stay ≤ cgm_tbr70``), so the generator can send it back for repair.

>>> answer = parse_answer('Sure! ```json\\n{"sleep": "450 min", "steps": NaN}\\n```', ["sleep", "steps"])
>>> answer.values, answer.rejected
({'sleep': 450.0}, {'steps': 'NaN is not a finite number'})
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensecf.data.constraints import (
    allowed_ranges,
    broken_relations,
    changed,
    expand_inputs,
    recompute_known,
    violations,
)
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators.llm import feedback
from sensecf.generators.llm.schema import plain_number, step_decimals

# A number at the start of a string, optionally followed by a unit ("420 min", "7.5 %").
_NUMBER_TEXT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%/ .]*)\s*$")
# Key-value pairs of a truncated or otherwise undecodable object.
_PAIR = re.compile(
    r'"([^"\\]{1,80})"\s*:\s*("(?:[^"\\]|\\.){0,80}"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
    r"|NaN|-?Infinity|true|false|null)"
)
_FENCE = re.compile(r"```[a-zA-Z]*")


@dataclass
class ParsedAnswer:
    """What an answer said, feature by feature.

    ``values``: features given as finite numbers; ``missing``: expected features not given;
    ``rejected``: features whose value was not a finite number (with the reason); ``ignored``:
    keys that are not expected features; ``error``: why no JSON object could be read at all
    (empty when one was).
    """

    values: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    error: str = ""
    cut_off: bool = False

    @property
    def ok(self) -> bool:
        """True when an object was read and no value was rejected."""
        return not self.error and not self.rejected


def parse_answer(text: str, names: Sequence[str]) -> ParsedAnswer:
    """Read the values of ``names`` from a model's answer, tolerating the usual noise.

    >>> parse_answer('{"a": 1, "b": "2.5"} trailing words', ["a", "b"]).values
    {'a': 1.0, 'b': 2.5}
    >>> parse_answer("I cannot help with that.", ["a"]).error
    'no JSON object in the answer'
    >>> cut = parse_answer('{"a": 1, "b": 2', ["a", "b", "c"])     # cut off mid-object
    >>> cut.missing, cut.cut_off
    (['c'], True)
    """
    expected = list(names)
    obj, whole = _find_object(text if isinstance(text, str) else "", expected)
    if obj is None:
        return ParsedAnswer(missing=expected, error="no JSON object in the answer")
    lookup = {_key(name): name for name in expected}
    answer = ParsedAnswer(cut_off=not whole)
    for key, raw in obj.items():
        name = lookup.get(_key(str(key)))
        if name is None:
            answer.ignored.append(str(key))
            continue
        if name in answer.values or name in answer.rejected:
            continue  # the same feature spelled twice ("Sleep", "sleep"): the first one counts
        value, reason = _number(raw)
        if reason:
            answer.rejected[name] = reason
        else:
            answer.values[name] = value
    answer.missing = [n for n in expected if n not in answer.values and n not in answer.rejected]
    return answer


def _key(name: str) -> str:
    return name.strip().lower()


def _find_object(text: str, expected: Sequence[str]) -> tuple[dict[str, Any] | None, bool]:
    """The first JSON object in ``text`` that names an expected feature (or any object), and
    whether it was whole (False: only the pairs of an object that never closed)."""
    cleaned = _FENCE.sub("", text)
    wanted = {_key(n) for n in expected}
    decoder = json.JSONDecoder()
    first: dict[str, Any] | None = None
    for match in re.finditer(r"\{", cleaned):
        try:
            obj, _ = decoder.raw_decode(cleaned, match.start())
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        obj = _unwrap(obj, wanted)
        if any(_key(str(k)) in wanted for k in obj):
            return obj, True
        if first is None:
            first = obj
    # Nothing decodes (cut off by the token limit, a stray quote): read the pairs that are there.
    start = cleaned.find("{")
    if start >= 0:
        pairs: dict[str, Any] = {}
        for key, raw in _PAIR.findall(cleaned[start:]):
            try:
                pairs.setdefault(key, json.loads(raw))
            except json.JSONDecodeError:
                pairs.setdefault(key, raw)
        if pairs:
            return pairs, False
    return first, True


def _unwrap(obj: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """``{"counterfactual": {...}}`` → the inner object, when only the inner one names features."""
    if any(_key(str(k)) in wanted for k in obj):
        return obj
    inner = [v for v in obj.values() if isinstance(v, dict)]
    if len(inner) == 1 and any(_key(str(k)) in wanted for k in inner[0]):
        return inner[0]
    return obj


def _number(raw: Any) -> tuple[float, str]:
    """A finite float, or the reason the value is not one."""
    if isinstance(raw, bool):
        return float(raw), ""
    if isinstance(raw, (int, float)):
        value = float(raw)
        if math.isfinite(value):
            return value, ""
        spelled = "NaN" if math.isnan(value) else ("-" if value < 0 else "") + "Infinity"
        return math.nan, f"{spelled} is not a finite number"
    if isinstance(raw, str):
        match = _NUMBER_TEXT.match(raw)
        if match and not re.search(r"\d", match.group(2)):
            value = float(match.group(1))
            if math.isfinite(value):
                return value, ""
        return math.nan, f"{_show(raw)} is not a number"
    if raw is None:
        return math.nan, "null is not a number"
    return math.nan, f"a {type(raw).__name__} is not a number"


def _show(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# ---- coercion ---------------------------------------------------------------------------------
@dataclass
class CoercedAnswer:
    """A full feature row assembled from an answer, and what kept it from being admissible.

    ``row``: the query with the answer's values put in and its derived features computed
    (spec order); ``problems``: feature → what is wrong with its value; ``relations``: relation
    label → the relation the row breaks, in plain words (both empty when the row is
    admissible); ``error``: why the answer gave no row at all.
    """

    row: np.ndarray
    problems: dict[str, str] = field(default_factory=dict)
    error: str = ""
    relations: dict[str, str] = field(default_factory=dict)

    @property
    def admissible(self) -> bool:
        """True when the row breaks no rule nor relation and every value was read."""
        return not self.error and not self.problems and not self.relations


def coerce_answer(spec: DatasetSpec, query: np.ndarray, answer: ParsedAnswer) -> CoercedAnswer:
    """Put an answer's values onto the query row: round to step, keep what was not given.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", kind="integer", bounds=(18, 90), mutability="fixed"),
    ...     FeatureSpec(name="sleep", bounds=(0, 900), step=1, mutability="increase")])
    >>> query = np.array([50.0, 400.2])
    >>> coerce_answer(spec, query, parse_answer('{"sleep": 450.4}', ["sleep"])).row.tolist()
    [50.0, 450.0]
    >>> coerce_answer(spec, query, parse_answer('{"sleep": 380}', ["sleep"])).problems
    {'sleep': '380 is below the current 400 and sleep may only increase'}
    >>> unmeasured = coerce_answer(spec, np.array([50.0, np.nan]),
    ...                            parse_answer('{"sleep": 450}', ["sleep"]))
    >>> unmeasured.row.tolist(), unmeasured.admissible
    ([50.0, nan], True)
    """
    query = np.asarray(query, dtype=float)
    row = query.copy()
    if answer.error:
        return CoercedAnswer(row, error=answer.error)
    problems = dict(answer.rejected)
    derived = set(spec.derived_features)
    for j, feature in enumerate(spec.features):
        if not feature.is_mutable or feature.name in derived or feature.name not in answer.values:
            continue
        value = answer.values[feature.name]
        current = query[j]
        if not np.isfinite(current):
            continue  # nobody measured it: it stays missing, whatever the answer says
        step = float(feature.step)
        if feature.levels is not None:  # a code is a code: no rounding onto a level
            levels = np.asarray(feature.levels, dtype=float)
            near = np.abs(levels - value) <= 1e-6
            row[j] = levels[near][0] if near.any() else value
            continue
        if abs(value - current) <= step / 2 + 1e-9 * abs(current):
            continue  # within half a step of the current value: read as "unchanged"
        row[j] = round(round(value / step) * step, step_decimals(step) + 2)
    if derived:  # judged as the base class judges every proposal: derived features recomputed
        # A derived value the query is missing stays missing, and one over an unmeasured
        # input cannot be computed: both keep the query's value.
        row = recompute_known(spec, query, row, otherwise=query)[0]
    problems.update(rule_breaks(spec, query, row))
    return CoercedAnswer(row, problems=problems, relations=relation_breaks(spec, query, row))


def rule_breaks(spec: DatasetSpec, query: np.ndarray, row: np.ndarray) -> dict[str, str]:
    """Feature → the rule its value breaks, by the same rules as :func:`constraints.violations`.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="smoker", kind="binary", bounds=(0, 1), mutability="decrease")])
    >>> rule_breaks(spec, np.array([0.0]), np.array([1.0]))
    {'smoker': '1 is above the current 0 and smoker may only decrease'}
    >>> rule_breaks(spec, np.array([np.nan]), np.array([0.0]))
    {'smoker': 'smoker was not measured and must stay unknown'}
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    row = np.atleast_2d(np.asarray(row, dtype=float))
    if int(violations(spec, query, row)["total"].iloc[0]) == 0:
        return {}
    moved = changed(query, row)[0]
    lo, hi = allowed_ranges(spec, query)
    derived = set(spec.derived_features)
    out: dict[str, str] = {}
    for j, feature in enumerate(spec.features):
        if not moved[j]:
            continue
        value, current = row[0, j], query[0, j]
        if feature.name in derived:
            if (why := _derived_rule(feature, value, current, lo[0, j], hi[0, j])) is not None:
                step = float(feature.step)
                out[feature.name] = feedback.derived_break(
                    feature.name,
                    expand_inputs(spec, [feature.name]),
                    _fmt(current, step),
                    _fmt(value, step),
                    why,
                )
            continue
        step = float(feature.step)
        shown = _fmt(value, step)
        lower, upper = feature.bounds
        if not math.isfinite(current):
            out[feature.name] = f"{feature.name} was not measured and must stay unknown"
        elif feature.mutability == "fixed":
            out[feature.name] = f"{feature.name} is fixed and cannot change"
        elif feature.mutability == "increase" and value < current:
            out[feature.name] = (
                f"{shown} is below the current {_fmt(current, step)} and {feature.name} "
                "may only increase"
            )
        elif feature.mutability == "decrease" and value > current:
            out[feature.name] = (
                f"{shown} is above the current {_fmt(current, step)} and {feature.name} "
                "may only decrease"
            )
        elif not lower <= value <= upper or not (lo[0, j] <= value <= hi[0, j]):
            out[feature.name] = (
                f"{shown} is outside the plausible range {_fmt(lower, step)} to {_fmt(upper, step)}"
            )
        elif feature.levels is not None and value not in feature.levels:
            levels = ", ".join(str(plain_number(v)) for v in feature.levels)
            out[feature.name] = f"{shown} is not one of the codes {levels}"
        elif feature.kind == "integer" and abs(value - round(value)) > 1e-9:
            out[feature.name] = f"{shown} is not a whole number"
    return out


def _derived_rule(
    feature: FeatureSpec, value: float, current: float, lo: float, hi: float
) -> str | None:
    """The rule a derived feature's new value breaks, said of the feature (None: it breaks none).

    Its grain is not checked: a derived value is what its formula gives, not a step's multiple.
    """
    if not math.isfinite(value):
        return "its inputs leave it undefined"
    if feature.mutability == "fixed":
        return "it is fixed and cannot change"
    if feature.mutability == "increase" and value < current:
        return "it may only increase"
    if feature.mutability == "decrease" and value > current:
        return "it may only decrease"
    lower, upper = feature.bounds
    if not (lower <= value <= upper and lo <= value <= hi):
        step = float(feature.step)
        return f"it must stay within the plausible range {_fmt(lower, step)} to {_fmt(upper, step)}"
    return None


def relation_breaks(spec: DatasetSpec, query: np.ndarray, row: np.ndarray) -> dict[str, str]:
    """Relation label → the relation a row breaks, in plain words, by the same rule as
    :func:`constraints.broken_relations` (only where the row changed one of its features).

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 100), step=0.1) for n in ("low", "very_low")],
    ...     relations=[Relation(check="very_low <= low")])
    >>> relation_breaks(spec, np.array([5.0, 2.0]), np.array([5.0, 7.0]))
    {'very_low <= low': 'very_low must stay ≤ low; this answer gives low = 5 and very_low = 7'}
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    row = np.atleast_2d(np.asarray(row, dtype=float))
    broken = broken_relations(spec, query, row)[0]
    if not broken.any():
        return {}
    index = {f.name: j for j, f in enumerate(spec.features)}
    out: dict[str, str] = {}
    for relation, hit in zip(spec.relations, broken, strict=True):
        if not hit:
            continue
        values: dict[str, int | float] = {}
        for name in relation.features:
            value = float(row[0, index[name]])
            step = float(spec.features[index[name]].step)
            values[name] = plain_number(value, step) if math.isfinite(value) else value
        out[relation.label] = feedback.broken_relation(relation, values)
    return out


def _fmt(value: float, step: float) -> str:
    return str(plain_number(value, step)) if math.isfinite(value) else str(value)


def offer_breaks(
    spec: DatasetSpec,
    query: np.ndarray,
    row: np.ndarray,
    offered: Mapping[str, Sequence[int | float]],
    must_move: Sequence[str] = (),
) -> dict[str, str]:
    """Feature → how a row leaves what the request offered: a changed value that is not one of
    the feature's candidates, a feature left as it is that had to change, or a change to a
    feature not asked. What a schema-enforcing decoder rules out, checked for every backend.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sleep", bounds=(0, 900)), FeatureSpec(name="steps", bounds=(0, 9e4))])
    >>> offer_breaks(spec, np.array([400.0, 3000.0]), np.array([430.0, 3000.0]),
    ...              {"sleep": [400, 450], "steps": [3000, 8000]}, must_move=["steps"])
    {'sleep': '430 is not one of the values offered (400, 450)', 'steps': 'steps must change'}
    """
    query = np.asarray(query, dtype=float)
    row = np.asarray(row, dtype=float)
    moved = changed(query[None, :], row[None, :])[0]
    derived = set(spec.derived_features)  # moved by their inputs, never offered
    out: dict[str, str] = {}
    for j, feature in enumerate(spec.features):
        name = feature.name
        step = float(feature.step)
        if name not in offered:
            if moved[j] and feature.is_mutable and name not in derived:
                out[name] = f"{name} was not asked and must stay as it is"
            continue
        values = np.asarray(offered[name], dtype=float)
        if moved[j] and not (np.abs(values - row[j]) <= step / 2 + 1e-9).any():
            listed = ", ".join(str(v) for v in offered[name])
            out[name] = f"{_fmt(row[j], step)} is not one of the values offered ({listed})"
        elif name in must_move and not moved[j]:
            out[name] = f"{name} must change"
    return out
