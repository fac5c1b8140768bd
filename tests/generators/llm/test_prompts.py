"""Prompt templates: what a prompt says, what it never says, and how a user overrides it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from sensecf.data.aireadi import aireadi_spec
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators.llm.prompts import (
    PromptContext,
    PromptTemplate,
    answer_row,
    glossary,
    render_messages,
)


def small_spec() -> DatasetSpec:
    return DatasetSpec(
        target="stress",
        classes={0: "not high stress", 1: "high stress"},
        desired_class=0,
        id_columns=("person_id",),
        features=[
            FeatureSpec(
                name="age", unit="years", kind="integer", bounds=(18, 99), mutability="fixed"
            ),
            FeatureSpec(
                name="group",
                kind="categorical",
                levels=(0, 1),
                level_names=("healthy", "diabetes"),
                bounds=(0, 1),
                mutability="fixed",
            ),
            FeatureSpec(
                name="sleep_min",
                description="Total sleep last night",
                unit="min",
                bounds=(0, 960),
                step=1,
                mutability="increase",
            ),
            FeatureSpec(
                name="hr_rest", unit="bpm", bounds=(30, 130), step=0.1, mutability="decrease"
            ),
            FeatureSpec(name="light_min", unit="min", bounds=(0, 900), step=1),
        ],
    )


def context(**changes) -> PromptContext:
    base = dict(
        spec=small_spec(),
        desired_class=0,
        query=np.array([61.0, 1.0, 321.4, 64.93, 200.0]),
        proba=0.234,
        needed=0.5,
        helps=[("sleep_min", "raise"), ("hr_rest", "lower")],
        examples=[{"sleep_min": 420, "hr_rest": 60.1, "light_min": 250}],
    )
    base.update(changes)
    return PromptContext(**base)


def test_the_user_message_states_prediction_goal_values_and_helps():
    system, user = (m["content"] for m in render_messages(PromptTemplate(), context()))
    assert 'predicts "high stress"' in user and 'probability of "not high stress" 0.23' in user
    assert "must pass 0.50" in user
    current = re.search(r"^Now: (.*)$", user, re.M).group(1)
    assert current == "sleep_min 321, hr_rest 64.9, light_min 200"  # mutable only
    assert "age" not in user  # fixed features: not used by a small model, not paid for
    assert "Helps most: raise sleep_min, lower hr_rest" in user
    assert 'Person A: {"sleep_min": 420, "hr_rest": 60.1, "light_min": 250}' in user
    # The task is the same for everyone: it heads the shared system message.
    assert "as few features as possible" in system and 'predicts "not high stress"' in system
    assert "as few features" not in user


def test_a_template_of_your_own_can_show_the_fixed_features():
    template = PromptTemplate(user="{current}\nFixed: {fixed}")
    user = render_messages(template, context())[1]["content"]
    assert "Fixed: age 61, group 1 (diabetes)" in user


def test_without_a_schema_the_offered_values_carry_the_cap():
    ctx = context(offered={"sleep_min": [420, 450]}, must_move=["sleep_min"], max_changes=2)
    user = render_messages(PromptTemplate(), ctx)[1]["content"]
    assert "sleep_min: 420, 450. These must change: sleep_min. Change at most 2 features" in user


def test_the_system_message_is_the_same_for_everyone():
    """Person-specific text stays in the user message, so the prefix can be reused."""
    one = render_messages(PromptTemplate(), context())[0]
    other = render_messages(PromptTemplate(), context(query=np.array([30.0, 0, 500, 55, 100])))[0]
    assert one == other


def test_glossary_lines_give_meaning_unit_and_rule_of_the_mutable_features():
    lines = glossary(small_spec()).splitlines()
    assert lines == [
        "- sleep_min: Total sleep last night; min; raise only",
        "- hr_rest: bpm; lower only",
        "- light_min: min; raise or lower",
    ]  # the fixed age and group: their values are in the user message


def test_glossary_meanings_are_first_clauses_without_remarks():
    spec = aireadi_spec()
    lines = dict(line[2:].split(": ", 1) for line in glossary(spec).splitlines())
    assert lines["sleep_rem_min"] == "REM sleep in that night; min; raise only"
    assert lines["cgm_cv"] == "Glucose variability, coefficient of variation; %; lower only"


def test_the_aireadi_prompt_is_compact():
    spec = aireadi_spec()
    query = np.array([(f.bounds[0] + f.bounds[1]) / 2 for f in spec.features])
    ctx = PromptContext(spec, 0, query, proba=0.3, needed=0.5)
    system, user = (m["content"] for m in render_messages(PromptTemplate(), ctx))
    # About 4 characters a token: the fixed part fits well inside a 4k context.
    assert len(system) < 2500 and len(user) < 2000
    assert all(f.name in system for f in spec.mutable_features)
    assert not any(f"{f.name} " in user for f in spec.features if not f.is_mutable)


def test_zero_shot_and_feedback_blocks():
    user = render_messages(PromptTemplate(), context(examples=[]))[1]["content"]
    assert "Person" not in user and "did not work" not in user
    problems = "it changed sleep_min, and the probability reached only 0.31"
    user = render_messages(PromptTemplate(), context(problems=problems))[1]["content"]
    assert f"An earlier answer did not work: {problems}." in user


def test_worked_pairs_show_before_and_after():
    ctx = context(factuals=[{"sleep_min": 300, "hr_rest": 70.2, "light_min": 180}])
    user = render_messages(PromptTemplate(), ctx)[1]["content"]
    assert 'Person A before: {"sleep_min": 300' in user
    assert 'Person A after: {"sleep_min": 420' in user
    assert "Other people, and changes that made" in user


def test_no_identifier_reaches_the_prompt():
    messages = render_messages(PromptTemplate(), context())
    assert "person_id" not in json.dumps(messages)


def test_a_user_template_replaces_the_texts():
    template = PromptTemplate(
        system="Sleep coach.\n{features}",
        user="Now {current}. Goal: {desired_class}.{examples}{feedback}",
        nearest="\nLike: {rows}",
    )
    system, user = (m["content"] for m in render_messages(template, context()))
    assert system.startswith("Sleep coach.\n- sleep_min")
    assert user.startswith("Now sleep_min 321")
    assert "Like: Person A" in user


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("user", "{current} {bogus}", "unknown placeholder"),
        ("system", "{features", "not a valid template"),
        ("feedback", "{rows}", "unknown placeholder"),
    ],
)
def test_bad_templates_are_refused(field, text, message):
    with pytest.raises(ValueError, match=message):
        PromptTemplate(**{field: text})


def test_answer_rows_use_the_schema_spelling():
    spec = small_spec()
    assert answer_row(spec, np.array([61.0, 1.0, 420.0, 60.04, 250.0])) == {
        "sleep_min": 420,
        "hr_rest": 60,
        "light_min": 250,
    }


def test_a_feature_nobody_measured_is_named_apart_with_no_value():
    query = np.array([61.0, np.nan, np.nan, 64.93, 200.0])  # no group, no sleep
    ctx = context(query=query, examples=[{"hr_rest": 60.1}], asked=["hr_rest", "light_min"])
    user = render_messages(PromptTemplate(), ctx)[1]["content"]
    lines = user.splitlines()
    assert lines[1] == "Now: hr_rest 64.9, light_min 200"
    assert lines[2] == "Not measured (leave out): sleep_min"  # mutable ones; the fixed group not
    assert "nan" not in user.lower() and "null" not in user
    fixed = render_messages(PromptTemplate(user="Fixed: {fixed}"), ctx)[1]["content"]
    assert fixed == "Fixed: age 61, group not measured"
    # asked anyway (a caller's own list): still no value and not among the answer's keys
    keys = render_messages(PromptTemplate(user="{current} | {answer_keys}"), context(query=query))
    assert keys[1]["content"] == "hr_rest 64.9, light_min 200 | hr_rest, light_min"


def test_a_person_measured_in_full_gets_the_prompt_without_the_line():
    user = render_messages(PromptTemplate(), context())[1]["content"]
    assert "Not measured" not in user
    assert user.splitlines()[1:3] == [
        "Now: sleep_min 321, hr_rest 64.9, light_min 200",
        "Helps most: raise sleep_min, lower hr_rest",
    ]


def test_a_worked_example_shows_its_persons_missing_values_as_not_measured():
    ctx = context(
        examples=[{"sleep_min": 420}],
        factuals=[{"sleep_min": 300, "hr_rest": None, "light_min": 250}],
    )
    user = render_messages(PromptTemplate(), ctx)[1]["content"]
    assert (
        'Person A before: {"sleep_min": 300, "hr_rest": "not measured", "light_min": 250}' in user
    )
    assert 'Person A after: {"sleep_min": 420}' in user


def test_the_unmeasured_line_is_a_template_of_its_own():
    ctx = context(query=np.array([61.0, 1.0, np.nan, 64.93, 200.0]))
    template = PromptTemplate(unmeasured="No data for {names}.\n")
    assert "No data for sleep_min." in render_messages(template, ctx)[1]["content"]
    with pytest.raises(ValueError, match="unknown placeholder"):
        PromptTemplate(unmeasured="{current}")
