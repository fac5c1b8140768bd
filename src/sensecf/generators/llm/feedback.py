"""What a repair round tells the model about its failed answer.

Each function returns the ``problems`` text of the prompt's feedback block
(:class:`~sensecf.generators.llm.prompts.PromptTemplate` ``feedback``, by default "An earlier
answer did not work: {problems}. Give a different answer."): the answer could not be read, broke
a rule or one of the spec's relations, repeated an answer already given, did not reach the
desired class, or reached it looking like nobody of that class (:func:`implausible`).

>>> too_weak(["sleep", "steps"], "low risk", 0.31, 0.5)
'it changed sleep and steps, and the probability of "low risk" reached only 0.31 (above 0.50 is needed); change other features or change them more'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from sensecf.data.constraints import changed
from sensecf.data.relations import Relation
from sensecf.data.spec import DatasetSpec

# A check's two sides and its comparison (a check holds exactly one: see Relation).
_CHECK = re.compile(r"^\s*(.+?)\s*(<=|>=|==)\s*(.+?)\s*$")
_MUST = {"<=": "must stay ≤", ">=": "must stay ≥", "==": "must equal"}


def unreadable(error: str) -> str:
    """No JSON object could be read from the answer.

    >>> unreadable("no JSON object in the answer")
    'it could not be read (no JSON object in the answer); answer with JSON only'
    """
    return f"it could not be read ({error}); answer with JSON only"


def broken_rules(problems: Mapping[str, str], relations: Mapping[str, str] | None = None) -> str:
    """Feature → the rule its value broke (or why it could not be read), one clause each; then
    relation → the plain-words sentence of each relation it broke (:func:`broken_relation`).

    >>> broken_rules({"age": "age is fixed and cannot change", "steps": "'lots' is not a number"})
    "it broke these rules: age is fixed and cannot change; steps: 'lots' is not a number"
    >>> broken_rules({}, {"very low within low": "tbr54 must stay ≤ tbr70 (very low within low)"})
    'it broke these rules: tbr54 must stay ≤ tbr70 (very low within low)'
    """
    return "it broke these rules: " + rule_clauses(problems, relations)


def rule_clauses(problems: Mapping[str, str], relations: Mapping[str, str] | None = None) -> str:
    """The rules an answer broke, one clause each, joined by ``; `` (what
    :func:`broken_rules` says, and a withheld answer's reason).

    >>> rule_clauses({"age": "age is fixed and cannot change"})
    'age is fixed and cannot change'
    """
    clauses = [
        f"{name}: {why}" if not why.startswith(name) else why for name, why in problems.items()
    ]
    clauses += list((relations or {}).values())
    return "; ".join(clauses)


def broken_relation(relation: Relation, values: Mapping[str, int | float]) -> str:
    """A relation an answer breaks, in plain words, with the values the answer gives its
    features (``values``: feature → value as written in answers).

    >>> broken_relation(Relation(name="very low within low", check="tbr54 <= tbr70"),
    ...                 {"tbr54": 6.2, "tbr70": 4})
    'tbr54 must stay ≤ tbr70 (very low within low); this answer gives tbr54 = 6.2 and tbr70 = 4'
    >>> broken_relation(Relation(check="tir + low + high == 100", tolerance=0.5),
    ...                 {"tir": 70, "low": 4, "high": 20})
    'tir + low + high must equal 100 (within 0.5); this answer gives high = 20, low = 4 and tir = 70'
    """
    gives = names_in([f"{name} = {values[name]}" for name in relation.inputs if name in values])
    gives = f"; this answer gives {gives}" if gives else ""
    match = _CHECK.match(str(relation.check)) if relation.check is not None else None
    if match is None:  # a derived feature that does not follow its formula (e.g. 0 / 0)
        return f"{relation.derived} must equal {relation.formula}{gives}"
    left, op, right = match.groups()
    notes = [relation.name] if relation.name else []
    if relation.tolerance:
        notes.append(f"within {relation.tolerance:g}")
    note = f" ({', '.join(notes)})" if notes else ""
    return f"{left} {_MUST[op]} {right}{note}{gives}"


def derived_break(name: str, inputs: Iterable[str], current: str, value: str, rule: str) -> str:
    """A derived feature that an answer moves out of what it allows, as the consequence of the
    inputs it changed (the model was never asked for it).

    >>> derived_break("cv", ["mean", "sd"], "25.3", "27.1", "it may only decrease")
    'cv is computed from mean and sd, and this answer takes it from 25.3 to 27.1: it may only decrease'
    """
    return (
        f"{name} is computed from {names_in(list(inputs))}, and this answer takes it from "
        f"{current} to {value}: {rule}"
    )


def cut_off(missing: Iterable[str]) -> str:
    """An answer that stopped before its JSON object closed (the token limit).

    >>> cut_off(["steps", "hr"])
    'it was cut off before it ended (nothing said about steps and hr); answer with a shorter JSON object'
    """
    names = list(missing)
    said = f" (nothing said about {names_in(names)})" if names else ""
    return f"it was cut off before it ended{said}; answer with a shorter JSON object"


def repeated() -> str:
    """A valid answer the same as one already given for this query."""
    return "it repeats an answer already given; give a different one"


def too_weak(moved: Iterable[str], desired_name: str, proba: float, needed: float) -> str:
    """A readable answer that the classifier does not put in the desired class."""
    names = list(moved)
    if not names:
        return (
            "it changed nothing, so the prediction stayed the same; move some features "
            "in the direction that helps"
        )
    return (
        f'it changed {names_in(names)}, and the probability of "{desired_name}" '
        f"reached only {proba:.2f} (above {needed:.2f} is needed); change other features "
        "or change them more"
    )


def implausible(far: Sequence[tuple[str, str, str]], desired_name: str) -> str:
    """A valid answer the plausibility detector calls an outlier: ``far`` holds the features
    furthest from the desired class's typical values (:func:`furthest_from_typical`), each as
    (name, the answer's value, the typical value), worded as values are.

    >>> implausible([("sleep", "190 min", "430 min"), ("steps", "22000", "8400")], "low risk")
    'no real person with "low risk" looks like this: sleep 190 min with steps 22000 is far from everyone with "low risk" (typical: sleep 430 min, steps 8400); move them toward typical values'
    """
    if not far:
        return (
            f'no real person with "{desired_name}" looks like this; move the changed features '
            "toward typical values"
        )
    values = " with ".join(f"{name} {value}" for name, value, _ in far)
    typical = ", ".join(f"{name} {usual}" for name, _, usual in far)
    them = "them" if len(far) > 1 else "it"
    return (
        f'no real person with "{desired_name}" looks like this: {values} is far from everyone '
        f'with "{desired_name}" (typical: {typical}); move {them} toward typical values'
    )


def furthest_from_typical(
    spec: DatasetSpec,
    query: np.ndarray,
    row: np.ndarray,
    typical: np.ndarray,
    scale: np.ndarray,
    limit: int = 2,
) -> list[tuple[str, str, str]]:
    """The features of ``row`` furthest from ``typical`` values (robust z-scores: distance over
    ``scale``), at most ``limit``, as (name, value, typical value) worded by the feature's
    :meth:`~sensecf.data.spec.FeatureSpec.label`. Only the features the answer changed are
    named (the others are the person's own), unless it changed none.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sleep", unit="h", bounds=(0, 24)),
    ...     FeatureSpec(name="steps", bounds=(0, 50000))])
    >>> furthest_from_typical(spec, np.array([7.0, 5000.0]), np.array([3.1, 22000.0]),
    ...                       np.array([7.0, 8000.0]), np.array([1.0, 2000.0]))
    [('steps', '22000', '8000'), ('sleep', '3.1 h', '7 h')]
    """
    row = np.asarray(row, dtype=float)
    with np.errstate(invalid="ignore"):
        z = np.abs(row - np.asarray(typical, dtype=float)) / np.asarray(scale, dtype=float)
    z = np.nan_to_num(z, nan=-1.0)
    moved = changed(np.asarray(query, float)[None, :], row[None, :])[0]
    candidates = np.flatnonzero(moved) if moved.any() else np.arange(len(row))
    ranked = sorted(candidates, key=lambda j: (-z[j], j))[:limit]
    features = spec.features
    return [
        (features[j].name, features[j].label(float(row[j])), features[j].label(float(typical[j])))
        for j in ranked
        if z[j] >= 0
    ]


def changed_names(spec: DatasetSpec, query: np.ndarray, row: np.ndarray) -> list[str]:
    """Names of the features a row changed relative to its query.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="a", bounds=(0, 9)), FeatureSpec(name="b", bounds=(0, 9))])
    >>> changed_names(spec, np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    ['b']
    """
    moved = changed(np.asarray(query, float)[None, :], np.asarray(row, float)[None, :])[0]
    return [f.name for f, m in zip(spec.features, moved, strict=True) if m]


def names_in(items: Iterable[str] | Mapping[str, Any]) -> str:
    """``a, b and c`` (for feedback sentences).

    >>> names_in(["a", "b", "c"]), names_in(["a"])
    ('a, b and c', 'a')
    """
    names = list(items)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
