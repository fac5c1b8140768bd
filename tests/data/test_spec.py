import numpy as np
import pandas as pd
import pytest

from sensecf.data.spec import DatasetSpec, FeatureSpec, infer_spec
from sensecf.errors import DataError, SpecError


def make_spec(**changes):
    data = {
        "name": "toy",
        "target": "y",
        "classes": {0: "healthy", 1: "at risk"},
        "desired_class": 0,
        "id_columns": ["pid"],
        "group_column": "pid",
        "features": [
            {"name": "age", "kind": "integer", "bounds": [18, 100], "mutability": "fixed"},
            {
                "name": "sleep_min",
                "unit": "min",
                "bounds": [0, 960],
                "mutability": "increase",
                "step": 1,
            },
            {"name": "smoker", "kind": "binary", "bounds": [0, 1], "mutability": "decrease"},
            {
                "name": "group",
                "kind": "categorical",
                "levels": [0, 1, 2],
                "bounds": [0, 2],
                "level_names": ["a", "b", "c"],
                "mutability": "fixed",
            },
        ],
    }
    data.update(changes)
    return data


def test_valid_spec_builds_with_derived_fields():
    spec = DatasetSpec.from_dict(make_spec())
    assert spec.feature_names == ["age", "sleep_min", "smoker", "group"]
    assert spec.flagged_class == 1
    assert [f.name for f in spec.mutable_features] == ["sleep_min", "smoker"]
    assert spec.feature("smoker").levels == (0.0, 1.0)
    assert spec.feature("age").step == 1.0
    assert spec.feature("group").label(2) == "c"


def test_yaml_round_trip(tmp_path):
    spec = DatasetSpec.from_dict(make_spec())
    path = tmp_path / "spec.yaml"
    spec.to_yaml(path)
    assert DatasetSpec.from_yaml(path) == spec
    assert DatasetSpec.from_yaml(path.read_text()) == spec


def test_required_round_trips_through_yaml_and_is_left_out_when_false(tmp_path):
    spec = DatasetSpec.from_dict(make_spec())
    assert spec.required_features == []
    assert "required" not in spec.to_yaml()
    required = spec.update_feature("sleep_min", required=True)
    assert required.required_features == ["sleep_min"]
    text = required.to_yaml(tmp_path / "spec.yaml")
    assert text.count("required: true") == 1
    assert DatasetSpec.from_yaml(tmp_path / "spec.yaml") == required
    with pytest.raises(SpecError, match="feature 'age': required"):
        DatasetSpec.from_dict(
            make_spec(features=[{"name": "age", "bounds": [18, 100], "required": "maybe"}])
        )


def test_effort_costs_round_trip_through_yaml_and_are_left_out_when_absent(tmp_path):
    spec = DatasetSpec.from_dict(make_spec())
    assert not spec.has_costs and "cost" not in spec.to_yaml()
    costed = spec.update_feature("sleep_min", cost={"per_unit": 0.01, "fixed": 1.0})
    costed = costed.update_feature("smoker", cost={"fixed": 5})
    assert costed.has_costs
    text = costed.to_yaml(tmp_path / "spec.yaml")
    assert "per_unit: 0.01" in text and "fixed: 5" in text
    back = DatasetSpec.from_yaml(tmp_path / "spec.yaml")
    assert back == costed
    assert back.feature("smoker").cost.per_unit == 0.0
    assert back.feature("sleep_min").cost.of(-30) == pytest.approx(1.3)


