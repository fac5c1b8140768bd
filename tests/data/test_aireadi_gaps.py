"""Real downloads have gaps: a stream absent for a person, or stopping mid-study, empties only
that stream's features; the rest of each day is read as usual (in every layout)."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from sensecf.data.aireadi import FEATURES, DayRules, extract_features, read_aireadi
from sensecf.data.aireadi.layout import MODALITIES, conventional_path
from sensecf.errors import DataError, SpecError

SPO2 = ("spo2_mean", "spo2_below90_pct")
CGM = tuple(f for f in FEATURES if f.startswith("cgm_"))
GLUCOSE = (100.0, 150.0, 60.0, 200.0)  # the helper's CGM cycle, a reading every 15 minutes


def full_day(age: float, group: float, cycles: int = 24) -> dict[str, float]:
    """A good person's day by hand (see ``AireadiFiles.good_person``), calories and SpO2 aside;
    ``cycles`` of the four glucose values (24 in a whole day of readings every 15 minutes)."""
    readings = list(GLUCOSE) * cycles
    mean = statistics.fmean(readings)
    sd = statistics.stdev(readings)
    return {
        "cgm_mean": mean, "cgm_sd": sd, "cgm_cv": 100 * sd / mean,
        "cgm_tir": 100 * 2 / 4, "cgm_tbr70": 100 * 1 / 4, "cgm_tbr54": 0.0,
        "cgm_tar180": 100 * 1 / 4, "cgm_tar250": 0.0, "cgm_gmi": 3.31 + 0.02392 * mean,
        "hr_mean": 70.0, "hr_resting": 70.0, "hr_sleep": 70.0,
        "sleep_total_min": 120 + 90 + 90 + 150, "sleep_deep_min": 90.0,
        "sleep_light_min": 120 + 150, "sleep_rem_min": 90.0, "sleep_awake_min": 30.0,
        "sleep_efficiency": 100 * 450 / (450 + 30),
        "steps": 3000.0, "active_min": 60.0, "sedentary_min": (12 - 7) * 60 + (23 - 13) * 60,
        "resp_rate_mean": 14.0, "age": age, "study_group": group,
    }  # fmt: skip


def assert_day(row: pd.Series, expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name


def two_people_without_spo2_and_calories(files, layout: str) -> None:
    """Two persons, one day each, every stream but oxygen saturation and calories."""
    people = [
        {"person_id": 1001, "age": 52, "study_group": "healthy"},
        {"person_id": 7002, "age": 67, "study_group": "insulin_dependent"},
    ]
    absent = ("oxygen_saturation", "calorie")
    if layout == "v3":
        files.participants(people)
        for p in people:
            files.good_person(p["person_id"], days=1, stress=30.0, skip=absent)
        # The manifests list every file, and mark the absent ones None.
        files.manifest(
            "wearable_blood_glucose",
            [
                {
                    "person_id": p["person_id"],
                    "glucose_filepath": "/"
                    + conventional_path("", p["person_id"], "cgm").as_posix(),
                }
                for p in people
            ],
        )
        columns = {n: m.manifest_column for n, m in MODALITIES.items() if n != "cgm"}
        files.manifest(
            "wearable_activity_monitor",
            [
                {
                    "person_id": p["person_id"],
                    **{
                        column: "None"
                        if modality in absent
                        else "/" + conventional_path("", p["person_id"], modality).as_posix()
                        for modality, column in columns.items()
                    },
                }
                for p in people
            ],
        )
    else:
        # Before v2: participant_id, no manifests, bodies that are the list itself and
        # timestamps without the T and Z.
        files.participants(people, id_column="participant_id")
        for p in people:
            files.good_person(
                p["person_id"], days=1, stress=30.0, skip=absent, form="body-list", old_format=True
            )


@pytest.mark.parametrize("layout", ["v3", "older"])
def test_absent_spo2_and_calorie_files_empty_only_their_features(aireadi, layout):
    two_people_without_spo2_and_calories(aireadi, layout)
    frame, report = extract_features(aireadi.root)
    assert frame["person_id"].tolist() == [1001, 7002]
    assert frame["date"].tolist() == ["2023-08-01", "2023-08-01"]
    assert report.dropped_rows == {}
    assert sorted(report.missing_files) == [
        (1001, "calorie"),
        (1001, "oxygen_saturation"),
        (7002, "calorie"),
        (7002, "oxygen_saturation"),
    ]
    assert report.missing_by_feature == {"active_kcal": 2, "spo2_mean": 2, "spo2_below90_pct": 2}
    assert frame[["active_kcal", *SPO2]].isna().all().all()
    assert_day(frame.iloc[0], full_day(age=52, group=0))
    assert_day(frame.iloc[1], full_day(age=67, group=3))
    assert frame["stress_mean"].tolist() == [30.0, 30.0]


def test_a_required_absent_stream_drops_its_days_with_a_clear_message(aireadi):
    two_people_without_spo2_and_calories(aireadi, "v3")
    with pytest.raises(DataError, match="missing active_kcal: 2.*require fewer features"):
        read_aireadi(aireadi.root, required=["active_kcal"])
    data = read_aireadi(aireadi.root, features=[f for f in FEATURES if f not in SPO2])
    assert not set(SPO2) & set(data.spec.feature_names)
    assert data.info["missing_by_feature"] == {"active_kcal": 2}
    assert "relations_left_out" not in data.info  # no relation involves SpO2


def test_a_feature_absent_for_everyone_is_named_in_a_warning(aireadi):
    two_people_without_spo2_and_calories(aireadi, "v3")
    data = read_aireadi(aireadi.root)
    assert len(data) == 2
    (warning,) = data.info["report"]["warnings"]
    assert "no values at all for active_kcal, spo2_mean, spo2_below90_pct" in warning


def test_a_cgm_that_stops_mid_study_empties_the_later_days_only(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50}])
    aireadi.good_person(1001, days=3)
    # The sensor stops at 18:00 on day 2: 72 of 96 readings that day, none on day 3.
    stop = pd.Timestamp("2023-08-02 18:00", tz="America/Los_Angeles")
    aireadi.edit(1001, "cgm", lambda r: aireadi.local_time(1001, r) < stop)

    frame, report = extract_features(aireadi.root, rules=DayRules(min_cgm_coverage=0))
    assert frame["date"].tolist() == ["2023-08-01", "2023-08-02", "2023-08-03"]
    expected = full_day(age=50, group=0)
    assert_day(frame.iloc[0], expected)
    # 72 readings are 18 whole cycles of the four values: the same shares and mean as a full
    # day, a slightly larger sample SD.
    assert_day(frame.iloc[1], full_day(age=50, group=0, cycles=18))
    assert frame.iloc[2][list(CGM)].isna().all()
    assert_day(frame.iloc[2], {k: v for k, v in expected.items() if k not in CGM})
    assert report.missing_by_feature == dict.fromkeys(CGM, 1)

    # Under the default CGM rule (70% of the readings) the day without CGM stays, its CGM
    # features empty; day 2 has 75% of its readings and keeps its CGM features.
    frame, report = extract_features(aireadi.root)
    assert frame["date"].tolist() == ["2023-08-01", "2023-08-02", "2023-08-03"]
    assert frame.iloc[2][list(CGM)].isna().all() and frame.iloc[1][list(CGM)].notna().all()
    assert report.dropped_rows == {}
    assert report.emptied_days == {"CGM below 70% of the expected readings": 1}
    assert report.missing_by_feature == dict.fromkeys(CGM, 1)
    assert "  CGM features emptied on 1 day (CGM below 70% of the expected readings)" in (
        report.summary_lines()
    )

    # With the CGM required the day goes, as the rule did before it emptied.
    frame, report = extract_features(aireadi.root, rules=DayRules(require_cgm=True))
    assert frame["date"].tolist() == ["2023-08-01", "2023-08-02"]
    assert report.dropped_rows == {"CGM below 70% of the expected readings": 1}
    assert report.emptied_days == {} and report.missing_by_feature == {}


def test_partial_cgm_coverage_empties_the_cgm_features_not_the_day(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50}])
    aireadi.good_person(1001, days=2)
    # Day 2 has CGM only before noon: 48 of 96 readings (50%).
    noon = pd.Timestamp("2023-08-02 12:00", tz="America/Los_Angeles")
    aireadi.edit(1001, "cgm", lambda r: aireadi.local_time(1001, r) < noon)

    data = read_aireadi(aireadi.root, target="diabetes")
    frame = data.frame.set_index(data.ids["date"])
    assert frame.loc["2023-08-02", list(CGM)].isna().all()
    assert frame.loc["2023-08-01", list(CGM)].notna().all()
    assert frame.loc["2023-08-02", "steps"] == 3000  # the Garmin streams are all there
    assert data.info["emptied_days"] == {"CGM below 70% of the expected readings": 1}
    assert data.info["missing_by_feature"] == dict.fromkeys(CGM, 1)
    # A lower coverage computes them from the half day; requiring them drops the day.
    half = read_aireadi(aireadi.root, target="diabetes", min_cgm_coverage=0.5)
    assert half.frame[list(CGM)].notna().all().all() and half.info["emptied_days"] == {}
    strict = read_aireadi(aireadi.root, target="diabetes", require_cgm=True)
    assert strict.ids["date"].tolist() == ["2023-08-01"]
    assert strict.info["report"]["dropped_rows"] == {"CGM below 70% of the expected readings": 1}
    # Requiring one CGM feature drops the emptied day too, as a missing feature.
    required = read_aireadi(aireadi.root, target="diabetes", required=["cgm_mean"])
    assert required.info["report"]["dropped_rows"] == {"missing cgm_mean": 1}


def test_a_person_mean_is_over_the_days_that_have_the_value(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50}, {"person_id": 1002, "age": 60}])
    aireadi.good_person(1001, days=2, skip=("oxygen_saturation",))
    aireadi.good_person(1002, days=2)
    # 1002 has SpO2 below 90 on the second night only: 0% and 100% of the readings.
    second = pd.Timestamp("2023-08-02", tz="America/Los_Angeles")
    records = aireadi.records(1002, "oxygen_saturation")
    for r in records:
        if aireadi.local_time(1002, r) >= second:
            r["oxygen_saturation"]["value"] = 85.0
    aireadi.write(1002, "oxygen_saturation", records)
    frame, report = extract_features(aireadi.root, unit="person")
    assert np.isnan(frame["spo2_mean"].iloc[0])
    assert frame["spo2_mean"].iloc[1] == pytest.approx((95 + 85) / 2)
    assert frame["spo2_below90_pct"].iloc[1] == pytest.approx(50.0)
    assert report.missing_by_feature == {"spo2_mean": 1, "spo2_below90_pct": 1}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"features": ["spo2_mean", "oxygen"]}, r"features: unknown feature\(s\) \['oxygen'\]"),
        ({"required": ["kcal"]}, r"required: unknown feature\(s\) \['kcal'\].*active_kcal"),
        ({"features": []}, "select at least one"),
        (
            {"features": ["cgm_mean"], "required": ["steps"]},
            r"required feature\(s\) \['steps'\] are not among the selected",
        ),
    ],
)
def test_feature_names_are_checked_before_reading(tmp_path, kwargs, fragment):
    with pytest.raises(SpecError, match=fragment):
        read_aireadi(tmp_path / "not read", **kwargs)


def test_selecting_features_leaves_out_the_relations_a_kept_feature_loses(aireadi):
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, days=1)
    kept = ["cgm_gmi", "sleep_total_min", "sleep_deep_min", "sleep_light_min", "sleep_rem_min"]
    data = read_aireadi(aireadi.root, features=kept, required=["sleep_total_min"])
    assert data.spec.feature_names == kept
    assert data.X.columns.tolist() == kept
    assert data.spec.required_features == ["sleep_total_min"]
    assert [r.name for r in data.spec.relations] == ["total sleep"]
    assert data.info["relations_left_out"] == ["glucose management indicator"]
    assert data.info["day_rules"]["required"] == ["sleep_total_min"]


# ---- through the command line ----------------------------------------------------------------
def sensecf(*args: object):
    from click.testing import CliRunner

    from sensecf.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


RELAXED = (
    "--min-hr-hours",
    0,
    "--min-cgm-coverage",
    0,
    "--no-require-sleep",
    "--no-require-stress",
)


@pytest.mark.parametrize("layout", ["v3", "older"])
def test_features_cli_keeps_days_without_spo2_and_calories(aireadi, tmp_path, layout):
    two_people_without_spo2_and_calories(aireadi, layout)
    out = tmp_path / "features"
    result = sensecf("features", aireadi.root, "--out", out, *RELAXED)
    assert result.exit_code == 0, result.output
    assert "wrote 2 rows of features" in result.output
    assert "active_kcal missing" in result.output and "on 2 of 2 days" in result.output
    frame = pd.read_parquet(out / "features.parquet")
    assert frame[["active_kcal", *SPO2]].isna().all().all()
    assert frame["steps"].tolist() == [3000, 3000]


def test_features_cli_require_and_select(aireadi, tmp_path):
    from sensecf.data.spec import DatasetSpec

    two_people_without_spo2_and_calories(aireadi, "v3")
    result = sensecf("features", aireadi.root, "--out", tmp_path / "a", "--require", "active_kcal")
    assert result.exit_code == 2
    assert "no usable person-days" in result.output and "missing active_kcal: 2" in result.output

    out = tmp_path / "b"
    kept = "cgm_mean,cgm_gmi, steps,active_kcal,age"
    result = sensecf(
        "features", aireadi.root, "--out", out, "--features", kept, "--require", "steps"
    )
    assert result.exit_code == 0, result.output
    spec = DatasetSpec.from_yaml(out / "spec.yaml")
    assert spec.feature_names == ["cgm_mean", "cgm_gmi", "steps", "active_kcal", "age"]
    assert spec.required_features == ["steps"]
    assert "required: true" in (out / "spec.yaml").read_text()
    frame = pd.read_parquet(out / "features.parquet")
    assert frame.columns.tolist() == ["person_id", "date", *spec.feature_names, "high_stress"]

    result = sensecf("features", aireadi.root, "--out", tmp_path / "c", "--features", "spo2,steps")
    assert result.exit_code == 2
    assert "unknown feature(s) ['spo2']" in result.output and "spo2_mean" in result.output


def test_features_cli_empties_cgm_and_sleep_by_default_and_drops_them_when_required(
    aireadi, tmp_path
):
    aireadi.participants([{"person_id": 1001, "age": 50}])
    aireadi.good_person(1001, days=3)
    lt = aireadi.local_time
    # The CGM stops at the end of day 2; the night ending on day 2 has no sleep record.
    stop = pd.Timestamp("2023-08-03 00:00", tz="America/Los_Angeles")
    aireadi.edit(1001, "cgm", lambda r: lt(1001, r) < stop)
    aireadi.edit(1001, "sleep", lambda r: (lt(1001, r) + pd.Timedelta(hours=12)).day != 2)

    result = sensecf("features", aireadi.root, "--out", tmp_path / "a", "--target", "diabetes")
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows of features" in result.output
    assert "CGM features emptied on 1 day (CGM below 70% of the expected readings)" in (
        result.output
    )
    assert "sleep features emptied on 1 day (no sleep record for the night)" in result.output

    result = sensecf(
        "features", aireadi.root, "--out", tmp_path / "b", "--target", "diabetes",
        "--require-cgm", "--require-sleep",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows of features" in result.output
    assert "dropped rows: CGM below 70% of the expected readings" in result.output
    assert "dropped rows: no sleep record for the night" in result.output
    assert "emptied" not in result.output
    assert "--require-cgm / --no-require-cgm" in sensecf("features", "--help").output
