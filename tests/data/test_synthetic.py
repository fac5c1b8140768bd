"""The synthetic cohort: config checks, layout, determinism, quirks, and behavioural structure."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from sensecf.data.synthetic import (
    QUIRK_KEYS,
    CohortConfig,
    SyntheticCohort,
    write_synthetic_cohort,
)
from sensecf.data.synthetic.physiology import (
    day_truth,
    draw_traits,
    make_clock,
    measure,
    simulate_person,
)
from sensecf.errors import DataError

GARMIN_COLUMNS = [
    "heart_rate_filepath",
    "oxygen_saturation_filepath",
    "physical_activity_filepath",
    "physical_activity_calorie_filepath",
    "respiratory_rate_filepath",
    "sleep_filepath",
    "stress_filepath",
]
BODY_KEYS = {
    "heart_rate_filepath": "heart_rate",
    "oxygen_saturation_filepath": "breathing",
    "physical_activity_filepath": "activity",
    "physical_activity_calorie_filepath": "activity",
    "respiratory_rate_filepath": "breathing",
    "sleep_filepath": "sleep",
    "stress_filepath": "stress",
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
OLD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    """6 persons x 3 days at 15 minutes: the everyday small cohort."""
    out = tmp_path_factory.mktemp("small")
    return write_synthetic_cohort(out, CohortConfig(participants=6, days=3, interval_min=15))


@pytest.fixture(scope="module")
def quirky(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    """20 persons x 2 days at 30 minutes: every one-off quirk slot is filled."""
    out = tmp_path_factory.mktemp("quirky")
    return write_synthetic_cohort(
        out, CohortConfig(participants=20, days=2, interval_min=30, seed=3)
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    out = tmp_path_factory.mktemp("clean")
    return write_synthetic_cohort(
        out, CohortConfig(participants=20, days=2, interval_min=30, seed=3, quirks=False)
    )


@pytest.fixture(scope="module")
def cohort_days(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A cohort large enough for the behavioural statistics (~1-2 s to generate)."""
    out = tmp_path_factory.mktemp("stats")
    config = CohortConfig(participants=90, days=6, interval_min=30, seed=11)
    return write_synthetic_cohort(out, config).days


def _load(root: Path, rel: str) -> dict:
    return json.loads((root / rel.lstrip("/")).read_text())


def _manifest(root: Path, datatype: str) -> pd.DataFrame:
    return pd.read_csv(root / datatype / "manifest.tsv", sep="\t", dtype=str, keep_default_na=False)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _utc(text: str) -> datetime:
    text = text.replace(" ", "T").rstrip("Z")
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _frame(record: dict) -> dict:
    """A sleep record's time interval, under either documented key."""
    frame = record.get("effective_time_frame") or record["sleep_stage_time_frame"]
    return frame["time_interval"]


def _tz(pid: int | str) -> ZoneInfo:
    return ZoneInfo("America/Chicago" if str(pid).startswith("7") else "America/Los_Angeles")