@pytest.mark.parametrize(
    ("cost", "fragment"),
    [
        ({"per_unit": -1}, "feature 'hr': cost.per_unit: must be a finite number ≥ 0; got -1"),
        ({"fixed": float("inf")}, "feature 'hr': cost.fixed: must be a finite number ≥ 0"),
        ({"per_minute": 1}, "feature 'hr': cost.per_minute: Extra inputs"),
        (3, "feature 'hr': cost: expected a mapping with per_unit and/or fixed; got 3"),
    ],
)
def test_a_bad_cost_is_named_in_the_error(cost, fragment):
    data = make_spec()
    data["features"] = [*data["features"], {"name": "hr", "bounds": [40, 100], "cost": cost}]
    with pytest.raises(SpecError) as info:
        DatasetSpec.from_dict(data, source="my.yaml")
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("feature", "fragment"),
    [
        ({"name": "hr", "bounds": [100, 40]}, "feature 'hr': bounds: lower bound must be below"),
        (
            {"name": "hr", "bounds": [40, 100], "kind": "ratio"},
            "feature 'hr': kind: must be one of",
        ),
        (
            {"name": "hr", "bounds": [40, 100], "mutability": "up"},
            "feature 'hr': mutability: must be one of",
        ),
        ({"name": "hr", "bounds": [40, 100], "step": -1}, "feature 'hr': step must be a positive"),
        (
            {"name": "cp", "bounds": [0, 3], "kind": "categorical"},
            "feature 'cp': a categorical feature needs",
        ),
        (
            {"name": "cp", "bounds": [0, 3], "kind": "categorical", "levels": [0, 5]},
            "lie outside bounds",
        ),
        ({"name": "n", "bounds": [0, 3], "kind": "integer", "step": 0.5}, "whole-number step"),
        ({"name": "hr", "bounds": [0, 3], "colour": "red"}, "feature 'hr': colour: Extra inputs"),
        ({"name": "hr"}, "feature 'hr': bounds: Field required"),
    ],
)
def test_bad_feature_is_named_in_the_error(feature, fragment):
    data = make_spec()
    data["features"] = [*data["features"], feature]
    with pytest.raises(SpecError, match="invalid spec") as info:
        DatasetSpec.from_dict(data, source="my.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("my.yaml:")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"desired_class": 3}, "desired_class must be one of [0, 1]; got 3"),
        ({"classes": {0: "only"}}, "needs at least two classes"),
        ({"group_column": "site"}, "group_column 'site' must be one of id_columns"),
        ({"target": "age"}, "cannot also be features: ['age']"),
        ({"features": []}, "at least one feature"),
    ],
)
def test_bad_dataset_fields(changes, fragment):
    with pytest.raises(SpecError) as info:
        DatasetSpec.from_dict(make_spec(**changes))
    assert fragment in str(info.value)


def test_duplicate_feature_names_rejected():
    data = make_spec()
    data["features"] = [*data["features"], data["features"][0]]
    with pytest.raises(SpecError, match=r"repeated: \['age'\]"):
        DatasetSpec.from_dict(data)


