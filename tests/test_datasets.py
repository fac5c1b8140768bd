"""The library's face on the embedded default: synthetic cohort → features → classifier."""

import pytest

import sensecf as scf

BEHAVIOURAL = {"sleep", "activity"}


@pytest.fixture(scope="module")
def cohort():
    return scf.datasets.synthetic_cohort(participants=80, days=7, interval_min=10, seed=5)


def test_high_stress_is_learnable_from_behaviour(cohort):
    clf = scf.train(cohort, "rf", seed=0, params={"n_estimators": 150})
    assert clf.metrics_["split"] == "grouped"
    assert clf.metrics_["auroc"] >= 0.80
    top3 = clf.feature_importance_.head(3)
    assert top3["group"].isin(BEHAVIOURAL).sum() >= 2, top3


def test_cohort_is_an_imbalanced_person_day_table(cohort):
    assert cohort.spec.id_columns == ("person_id", "date")
    assert cohort.groups.nunique() >= 70  # a person without wearable files yields no rows
    share = cohort.class_counts()[1] / len(cohort)
    assert 0.15 <= share <= 0.35
    # The one person with v1 sleep files (bouts, no stages) keeps their days, the stage
    # minutes and efficiency empty; every other value is known.
    stages = {"sleep_deep_min", "sleep_light_min", "sleep_rem_min", "sleep_awake_min"}
    gaps = cohort.X.isna()
    assert set(gaps.columns[gaps.any()]) == {*stages, "sleep_efficiency"}
    assert cohort.groups[gaps.any(axis=1)].nunique() == 1
    assert "stress_mean" not in cohort.spec.feature_names


def test_diabetes_target_per_person(tmp_path):
    data = scf.datasets.synthetic_cohort(
        participants=30,
        days=3,
        interval_min=15,
        seed=2,
        unit="person",
        target="diabetes",
        root=tmp_path / "cohort",
    )
    assert (tmp_path / "cohort" / "participants.tsv").is_file()
    assert data.spec.id_columns == ("person_id",)
    assert data.frame["person_id"].is_unique
    assert "study_group" not in data.spec.feature_names
