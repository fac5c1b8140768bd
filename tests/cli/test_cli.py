"""The command line end to end on a small synthetic cohort, and its handling of bad input."""

import json

import pandas as pd
import pytest

from sensecf.data.spec import DatasetSpec


@pytest.fixture(scope="module")
def flow(tmp_path_factory, invoke):
    root = tmp_path_factory.mktemp("flow")
    cohort, features, model = root / "cohort", root / "features", root / "model"
    results = {
        "synth": invoke(
            "synth",
            "--out",
            str(cohort),
            "--participants",
            "24",
            "--days",
            "4",
            "--interval-min",
            "15",
            "--seed",
            "3",
        ),
        "features": invoke("features", str(cohort), "--out", str(features)),
        "train": invoke("train", str(features), "--out", str(model), "--estimator", "logreg"),
    }
    return root, results


def test_each_verb_reports_where_it_wrote(flow):
    root, results = flow
    for verb, result in results.items():
        assert result.exit_code == 0, f"{verb}: {result.output}"
    assert f"wrote a synthetic cohort to {root / 'cohort'}" in results["synth"].output
    assert "rows of features to" in results["features"].output
    assert "high stress" in results["features"].output
    assert "auroc" in results["train"].output
    assert (root / "cohort" / "participants.tsv").is_file()
    frame = pd.read_parquet(root / "features" / "features.parquet")
    spec = DatasetSpec.from_yaml(root / "features" / "spec.yaml")
    assert set(spec.feature_names) <= set(frame.columns)
    assert "stress_mean" not in spec.feature_names
    metadata = json.loads((root / "model" / "metadata.json").read_text())
    assert 0.0 <= metadata["metrics"]["auroc"] <= 1.0


def test_person_unit_and_diabetes_target(flow, invoke):
    root, _ = flow
    out = root / "features_person"
    result = invoke(
        "features",
        str(root / "cohort"),
        "--out",
        str(out),
        "--unit",
        "person",
        "--target",
        "diabetes",
    )
    assert result.exit_code == 0, result.output
    spec = DatasetSpec.from_yaml(out / "spec.yaml")
    assert spec.target == "diabetes"
    assert "study_group" not in spec.feature_names
    assert spec.id_columns == ("person_id",)


def test_help_explains_every_verb(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    for verb in ("synth", "features", "train", "demo"):
        assert verb in result.output
    for verb in ("synth", "features", "train", "demo"):
        sub = invoke(verb, "--help")
        assert sub.exit_code == 0 and "--out" in sub.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["features", "{tmp}/missing", "--out", "{tmp}/f"], "missing"),
        (["train", "{tmp}/missing", "--out", "{tmp}/m"], "not found"),
        (["synth", "--out", "{tmp}/c", "--participants", "-3"], "participants"),
        (["synth", "--out", "{tmp}/c", "--days", "0"], "days"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(invoke, tmp_path, args, fragment):
    args = [a.format(tmp=tmp_path) for a in args]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "f").exists() and not (tmp_path / "m").exists()


def test_train_on_csv_with_spec_beside_it(flow, invoke, tmp_path):
    root, _ = flow
    frame = pd.read_parquet(root / "features" / "features.parquet")
    frame.to_csv(tmp_path / "table.csv", index=False)
    (tmp_path / "table.spec.yaml").write_text((root / "features" / "spec.yaml").read_text())
    result = invoke(
        "train",
        str(tmp_path / "table.csv"),
        "--out",
        str(tmp_path / "model"),
        "--estimator",
        "gb",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model" / "model.joblib").is_file()


def test_train_cross_validates_with_intervals_in_range(flow, invoke, tmp_path):
    root, _ = flow
    model = tmp_path / "model"
    result = invoke(
        "train", str(root / "features"), "--out", str(model), "--estimator", "logreg",
        "--cv", "3", "--cv-seeds", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Cross-validated (2 × 3-fold" in result.output
    scores = pd.read_csv(model / "cv_scores.csv")
    assert len(scores) == 6 and set(scores["seed"]) == {0, 1}
    assert (
        scores["n_test"].groupby(scores["seed"]).sum().tolist() == [scores["n_test"].sum() // 2] * 2
    )
    from sensecf.evaluation.cross_validation import cv_summary

    summary = cv_summary(scores)
    assert ((summary["ci_low"] >= 0) & (summary["ci_high"] <= 1)).all()
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["n"] == 6).all()
    bad = invoke("train", str(root / "features"), "--out", str(tmp_path / "m2"), "--cv", "1")
    assert bad.exit_code == 2 and "--cv" in bad.output


def test_features_day_rules_are_options_recorded_in_info(flow, invoke):
    root, _ = flow
    out = root / "features_relaxed"
    result = invoke(
        "features",
        str(root / "cohort"),
        "--out",
        str(out),
        "--min-cgm-coverage",
        "0",
        "--min-hr-hours",
        "0",
        "--no-require-sleep",
        "--require-cgm",
    )
    assert result.exit_code == 0, result.output
    info = json.loads((out / "info.json").read_text())
    assert info["day_rules"] == {
        "min_cgm_coverage": 0.0,
        "min_hr_hours": 0.0,
        "require_sleep": False,
        "require_stress": True,
        "required": [],
        "require_cgm": True,
    }
    # Nights without a sleep record keep their day, the sleep features empty and counted.
    spec = DatasetSpec.from_yaml(out / "spec.yaml")
    assert "sleep_total_min" in spec.feature_names
    frame = pd.read_parquet(out / "features.parquet")
    assert (
        info["missing_by_feature"].get("sleep_total_min", 0)
        == frame["sleep_total_min"].isna().sum()
    )
    default = json.loads((root / "features" / "info.json").read_text())
    assert default["day_rules"]["min_hr_hours"] == 18
    assert default["day_rules"]["require_sleep"] is False
    assert default["day_rules"]["require_cgm"] is False
    relaxed_rows = len(pd.read_parquet(out / "features.parquet"))
    assert relaxed_rows >= len(pd.read_parquet(root / "features" / "features.parquet"))
    bad = invoke("features", str(root / "cohort"), "--out", str(out), "--min-hr-hours", "30")
    assert bad.exit_code == 2 and "--min-hr-hours" in bad.output