# ---- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"participants": -3}, "participants must be a positive integer; got -3"),
        ({"participants": 0}, "participants must be a positive integer; got 0"),
        ({"participants": 2.5}, "participants must be a positive integer; got 2.5"),
        ({"participants": True}, "participants must be a positive integer; got True"),
        ({"participants": "5"}, "participants must be a positive integer; got '5'"),
        ({"participants": 5000}, "participants must be at most 2997; got 5000"),
        ({"days": 0}, "days must be a positive integer; got 0"),
        ({"interval_min": 7}, "interval_min must divide 60"),
        ({"interval_min": 0}, "interval_min must be a positive integer; got 0"),
        ({"seed": -1}, "seed must be a non-negative integer; got -1"),
        ({"quirks": "yes"}, "quirks must be True or False; got 'yes'"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CohortConfig(**kwargs)


def test_config_accepts_numpy_integers() -> None:
    config = CohortConfig(participants=np.int64(4), seed=np.uint32(7))
    assert config.participants == 4 and type(config.participants) is int
    assert config.seed == 7


def test_writer_rejects_wrong_config_and_file_target(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="CohortConfig"):
        write_synthetic_cohort(tmp_path, {"participants": 3})  # type: ignore[arg-type]
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        write_synthetic_cohort(target, CohortConfig(participants=1, days=1))


# ---- determinism ----------------------------------------------------------------------------
def test_same_config_gives_byte_identical_files(tmp_path: Path) -> None:
    config = CohortConfig(participants=4, days=2, interval_min=30, seed=5)
    a = write_synthetic_cohort(tmp_path / "a", config)
    b = write_synthetic_cohort(tmp_path / "b", config)
    ha, hb = _hashes(a.root), _hashes(b.root)
    assert ha == hb and len(ha) > 30
    pd.testing.assert_frame_equal(a.days, b.days)
    assert a.quirks == b.quirks
    c = write_synthetic_cohort(tmp_path / "c", dataclasses.replace(config, seed=6))
    assert _hashes(c.root) != ha


def test_person_files_do_not_depend_on_later_persons(tmp_path: Path) -> None:
    small = write_synthetic_cohort(tmp_path / "s", CohortConfig(participants=3, days=2, seed=2))
    large = write_synthetic_cohort(tmp_path / "l", CohortConfig(participants=5, days=2, seed=2))
    hs, hl = _hashes(small.root), _hashes(large.root)
    person_files = [k for k in hs if k.startswith("wearable_") and not k.endswith("manifest.tsv")]
    assert len(person_files) == 3 * 8
    assert all(hs[k] == hl[k] for k in person_files)
    cols = ["person_id", "age", "study_group", "visit_date"]
    pd.testing.assert_frame_equal(small.persons[cols], large.persons[cols].iloc[:3])


# ---- layout ---------------------------------------------------------------------------------
def test_participants_table(small: SyntheticCohort) -> None:
    root = small.root
    p = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(p.columns) == [
        "person_id",
        "clinical_site",
        "study_group",
        "age",
        "study_visit_date",
        "recommended_split",
        "wearable_activity_monitor",
        "wearable_blood_glucose",
        "clinical_data",
        "environment",
    ]
    assert len(p) == 6 and p["person_id"].is_unique
    site_digit = {"UW": "1", "UCSD": "4", "UAB": "7"}
    for row in p.itertuples():
        assert re.fullmatch(r"\d{4}", row.person_id)
        assert row.person_id[0] == site_digit[row.clinical_site]
        assert 40 <= int(row.age) <= 85
        assert "2023-01-01" <= row.study_visit_date <= "2024-12-31"
    assert set(p["study_group"]) <= {
        "healthy",
        "pre_diabetes_lifestyle_controlled",
        "oral_medication_and_or_non_insulin_injectable_medication_controlled",
        "insulin_dependent",
    }
    assert set(p["recommended_split"]) <= {"train", "val", "test"}
    for col in (
        "wearable_activity_monitor",
        "wearable_blood_glucose",
        "clinical_data",
        "environment",
    ):
        assert set(p[col]) <= {"TRUE", "FALSE"}
    meta = json.loads((root / "participants.json").read_text())
    assert set(p.columns) <= set(meta)
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["SyntheticConfig"]["participants"] == 6


def test_manifests_and_files_exist_with_schema(small: SyntheticCohort) -> None:
    root = small.root
    cgm = _manifest(root, "wearable_blood_glucose")
    assert list(cgm.columns) == ["person_id", "glucose_filepath"]
    garmin = _manifest(root, "wearable_activity_monitor")
    assert list(garmin.columns) == ["person_id", *GARMIN_COLUMNS]
    for pid, rel in zip(cgm.person_id, cgm.glucose_filepath, strict=True):
        assert (
            rel
            == f"/wearable_blood_glucose/continuous_glucose_monitoring/dexcom_g6/{pid}/{pid}_DEX.json"
        )
        doc = _load(root, rel)
        assert {"uuid", "creation_date_time", "patient_id", "schema_id", "timezone"} <= set(
            doc["header"]
        )
        rec = doc["body"]["cgm"][0]
        assert rec["event_type"] == "EGV" and rec["blood_glucose"]["unit"] == "mg/dL"
        assert set(rec["effective_time_frame"]["time_interval"]) == {
            "start_date_time",
            "end_date_time",
        }
        assert "transmitter_time" in rec and "transmitter_id" in rec
    folders = {
        "heart_rate_filepath": ("heart_rate", "heartrate"),
        "oxygen_saturation_filepath": ("oxygen_saturation", "oxygensaturation"),
        "physical_activity_filepath": ("physical_activity", "activity"),
        "physical_activity_calorie_filepath": ("physical_activity_calorie", "calorie"),
        "respiratory_rate_filepath": ("respiratory_rate", "respiratoryrate"),
        "sleep_filepath": ("sleep", "sleep"),
        "stress_filepath": ("stress", "stress"),
    }
    for row in garmin.itertuples(index=False):
        pid = row.person_id
        for col in GARMIN_COLUMNS:
            folder, suffix = folders[col]
            rel = getattr(row, col)
            assert (
                rel
                == f"/wearable_activity_monitor/{folder}/garmin_vivosmart5/{pid}/{pid}_{suffix}.json"
            )
            doc = _load(root, rel)
            assert {"uuid", "creation_date_time", "user_id", "schema_id", "timezone"} <= set(
                doc["header"]
            )
            assert list(doc["body"]) == [BODY_KEYS[col]]
    # Every record of a regular person has the documented shape.
    row = garmin.iloc[0]
    hr = _load(root, row.heart_rate_filepath)["body"]["heart_rate"][0]
    assert hr["heart_rate"]["unit"] == "beats/min" and "date_time" in hr["effective_time_frame"]
    ox = _load(root, row.oxygen_saturation_filepath)["body"]["breathing"][0]
    assert ox["oxygen_saturation"]["unit"] == "%" and ox["measurement_method"] == "pulse oximetry"
    rr = _load(root, row.respiratory_rate_filepath)["body"]["breathing"][0]
    assert rr["respiratory_rate"]["unit"] == "breaths/min"
    st = _load(root, row.stress_filepath)["body"]["stress"][0]
    assert st["stress"]["unit"] == "stress level"
    act = _load(root, row.physical_activity_filepath)["body"]["activity"]
    assert {a["activity_name"] for a in act} <= {"sedentary", "walking", "running", "generic", ""}
    assert act[0]["base_movement_quantity"]["unit"] == "steps"
    cal = _load(root, row.physical_activity_calorie_filepath)["body"]["activity"][0]
    assert cal["activity_name"] == "kcal_burned" and cal["calories_value"]["unit"] == "kcal"
    sl = _load(root, row.sleep_filepath)["body"]["sleep"]
    assert {s["sleep_stage_state"] for s in sl} <= {"awake", "light", "deep", "rem"}
    assert {"light", "deep", "rem"} <= {s["sleep_stage_state"] for s in sl}


def test_truth_tables(small: SyntheticCohort) -> None:
    assert len(small.persons) == 6 and len(small.days) == 6 * 3
    assert set(small.days.groupby("person_id")["day"].apply(tuple)) == {(1, 2, 3)}
    for col in (
        "sleep_min",
        "steps",
        "active_min",
        "stress_mean",
        "glucose_mean",
        "hr_mean",
        "high_stress",
    ):
        assert col in small.days
    saved = pd.read_csv(small.root / "synthetic_truth" / "days.csv")
    assert len(saved) == len(small.days)
    assert set(QUIRK_KEYS) == set(small.quirks)


# ---- time -----------------------------------------------------------------------------------
def test_window_covers_complete_local_days(small: SyntheticCohort) -> None:
    root, interval = small.root, 15
    garmin = _manifest(root, "wearable_activity_monitor")
    visits = small.persons.set_index("person_id")["visit_date"]
    for row in garmin.itertuples(index=False):
        pid = int(row.person_id)
        tz = _tz(pid)
        visit = date.fromisoformat(visits[pid])
        doc = _load(root, row.heart_rate_filepath)
        times = [_utc(r["effective_time_frame"]["date_time"]) for r in doc["body"]["heart_rate"]]
        first, last = times[0].astimezone(tz), times[-1].astimezone(tz)
        assert (first.date(), first.hour, first.minute) == (visit, 18, 0)
        assert (last.date() - visit).days == 3 and (last.hour, last.minute) == (23, 45)
        steps = {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)}
        assert steps == {interval * 60.0}
        cgm = _load(
            root,
            f"/wearable_blood_glucose/continuous_glucose_monitoring/dexcom_g6/{pid}/{pid}_DEX.json",
        )
        ct = [
            _utc(r["effective_time_frame"]["time_interval"]["start_date_time"])
            for r in cgm["body"]["cgm"]
        ]
        assert ct[0].astimezone(tz).hour == 18 and ct[-1].astimezone(tz).hour == 23
        # Sleep happens at night, local time: bouts start in the evening, end in the morning.
        sleep = _load(root, row.sleep_filepath)["body"]["sleep"]
        starts = [_utc(_frame(s)["start_date_time"]).astimezone(tz) for s in sleep]
        assert all(s.hour >= 20 or s.hour < 12 for s in starts)
        # SpO2 only while asleep: between 20:00 and noon local.
        ox = _load(root, row.oxygen_saturation_filepath)["body"]["breathing"]
        hours = {_utc(r["effective_time_frame"]["date_time"]).astimezone(tz).hour for r in ox}
        assert hours and hours <= set(range(20, 24)) | set(range(0, 12))


