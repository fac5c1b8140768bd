"""A feature's wording: from its spec entry, from a shipped feature of its name, or generated."""

import pandas as pd

from sensecf.data.heart import heart_spec
from sensecf.data.spec import DatasetSpec, FeatureSpec, Phrase, infer_spec
from sensecf.interventions import describe_changes, feature_phrase, intervention_text
from sensecf.interventions.wording import default_phrase, feature_terms


def make_spec(*features: FeatureSpec) -> DatasetSpec:
    return DatasetSpec(
        target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=list(features)
    )


def test_a_users_phrase_words_the_sentence():
    naps = FeatureSpec(
        name="nap_min",
        unit="min",
        group="sleep",
        bounds=(0, 180),
        phrase=Phrase(
            label="daytime naps",
            increase="Nap {amount} longer a day",
            decrease="Nap {amount} shorter a day",
            terms=("nap", "doze"),
        ),
    )
    spec = make_spec(naps)
    assert intervention_text(spec, [20], [45]) == "Nap 25 minutes longer a day (20 min → 45 min)"
    assert intervention_text(spec, [45], [20]) == "Nap 25 minutes shorter a day (45 min → 20 min)"
    assert feature_terms(naps) == ["nap", "doze", "nap_min", "nap min"]


def test_fields_a_phrase_leaves_out_come_from_the_unit_and_description():
    walk = FeatureSpec(
        name="walk_count",
        unit="steps",
        description="Steps walked in the day",
        bounds=(0, 40000),
        phrase=Phrase(label="walking"),
    )
    phrase = feature_phrase(walk)
    assert phrase.label == "walking"
    assert phrase.increase == default_phrase(walk).increase == "Walk {number} more steps a day"
    assert phrase.terms == default_phrase(walk).terms
    fixed = walk.model_copy(update={"mutability": "fixed"})
    assert describe_changes(make_spec(fixed), [4000], [6000])[0].sentence == (
        "(changes a fixed feature: walking, 4,000 → 6,000 steps)"
    )


def test_a_phrase_in_the_spec_wins_over_a_shipped_feature_of_the_same_name():
    chol = (
        heart_spec()
        .feature("chol")
        .model_copy(update={"phrase": Phrase(decrease="Bring cholesterol down by {amount}")})
    )
    assert intervention_text(make_spec(chol), [240], [200]) == (
        "Bring cholesterol down by 40 mg/dl (240 → 200)"
    )
    # The label and terms it leaves out come from the description, not the shipped wording.
    assert feature_phrase(chol).label == "Total cholesterol in the blood (serum)"


def test_an_inferred_spec_reads_in_default_sentences():
    frame = pd.DataFrame(
        {
            "sleep_minutes": [400, 380, 420, 360],
            "step_count": [4000, 9000, 6000, 3000],
            "waist_cm": [90.5, 101.0, 88.25, 95.0],
            "y": [1, 0, 0, 1],
        }
    )
    spec = infer_spec(frame, target="y")
    assert all(f.phrase is None for f in spec.features)
    spec = spec.update_feature("sleep_minutes", unit="min", group="sleep")
    text = intervention_text(spec, [360, 3000, 95.0], [400, 5000, 92.0]).splitlines()
    assert text == [
        "Sleep 40 minutes more a night (6 h → 6 h 40 min)",
        "Walk 2,000 more steps a day (3,000 → 5,000)",
        "Lower waist cm from 95 to 92",
    ]