def test_missing_and_malformed_yaml(tmp_path):
    with pytest.raises(SpecError, match="spec file not found"):
        DatasetSpec.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        DatasetSpec.from_yaml(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        DatasetSpec.from_yaml(bad)


def test_round_respects_step_levels_and_bounds():
    f = FeatureSpec(name="eff", bounds=(0, 100), step=0.1)
    assert f.round([87.349, 101.0, -2]).tolist() == [87.3, 100.0, 0.0]
    cat = FeatureSpec(name="g", kind="categorical", levels=(1, 3, 7), bounds=(1, 7))
    assert cat.round([2.2, 6.0, np.nan]).tolist()[:2] == [3.0, 7.0]
    assert np.isnan(cat.round([np.nan])[0])


def test_infer_spec_kinds_bounds_and_steps():
    df = pd.DataFrame(
        {
            "pid": [1, 2, 3, 4, 5, 6, 7, 8],
            "age": [40, 50, 60, 70, 40, 45, 55, 65],
            "sex": [0, 1, 1, 0, 1, 0, 0, 1],
            "cp": [1, 2, 3, 4, 1, 2, 3, 4],
            "glucose": [90.5, 100.25, 120.0, 80.75, 95.0, 101.0, 99.5, 88.0],
            "y": [0, 1, 0, 1, 0, 1, 0, 1],
        }
    )
    spec = infer_spec(
        df, "y", id_columns=["pid"], group_column="pid", fixed=["age", "sex"], max_levels=4
    )
    kinds = {f.name: f.kind for f in spec.features}
    assert kinds == {
        "age": "integer",
        "sex": "binary",
        "cp": "categorical",
        "glucose": "continuous",
    }
    glucose = spec.feature("glucose")
    assert glucose.step == 0.01
    assert glucose.bounds[0] < 80.75 and glucose.bounds[1] > 120.0
    assert spec.feature("age").mutability == "fixed"
    assert spec.classes == {0: "y=0", 1: "y=1"}
    # an inferred spec is editable and stays valid
    edited = spec.update_feature("age", bounds=[18, 110])
    assert edited.feature("age").bounds == (18, 110)
    assert edited.drop_features(["cp"]).feature_names == ["age", "sex", "glucose"]


def test_infer_spec_errors():
    df = pd.DataFrame({"x": [1, 2], "note": ["a", "b"], "y": [0, 1]})
    with pytest.raises(DataError, match="target column 'z'"):
        infer_spec(df, "z")
    with pytest.raises(DataError, match="column 'note' has no numeric values"):
        infer_spec(df, "y")
    with pytest.raises(DataError, match=r"`fixed` names columns not in the table: \['w'\]"):
        infer_spec(df[["x", "y"]], "y", fixed=["w"])


def test_validate_frame_names_column_and_row():
    spec = DatasetSpec.from_dict(make_spec())
    good = pd.DataFrame(
        {
            "pid": [1, 2],
            "age": [40, 50],
            "sleep_min": ["400", 420],
            "smoker": [0, 1],
            "group": [0, 2],
            "y": [0, 1],
        }
    )
    out = spec.validate_frame(good, source="t.csv")
    assert out["sleep_min"].tolist() == [400.0, 420.0]
    with pytest.raises(DataError, match=r"t.csv: missing column\(s\) \['smoker'\]"):
        spec.validate_frame(good.drop(columns="smoker"), source="t.csv")
    bad = good.assign(sleep_min=[400, "lots"])
    with pytest.raises(DataError, match="feature 'sleep_min' must be numeric; row 1 holds 'lots'"):
        spec.validate_frame(bad, source="t.csv")
    with pytest.raises(
        DataError, match=r"feature 'group' takes levels \[0.0, 1.0, 2.0\]; row 0 holds 5"
    ):
        spec.validate_frame(good.assign(group=[5, 1]))
    with pytest.raises(DataError, match="target 'y' takes classes"):
        spec.validate_frame(good.assign(y=[0, 2]))


# ---- wording (phrase) ----------------------------------------------------------------------


def test_a_phrase_round_trips_through_yaml_and_is_left_out_when_absent(tmp_path):
    data = make_spec()
    data["features"][1]["phrase"] = {
        "label": "sleep",
        "increase": "Sleep {amount} more a night",
        "terms": ["sleep", "asleep"],
    }
    spec = DatasetSpec.from_dict(data)
    assert spec.feature("sleep_min").phrase.terms == ("sleep", "asleep")
    assert spec.feature("sleep_min").phrase.decrease == ""
    text = spec.to_yaml(tmp_path / "spec.yaml")
    assert "increase: Sleep {amount} more a night" in text
    written = [f.get("phrase") for f in spec.to_dict()["features"]]
    # Only the fields that are set are written; features without wording get no entry.
    assert written == [None, {**data["features"][1]["phrase"]}, None, None]
    assert text.count("phrase:") == 1
    assert DatasetSpec.from_yaml(tmp_path / "spec.yaml") == spec


@pytest.mark.parametrize(
    ("phrase", "fragment"),
    [
        ({"increase": "Sleep {minutes} more"}, "uses {minutes}"),
        ({"decrease": "Sleep {amount less"}, "is not a valid template"),
        ({"label": "sleep", "tone": "warm"}, "phrase.tone: Extra inputs"),
    ],
)
def test_a_bad_phrase_is_named_in_the_error(phrase, fragment):
    data = make_spec()
    data["features"][1]["phrase"] = phrase
    with pytest.raises(SpecError, match="feature 'sleep_min'") as info:
        DatasetSpec.from_dict(data, source="my.yaml")
    assert fragment in str(info.value)


def test_the_shipped_specs_word_every_feature():
    from sensecf.data.aireadi import aireadi_spec
    from sensecf.data.heart import heart_spec

    for spec in (aireadi_spec(), heart_spec()):
        for feature in spec.features:
            assert feature.phrase is not None and feature.phrase.label, feature.name
            assert feature.phrase.terms, feature.name
            if feature.is_mutable and feature.levels is None:
                assert feature.phrase.increase and feature.phrase.decrease, feature.name