def test_timestamp_formats(quirky: SyntheticCohort) -> None:
    root = quirky.root
    garmin = _manifest(root, "wearable_activity_monitor")
    old_files = 0
    for row in garmin.itertuples(index=False):
        for col in GARMIN_COLUMNS:
            rel = getattr(row, col)
            if rel == "None":
                continue
            text = (root / rel.lstrip("/")).read_text()
            stamps = re.findall(r'"(?:date_time|start_date_time|end_date_time)":"([^"]+)"', text)
            if not stamps:
                continue
            if OLD.match(stamps[0]):
                old_files += 1
                assert all(OLD.match(s) for s in stamps)
            else:
                assert all(ISO_Z.match(s) for s in stamps)
    assert old_files == quirky.quirks["old_timestamp_format"] > 0


@pytest.mark.parametrize(
    ("visit", "tz", "minutes_on_change_day"),
    [
        (date(2023, 3, 10), "America/Los_Angeles", 1380),  # spring forward on 2023-03-12
        (date(2024, 11, 1), "America/Chicago", 1500),  # fall back on 2024-11-03
    ],
)
def test_daylight_saving_days(visit: date, tz: str, minutes_on_change_day: int) -> None:
    clock = make_clock(visit, 4, tz)
    lengths = np.diff(clock.midnight_idx)
    assert sorted(set(lengths.tolist())) == sorted({1440, minutes_on_change_day})
    assert np.bincount(clock.local_day)[1:].tolist() == lengths[1:5].tolist()
    traits = dataclasses.replace(
        draw_traits(0, np.random.default_rng(0), 4), visit_date=visit, tz_name=tz
    )
    series = simulate_person(traits, 4, np.random.default_rng(1))
    meas = measure(series, 5, np.random.default_rng(2))
    truth = pd.DataFrame(day_truth(series, meas, 4))
    assert truth["glucose_n"].sum() == len(meas.cgm_value) - (6 * 12)  # minus the visit eve
    # Bedtime and wake stay in local night hours across the change.
    assert (
        truth["bedtime_min"].between(-240, 90).all() and truth["wake_min"].between(180, 720).all()
    )


