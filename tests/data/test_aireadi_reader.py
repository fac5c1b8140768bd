"""The AI-READI reader survives every quirk of the published files (one test per quirk)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from sensecf.data.aireadi import (
    DayRules,
    Layout,
    ReadReport,
    extract_features,
    read_participants,
)
from sensecf.data.aireadi.layout import conventional_path, timezone_for
from sensecf.data.aireadi.reader import parse_utc, read_modality
from sensecf.errors import DataError

T0 = "2023-08-08T21:15:00Z"
T1 = "2023-08-08T21:20:00Z"
T2 = "2023-08-08T21:25:00Z"
T3 = "2023-08-08T21:30:00Z"


def read(files, pid, modality, records, **kw):
    path = files.write(pid, modality, records, **kw)
    skipped: Counter = Counter()
    return read_modality(path, modality, skipped), skipped


# ---- participants ----------------------------------------------------------------------------
def test_participants_study_groups_map_to_ordered_severity(aireadi):
    groups = [
        "healthy",
        "pre_diabetes_lifestyle_controlled",
        "oral_medication_and_or_non_insulin_injectable_medication_controlled",
        "insulin_dependent",
    ]
    aireadi.participants(
        [{"person_id": 1001 + i, "study_group": g, "age": 50 + i} for i, g in enumerate(groups)]
    )
    table, warnings = read_participants(aireadi.root)
    assert table["person_id"].tolist() == [1001, 1002, 1003, 1004]
    assert table["study_group"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert table["age"].tolist() == [50.0, 51.0, 52.0, 53.0]
    assert warnings == []


def test_participants_accepts_participant_id_column(aireadi):
    aireadi.participants([{"person_id": 7001}, {"person_id": 1002}], id_column="participant_id")
    table, _ = read_participants(aireadi.root)
    assert table["person_id"].tolist() == [1002, 7001]


def test_unknown_study_group_is_nan_with_a_warning(aireadi):
    aireadi.participants([{"person_id": 1001, "study_group": "martian"}, {"person_id": 1002}])
    table, warnings = read_participants(aireadi.root)
    assert table["study_group"].isna().tolist() == [True, False]
    assert "martian" in warnings[0]


def test_missing_root_is_a_data_error_naming_the_path(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(DataError, match="no_such_folder"):
        extract_features(missing)


def test_missing_participants_file_is_a_data_error(aireadi):
    with pytest.raises(DataError, match=r"participants file not found: .*participants\.tsv"):
        extract_features(aireadi.root)


@pytest.mark.parametrize(
    "content",
    [
        b"person_id,study_group,age\n1001,healthy,50\n",  # comma-separated, not tab
        b"\x00\x01\x02garbage\xff\xfe",
        b"person_id\tage\nabc\t50\nxyz\t51\n",  # no readable id at all
    ],
)
def test_garbled_participants_file_is_a_data_error(aireadi, content):
    (aireadi.root / "participants.tsv").write_bytes(content)
    with pytest.raises(DataError, match="participants"):
        read_participants(aireadi.root)


# ---- layout and manifests --------------------------------------------------------------------
def test_manifest_paths_are_relative_to_root_and_none_means_absent(aireadi):
    aireadi.participants([{"person_id": 1001}])
    elsewhere = aireadi.root / "moved" / "hr.json"
    aireadi.write(1001, "heart_rate", [aireadi.point("heart_rate", T0, 70)], path=elsewhere)
    aireadi.write(1001, "stress", [aireadi.point("stress", T0, 20)])  # present, but listed None
    aireadi.manifest(
        "wearable_activity_monitor",
        [
            {
                "person_id": 1001,
                "heart_rate_filepath": "/moved/hr.json",
                "stress_filepath": "None",
            }
        ],
    )
    layout = Layout(aireadi.root)
    assert layout.path(1001, "heart_rate") == elsewhere
    assert layout.path(1001, "stress") is None
    # Columns the manifest lacks fall back to the conventional path.
    assert layout.path(1001, "sleep") == conventional_path(aireadi.root, 1001, "sleep")
    _, report = extract_features(aireadi.root)
    assert (1001, "stress") in report.missing_files
    assert (1001, "heart_rate") not in report.missing_files


def test_missing_manifest_uses_conventional_paths(aireadi):
    path = aireadi.write(1001, "cgm", [aireadi.cgm(T0, 120)])
    assert Layout(aireadi.root).path(1001, "cgm") == path


def test_legacy_calorie_folder_is_found(aireadi):
    legacy = (
        aireadi.root
        / "wearable_activity_monitor/physical_activity_cal/garmin_vivosmart5/1001/1001_calorie.json"
    )
    aireadi.write(1001, "calorie", [aireadi.calorie(T0, 5)], path=legacy)
    assert Layout(aireadi.root).path(1001, "calorie") == legacy


def test_missing_file_is_counted_not_fatal(aireadi):
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, days=2, skip=("sleep",))
    frame, report = extract_features(aireadi.root)
    assert report.missing_files == [(1001, "sleep")]
    assert report.files_read == 7
    # Without a sleep file the days stay, their night-time features empty.
    assert len(frame) == 2 and frame["sleep_total_min"].isna().all()
    assert report.dropped_rows == {}
    assert report.emptied_days == {"no sleep record for the night": 2}
    strict, report = extract_features(aireadi.root, rules=DayRules(require_sleep=True))
    assert strict.empty
    assert report.dropped_rows == {"no sleep record for the night": 2}


def test_site_time_zones():
    assert timezone_for(7060) == "America/Chicago"
    assert timezone_for("1001") == "America/Los_Angeles"
    assert timezone_for(4038) == "America/Los_Angeles"


# ---- CGM -------------------------------------------------------------------------------------
def test_cgm_low_high_words_and_duplicate_timestamps(aireadi):
    records = [
        aireadi.cgm(T0, "Low"),
        aireadi.cgm(T1, 120),
        aireadi.cgm(T1, 121),  # duplicate timestamp: the first is kept
        aireadi.cgm(T2, "High"),
    ]
    frame, skipped = read(aireadi, 1001, "cgm", records)
    assert frame["value"].tolist() == [40.0, 120.0, 400.0]
    assert skipped == {"cgm: duplicate timestamp": 1}


def test_cgm_pre_v2_body_is_the_list_and_header_quirks_are_ignored(aireadi):
    header = {"acquistion_rate": 5, "patient_id": "AIREADI-1001", "extra": {"x": 1}}
    frame, skipped = read(
        aireadi,
        1001,
        "cgm",
        [aireadi.cgm(T0, 100), aireadi.cgm(T1, 110)],
        form="body-list",
        header=header,
    )
    assert frame["value"].tolist() == [100.0, 110.0]
    assert not skipped


def test_garmin_header_with_user_id(aireadi):
    frame, _ = read(
        aireadi,
        1001,
        "heart_rate",
        [aireadi.point("heart_rate", T0, 70)],
        header={"user_id": "AIREADI-1001", "new_key": True},
    )
    assert frame["value"].tolist() == [70.0]


# ---- sentinels -------------------------------------------------------------------------------
def test_heart_rate_zero_is_masked(aireadi):
    recs = [aireadi.point("heart_rate", T0, 0), aireadi.point("heart_rate", T1, 72)]
    frame, skipped = read(aireadi, 1001, "heart_rate", recs)
    assert frame["value"].tolist() == [72.0]
    assert skipped == {"heart_rate: sentinel masked": 1}


@pytest.mark.parametrize("modality", ["stress", "respiratory_rate"])
def test_minus_one_and_minus_two_are_masked(aireadi, modality):
    recs = [
        aireadi.point(modality, T0, -1),
        aireadi.point(modality, T1, -2),
        aireadi.point(modality, T2, 12.5),
    ]
    frame, skipped = read(aireadi, 1001, modality, recs)
    assert frame["value"].tolist() == [12.5]
    assert skipped == {f"{modality}: sentinel masked": 2}


# ---- sleep -----------------------------------------------------------------------------------
@pytest.mark.parametrize("frame_key", ["effective_time_frame", "sleep_stage_time_frame"])
def test_sleep_accepts_both_time_frame_keys(aireadi, frame_key):
    recs = [aireadi.sleep(T0, T1, "LIGHT", frame_key), aireadi.sleep(T1, T3, "deep", frame_key)]
    frame, skipped = read(aireadi, 1001, "sleep", recs)
    assert frame["stage"].tolist() == ["light", "deep"]
    assert frame["minutes"].tolist() == [5.0, 10.0]
    assert not skipped


def test_sleep_v1_bout_form_gives_duration_in_minutes(aireadi):
    recs = [aireadi.sleep_bout("2023-08-08T06:00:00Z", "2023-08-08T10:00:00Z", 3.77)]
    frame, _ = read(aireadi, 1001, "sleep", recs)
    assert frame["stage"].tolist() == ["bout"]
    assert frame["minutes"].iloc[0] == pytest.approx(226.2)


# ---- activity --------------------------------------------------------------------------------
def test_activity_step_values_int_string_and_blank(aireadi):
    recs = [
        aireadi.activity(T0, T1, 70, "walking"),
        aireadi.activity(T1, T2, "85", "running"),
        aireadi.activity(T2, T3, "", "sedentary"),
        aireadi.activity(T0, T1, 10, ""),
    ]
    frame, skipped = read(aireadi, 1001, "physical_activity", recs)
    assert sorted(frame["steps"].tolist()) == [0.0, 10.0, 70.0, 85.0]
    assert sorted(frame["name"].tolist()) == ["", "running", "sedentary", "walking"]
    assert not skipped


def test_zero_length_and_over_24h_intervals_are_skipped_and_counted(aireadi):
    recs = [
        aireadi.activity(T0, T0, 50),
        aireadi.activity(T0, "2023-08-10T21:15:00Z", 50),
        aireadi.activity(T0, T1, 50),
    ]
    frame, skipped = read(aireadi, 1001, "physical_activity", recs)
    assert len(frame) == 1
    assert skipped == {
        "physical_activity: zero-length interval": 1,
        "physical_activity: interval over 24 h": 1,
    }
    frame, skipped = read(aireadi, 1001, "sleep", [aireadi.sleep(T0, T0, "deep")])
    assert frame.empty and skipped == {"sleep: zero-length interval": 1}


# ---- calories --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["calories_value", "duration"])
def test_calorie_value_key_current_and_old(aireadi, key):
    recs = [aireadi.calorie(T0, 5, key), aireadi.calorie(T1, 9, key)]
    frame, skipped = read(aireadi, 1001, "calorie", recs)
    assert frame["value"].tolist() == [5.0, 9.0]
    assert not skipped


# ---- timestamps and files --------------------------------------------------------------------
def test_timestamps_current_and_old_format_are_both_utc():
    got = parse_utc(["2023-08-08T21:15:10Z", "2023-08-08 21:15:10"])
    assert got[0] == got[1] == pd.Timestamp("2023-08-08 21:15:10", tz="UTC")


def test_old_timestamp_format_in_a_file(aireadi):
    recs = [aireadi.point("stress", "2023-08-08 21:15:00", 30)]
    frame, _ = read(aireadi, 1001, "stress", recs)
    assert frame["time"].iloc[0] == pd.Timestamp(T0)


@pytest.mark.parametrize("form", ["list", "v2"])
def test_empty_list_file_means_no_data(aireadi, form):
    frame, skipped = read(aireadi, 1001, "stress", [], form=form)
    assert frame is not None and frame.empty
    assert not skipped


def test_malformed_json_is_skipped_and_counted(aireadi):
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, days=1)
    bad = aireadi.write(1001, "respiratory_rate", raw='{"header": {}, "body": {"breathing": [')
    frame, report = extract_features(aireadi.root)
    assert report.skipped_records["respiratory_rate: file unreadable"] == 1
    assert report.unreadable_files == [str(bad)]
    assert report.files_read == 7
    # resp_rate_mean is unknown: the day stays, that feature empty.
    assert len(frame) == 1 and pd.isna(frame["resp_rate_mean"].iloc[0])
    assert report.missing_by_feature == {"resp_rate_mean": 1}
    assert report.dropped_rows == {}


def test_bad_records_are_skipped_and_counted_by_reason(aireadi):
    recs = [
        aireadi.point("heart_rate", T0, 70),
        {"effective_time_frame": {"date_time": T1}},  # no value object
        aireadi.point("heart_rate", T2, "fast"),  # non-numeric
        aireadi.point("heart_rate", T3, None),  # null value
        {"heart_rate": {"value": 80}},  # no time
        aireadi.point("heart_rate", "yesterday", 75),  # bad timestamp
        "not a record",
        aireadi.point("heart_rate", "2023-08-08T21:35:00Z", "74"),  # a numeric string is fine
    ]
    frame, skipped = read(aireadi, 1001, "heart_rate", recs)
    assert frame["value"].tolist() == [70.0, 74.0]
    assert skipped == {
        "heart_rate: missing value": 2,
        "heart_rate: non-numeric value": 1,
        "heart_rate: missing time": 1,
        "heart_rate: bad timestamp": 1,
        "heart_rate: record not an object": 1,
    }


def test_report_to_dict_and_summary(aireadi):
    aireadi.participants([{"person_id": 1001}])
    aireadi.good_person(1001, days=2)
    _, report = extract_features(aireadi.root)
    assert isinstance(report, ReadReport)
    data = report.to_dict()
    assert data["persons"] == 1 and data["files_read"] == 8 and data["rows"] == 2
    assert data["skipped_records"] == {"stress: sentinel masked": 96}
    lines = report.summary_lines()
    assert lines[0].startswith("read 1 persons")
    assert any("stress: sentinel masked" in line for line in lines)
