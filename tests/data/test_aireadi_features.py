"""AI-READI features: arithmetic on hand-computed series, day rules, units, targets and spec."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from sensecf.data.aireadi import (
    FEATURES,
    STRESS_COLUMNS,
    DayRules,
    aireadi_spec,
    extract_features,
    read_aireadi,
    timezone_for,
)
from sensecf.data.aireadi.daily import (
    activity_daily,
    calorie_daily,
    cgm_daily,
    day_strings,
    hr_daily,
    hr_sleep_nightly,
    local_day,
    sleep_nightly,
    spo2_nightly,
    stress_daily,
)
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SpecError

LA = "America/Los_Angeles"


def points(local_times, values, tz=LA):
    """A reader-style point frame from local wall-clock times."""
    t = pd.DatetimeIndex(pd.to_datetime(local_times)).tz_localize(tz).tz_convert("UTC")
    return pd.DataFrame({"time": t, "value": np.asarray(values, dtype=float)})


def intervals(rows, tz=LA, kind="stage"):
    """A reader-style interval frame from (local start, local end, label, number) rows."""
    start = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows])).tz_localize(tz)
    end = pd.DatetimeIndex(pd.to_datetime([r[1] for r in rows])).tz_localize(tz)
    frame = pd.DataFrame({"start": start.tz_convert("UTC"), "end": end.tz_convert("UTC")})
    if kind == "stage":
        frame["stage"] = [r[2] for r in rows]
        frame["minutes"] = (frame["end"] - frame["start"]).dt.total_seconds() / 60
    else:
        frame["name"] = [r[2] for r in rows]
        frame["steps"] = [float(r[3]) for r in rows]
    return frame


def dates(frame):
    return day_strings(frame.index.to_numpy()).tolist()


# ---- CGM -------------------------------------------------------------------------------------
def test_cgm_metrics_of_a_known_series():
    values = [50, 54, 65, 70, 100, 180, 190, 250, 260, 120]
    times = pd.date_range("2023-08-01 10:00", periods=len(values), freq="5min")
    day = cgm_daily(points(times, values), LA).iloc[0]
    mean = sum(values) / len(values)
    sd = statistics.stdev(values)
    assert day["cgm_mean"] == pytest.approx(mean)
    assert day["cgm_sd"] == pytest.approx(sd)
    assert day["cgm_cv"] == pytest.approx(100 * sd / mean)
    # 70 and 180 are in range; 54 is not below 54 and 250 is not above 250.
    assert day["cgm_tir"] == pytest.approx(40.0)
    assert day["cgm_tbr70"] == pytest.approx(30.0)
    assert day["cgm_tbr54"] == pytest.approx(10.0)
    assert day["cgm_tar180"] == pytest.approx(30.0)
    assert day["cgm_tar250"] == pytest.approx(10.0)
    assert day["cgm_gmi"] == pytest.approx(3.31 + 0.02392 * mean)
    assert day["cgm_coverage"] == pytest.approx(10 / 288)


def test_cgm_coverage_follows_the_sampling_interval():
    times = pd.date_range("2023-08-01 00:00", periods=96, freq="15min")
    full = cgm_daily(points(times, [100] * 96), LA)
    assert full["cgm_coverage"].tolist() == [1.0]
    part = cgm_daily(points(times[:67], [100] * 67), LA)
    assert part["cgm_coverage"].iloc[0] == pytest.approx(67 / 96)


# ---- heart rate ------------------------------------------------------------------------------
def test_resting_hr_is_the_lowest_30_minute_mean():
    times = pd.date_range("2023-08-01 07:00", periods=120, freq="1min")
    day = hr_daily(points(times, [80] * 60 + [60] * 30 + [90] * 30), LA).iloc[0]
    assert day["hr_resting"] == pytest.approx(60.0)
    assert day["hr_mean"] == pytest.approx((80 * 60 + 60 * 30 + 90 * 30) / 120)


def test_resting_hr_averages_a_short_dip_over_the_window():
    values = [80.0] * 120
    values[50:60] = [50.0] * 10
    times = pd.date_range("2023-08-01 07:00", periods=120, freq="1min")
    day = hr_daily(points(times, values), LA).iloc[0]
    assert day["hr_resting"] == pytest.approx((10 * 50 + 20 * 80) / 30)
    assert day["hr_mean"] == pytest.approx((110 * 80 + 10 * 50) / 120)


def test_resting_hr_ignores_windows_with_too_few_readings():
    times = list(pd.date_range("2023-08-01 07:00", periods=60, freq="1min"))
    times.append(pd.Timestamp("2023-08-01 12:00"))  # a lone low reading
    day = hr_daily(points(times, [75.0] * 60 + [40.0]), LA).iloc[0]
    assert day["hr_resting"] == pytest.approx(75.0)


def test_hr_hours_counts_clock_hours_with_data():
    times = pd.date_range("2023-08-01 00:30", periods=18, freq="1h")
    assert hr_daily(points(times, [70] * 18), LA)["hr_hours"].tolist() == [18.0]


def test_sleeping_hr_uses_non_awake_intervals_of_the_night():
    sleep = intervals(
        [
            ("2023-08-01 23:00", "2023-08-02 01:00", "light"),
            ("2023-08-02 01:00", "2023-08-02 01:30", "awake"),
            ("2023-08-02 01:30", "2023-08-02 03:00", "deep"),
        ]
    )
    times = pd.date_range("2023-08-01 20:00", "2023-08-02 10:00", freq="10min", inclusive="left")
    hours = times.hour + times.minute / 60
    values = np.select(
        [(hours >= 23) | (hours < 1), (hours >= 1) & (hours < 1.5), (hours >= 1.5) & (hours < 3)],
        [60.0, 90.0, 50.0],
        80.0,
    )
    night = hr_sleep_nightly(points(times, values), sleep, LA)
    assert dates(night) == ["2023-08-02"]
    assert night["hr_sleep"].iloc[0] == pytest.approx((12 * 60 + 9 * 50) / 21)


# ---- sleep -----------------------------------------------------------------------------------
def test_sleep_belongs_to_the_night_by_a_noon_to_noon_window():
    sleep = intervals(
        [
            ("2023-08-01 23:30", "2023-08-02 01:00", "light"),  # starts before midnight
            ("2023-08-02 01:00", "2023-08-02 02:00", "deep"),
            ("2023-08-02 02:00", "2023-08-02 02:20", "awake"),
            ("2023-08-02 11:30", "2023-08-02 11:50", "rem"),  # before noon: same night
            ("2023-08-02 14:00", "2023-08-02 14:30", "light"),  # afternoon nap: next night
            ("2023-08-02 15:00", "2023-08-02 15:10", "unknown"),
        ]
    )
    nights = sleep_nightly(sleep, LA)
    assert dates(nights) == ["2023-08-02", "2023-08-03"]
    first, second = nights.iloc[0], nights.iloc[1]
    assert first["sleep_light_min"] == 90 and first["sleep_deep_min"] == 60
    assert first["sleep_rem_min"] == 20 and first["sleep_awake_min"] == 20
    assert first["sleep_total_min"] == 170
    assert first["sleep_efficiency"] == pytest.approx(100 * 170 / 190)
    assert second["sleep_total_min"] == 30 and second["sleep_efficiency"] == 100
    assert second["sleep_records"] == 2


def test_v1_sleep_bouts_give_total_sleep_only():
    sleep = intervals([("2023-08-01 23:00", "2023-08-02 06:00", "bout")])
    sleep["minutes"] = [6.5 * 60]
    night = sleep_nightly(sleep, LA).iloc[0]
    assert night["sleep_total_min"] == 390
    assert np.isnan(night[["sleep_deep_min", "sleep_light_min", "sleep_rem_min"]]).all()
    assert np.isnan(night["sleep_efficiency"])


# ---- activity and calories -------------------------------------------------------------------
def test_activity_daily_steps_active_and_sedentary_minutes():
    act = intervals(
        [
            ("2023-08-01 08:00", "2023-08-01 08:30", "walking", 2500),
            ("2023-08-01 09:00", "2023-08-01 09:10", "", 300),  # blank name, steps: active
            ("2023-08-01 09:10", "2023-08-01 09:20", "generic", 0),  # no steps: not active
            ("2023-08-01 10:00", "2023-08-01 12:00", "sedentary", 0),
            ("2023-08-02 07:00", "2023-08-02 07:05", "running", 900),
        ],
        kind="activity",
    )
    days = activity_daily(act, LA)
    assert dates(days) == ["2023-08-01", "2023-08-02"]
    assert days["steps"].tolist() == [2800, 900]
    assert days["active_min"].tolist() == [40, 5]
    assert days["sedentary_min"].tolist() == [120, 0]


def test_calorie_counter_sums_increments_and_handles_resets_and_midnight():
    times = [
        "2023-08-01 08:00",
        "2023-08-01 10:00",
        "2023-08-01 12:00",
        "2023-08-01 13:00",  # unchanged: +0
        "2023-08-01 14:00",  # dropped from 50 to 5: a reset, counts 5
        "2023-08-01 16:00",
        "2023-08-02 01:00",  # a new day: the counter restarted at midnight, counts 30
        "2023-08-02 09:00",
    ]
    values = [10, 30, 50, 50, 5, 25, 30, 40]
    days = calorie_daily(points(times, values), LA)
    assert dates(days) == ["2023-08-01", "2023-08-02"]
    assert days["active_kcal"].tolist() == [10 + 20 + 20 + 0 + 5 + 20, 30 + 10]


def test_spo2_per_night_and_stress_per_day():
    spo2 = spo2_nightly(points(["2023-08-01 23:00", "2023-08-02 03:00"], [88, 96]), LA)
    assert dates(spo2) == ["2023-08-02"]
    assert spo2.iloc[0].tolist() == [92.0, 50.0]
    stress = stress_daily(points(["2023-08-01 09:00"] * 1 + ["2023-08-01 10:00"], [50, 51]), LA)
    assert stress.iloc[0].tolist() == [50.5, 50.0, 2.0]


# ---- time zones ------------------------------------------------------------------------------
def test_uab_reading_at_0530z_lands_on_the_previous_local_date_in_winter():
    t = pd.to_datetime(["2023-12-05T05:30:00Z"], utc=True)
    assert day_strings(local_day(t, timezone_for(7001))).tolist() == ["2023-12-04"]
    # In summer Central time is UTC-5: 05:30Z is 00:30 the same date.
    t = pd.to_datetime(["2023-08-05T05:30:00Z"], utc=True)
    assert day_strings(local_day(t, timezone_for(7001))).tolist() == ["2023-08-05"]
    # Pacific time is behind by 7 or 8 hours: always the previous date.
    assert day_strings(local_day(t, timezone_for(1001))).tolist() == ["2023-08-04"]


def test_uab_person_days_are_local_dates(aireadi):
    aireadi.participants([{"person_id": 7001}])
    aireadi.good_person(7001, start="2023-12-04", days=2)
    frame, report = extract_features(aireadi.root)
    assert frame["date"].tolist() == ["2023-12-04", "2023-12-05"]
    assert report.dropped_rows == {}


def test_daylight_saving_day_is_kept(aireadi):
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, start="2023-11-04", days=3)  # 2023-11-05 has 25 hours in LA
    frame, _ = extract_features(aireadi.root)
    assert frame["date"].tolist() == ["2023-11-04", "2023-11-05", "2023-11-06"]


# ---- whole folders ---------------------------------------------------------------------------
def test_good_person_features_end_to_end(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 61, "study_group": "insulin_dependent"}])
    aireadi.good_person(1001, days=2, stress=[20, 60], hr=65)
    frame, report = extract_features(aireadi.root)
    assert frame.columns.tolist() == ["person_id", "date", *FEATURES, *STRESS_COLUMNS]
    assert frame["person_id"].dtype == np.int64
    assert frame["date"].tolist() == ["2023-08-01", "2023-08-02"]
    day = frame.iloc[0]
    expected = {
        "cgm_mean": 127.5, "cgm_tir": 50.0, "cgm_tbr70": 25.0, "cgm_tar180": 25.0,
        "cgm_tbr54": 0.0, "cgm_tar250": 0.0,
        "hr_mean": 65.0, "hr_resting": 65.0, "hr_sleep": 65.0,
        "sleep_total_min": 450.0, "sleep_deep_min": 90.0, "sleep_light_min": 270.0,
        "sleep_rem_min": 90.0, "sleep_awake_min": 30.0, "sleep_efficiency": 93.75,
        "steps": 3000.0, "active_min": 60.0, "sedentary_min": 900.0, "active_kcal": 230.0,
        "spo2_mean": 95.0, "spo2_below90_pct": 0.0, "resp_rate_mean": 14.0,
        "age": 61.0, "study_group": 3.0, "stress_mean": 20.0, "stress_high_pct": 0.0,
    }  # fmt: skip
    for name, value in expected.items():
        assert day[name] == pytest.approx(value), name
    assert frame["stress_mean"].tolist() == [20.0, 60.0]
    assert frame["stress_high_pct"].tolist() == [0.0, 100.0]
    assert report.rows == 2 and report.candidate_days == 2


def test_day_rules_drop_and_count_each_day_once(aireadi):
    people = [{"person_id": pid} for pid in range(1001, 1007)]
    aireadi.participants(people)
    for p in people:
        aireadi.good_person(
            p["person_id"], days=3, skip=("oxygen_saturation",) * (p["person_id"] == 1005)
        )
    lt = aireadi.local_time

    def on(pid, record, date):
        return lt(pid, record).strftime("%Y-%m-%d") == date

    # 1001: half of Aug 2's CGM readings, and too few HR hours that day (counted as CGM only).
    aireadi.edit(
        1001, "cgm", lambda r: not on(1001, r, "2023-08-02") or lt(1001, r).minute in (0, 30)
    )
    aireadi.edit(
        1001, "heart_rate", lambda r: not on(1001, r, "2023-08-02") or lt(1001, r).hour >= 8
    )
    # 1002: HR on Aug 1 only from 08:00 (16 hours).
    aireadi.edit(
        1002, "heart_rate", lambda r: not on(1002, r, "2023-08-01") or lt(1002, r).hour >= 8
    )
    # 1003: no sleep record for the night ending on Aug 3.
    night = lambda r: (lt(1003, r) + pd.Timedelta(hours=12)).strftime("%Y-%m-%d")  # noqa: E731
    aireadi.edit(1003, "sleep", lambda r: night(r) != "2023-08-03")
    # 1004: only sentinel stress values on Aug 2.
    aireadi.edit(
        1004, "stress", lambda r: not on(1004, r, "2023-08-02") or r["stress"]["value"] < 0
    )
    # 1006: v1 sleep bouts (no stage minutes).
    bouts = []
    for day in ("2023-08-01", "2023-08-02", "2023-08-03"):
        wake = pd.Timestamp(f"{day} 07:00", tz=LA)
        s, e = aireadi.utc_strings(pd.DatetimeIndex([wake - pd.Timedelta(hours=8), wake]))
        bouts.append(aireadi.sleep_bout(s, e, 7.5))
    aireadi.write(1006, "sleep", bouts)

    # The CGM and sleep rules drop here (they empty by default, see below).
    strict = DayRules(require_cgm=True, require_sleep=True)
    frame, report = extract_features(aireadi.root, rules=strict)
    assert report.candidate_days == 18
    quality = {
        "CGM below 70% of the expected readings": 1,
        "heart rate in fewer than 18 hours": 1,
        "no sleep record for the night": 1,
        "no valid stress values": 1,
    }
    assert report.dropped_rows == quality
    kept = frame.groupby("person_id")["date"].apply(list).to_dict()
    every = ["2023-08-01", "2023-08-02", "2023-08-03"]
    assert kept == {
        1001: ["2023-08-01", "2023-08-03"],
        1002: ["2023-08-02", "2023-08-03"],
        1003: ["2023-08-01", "2023-08-02"],
        1004: ["2023-08-01", "2023-08-03"],
        1005: every,
        1006: every,
    }
    # Without SpO2 (1005) or sleep stages (1006) the days stay, those features empty.
    stages = ["sleep_deep_min", "sleep_light_min", "sleep_rem_min", "sleep_awake_min"]
    assert report.missing_by_feature == {
        **dict.fromkeys(stages, 3),
        "sleep_efficiency": 3,
        "spo2_mean": 3,
        "spo2_below90_pct": 3,
    }
    by_person = frame.set_index("person_id")
    assert by_person.loc[1005, "spo2_mean"].isna().all()
    assert by_person.loc[1006, stages].isna().all().all()
    assert by_person.loc[1006, "sleep_total_min"].tolist() == [450.0] * 3
    assert not frame[frame["person_id"] <= 1004][list(FEATURES)].isna().any().any()
    # Required features drop the days without them, counted as before.
    _, report = extract_features(
        aireadi.root,
        rules=DayRules(
            require_cgm=True, require_sleep=True, required=("spo2_mean", "sleep_deep_min")
        ),
    )
    assert report.dropped_rows == {
        **quality,
        "missing spo2_mean": 3,
        "missing sleep_deep_min": 3,
    }
    # By default 1001's Aug 2 falls to its heart-rate hours instead, and 1003's Aug 3 stays
    # with its night-time features empty.
    frame, report = extract_features(aireadi.root)
    assert report.dropped_rows == {
        "heart rate in fewer than 18 hours": 2,
        "no valid stress values": 1,
    }
    assert report.emptied_days == {"no sleep record for the night": 1}
    aug3 = frame[(frame["person_id"] == 1003) & (frame["date"] == "2023-08-03")].iloc[0]
    assert aug3[["hr_sleep", "sleep_total_min", "sleep_efficiency"]].isna().all()
    assert aug3["cgm_mean"] > 0 and aug3["steps"] > 0


def test_unit_person_averages_kept_days(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50}, {"person_id": 1002, "age": 70}])
    aireadi.good_person(1001, days=3, stress=[10, 20, 60])
    aireadi.good_person(1002, days=2, stress=30, hr=80)
    frame, report = extract_features(aireadi.root, unit="person")
    assert frame.columns.tolist() == ["person_id", *FEATURES, *STRESS_COLUMNS]
    assert frame["person_id"].tolist() == [1001, 1002]
    assert frame["stress_mean"].tolist() == pytest.approx([30.0, 30.0])
    assert frame["stress_high_pct"].tolist() == pytest.approx([100 / 3, 0.0])
    assert frame["hr_mean"].tolist() == pytest.approx([70.0, 80.0])
    assert frame["age"].tolist() == [50.0, 70.0]
    assert report.rows == 2 and report.unit == "person"
    data = read_aireadi(aireadi.root, unit="person")
    assert data.spec.id_columns == ("person_id",)
    assert data.ids.columns.tolist() == ["person_id"]


@pytest.fixture
def four_people(aireadi):
    groups = ["healthy", "pre_diabetes_lifestyle_controlled",
              "oral_medication_and_or_non_insulin_injectable_medication_controlled",
              "insulin_dependent"]  # fmt: skip
    people = [
        {"person_id": 1001 + i, "study_group": g, "stress": 10.0 * (i + 1), "days": 2}
        for i, g in enumerate(groups)
    ]
    aireadi.cohort(people)
    return aireadi.root


def test_high_stress_target_from_the_cohort_quantile(four_people):
    data = read_aireadi(four_people)
    # Daily stress means 10,10,20,20,30,30,40,40: the 75% quantile is 32.5.
    assert data.info["stress_threshold"] == pytest.approx(32.5)
    assert data.y.tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    assert data.spec.classes == {0: "not high stress", 1: "high stress"}
    assert data.spec.desired_class == 0
    assert data.spec.id_columns == ("person_id", "date")
    assert data.spec.group_column == "person_id"
    assert data.ids["date"].tolist()[:2] == ["2023-08-01", "2023-08-02"]
    assert data.info["report"]["rows"] == 8
    assert "32.50" in data.spec.description
    assert not set(STRESS_COLUMNS) & set(data.spec.feature_names)
    assert "study_group" in data.spec.feature_names


def test_high_stress_target_with_a_fixed_threshold(four_people):
    data = read_aireadi(four_people, stress_threshold=15)
    assert data.info["stress_threshold"] == 15
    assert data.y.tolist() == [0, 0, 1, 1, 1, 1, 1, 1]


def test_diabetes_target_counts_prediabetes_and_drops_study_group(four_people):
    data = read_aireadi(four_people, target="diabetes")
    assert data.y.tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert data.spec.classes == {0: "no diabetes", 1: "diabetes"}
    assert data.spec.desired_class == 0
    assert "study_group" not in data.spec.feature_names
    assert "prediabetes" in data.spec.description
    assert data.info["stress_threshold"] is None
    assert not set(STRESS_COLUMNS) & set(data.spec.feature_names)


def test_parallel_workers_give_the_same_rows(four_people):
    serial, _ = extract_features(four_people, workers=1)
    parallel, report = extract_features(four_people, workers=2, progress=True)
    pd.testing.assert_frame_equal(serial, parallel)
    assert report.files_read == 32


def test_no_usable_rows_is_a_data_error(aireadi):
    aireadi.participants([{"person_id": 1001}])
    with pytest.raises(DataError, match="no usable person-days"):
        read_aireadi(aireadi.root)


def test_bad_options_are_spec_errors(aireadi):
    with pytest.raises(SpecError, match="unit"):
        aireadi_spec(unit="week")
    with pytest.raises(SpecError, match="target"):
        aireadi_spec(target="mood")
    with pytest.raises(SpecError, match="stress_quantile"):
        read_aireadi(aireadi.root, stress_quantile=1.5)


# ---- the shipped spec ------------------------------------------------------------------------
def test_shipped_spec_is_valid_and_names_the_extracted_columns(aireadi):
    spec = aireadi_spec()
    assert spec.feature_names == list(FEATURES)
    assert DatasetSpec.from_yaml(spec.to_yaml()) == spec
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, days=1)
    frame, _ = extract_features(aireadi.root)
    assert set(frame.columns) == {"person_id", "date", *spec.feature_names, *STRESS_COLUMNS}
    frame["high_stress"] = 0
    spec.validate_frame(frame)
    for f in spec.features:
        assert f.description and f.group in {
            "glucose", "cardio", "sleep", "activity", "respiratory", "demographic", "clinical",
        }  # fmt: skip


def test_shipped_spec_bounds_and_directions():
    spec = aireadi_spec()
    f = spec.feature
    assert f("cgm_mean").bounds == (40, 400)
    assert f("steps").bounds == (0, 50000) and f("steps").kind == "integer"
    assert f("sleep_total_min").bounds == (0, 960)
    assert f("cgm_gmi").step == 0.01 and f("steps").step == 1 and f("hr_resting").step == 0.1
    expected = {
        "sleep_total_min": "increase", "sleep_deep_min": "increase", "sleep_rem_min": "increase",
        "sleep_efficiency": "increase", "sleep_awake_min": "decrease", "sleep_light_min": "both",
        "steps": "increase", "active_min": "increase", "active_kcal": "increase",
        "sedentary_min": "decrease", "cgm_tir": "increase",
        "spo2_mean": "fixed", "spo2_below90_pct": "fixed", "resp_rate_mean": "fixed",
        "age": "fixed", "study_group": "fixed",
    }  # fmt: skip
    for name, direction in expected.items():
        assert f(name).mutability == direction, name
    for name in FEATURES:
        if name.startswith(("cgm_", "hr_")) and name != "cgm_tir":
            assert f(name).mutability == "decrease", name
    group = f("study_group")
    assert group.kind == "categorical" and group.levels == (0, 1, 2, 3)
    assert group.level_names[0] == "healthy"


def test_features_are_the_modality_summaries_less_quality_measures_then_person_columns():
    from sensecf.data.aireadi.daily import PERSON_COLUMNS, QUALITY_COLUMNS, person_days

    modalities = (
        "cgm",
        "heart_rate",
        "sleep",
        "physical_activity",
        "calorie",
        "oxygen_saturation",
        "respiratory_rate",
        "stress",
    )
    columns = person_days({m: pd.DataFrame() for m in modalities}, "UTC").columns
    summaries = [c for c in columns if c not in (*QUALITY_COLUMNS, *STRESS_COLUMNS)]
    assert (*summaries, *PERSON_COLUMNS) == FEATURES


# ---- day rules as options -------------------------------------------------------------------------
@pytest.fixture
def short_recordings(aireadi):
    """Two people who wore the devices half of each day (CGM and heart rate 00:00-12:00)."""
    aireadi.participants([{"person_id": 1001, "age": 50}, {"person_id": 1002, "age": 60}])
    for pid in (1001, 1002):
        aireadi.good_person(pid, days=2)
        for modality in ("cgm", "heart_rate"):
            aireadi.edit(pid, modality, lambda r, p=pid: aireadi.local_time(p, r).hour < 12)
    return aireadi


def test_short_recordings_fail_under_the_default_rules_with_a_clear_message(short_recordings):
    with pytest.raises(DataError) as err:
        read_aireadi(short_recordings.root)
    message = str(err.value)
    assert "no usable person-days" in message
    # Half a day of heart rate drops the day; its half-day CGM would only have been emptied.
    assert "heart rate in fewer than 18 hours: 4" in message
    assert "--min-cgm-coverage" in message and "min_hr_hours" in message


def test_relaxed_rules_keep_short_recordings_and_are_recorded(short_recordings):
    data = read_aireadi(short_recordings.root, min_cgm_coverage=0.4, min_hr_hours=12)
    assert len(data) == 4
    assert data.info["day_rules"] == {
        "min_cgm_coverage": 0.4,
        "min_hr_hours": 12,
        "require_sleep": False,
        "require_stress": True,
        "required": [],
        "require_cgm": False,
    }
    # Features come from what is there: 12 hours of readings, the same values as a full day.
    assert data.frame["hr_mean"].tolist() == pytest.approx([70.0] * 4)
    assert data.frame["cgm_tir"].tolist() == pytest.approx([50.0] * 4)
    # Between the defaults and zero: each rule counts its own drops, worded with its value.
    _, report = extract_features(
        short_recordings.root, rules=DayRules(min_cgm_coverage=0.4, min_hr_hours=13)
    )
    assert report.dropped_rows == {"heart rate in fewer than 13 hours": 4}
    # Half the CGM readings: under the default coverage the CGM features are emptied...
    data = read_aireadi(short_recordings.root, min_hr_hours=12)
    assert len(data) == 4 and data.frame["cgm_mean"].isna().all()
    assert data.frame["hr_mean"].notna().all()
    assert data.info["emptied_days"] == {"CGM below 70% of the expected readings": 4}
    # ...and with the CGM required, the days are dropped.
    with pytest.raises(DataError, match="CGM below 70% of the expected readings: 4"):
        read_aireadi(short_recordings.root, min_hr_hours=12, require_cgm=True)
    everything, _ = extract_features(
        short_recordings.root, rules=DayRules(min_cgm_coverage=0, min_hr_hours=0)
    )
    assert len(everything) == 4


def test_without_sleep_required_a_night_without_a_record_has_empty_sleep_features(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50}])
    aireadi.good_person(1001, days=3)
    lt = aireadi.local_time
    # No sleep record for the night ending on Aug 2 (the other two nights are whole).
    aireadi.edit(1001, "sleep", lambda r: (lt(1001, r) + pd.Timedelta(hours=12)).day != 2)
    night = ["hr_sleep", "sleep_total_min", "sleep_deep_min", "sleep_light_min",
             "sleep_rem_min", "sleep_awake_min", "sleep_efficiency"]  # fmt: skip
    data = read_aireadi(aireadi.root, require_sleep=True)
    assert data.ids["date"].tolist() == ["2023-08-01", "2023-08-03"]
    assert data.info["report"]["dropped_rows"] == {"no sleep record for the night": 1}
    assert data.info["emptied_days"] == {}
    relaxed = read_aireadi(aireadi.root)  # the default keeps the day
    assert relaxed.ids["date"].tolist() == ["2023-08-01", "2023-08-02", "2023-08-03"]
    assert set(night) <= set(relaxed.spec.feature_names)
    frame = relaxed.frame.set_index(relaxed.ids["date"])
    assert frame.loc["2023-08-02", night].isna().all()
    assert frame.loc["2023-08-01", night].tolist() == [70.0, 450, 90, 270, 90, 30, 93.75]
    assert frame.loc["2023-08-02", "steps"] == 3000  # the day's own streams are all there
    assert relaxed.info["missing_by_feature"] == dict.fromkeys(night, 1)
    assert relaxed.info["day_rules"]["require_sleep"] is False
    assert relaxed.info["emptied_days"] == {"no sleep record for the night": 1}
    assert relaxed.info["report"]["dropped_rows"] == {}


def test_without_stress_a_row_is_kept_only_when_the_target_does_not_need_it(aireadi):
    aireadi.participants([{"person_id": 1001, "age": 50, "study_group": "healthy"}])
    aireadi.good_person(1001, days=2, skip=("stress",))
    kept = read_aireadi(aireadi.root, target="diabetes", require_stress=False)
    assert len(kept) == 2 and kept.info["day_rules"]["require_stress"] is False
    with pytest.raises(DataError, match="the high_stress target needs them"):
        read_aireadi(aireadi.root, require_stress=False)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"min_cgm_coverage": 1.5}, "min_cgm_coverage must be a share from 0 to 1"),
        ({"min_hr_hours": 30}, "min_hr_hours must be a number of hours from 0 to 24"),
        ({"require_sleep": "no"}, "require_sleep must be True or False"),
    ],
)
def test_day_rules_are_checked(kwargs, fragment):
    with pytest.raises(SpecError, match=fragment):
        DayRules(**kwargs)