# ---- quirks ---------------------------------------------------------------------------------
def test_every_quirk_is_injected_and_counted(quirky: SyntheticCohort) -> None:
    missing = [k for k in QUIRK_KEYS if quirky.quirks[k] <= 0]
    assert not missing, missing
    desc = json.loads((quirky.root / "dataset_description.json").read_text())
    assert desc["InjectedQuirks"] == quirky.quirks


def test_quirks_are_in_the_files(quirky: SyntheticCohort) -> None:
    root, q = quirky.root, quirky.quirks
    cgm = _manifest(root, "wearable_blood_glucose")
    garmin = _manifest(root, "wearable_activity_monitor")
    texts = {rel: (root / rel.lstrip("/")).read_text() for rel in cgm.glucose_filepath}
    cgm_text = "".join(texts.values())
    assert cgm_text.count('"value":"Low"') == q["glucose_low"]
    assert cgm_text.count('"value":"High"') == q["glucose_high"]
    assert cgm_text.count('"acquistion_rate"') == q["cgm_unknown_header_key"]
    dupes = 0
    for text in texts.values():
        starts = re.findall(r'"start_date_time":"([^"]+)"', text)
        dupes += len(starts) - len(set(starts))
    assert dupes == q["cgm_duplicate"]
    # One person without activity-monitor files: manifest says None, no folder, participants FALSE.
    absent = garmin[garmin.heart_rate_filepath == "None"]
    assert len(absent) == 1 and (absent[GARMIN_COLUMNS] == "None").all(axis=None)
    pid = absent.person_id.iloc[0]
    assert not list((root / "wearable_activity_monitor").glob(f"*/garmin_vivosmart5/{pid}"))
    parts = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str)
    assert parts.set_index("person_id").loc[pid, "wearable_activity_monitor"] == "FALSE"
    present = garmin[garmin.heart_rate_filepath != "None"]

    def all_text(col: str) -> str:
        return "".join((root / r.lstrip("/")).read_text() for r in present[col])

    sleep = all_text("sleep_filepath")
    assert '"sleep_duration":{"value":' in sleep and '"unit":"h"' in sleep
    assert sleep.count('"sleep_stage_time_frame"') > 0
    assert all_text("physical_activity_calorie_filepath").count('"duration":{"value"') > 0
    stress_docs = [_load(root, r) for r in present.stress_filepath]
    assert sum(doc["body"]["stress"] == [] for doc in stress_docs) == q["empty_stress_file"] == 1
    activity = all_text("physical_activity_filepath")
    assert '"activity_name":""' in activity and '"value":""' in activity
    assert re.search(r'"value":"\d+"', activity)
    hr = all_text("heart_rate_filepath")
    assert hr.count('"value":0,') == q["hr_zero"]
    assert (
        hr.count('"value":"n/a"')
        + cgm_text.count('"value":"n/a"')
        + all_text("stress_filepath").count('"value":"n/a"')
        + all_text("respiratory_rate_filepath").count('"value":"n/a"')
        == q["malformed_string_value"]
    )


