"""The per-query JSON schema of an LLM answer: one ``enum`` of admissible values per feature.

llama.cpp's grammar enforces ``enum`` but not ``minimum``/``maximum`` (an integer with minimum 380
came out as 290), so every range, direction and step rule is written into the candidate lists
themselves: each mutable feature may take its current value or one of the values the generator
found admissible for this query. Any answer the grammar lets through is then admissible by
construction; what a backend without schema support returns is checked all the same.

Numbers appear in the schema, the prompt and the answer in one spelling (:func:`plain_number`):
whole values without a decimal point, others with the decimals of the feature's step, so what
the model copies from its context is exactly what the grammar accepts.

>>> schema = answer_schema({"sleep": [420, 450, 480], "steps": [5000, 8000]})
>>> schema["required"], schema["properties"]["sleep"]["enum"]
(['sleep', 'steps'], [420, 450, 480])
>>> schema["additionalProperties"]
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sensecf.data.spec import step_decimals


def plain_number(value: float, step: float = 1.0) -> int | float:
    """A value as it is written in prompts and schemas: whole → int, else rounded to the step's decimals.

    Values off the step grid (a measured current value) keep the step's decimals, no more.

    >>> plain_number(245.0), plain_number(6.5512, 0.01), plain_number(135.503472, 1.0)
    (245, 6.55, 136)
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot write a non-finite value {value!r}")
    rounded = round(value, step_decimals(step))
    return int(rounded) if float(rounded).is_integer() else rounded


def answer_schema(
    candidates: Mapping[str, Sequence[int | float]],
    required: Sequence[str] | None = None,
    max_changes: int | None = None,
) -> dict[str, Any]:
    """JSON schema of an answer: each named feature one of its candidate values.

    ``candidates`` maps feature names (in the order the answer should list them) to their
    admissible values, already written with :func:`plain_number`. ``required``: the features
    the answer must give (``None``: all; a compact answer of changes requires only the
    features that must move). A compact answer gives at least one feature (an empty one
    changes nothing, and the person is flagged) and at most ``max_changes`` (``None``: no
    bound; never fewer than the required features): ``minProperties``/``maxProperties``.

    >>> schema = answer_schema({"sleep": [400, 450], "steps": [3000, 8000]}, required=[],
    ...                        max_changes=1)
    >>> schema["required"], schema["minProperties"], schema["maxProperties"]
    ([], 1, 1)
    """
    properties: dict[str, Any] = {}
    for name, values in candidates.items():
        unique = list(dict.fromkeys(values))
        if not unique:
            raise ValueError(f"feature {name!r} has no candidate values")
        properties[name] = {"enum": unique}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties)
        if required is None
        else [n for n in required if n in properties],
        "additionalProperties": False,
    }
    if required is not None and properties:
        schema["minProperties"] = 1
        if max_changes is not None:
            schema["maxProperties"] = max(max_changes, len(schema["required"]), 1)
    return schema
