"""Intervention text: deterministic sentences from counterfactual numbers; checked paraphrases."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.aireadi import aireadi_spec
from sensecf.data.constraints import recompute
from sensecf.data.heart import heart_spec
from sensecf.data.spec import DatasetSpec, FeatureSpec, infer_spec
from sensecf.errors import DataError
from sensecf.interventions import (
    INFEASIBLE_TEXT,
    NO_CHANGE_TEXT,
    Change,
    check_paraphrase,
    describe_changes,
    format_minutes,
    intervention_table,
    intervention_text,
    paraphrase,
    shown_values,
)
from sensecf.llm.base import Completion, LLMBackend, LLMError
from sensecf.results import CounterfactualResult


def make_spec(*features: FeatureSpec) -> DatasetSpec:
    return DatasetSpec(
        target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=list(features)
    )


SLEEP = FeatureSpec(
    name="sleep_total_min",
    unit="min",
    group="sleep",
    bounds=(0, 960),
    step=1,
    mutability="increase",
)
DEEP = FeatureSpec(name="sleep_deep_min", unit="min", group="sleep", bounds=(0, 480), step=1)
STEPS = FeatureSpec(
    name="steps",
    unit="steps",
    group="activity",
    kind="integer",
    bounds=(0, 50000),
    mutability="increase",
)
TIR = FeatureSpec(name="cgm_tir", unit="%", group="glucose", bounds=(0, 100), step=0.1)
HR = FeatureSpec(name="hr_resting", unit="bpm", group="cardio", bounds=(30, 130), step=0.1)


def one_sentence(feature: FeatureSpec, before: float, after: float) -> str:
    changes = describe_changes(make_spec(feature), [before], [after])
    assert len(changes) == 1
    return changes[0].sentence


# ---- one sentence per kind ------------------------------------------------------------------


def test_continuous_minutes_read_as_hours_and_minutes():
    assert one_sentence(SLEEP, 370, 410) == (
        "Sleep 40 minutes more a night (6 h 10 min → 6 h 50 min)"
    )
    assert one_sentence(DEEP, 59, 125) == (
        "Get about 1 h 5 min more deep sleep a night (59 min → 2 h 5 min)"
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "0 min"),
        (59, "59 min"),
        (60, "1 h"),
        (61, "1 h 1 min"),
        (125, "2 h 5 min"),
        (59.6, "1 h"),
        (-75, "-1 h 15 min"),
    ],
)
def test_format_minutes(minutes, text):
    assert format_minutes(minutes) == text


@pytest.mark.parametrize(
    ("before", "after", "text"),
    [
        (0, 59, "Get about 1 h more deep sleep a night (0 min → 59 min)"),
        (0, 60, "Get 1 h more deep sleep a night (0 min → 1 h)"),
        (0, 61, "Get about 1 h more deep sleep a night (0 min → 1 h 1 min)"),
        (0, 125, "Get about 2 h 10 min more deep sleep a night (0 min → 2 h 5 min)"),
        (400, 459, "Get about 1 h more deep sleep a night (6 h 40 min → 7 h 39 min)"),
        (60, 61, "Get 1 minute more deep sleep a night (1 h → 1 h 1 min)"),
        (60, 65, "Get 5 minutes more deep sleep a night (1 h → 1 h 5 min)"),
    ],
)
def test_minute_amounts_at_the_hour_edges(before, after, text):
    spec_ = DEEP.model_copy(update={"bounds": (0, 900)})
    assert one_sentence(spec_, before, after) == text


def test_hours_unit_reads_as_hours_and_minutes():
    hours = FeatureSpec(name="sleep_hours", unit="h", group="sleep", bounds=(0, 16), step=0.25)
    assert one_sentence(hours, 6.5, 7.25) == (
        "Sleep 45 minutes more a night (6 h 30 min → 7 h 15 min)"
    )


def test_integer_steps_with_thousands_separators():
    assert one_sentence(STEPS, 4200, 7200) == "Walk 3,000 more steps a day (4,200 → 7,200)"
    assert one_sentence(STEPS, 4200, 7150) == "Walk about 3,000 more steps a day (4,200 → 7,150)"
    assert one_sentence(STEPS, 8000, 7500) == "Walk 500 fewer steps a day (8,000 → 7,500)"


def test_percentages_change_by_percentage_points():
    assert one_sentence(TIR, 62, 70) == (
        "Time in range 70–180 mg/dL up by 8 percentage points (62% → 70%)"
    )
    assert one_sentence(TIR, 70, 69) == (
        "Time in range 70–180 mg/dL down by 1 percentage point (70% → 69%)"
    )
    generic = FeatureSpec(name="fat_pct", unit="%", description="Body fat", bounds=(0, 60))
    assert one_sentence(generic, 31.25, 28.5) == (
        "Body fat down by about 3 percentage points (31.25% → 28.5%)"
    )


def test_coded_features_use_level_names():
    slope = heart_spec().feature("slope")
    assert one_sentence(slope, 2, 1) == (
        "Shape of the ST segment at peak exercise: flat → upsloping (normal)"
    )
    exang = heart_spec().feature("exang")
    assert one_sentence(exang, 1, 0) == "Exercise-induced chest pain (angina): yes → no"


def test_binary_without_names_reads_yes_no_and_categorical_codes_as_numbers():
    smoker = FeatureSpec(name="smoker", kind="binary", bounds=(0, 1), description="Smokes")
    assert one_sentence(smoker, 1, 0) == "Smokes: yes → no"
    shift = FeatureSpec(name="shift", kind="categorical", levels=(0, 1, 2), bounds=(0, 2))
    assert one_sentence(shift, 0, 2) == "Shift: 0 → 2"


def test_values_outside_the_levels_and_missing_values_are_said_truthfully():
    smoker = FeatureSpec(name="smoker", kind="binary", bounds=(0, 1))
    assert one_sentence(smoker, 1, 0.5) == "Smoker: yes → 0.5 (not one of its levels)"
    assert one_sentence(HR, 68, float("nan")) == "Resting heart rate: 68 → missing"


# ---- directions and rounding ----------------------------------------------------------------


def test_negative_and_positive_directions():
    assert one_sentence(HR, 68, 64) == "Lower resting heart rate by 4 bpm (68 → 64)"
    assert one_sentence(HR, 64, 68) == "Raise resting heart rate by 4 bpm (64 → 68)"
    assert one_sentence(SLEEP, 420, 390) == "Sleep 30 minutes less a night (7 h → 6 h 30 min)"
    sedentary = FeatureSpec(name="sedentary_min", unit="min", group="activity", bounds=(0, 1440))
    assert one_sentence(sedentary, 665, 620) == (
        "Spend 45 minutes less sitting a day (11 h 5 min → 10 h 20 min)"
    )
    assert one_sentence(sedentary, 600, 630).startswith("Spend 30 minutes more sitting")


@pytest.mark.parametrize(
    ("feature", "before", "after", "amount"),
    [
        (SLEEP, 337, 379, "about 40 minutes"),  # 42 → nearest 5
        (SLEEP, 337, 349, "12 minutes"),  # "about 10" would be 17% off: exact instead
        (SLEEP, 300, 427, "about 2 h 10 min"),  # 127 → nearest 10
        (STEPS, 4000, 7217, "about 3,000"),  # 3,217 → nearest 500
        (STEPS, 4000, 5240, "about 1,200"),  # 1,240 → nearest 100
        (STEPS, 4000, 4140, "about 150"),  # 140: nearest 100 is too coarse, nearest 50
        (HR, 67.84, 64.1, "about 4 bpm"),  # the query's value shows at its step: 67.8
        (HR, 70, 68.6, "1.4 bpm"),
    ],
)
def test_about_figures(feature, before, after, amount):
    assert amount in one_sentence(feature, before, after)


def test_values_show_at_the_features_step():
    assert one_sentence(HR, 67.84, 64.1).endswith("(67.8 → 64.1)")
    # Changed, but by less than the step: the values show with the digits that differ.
    assert one_sentence(HR, 67.81, 67.83).endswith("(67.81 → 67.83)")


def test_change_records_the_exact_numbers():
    (change,) = describe_changes(make_spec(HR), {"hr_resting": 67.84}, {"hr_resting": 64.1})
    assert change == Change(
        feature="hr_resting",
        before=67.84,
        after=64.1,
        delta=pytest.approx(64.1 - 67.84),
        unit="bpm",
        sentence="Lower resting heart rate by about 4 bpm (67.8 → 64.1)",
    )
    assert not change.fixed


# ---- no change, fixed features, order, generic specs ---------------------------------------


def test_an_unchanged_counterfactual_has_no_changes():
    spec = make_spec(SLEEP, STEPS)
    assert describe_changes(spec, [400, 5000], [400, 5000]) == []
    assert describe_changes(spec, [400, 5000], [400 + 1e-9, 5000]) == []  # noise, not a change
    assert intervention_text(spec, [400, 5000], [400, 5000]) == NO_CHANGE_TEXT


def test_fixed_features_are_reported_last_never_recommended():
    age = FeatureSpec(
        name="age", unit="years", kind="integer", bounds=(18, 110), mutability="fixed"
    )
    sex = heart_spec().feature("sex")
    spec = make_spec(age, sex, SLEEP)
    changes = describe_changes(spec, [54, 0, 400], [50, 1, 440])
    assert [c.sentence for c in changes] == [
        "Sleep 40 minutes more a night (6 h 40 min → 7 h 20 min)",
        "(changes a fixed feature: age, 54 → 50 years)",
        "(changes a fixed feature: sex, female → male)",
    ]
    assert [c.fixed for c in changes] == [False, True, True]


def test_behaviour_comes_first_then_groups_in_spec_order():
    spec = aireadi_spec()
    query = {f.name: f.bounds[0] + 0.3 * (f.bounds[1] - f.bounds[0]) for f in spec.features}
    query["study_group"] = 0
    cf = dict(
        query,
        cgm_tir=query["cgm_tir"] + 5,
        hr_resting=query["hr_resting"] - 3,
        steps=query["steps"] + 2000,
        sleep_total_min=query["sleep_total_min"] + 30,
        age=query["age"] + 1,
    )
    order = [c.feature for c in describe_changes(spec, query, cf)]
    assert order == ["sleep_total_min", "steps", "cgm_tir", "hr_resting", "age"]


def test_a_spec_with_empty_descriptions_and_units_reads_generically():
    frame = pd.DataFrame(
        {
            "age": [41, 62, 55, 47],
            "smoker": [0, 1, 0, 1],
            "sleep_h": [6.5, 7.25, 8.0, 5.5],
            "bmi": [31.2, 24.5, 28.0, 26.1],
            "y": [1, 0, 0, 1],
        }
    )
    spec = infer_spec(frame, target="y", fixed=["age"])
    assert all(f.description == "" and f.unit == "" for f in spec.features)
    lines = intervention_text(spec, [41, 1, 6.5, 31.2], [45, 0, 7.25, 29.0]).splitlines()
    assert lines == [
        "Smoker: yes → no",
        "Raise sleep h from 6.5 to 7.25",
        "Lower bmi from 31.2 to 29",
        "(changes a fixed feature: age, 41 → 45)",
    ]


def test_keyword_rules_give_verbs_to_a_users_features():
    spec = make_spec(
        FeatureSpec(name="sleep", unit="min", group="sleep", bounds=(180, 720)),
        FeatureSpec(name="daily_steps", kind="integer", bounds=(0, 30000)),
        FeatureSpec(
            name="mvpa",
            unit="minutes",
            description="Moderate to vigorous activity",
            bounds=(0, 600),
        ),
        FeatureSpec(name="sitting", unit="min", bounds=(0, 1440)),
    )
    assert intervention_text(spec, [400, 4000, 10, 700], [430, 6000, 40, 640]).splitlines() == [
        "Sleep 30 minutes more a night (6 h 40 min → 7 h 10 min)",
        "Walk 2,000 more steps a day (4,000 → 6,000)",
        "Be active 30 minutes more a day (10 min → 40 min)",
        "Spend 1 h less sitting a day (11 h 40 min → 10 h 40 min)",
    ]


def test_a_curated_name_in_other_units_reads_generically():
    # "steps" in thousands is not a step count: no "Walk about 3 more steps".
    k_steps = FeatureSpec(name="steps", unit="thousand/day", bounds=(0, 50), step=0.1)
    assert one_sentence(k_steps, 4.2, 7.2) == "Raise steps from 4.2 to 7.2 thousand/day"


def plausible_change(feature: FeatureSpec) -> tuple[float, float]:
    if feature.levels is not None:
        low, high = feature.levels[0], feature.levels[-1]
        return (low, high) if feature.mutability == "increase" else (high, low)
    lower, upper = feature.bounds
    before = float(feature.round([lower + 0.4 * (upper - lower)])[0])
    delta = max(float(feature.round([0.07 * (upper - lower)])[0]), float(feature.step))
    after = before - delta if feature.mutability == "decrease" else before + delta
    return before, after


@pytest.mark.parametrize("spec", [aireadi_spec(), heart_spec()], ids=["aireadi", "heart"])
def test_every_feature_of_the_shipped_specs_gets_a_sensible_sentence(spec):
    base = np.array([f.levels[0] if f.levels else f.bounds[0] for f in spec.features])
    for j, feature in enumerate(spec.features):
        query, cf = base.copy(), base.copy()
        query[j], cf[j] = plausible_change(feature)
        changes = describe_changes(spec, query, cf)
        assert [c.feature for c in changes] == [feature.name]
        sentence = changes[0].sentence
        assert "→" in sentence and "nan" not in sentence.lower()
        assert "_" not in sentence  # no snake_case names leak into the text
        assert sentence[0].isupper() or sentence.startswith("(changes a fixed feature: ")
        assert sentence.startswith("(changes a fixed feature") == (not feature.is_mutable)
        if feature.levels is None:
            # The numbers in the sentence are the rounded values: the text cannot disagree.
            before, after = sentence.rsplit("(", 1)[1].rstrip(")").split(" → ")[:2]
            assert before and after
        # The template is a valid paraphrase of itself: its own check accepts it.
        assert check_paraphrase(sentence, sentence, changes, spec) == [], sentence


# ---- intervention_table ---------------------------------------------------------------------


def hand_built_result() -> CounterfactualResult:
    spec = make_spec(SLEEP, STEPS, HR).replace(id_columns=["person_id"])
    queries = pd.DataFrame(
        {
            "query_id": [0, 1, 2],
            "person_id": ["p1", "p2", "p3"],
            "sleep_total_min": [370.0, 420.0, 400.0],
            "steps": [4200.0, 9000.0, 5000.0],
            "hr_resting": [68.0, 60.0, 70.0],
            "proba_desired": [0.2, 0.3, 0.1],
            "n_cfs": [2, 1, 0],
            "seconds": [0.1, 0.1, 0.1],
            "error": ["", "", ""],
        }
    )
    cfs = pd.DataFrame(
        {
            "query_id": [0, 0, 1],
            "method": ["oracle"] * 3,
            "rank": [0, 1, 0],
            "sleep_total_min": [410.0, 370.0, 420.0],
            "steps": [7200.0, 4200.0, 9000.0],
            "hr_resting": [68.0, 64.0, 60.0],
            "proba_desired": [0.6, 0.55, 0.3],
            "valid": [True, True, False],
        }
    )
    return CounterfactualResult("oracle", 0, spec, queries, cfs)


def test_intervention_table_has_one_row_per_counterfactual():
    table = intervention_table(hand_built_result())
    assert list(table.columns) == [
        "query_id",
        "person_id",
        "method",
        "rank",
        "valid",
        "n_changes",
        "text",
    ]
    assert table["query_id"].tolist() == [0, 0, 1]
    assert table["person_id"].tolist() == ["p1", "p1", "p2"]
    assert table["n_changes"].tolist() == [2, 1, 0]
    assert table["text"].tolist() == [
        "Sleep 40 minutes more a night (6 h 10 min → 6 h 50 min); "
        "Walk 3,000 more steps a day (4,200 → 7,200)",
        "Lower resting heart rate by 4 bpm (68 → 64)",
        NO_CHANGE_TEXT,
    ]
    assert table["valid"].tolist() == [True, True, False]
    assert intervention_table(hand_built_result(), sep="\n")["text"][0].count("\n") == 1


def test_intervention_table_of_a_result_without_counterfactuals_is_empty():
    result = hand_built_result()
    result.cfs = result.cfs.iloc[0:0]
    table = intervention_table(result)
    assert len(table) == 0 and "text" in table.columns


def test_a_person_the_oracle_proved_infeasible_gets_a_row_saying_so():
    result = hand_built_result()
    result.queries["status"] = ["optimal", "feasible", "infeasible"]
    table = intervention_table(result)
    assert table.columns[-1] == "status"
    assert table["query_id"].tolist() == [0, 0, 1, 2]
    assert table["status"].tolist() == ["optimal", "optimal", "feasible", "infeasible"]
    last = table.iloc[-1]
    assert last["person_id"] == "p3" and last["text"] == INFEASIBLE_TEXT
    assert last["n_changes"] == 0 and not last["valid"] and pd.isna(last["rank"])
    assert table["rank"].iloc[:3].tolist() == [0, 1, 0]
    # A person merely not found (no proof) gets no such row.
    result.queries["status"] = ["optimal", "feasible", "time_limit"]
    assert intervention_table(result)["query_id"].tolist() == [0, 0, 1]


def test_rows_must_carry_every_feature():
    spec = make_spec(SLEEP, STEPS)
    with pytest.raises(DataError, match="steps"):
        describe_changes(spec, {"sleep_total_min": 400}, {"sleep_total_min": 420, "steps": 1})
    with pytest.raises(DataError, match="3 values"):
        describe_changes(spec, [1, 2, 3], [1, 2])


# ---- paraphrase -----------------------------------------------------------------------------


class FixedBackend(LLMBackend):
    """A real backend that answers a fixed text (or fails), and remembers what it was asked."""

    name = "fixed"

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.requests = []

    def _complete(self, request):
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return Completion(self.answer, prompt_tokens=10, completion_tokens=20)


@pytest.fixture
def planned():
    spec = make_spec(SLEEP, STEPS, HR, TIR)
    query, cf = [370, 4200, 68, 62], [410, 7200, 68, 62]
    return spec, describe_changes(spec, query, cf), intervention_text(spec, query, cf)


def test_a_faithful_paraphrase_is_accepted(planned):
    spec, changes, text = planned
    good = (
        "You're doing well! Try to get 40 more minutes of sleep each night, going from "
        "6 h 10 min to 6 h 50 min, and add 3,000 steps to your day (from 4,200 to 7,200)."
    )
    backend = FixedBackend(good)
    result = paraphrase(text, changes, backend, spec=spec)
    assert result.ok and result.text == good and result.reason == ""
    (request,) = backend.requests
    assert text in request.messages[-1]["content"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (  # drops the steps
            "Try to get 40 more minutes of sleep each night (6 h 10 min to 6 h 50 min).",
            "leaves out the change to steps",
        ),
        (  # invents a number
            "Sleep 45 more minutes each night and walk 3,000 more steps (4,200 to 7,200).",
            "adds a number the template does not have: 45",
        ),
        (  # invents a number, in words
            "Sleep forty-five more minutes a night and walk 3,000 more steps a day.",
            "adds a number the template does not have",
        ),
        (  # mentions a feature that did not change
            "Sleep 40 more minutes a night and walk 3,000 more steps; your resting heart rate "
            "will thank you.",
            "mentions resting heart rate (hr_resting), which the counterfactual does not change",
        ),
        (
            "Sleep 40 more minutes and walk 3,000 more steps to keep your glucose in range.",
            "mentions time in range 70–180 mg/dL (cgm_tir)",
        ),
        (  # turns a change round
            "Sleep 40 minutes less each night, and walk 3,000 more steps (4,200 to 7,200).",
            "may reverse the direction of the change to sleep (sleep_total_min)",
        ),
        ("   ", "the answer is empty"),
    ],
)
def test_an_unfaithful_paraphrase_falls_back_to_the_template(planned, answer, reason):
    spec, changes, text = planned
    result = paraphrase(text, changes, FixedBackend(answer), spec=spec)
    assert not result.ok
    assert result.text == text
    assert reason in result.reason
    assert result.candidate == answer.strip()


def test_a_change_is_recognised_by_its_numbers_alone(planned):
    spec, changes, text = planned
    answer = "Sleep 40 more minutes a night, and aim for 7,200 a day instead of 4,200."
    assert check_paraphrase(answer, text, changes, spec) == []


def test_a_word_of_a_changed_feature_inside_another_features_phrase_is_not_a_mention():
    spec = aireadi_spec()
    query = {f.name: (f.levels[0] if f.levels else f.bounds[0] + 10) for f in spec.features}
    cf = dict(query, sleep_deep_min=query["sleep_deep_min"] + 20)
    changes = describe_changes(spec, query, cf)
    text = changes[0].sentence
    assert check_paraphrase("Aim for 20 more minutes of deep sleep.", text, changes, spec) == []
    assert check_paraphrase(
        "Aim for 20 more minutes of deep sleep, and sleep longer.", text, changes, spec
    ) == ["mentions sleep (sleep_total_min), which the counterfactual does not change"]


def test_a_failing_backend_or_no_changes_keep_the_template(planned):
    spec, changes, text = planned
    failed = paraphrase(text, changes, FixedBackend(LLMError("server down")), spec=spec)
    assert not failed.ok and failed.text == text and "server down" in failed.reason
    backend = FixedBackend("anything")
    empty = paraphrase(NO_CHANGE_TEXT, [], backend, spec=spec)
    assert not empty.ok and empty.text == NO_CHANGE_TEXT and backend.requests == []


def test_a_direction_word_of_the_right_kind_keeps_a_mixed_sentence():
    spec = make_spec(FeatureSpec(name="sedentary_min", unit="min", bounds=(0, 1440)), STEPS)
    changes = describe_changes(spec, [665, 4200], [620, 4200])
    text = changes[0].sentence
    answer = "Try sitting 45 minutes less each day, so you can move more."
    assert check_paraphrase(answer, text, changes, spec) == []
    flipped = "Try sitting 45 minutes more each day."
    assert check_paraphrase(flipped, text, changes, spec) == [
        "may reverse the direction of the change to time sitting (sedentary_min)"
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            "Here's the rewritten text: Sleep 40 minutes more a night and walk 3,000 more steps.",
            "talks about the rewriting",
        ),
        ("Sleep 40 minutes more and walk 3,000 more steps. " * 20, "is too long"),
    ],
)
def test_commentary_and_rambling_are_rejected(planned, answer, reason):
    spec, changes, text = planned
    assert reason in "; ".join(check_paraphrase(answer, text, changes, spec))


# ---- derived features read as consequences ------------------------------------------------------
def test_a_derived_change_is_the_consequence_of_its_inputs():
    spec = aireadi_spec()
    names = spec.feature_names
    query = np.array([f.levels[0] if f.levels else sum(f.bounds) / 3 for f in spec.features])
    query = recompute(spec, query)[0]
    cf = query.copy()
    cf[names.index("sleep_deep_min")] += 18
    cf[names.index("sleep_light_min")] += 70
    cf[names.index("cgm_tar180")] -= 8
    cf[names.index("steps")] += 3000
    cf = recompute(spec, cf)[0]
    changes = describe_changes(spec, query, cf)
    assert [c.feature for c in changes] == [
        "sleep_deep_min",
        "sleep_light_min",
        "sleep_total_min",
        "sleep_efficiency",
        "steps",
        "cgm_tar180",
        "cgm_tir",
    ]
    total = changes[2]
    assert total.consequence_of == ("sleep_deep_min", "sleep_light_min")
    assert total.sentence == "so sleep rises from 10 h 20 min to 11 h 48 min"
    text = intervention_text(spec, query, cf).splitlines()
    assert text[1] == (
        "Get 1 h 10 min more light sleep a night (5 h → 6 h 10 min), so sleep rises from "
        "10 h 20 min to 11 h 48 min, so sleep efficiency rises from 75.6% to 78%"
    )
    assert text[-1].endswith(
        "(33.3% → 25.3%), so time in range 70–180 mg/dL rises from 33.3% to 41.3%"
    )
    # No sentence tells the reader to change a derived feature directly.
    assert not any(line.startswith(("Sleep ", "Time in range")) for line in text)


def test_a_derived_feature_changed_alone_keeps_its_own_sentence():
    spec = aireadi_spec()
    j = spec.feature_names.index("sleep_total_min")
    query = np.array([f.levels[0] if f.levels else f.bounds[0] for f in spec.features])
    cf = query.copy()
    cf[j] += 40
    (change,) = describe_changes(spec, query, cf)
    assert change.consequence_of == () and change.sentence.startswith("Sleep 40 minutes more")


# ---- features nobody measured ---------------------------------------------------------------
def test_a_feature_nobody_measured_is_never_named_while_it_stays_missing():
    spec = make_spec(SLEEP, STEPS, HR)
    nan = float("nan")
    changes = describe_changes(spec, [nan, 4200, nan], [nan, 7150, nan])
    assert [c.feature for c in changes] == ["steps"]
    text = intervention_text(spec, [nan, 4200, nan], [nan, 7150, nan])
    assert text == "Walk about 3,000 more steps a day (4,200 → 7,150)"
    assert intervention_text(spec, [nan, 4200, 68], [nan, 4200, 68]) == NO_CHANGE_TEXT


def test_a_value_given_to_a_feature_nobody_measured_is_reported_last_never_advised():
    spec = make_spec(SLEEP, STEPS, HR)
    nan = float("nan")
    changes = describe_changes(spec, [nan, 4200, nan], [480, 7150, 61.04])
    assert [c.sentence for c in changes] == [
        "Walk about 3,000 more steps a day (4,200 → 7,150)",
        "(assumes a value that was not measured: sleep 8 h)",
        "(assumes a value that was not measured: resting heart rate 61 bpm)",
    ]
    assert [c.unmeasured for c in changes] == [False, True, True]
    assert all(c.fixed for c in changes[1:]) and np.isnan(changes[1].before)
    assert "missing" not in " ".join(c.sentence for c in changes)
    assert shown_values(SLEEP, nan, 480) == ("not measured", "8 h")
    smoker = FeatureSpec(name="smoker", kind="binary", bounds=(0, 1), level_names=("no", "yes"))
    assert shown_values(smoker, nan, 0) == ("not measured", "no")
    # a paraphrase has nothing to turn round in a reported change
    assert check_paraphrase(changes[2].sentence, changes[2].sentence, changes[2:], spec) == []


def test_the_table_of_a_gapped_result_names_only_what_each_person_has():
    spec = make_spec(SLEEP, STEPS, HR)
    nan = np.nan
    queries = pd.DataFrame(
        {
            "query_id": [0, 1],
            "sleep_total_min": [nan, 400.0],
            "steps": [4200.0, 3000.0],
            "hr_resting": [70.0, nan],
        }
    )
    cfs = pd.DataFrame(
        {
            "query_id": [0, 1],
            "method": ["m", "m"],
            "rank": [0, 0],
            "valid": [True, True],
            "sleep_total_min": [nan, 450.0],
            "steps": [8000.0, 3000.0],
            "hr_resting": [66.0, nan],
        }
    )
    table = intervention_table(CounterfactualResult("m", 0, spec, queries, cfs))
    assert table["text"].tolist() == [
        "Walk about 4,000 more steps a day (4,200 → 8,000); "
        "Lower resting heart rate by 4 bpm (70 → 66)",
        "Sleep 50 minutes more a night (6 h 40 min → 7 h 30 min)",
    ]
    assert table["n_changes"].tolist() == [2, 1]