def test_no_quirks_means_clean_files(clean: SyntheticCohort) -> None:
    q = clean.quirks
    assert q["stress_minus1"] > 0 and q["stress_minus2"] > 0  # device semantics, always there
    assert all(v == 0 for k, v in q.items() if not k.startswith("stress_minus"))
    root = clean.root
    garmin = _manifest(root, "wearable_activity_monitor")
    assert "None" not in garmin.to_numpy()
    text = "".join(p.read_text() for p in root.rglob("*.json"))
    for marker in ('"Low"', '"High"', "acquistion_rate", '"n/a"', "sleep_duration", '"duration"'):
        assert marker not in text


def test_calorie_counter_and_truth_agree(quirky: SyntheticCohort) -> None:
    """Daily active kcal = sum of increments (a drop is a reset) = the truth table's value."""
    root = quirky.root
    garmin = _manifest(root, "wearable_activity_monitor")
    truth = quirky.days.set_index(["person_id", "date"])
    checked = 0
    for row in garmin[garmin.heart_rate_filepath != "None"].itertuples(index=False):
        tz = _tz(row.person_id)
        recs = _load(root, row.physical_activity_calorie_filepath)["body"]["activity"]
        per_day: dict[str, float] = {}
        prev_day, prev = None, 0.0
        for r in recs:
            v = (r.get("calories_value") or r.get("duration"))["value"]
            d = _utc(r["effective_time_frame"]["date_time"]).astimezone(tz).date().isoformat()
            inc = v if d != prev_day or v < prev else v - prev
            per_day[d] = per_day.get(d, 0.0) + inc
            prev_day, prev = d, v
        for d, total in per_day.items():
            key = (int(row.person_id), d)
            if key in truth.index:
                assert total == truth.loc[key, "active_kcal"]
                checked += 1
    assert checked == 19 * 2


