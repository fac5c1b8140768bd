"""What a repair round tells the model about its failed answer.

Each function returns the ``problems`` text of the prompt's feedback block
(:class:`~sensecf.generators.llm.prompts.PromptTemplate` ``feedback``, by default "An earlier
answer did not work: {problems}. Give a different answer."): the answer could not be read, broke
a rule, repeated an answer already given, or did not reach the desired class.

>>> too_weak(["sleep", "steps"], "low risk", 0.31, 0.5)
'it changed sleep and steps, and the probability of "low risk" reached only 0.31 (above 0.50 is needed); change other features or change them more'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sensecf.data.constraints import changed
from sensecf.data.spec import DatasetSpec


def unreadable(error: str) -> str:
    """No JSON object could be read from the answer.

    >>> unreadable("no JSON object in the answer")
    'it could not be read (no JSON object in the answer); answer with JSON only'
    """
    return f"it could not be read ({error}); answer with JSON only"


def broken_rules(problems: Mapping[str, str]) -> str:
    """Feature → the rule its value broke (or why it could not be read), one clause each.

    >>> broken_rules({"age": "age is fixed and cannot change", "steps": "'lots' is not a number"})
    "it broke these rules: age is fixed and cannot change; steps: 'lots' is not a number"
    """
    return "it broke these rules: " + "; ".join(
        f"{name}: {why}" if not why.startswith(name) else why for name, why in problems.items()
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
