"""The exact grammar of compact answers: its language, written for llama.cpp and llguidance."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from sensecf.generators.llm.schema import answer_schema
from sensecf.llm.answer_grammar import Rules, answer_rules, to_gbnf, to_lark
from sensecf.llm.constrained import admits


def _language(rules: Rules, name: str = "root") -> set[str]:
    """Every string the rules derive (they are finite: each key rule points further on)."""
    out: set[str] = set()
    for alternative in rules[name]:
        parts = [_language(rules, s[1:]) if s.startswith("=") else {s} for s in alternative]
        out.update("".join(p) for p in itertools.product(*parts))
    return out


def _expected(schema: dict[str, Any]) -> set[str]:
    """The answers the schema admits, written as json.dumps writes them."""
    names = list(schema["properties"])
    low = schema.get("minProperties", 0)
    high = schema.get("maxProperties", len(names))
    out = set()
    for size in range(low, high + 1):
        for keys in itertools.combinations(names, size):
            if not set(schema["required"]) <= set(keys):
                continue
            for values in itertools.product(*(schema["properties"][k]["enum"] for k in keys)):
                out.add(json.dumps(dict(zip(keys, values, strict=True))))
    return out


CASES = [
    answer_schema({"a": [1, 2], "b": ["x"], "c": [0.5, 7]}, required=[], max_changes=2),
    answer_schema({"a": [1], "b": [2, 3], "c": [4]}, required=["b"], max_changes=1),
    answer_schema({"a": [1], "b": [2, 3], "c": [4], "d": [None]}, required=["a", "d"]),
    answer_schema({"a": [1, 2], "b": [3]}),  # every key required: a full row
]


@pytest.mark.parametrize("schema", CASES)
def test_the_grammar_derives_exactly_the_answers_the_schema_admits(schema: dict) -> None:
    rules = answer_rules(schema)
    assert rules is not None
    language = _language(rules)
    assert language == _expected(schema)
    assert all(admits(schema, text) for text in language)


def test_a_cap_below_the_required_keys_is_raised_to_them() -> None:
    schema = answer_schema({"a": [1], "b": [2], "c": [3]}, required=["a", "c"], max_changes=1)
    assert schema["maxProperties"] == 2
    assert _language(answer_rules(schema) or {}) == {'{"a": 1, "c": 3}'}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
        {"type": "object", "properties": {"a": {"enum": [1]}}},  # other keys allowed
        {"type": "object", "properties": {}, "additionalProperties": False},
        {"type": "object", "properties": {"a": {"enum": [[1]]}}, "additionalProperties": False},
        {
            "type": "object",
            "properties": {"a": {"enum": [1]}},
            "additionalProperties": False,
            "maxProperties": 0,
            "minProperties": 1,
        },  # nothing satisfies it
        {"enum": ["yes", "no"]},
    ],
)
def test_other_schemas_are_left_to_a_general_converter(schema: dict) -> None:
    assert answer_rules(schema) is None


def test_both_dialects_name_the_same_rules() -> None:
    rules = answer_rules(CASES[0])
    assert rules is not None
    gbnf, lark = to_gbnf(rules).splitlines(), to_lark(rules).splitlines()
    assert gbnf[0].startswith("root ::= ") and lark[0].startswith("start: ")
    assert [line.split(" ::= ")[1] for line in gbnf] == [line.split(": ", 1)[1] for line in lark]


def test_llguidance_compiles_the_lark_grammar() -> None:
    llguidance = pytest.importorskip("llguidance")
    from sensecf.llm.constrained import json_schema_grammar

    for schema in CASES:
        grammar = json_schema_grammar(schema)
        assert "k0n0" in grammar  # this module's grammar, not the general converter's
        assert llguidance.LLMatcher.validate_grammar(grammar) == ""