def test_steps_and_sleep_in_files_match_truth(small: SyntheticCohort) -> None:
    root = small.root
    garmin = _manifest(root, "wearable_activity_monitor")
    truth = small.days.set_index(["person_id", "date"])
    for row in garmin.itertuples(index=False):
        tz = _tz(row.person_id)
        steps: dict[str, int] = {}
        empty: dict[str, int] = {}
        for r in _load(root, row.physical_activity_filepath)["body"]["activity"]:
            ti = r["effective_time_frame"]["time_interval"]
            d = _utc(ti["start_date_time"]).astimezone(tz).date().isoformat()
            v = r["base_movement_quantity"]["value"]
            if v == "":
                empty[d] = empty.get(d, 0) + 1
                continue
            steps[d] = steps.get(d, 0) + int(v)
        asleep: dict[str, int] = {}
        for r in _load(root, row.sleep_filepath)["body"]["sleep"]:
            frame = r.get("effective_time_frame") or r["sleep_stage_time_frame"]
            a, b = (_utc(frame["time_interval"][k]) for k in ("start_date_time", "end_date_time"))
            # A night belongs to the local date on which it ends (noon-to-noon by start).
            d = (a.astimezone(tz) + pd.Timedelta(hours=12)).date().isoformat()
            if r["sleep_stage_state"] != "awake":
                asleep[d] = asleep.get(d, 0) + int((b - a).total_seconds() // 60)
        for d, t in truth.xs(int(row.person_id), level="person_id").iterrows():
            assert asleep[d] == t["sleep_min"]
            if not empty.get(d):
                assert steps[d] == t["steps"]
            else:
                assert steps[d] <= t["steps"]


# ---- behaviour drives outcomes ---------------------------------------------------------------
def test_sleep_and_steps_drive_stress(cohort_days: pd.DataFrame) -> None:
    d = cohort_days.dropna(subset=["stress_mean"])
    assert spearmanr(d["sleep_min"], d["stress_mean"])[0] < -0.4
    assert spearmanr(d["steps"], d["stress_mean"])[0] < -0.15
    assert spearmanr(d["sleep_awake_min"], d["stress_mean"])[0] > 0
    assert 0.20 <= d["high_stress"].mean() <= 0.30
    assert 8 <= d["stress_mean"].mean() <= 25  # Garmin-like: mostly low values


def test_physiology_is_plausible(cohort_days: pd.DataFrame) -> None:
    d = cohort_days
    by_group = d.groupby("severity")["glucose_mean"].mean()
    assert by_group.is_monotonic_increasing
    assert spearmanr(d["age"], d["sleep_deep_min"] / d["sleep_min"])[0] < 0
    share_rem = (d["sleep_rem_min"] / d["sleep_min"]).mean()
    assert 0.15 < share_rem < 0.27
    assert 60 < d["hr_mean"].mean() < 95 and 4000 < d["steps"].median() < 12000
    assert 60 < d["active_kcal"].median() < 400
    assert (d["hr_sleep_mean"] < d["hr_mean"]).all()
    assert d["stress_valid_share"].between(0.4, 0.9).mean() > 0.9  # sentinels are common


def test_high_stress_is_predictable_from_behaviour(cohort_days: pd.DataFrame) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupShuffleSplit

    d = cohort_days.dropna(subset=["stress_mean"])
    features = [
        "sleep_min",
        "sleep_deep_min",
        "sleep_rem_min",
        "sleep_awake_min",
        "steps",
        "active_min",
        "glucose_mean",
        "glucose_sd",
        "hr_mean",
        "age",
        "severity",
    ]
    x, y = d[features].fillna(0), d["high_stress"].astype(int)
    train, test = next(
        GroupShuffleSplit(1, test_size=0.3, random_state=0).split(x, y, d["person_id"])
    )
    rf = RandomForestClassifier(200, min_samples_leaf=3, random_state=0).fit(
        x.iloc[train], y.iloc[train]
    )
    assert roc_auc_score(y.iloc[test], rf.predict_proba(x.iloc[test])[:, 1]) >= 0.8
    top = pd.Series(rf.feature_importances_, features).nlargest(3).index
    assert {"sleep_min", "steps"} & set(top)


def test_progress_bar_runs(tmp_path: Path) -> None:
    cohort = write_synthetic_cohort(tmp_path, CohortConfig(participants=2, days=1), progress=True)
    assert len(cohort.days) == 2


# ---- gaps: streams left out, a CGM that stops -----------------------------------------------
GAPS = {"missing_streams": {"spo2": 0.4, "calories": 0.3}, "cgm_stops": 0.4}


@pytest.fixture(scope="module")
def gapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticCohort, SyntheticCohort]:
    """The same 10 persons x 3 days with and without gaps."""
    out = tmp_path_factory.mktemp("gaps")
    config = CohortConfig(participants=10, days=3, interval_min=30, seed=4)
    plain = write_synthetic_cohort(out / "plain", config)
    return plain, write_synthetic_cohort(out / "gaps", dataclasses.replace(config, **GAPS))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"missing_streams": 1.0}, "missing_streams must be a share from 0 to below 1; got 1.0"),
        ({"missing_streams": -0.1}, "missing_streams must be a share from 0 to below 1"),
        ({"missing_streams": {"spo2": 2}}, "missing_streams['spo2'] must be a share"),
        ({"missing_streams": {"glucose": 0.1}}, "unknown stream 'glucose'; the streams are cgm"),
        ({"missing_streams": "0.1"}, "missing_streams must be a share"),
        ({"cgm_stops": 1}, "cgm_stops must be a share from 0 to below 1; got 1"),
    ],
)
def test_gap_shares_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CohortConfig(**kwargs)


