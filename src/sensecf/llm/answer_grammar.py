"""An exact grammar for compact answers: a JSON object of ``enum`` features, some of them, in order.

An answer schema (:func:`~sensecf.generators.llm.schema.answer_schema`) names features in a
fixed order, each with an ``enum`` of values; some are ``required``, the others optional, and
``minProperties``/``maxProperties`` bound how many an answer gives. The general JSON-schema
converters do not cover that whole shape — llama-cpp-python's ignores the two bounds, and
llguidance rejects them unless every key is required — so this module writes the grammar
itself: the keys in schema order, each at most once, the required ones always, between the
bounds, in the one fixed layout ``{"a": 1, "b": 2}`` (the separators of Python's ``json.dumps``).
Bounding the number of keys bounds the answer: at ~11 tokens per change, a cap of three keeps
an answer near 35 tokens where an uncapped one ran to 70.

A grammar is a dict of rules; :func:`to_gbnf` writes it for llama.cpp and :func:`to_lark` for
llguidance, so both local backends decode exactly the same language. A schema of another shape
gives ``None`` and the caller uses a general converter.

>>> schema = {"type": "object", "properties": {"a": {"enum": [1, 2]}, "b": {"enum": ["x"]}},
...           "required": [], "additionalProperties": False,
...           "minProperties": 1, "maxProperties": 1}
>>> print(to_gbnf(answer_rules(schema)))
root ::= "{" k0n0 "}"
k0n0 ::= "\\"a\\": " v0 k1n1 | k1n0
k1n0 ::= "\\"b\\": " v1 k2n1
k1n1 ::= k2n1
k2n1 ::= ""
v0 ::= "1" | "2"
v1 ::= "\\"x\\""
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Rule name -> alternatives; an alternative is a sequence of literals and of references to
# other rules, written "=name" (no literal starts with "=": each is a JSON fragment or "{").
Rules = dict[str, list[list[str]]]

_SHAPE_KEYS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
}


def answer_rules(schema: Mapping[str, Any]) -> Rules | None:
    """The rules of the answers ``schema`` admits, or ``None`` when it is not an answer schema.

    An answer schema is an object whose properties each carry only an ``enum`` of JSON scalars,
    with ``additionalProperties`` false. Keys come in the schema's order.

    >>> answer_rules({"type": "object", "properties": {"a": {"type": "integer"}}}) is None
    True
    """
    if not _is_answer_schema(schema):
        return None
    names = list(schema["properties"])
    required = set(schema.get("required", []))
    low = int(schema.get("minProperties", 0))
    high = int(schema.get("maxProperties", len(names)))
    n = len(names)
    # Required keys still to come from position i on: a state that cannot fit them is dead.
    still_required = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        still_required[i] = still_required[i + 1] + (names[i] in required)

    rules: Rules = {}
    alive: dict[tuple[int, int], bool] = {}

    def state(i: int, given: int) -> bool:
        """Whether keys from position ``i`` on can complete an answer that has ``given`` keys."""
        if (i, given) in alive:
            return alive[(i, given)]
        if i == n:
            ok = low <= given <= high
            if ok:
                rules[f"k{i}n{given}"] = [[""]]
            alive[(i, given)] = ok
            return ok
        alternatives: list[list[str]] = []
        if given < high and given + still_required[i] <= high and state(i + 1, given + 1):
            key = json.dumps(names[i]) + ": "
            alternatives.append([", " + key if given else key, f"=v{i}", f"=k{i + 1}n{given + 1}"])
        if names[i] not in required and state(i + 1, given):
            alternatives.append([f"=k{i + 1}n{given}"])
        if alternatives:
            rules[f"k{i}n{given}"] = alternatives
        alive[(i, given)] = bool(alternatives)
        return alive[(i, given)]

    if not state(0, 0):
        return None  # no answer satisfies the bounds: let the general converter report it
    for i, name in enumerate(names):
        rules[f"v{i}"] = [[json.dumps(v)] for v in schema["properties"][name]["enum"]]
    ordered: Rules = {"root": [["{", "=k0n0", "}"]]}
    ordered.update(sorted(((k, v) for k, v in rules.items() if k.startswith("k")), key=_key_order))
    ordered.update((k, v) for k, v in rules.items() if k.startswith("v"))
    return ordered


def _key_order(item: tuple[str, Any]) -> tuple[int, int]:
    position, given = item[0][1:].split("n")
    return int(position), int(given)


def _is_answer_schema(schema: Mapping[str, Any]) -> bool:
    if not isinstance(schema, Mapping) or set(schema) - _SHAPE_KEYS:
        return False
    if schema.get("type", "object") != "object" or schema.get("additionalProperties") is not False:
        return False
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return False
    for spec in properties.values():
        if not isinstance(spec, Mapping) or set(spec) != {"enum"} or not spec["enum"]:
            return False
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in spec["enum"]):
            return False
    required = schema.get("required", [])
    return isinstance(required, list) and all(name in properties for name in required)


def _parts(alternative: list[str]) -> list[tuple[bool, str]]:
    """(is a rule reference, text) for each symbol of an alternative."""
    return [(s.startswith("="), s[1:] if s.startswith("=") else s) for s in alternative]


def to_gbnf(rules: Rules) -> str:
    """The grammar in llama.cpp's GBNF (start rule ``root``)."""
    return _written(rules, start="root", arrow=" ::= ")


def to_lark(rules: Rules) -> str:
    """The grammar in llguidance's Lark dialect (start rule ``start``).

    >>> rules = answer_rules({"type": "object", "properties": {"a": {"enum": [1]}},
    ...                       "required": ["a"], "additionalProperties": False})
    >>> print(to_lark(rules))
    start: "{" k0n0 "}"
    k0n0: "\\"a\\": " v0 k1n1
    k1n1: ""
    v0: "1"
    """
    return _written(rules, start="start", arrow=": ")


def _written(rules: Rules, *, start: str, arrow: str) -> str:
    """The rules one per line, ``name<arrow>alternative | ...``: the two dialects differ only
    in the start rule's name and the arrow (literals are quoted alike)."""
    lines = []
    for name, alternatives in rules.items():
        texts = [
            " ".join(text if ref else _quoted(text) for ref, text in _parts(alt))
            for alt in alternatives
        ]
        lines.append(f"{start if name == 'root' else name}{arrow}" + " | ".join(texts))
    return "\n".join(lines)


def _quoted(text: str) -> str:
    """A literal in double quotes, backslashes and quotes escaped (GBNF and Lark alike)."""
    return json.dumps(text)