def test_without_gaps_the_config_and_files_are_as_before(gapped) -> None:
    plain, _ = gapped
    description = _load(plain.root, "dataset_description.json")
    assert "missing_streams" not in description["SyntheticConfig"]
    assert "cgm_stops" not in description["SyntheticConfig"]
    assert not (plain.root / "synthetic_truth" / "gaps.csv").exists()
    assert plain.gaps.empty
    zero = CohortConfig(participants=10, days=3, interval_min=30, seed=4, missing_streams=0)
    assert zero == plain.config and not zero.has_gaps


def test_gaps_leave_out_only_the_gapped_files(gapped) -> None:
    plain, gaps = gapped
    table = gaps.gaps
    absent = table[table["kind"] == "absent"]
    assert set(absent["stream"]) == {"oxygen_saturation", "calorie"}
    assert (table["kind"] == "stops").sum() >= 1 and set(
        table[table["kind"] == "stops"]["stream"]
    ) == {"cgm"}
    manifest = _manifest(gaps.root, "wearable_activity_monitor").set_index("person_id")
    column = {
        "oxygen_saturation": "oxygen_saturation_filepath",
        "calorie": "physical_activity_calorie_filepath",
    }
    for row in absent.itertuples():
        assert manifest.loc[str(row.person_id), column[row.stream]] == "None"
    ha, hb = _hashes(plain.root), _hashes(gaps.root)
    stopped = {str(p) for p in table.loc[table["kind"] == "stops", "person_id"]}
    changed = {k for k in ha if hb.get(k) != ha[k]}
    left_out = set(ha) - set(hb)
    assert len(left_out) == len(absent)
    for name in changed - left_out:
        # Besides the absent files, only the stopped CGM files, manifests and records differ.
        assert (
            name.endswith("manifest.tsv")
            or name in ("dataset_description.json", "synthetic_truth/days.csv")
            or (name.endswith("_DEX.json") and name.split("/")[-2] in stopped)
        ), name
    stop = table[table["kind"] == "stops"].iloc[0]
    cgm = _load(
        gaps.root,
        f"wearable_blood_glucose/continuous_glucose_monitoring/dexcom_g6/{stop.person_id}/{stop.person_id}_DEX.json",
    )
    last = max(
        r["effective_time_frame"]["time_interval"]["start_date_time"] for r in cgm["body"]["cgm"]
    )
    assert last < stop.stop_utc


def test_same_seed_same_gaps(gapped, tmp_path: Path) -> None:
    _, gaps = gapped
    again = write_synthetic_cohort(tmp_path / "again", gaps.config)
    assert _hashes(again.root) == _hashes(gaps.root)
    pd.testing.assert_frame_equal(again.gaps, gaps.gaps)


def test_features_of_a_gapped_cohort_are_empty_where_streams_are_absent(gapped) -> None:
    from sensecf.data.aireadi import DayRules, extract_features

    plain, gaps = gapped
    rules = DayRules(min_cgm_coverage=0)
    before, _ = extract_features(plain.root, rules=rules)
    after, report = extract_features(gaps.root, rules=rules)
    table = gaps.gaps
    no_spo2 = set(table.loc[table["stream"] == "oxygen_saturation", "person_id"])
    no_kcal = set(table.loc[table["stream"] == "calorie", "person_id"])
    assert after.loc[after["person_id"].isin(no_spo2), "spo2_mean"].isna().all()
    assert after.loc[after["person_id"].isin(no_kcal), "active_kcal"].isna().all()
    # Everything the gaps do not touch is as before.
    keys = ["person_id", "date"]
    merged = before.merge(after, on=keys, suffixes=("", "_gap"))
    assert len(merged) == len(before)
    untouched = [c for c in before.columns if c not in keys and not c.startswith(("cgm_", "spo2_"))]
    untouched.remove("active_kcal")
    for column in untouched:
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_gap"], check_names=False, obj=column
        )
    assert report.missing_by_feature["spo2_mean"] >= len(no_spo2)
