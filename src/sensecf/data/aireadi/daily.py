"""One person's daily (and nightly) summaries of each wearable stream.

Days are LOCAL calendar days of the person's site. Sleep, sleeping heart rate and SpO2 belong
to the night ending that morning: a reading or interval belongs to the local date of
(time + 12 h), i.e. a noon-to-noon window. Each summary has one row per day (or night) with the
modality's columns below; the quality measures among them feed the day rules
(:mod:`~sensecf.data.aireadi.rules`) and are not features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

# Columns of each modality's summary, in feature order.
CGM_COLUMNS: tuple[str, ...] = (
    "cgm_mean",
    "cgm_sd",
    "cgm_cv",
    "cgm_tir",
    "cgm_tbr70",
    "cgm_tbr54",
    "cgm_tar180",
    "cgm_tar250",
    "cgm_gmi",
    "cgm_coverage",
)
HR_COLUMNS: tuple[str, ...] = ("hr_mean", "hr_resting", "hr_hours")
HR_SLEEP_COLUMNS: tuple[str, ...] = ("hr_sleep",)
SLEEP_COLUMNS: tuple[str, ...] = (
    "sleep_total_min",
    "sleep_deep_min",
    "sleep_light_min",
    "sleep_rem_min",
    "sleep_awake_min",
    "sleep_efficiency",
    "sleep_records",
)
ACTIVITY_COLUMNS: tuple[str, ...] = ("steps", "active_min", "sedentary_min")
CALORIE_COLUMNS: tuple[str, ...] = ("active_kcal",)
SPO2_COLUMNS: tuple[str, ...] = ("spo2_mean", "spo2_below90_pct")
RESP_COLUMNS: tuple[str, ...] = ("resp_rate_mean",)
STRESS_DAILY_COLUMNS: tuple[str, ...] = ("stress_mean", "stress_high_pct", "stress_n")
PERSON_COLUMNS: tuple[str, ...] = ("age", "study_group")  # from the participants table
# Per-day data-quality measures used by the keep rules (not output).
QUALITY_COLUMNS: tuple[str, ...] = ("cgm_coverage", "hr_hours", "sleep_records", "stress_n")
STRESS_COLUMNS: tuple[str, ...] = tuple(c for c in STRESS_DAILY_COLUMNS if c not in QUALITY_COLUMNS)
FEATURES: tuple[str, ...] = (
    *(
        c
        for c in (
            *CGM_COLUMNS,
            *HR_COLUMNS,
            *HR_SLEEP_COLUMNS,
            *SLEEP_COLUMNS,
            *ACTIVITY_COLUMNS,
            *CALORIE_COLUMNS,
            *SPO2_COLUMNS,
            *RESP_COLUMNS,
        )
        if c not in QUALITY_COLUMNS
    ),
    *PERSON_COLUMNS,
)

RESTING_WINDOW_MIN = 30
RESTING_MIN_FILL = 0.75  # share of a window's expected readings it needs to count
STRESS_HIGH = 51  # Garmin: 51-75 medium, 76-100 high stress
SLEEP_STAGES = ("light", "deep", "rem")  # asleep; "awake" and "unknown" are not sleep

_NS_MIN = 60 * 10**9
_NS_HOUR = 60 * _NS_MIN
_NS_DAY = 24 * _NS_HOUR


# ---- time helpers ---------------------------------------------------------------------------
def _utc_ns(times: Any) -> np.ndarray:
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("ns").asi8


def local_ns(times: Any, tz: str) -> np.ndarray:
    """Local wall-clock time (ns since the epoch, as if the wall clock were UTC) of UTC times.

    >>> t = pd.to_datetime(["2023-12-05T05:30:00Z"], utc=True)
    >>> pd.to_datetime(local_ns(t, "America/Chicago")).strftime("%Y-%m-%d %H:%M").tolist()
    ['2023-12-04 23:30']
    """
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert(tz).tz_localize(None).as_unit("ns").asi8


def local_day(times: Any, tz: str) -> np.ndarray:
    """Local calendar day (days since 1970-01-01) of UTC times."""
    return local_ns(times, tz) // _NS_DAY


def night_of(times: Any, tz: str) -> np.ndarray:
    """The night a time belongs to: the local date of (time + 12 h), a noon-to-noon window.

    >>> t = pd.to_datetime(["2023-08-01T06:00:00Z", "2023-08-01T20:00:00Z"], utc=True)
    >>> day_strings(night_of(t, "America/Los_Angeles")).tolist()  # 23:00 PDT and 13:00 PDT
    ['2023-08-01', '2023-08-02']
    """
    return (local_ns(times, tz) + 12 * _NS_HOUR) // _NS_DAY


def day_strings(days: np.ndarray) -> np.ndarray:
    """ISO dates (``YYYY-MM-DD``) of day numbers."""
    return pd.to_datetime(np.asarray(days, dtype="int64"), unit="D").strftime("%Y-%m-%d").to_numpy()


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days, inv = np.unique(keys, return_inverse=True)
    return days, inv.ravel(), np.bincount(inv.ravel(), minlength=len(days)).astype(float)


def _frame(
    days: np.ndarray, columns: dict[str, np.ndarray], names: tuple[str, ...]
) -> pd.DataFrame:
    index = pd.Index(np.asarray(days, dtype="int64"), name="day")
    if len(index) == 0:
        return pd.DataFrame({n: np.array([], dtype=float) for n in names}, index=index)
    return pd.DataFrame(columns, index=index)[list(names)]


def _median_interval_min(utc: np.ndarray, default: float) -> float:
    if len(utc) < 2:
        return default
    diffs = np.diff(np.sort(utc))
    diffs = diffs[diffs > 0]
    return float(np.median(diffs)) / _NS_MIN if len(diffs) else default


# ---- per modality ---------------------------------------------------------------------------
def cgm_daily(cgm: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily CGM summaries (consensus metrics, in %) and the share of expected readings.

    The expected number of readings is 1440 ÷ the person's median reading interval (rounded to
    whole minutes; 5 for a Dexcom G6), so coverage works for any sampling rate.

    >>> t = pd.date_range("2023-08-01 07:00", periods=4, freq="5min", tz="UTC")
    >>> d = cgm_daily(pd.DataFrame({"time": t, "value": [60, 100, 150, 200]}), "America/Los_Angeles")
    >>> d[["cgm_mean", "cgm_tir", "cgm_tbr70", "cgm_tar180"]].iloc[0].tolist()
    [127.5, 50.0, 25.0, 25.0]
    """
    if cgm.empty:
        return _frame(np.array([]), {}, CGM_COLUMNS)
    v = cgm["value"].to_numpy(dtype=float)
    days, inv, n = _groups(local_day(cgm["time"], tz))
    mean = np.bincount(inv, v) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.bincount(inv, (v - mean[inv]) ** 2) / (n - 1))
    sd[n < 2] = np.nan

    def pct(mask: np.ndarray) -> np.ndarray:
        return 100.0 * np.bincount(inv, mask.astype(float), minlength=len(days)) / n

    interval = max(1.0, round(_median_interval_min(_utc_ns(cgm["time"]), 5.0)))
    cols = {
        "cgm_mean": mean,
        "cgm_sd": sd,
        "cgm_cv": 100.0 * sd / mean,
        "cgm_tir": pct((v >= 70) & (v <= 180)),
        "cgm_tbr70": pct(v < 70),
        "cgm_tbr54": pct(v < 54),
        "cgm_tar180": pct(v > 180),
        "cgm_tar250": pct(v > 250),
        "cgm_gmi": 3.31 + 0.02392 * mean,
        "cgm_coverage": n / (1440.0 / interval),
    }
    return _frame(days, cols, CGM_COLUMNS)


def hr_daily(hr: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily mean heart rate, resting heart rate and the number of clock hours with data.

    Resting HR is the lowest 30-minute rolling mean within the day; a window counts only if it
    holds at least 75% of the readings expected at the person's median sampling interval.

    >>> t = pd.date_range("2023-08-01 07:00", periods=120, freq="1min", tz="UTC")
    >>> v = [80.0] * 60 + [60.0] * 30 + [90.0] * 30
    >>> hr_daily(pd.DataFrame({"time": t, "value": v}), "UTC")[["hr_mean", "hr_resting"]].iloc[0].tolist()
    [77.5, 60.0]
    """
    if hr.empty:
        return _frame(np.array([]), {}, HR_COLUMNS)
    hr = hr.sort_values("time", kind="stable")
    v = hr["value"].to_numpy(dtype=float)
    utc = _utc_ns(hr["time"])
    local = local_ns(hr["time"], tz)
    days, inv, n = _groups(local // _NS_DAY)
    hours = np.unique(local // _NS_HOUR)
    hour_days = np.searchsorted(days, hours * _NS_HOUR // _NS_DAY)
    n_hours = np.bincount(hour_days, minlength=len(days)).astype(float)
    # Shift each day by an hour per day rank: a 30-minute window then never spans two days.
    shifted = pd.DatetimeIndex(utc + inv.astype("int64") * _NS_HOUR)
    rolling = pd.Series(v, index=shifted).rolling(f"{RESTING_WINDOW_MIN}min")
    means = rolling.mean().to_numpy()
    counts = rolling.count().to_numpy()
    interval = _median_interval_min(utc, 1.0)
    expected = max(1.0, RESTING_WINDOW_MIN / interval)
    means = np.where(counts >= math.ceil(RESTING_MIN_FILL * expected - 1e-9), means, np.nan)
    resting = pd.Series(means).groupby(inv).min().reindex(range(len(days))).to_numpy()
    cols = {"hr_mean": np.bincount(inv, v) / n, "hr_resting": resting, "hr_hours": n_hours}
    return _frame(days, cols, HR_COLUMNS)


def hr_sleep_nightly(hr: pd.DataFrame, sleep: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Mean heart rate during each night's non-awake sleep (light, deep, REM, or a v1 bout).

    >>> hr = pd.DataFrame({"time": pd.to_datetime(["2023-08-01T08:00Z", "2023-08-01T18:00Z"]),
    ...                    "value": [55.0, 90.0]})
    >>> sl = pd.DataFrame({"start": pd.to_datetime(["2023-08-01T07:00Z"]),
    ...                    "end": pd.to_datetime(["2023-08-01T09:00Z"]), "stage": ["deep"],
    ...                    "minutes": [120.0]})
    >>> hr_sleep_nightly(hr, sl, "America/Los_Angeles")["hr_sleep"].tolist()
    [55.0]
    """
    asleep = sleep[sleep["stage"].isin((*SLEEP_STAGES, "bout"))] if not sleep.empty else sleep
    if hr.empty or asleep.empty:
        return _frame(np.array([]), {}, HR_SLEEP_COLUMNS)
    asleep = asleep.sort_values("start", kind="stable")
    starts = _utc_ns(asleep["start"])
    ends = np.maximum.accumulate(_utc_ns(asleep["end"]))  # covers overlapping intervals
    nights = night_of(asleep["start"], tz)
    t = _utc_ns(hr["time"])
    idx = np.searchsorted(starts, t, side="right") - 1
    inside = idx >= 0
    inside[inside] = t[inside] < ends[idx[inside]]
    if not inside.any():
        return _frame(np.array([]), {}, HR_SLEEP_COLUMNS)
    v = hr["value"].to_numpy(dtype=float)[inside]
    days, inv, n = _groups(nights[idx[inside]])
    return _frame(days, {"hr_sleep": np.bincount(inv, v) / n}, HR_SLEEP_COLUMNS)


def sleep_nightly(sleep: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Minutes per sleep stage for each night (noon-to-noon by interval start), and efficiency.

    Total sleep is light + deep + REM; efficiency = total ÷ (total + awake) in %. A night known
    only from v1 bout records has its total sleep and unknown (NaN) stages and efficiency.

    >>> sl = pd.DataFrame({"start": pd.to_datetime(["2023-08-01T06:00Z", "2023-08-01T08:00Z"]),
    ...                    "end": pd.to_datetime(["2023-08-01T08:00Z", "2023-08-01T08:30Z"]),
    ...                    "stage": ["light", "awake"], "minutes": [120.0, 30.0]})
    >>> sleep_nightly(sl, "America/Los_Angeles")[["sleep_total_min", "sleep_efficiency"]].iloc[0].tolist()
    [120.0, 80.0]
    """
    if sleep.empty:
        return _frame(np.array([]), {}, SLEEP_COLUMNS)
    stage = sleep["stage"].to_numpy(dtype=object)
    minutes = sleep["minutes"].to_numpy(dtype=float)
    days, inv, n = _groups(night_of(sleep["start"], tz))

    def total(mask: np.ndarray) -> np.ndarray:
        return np.bincount(inv, np.where(mask, minutes, 0.0), minlength=len(days))

    staged = np.bincount(inv, (stage != "bout").astype(float), minlength=len(days)) > 0
    light, deep, rem = (total(stage == s) for s in SLEEP_STAGES)
    awake = total(stage == "awake")
    asleep = light + deep + rem
    # A night with stage records uses them; a bout-only (v1) night knows only its total.
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = np.where(
            staged & (asleep + awake > 0), 100.0 * asleep / (asleep + awake), np.nan
        )
    cols = {
        "sleep_total_min": np.where(staged, asleep, total(stage == "bout")),
        "sleep_deep_min": np.where(staged, deep, np.nan),
        "sleep_light_min": np.where(staged, light, np.nan),
        "sleep_rem_min": np.where(staged, rem, np.nan),
        "sleep_awake_min": np.where(staged, awake, np.nan),
        "sleep_efficiency": efficiency,
        "sleep_records": n,
    }
    return _frame(days, cols, SLEEP_COLUMNS)


def activity_daily(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily steps, active minutes (non-sedentary intervals with steps) and sedentary minutes.

    An interval belongs to the local date of its start.

    >>> a = pd.DataFrame({"start": pd.to_datetime(["2023-08-01T17:00Z", "2023-08-01T17:10Z"]),
    ...                   "end": pd.to_datetime(["2023-08-01T17:10Z", "2023-08-01T18:10Z"]),
    ...                   "name": ["walking", "sedentary"], "steps": [900.0, 0.0]})
    >>> activity_daily(a, "America/Los_Angeles").iloc[0].tolist()
    [900.0, 10.0, 60.0]
    """
    if activity.empty:
        return _frame(np.array([]), {}, ACTIVITY_COLUMNS)
    steps = activity["steps"].to_numpy(dtype=float)
    name = activity["name"].to_numpy(dtype=object)
    minutes = (_utc_ns(activity["end"]) - _utc_ns(activity["start"])) / _NS_MIN
    days, inv, _ = _groups(local_day(activity["start"], tz))
    sedentary = name == "sedentary"
    active = ~sedentary & (steps > 0)
    cols = {
        "steps": np.bincount(inv, steps, minlength=len(days)),
        "active_min": np.bincount(inv, np.where(active, minutes, 0.0), minlength=len(days)),
        "sedentary_min": np.bincount(inv, np.where(sedentary, minutes, 0.0), minlength=len(days)),
    }
    return _frame(days, cols, ACTIVITY_COLUMNS)


def calorie_daily(calorie: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily active kcal from the cumulative counter (since local midnight, may reset).

    The day's total is the sum of increments; the first reading of a day counts in full (the
    counter starts at 0 at midnight) and a drop is a reset, whose increment is the new value.

    >>> t = pd.date_range("2023-08-01 16:00", periods=5, freq="1h", tz="UTC")
    >>> c = pd.DataFrame({"time": t, "value": [10.0, 30.0, 50.0, 5.0, 25.0]})
    >>> calorie_daily(c, "America/Los_Angeles")["active_kcal"].tolist()
    [75.0]
    """
    if calorie.empty:
        return _frame(np.array([]), {}, CALORIE_COLUMNS)
    calorie = calorie.sort_values("time", kind="stable")
    v = calorie["value"].to_numpy(dtype=float)
    day = local_day(calorie["time"], tz)
    same_day = np.r_[False, day[1:] == day[:-1]]
    step = np.r_[0.0, np.diff(v)]
    increment = np.where(same_day & (step >= 0), step, v)
    days, inv, _ = _groups(day)
    return _frame(days, {"active_kcal": np.bincount(inv, increment)}, CALORIE_COLUMNS)


def spo2_nightly(spo2: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Mean SpO2 and % of readings below 90 for each night (SpO2 is recorded during sleep).

    >>> t = pd.to_datetime(["2023-08-01T09:00Z", "2023-08-01T10:00Z"])
    >>> spo2_nightly(pd.DataFrame({"time": t, "value": [88.0, 96.0]}), "UTC").iloc[0].tolist()
    [92.0, 50.0]
    """
    if spo2.empty:
        return _frame(np.array([]), {}, SPO2_COLUMNS)
    v = spo2["value"].to_numpy(dtype=float)
    days, inv, n = _groups(night_of(spo2["time"], tz))
    cols = {
        "spo2_mean": np.bincount(inv, v) / n,
        "spo2_below90_pct": 100.0 * np.bincount(inv, (v < 90).astype(float)) / n,
    }
    return _frame(days, cols, SPO2_COLUMNS)


def resp_daily(resp: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily mean respiratory rate (sentinels already masked by the reader)."""
    if resp.empty:
        return _frame(np.array([]), {}, RESP_COLUMNS)
    v = resp["value"].to_numpy(dtype=float)
    days, inv, n = _groups(local_day(resp["time"], tz))
    return _frame(days, {"resp_rate_mean": np.bincount(inv, v) / n}, RESP_COLUMNS)


def stress_daily(stress: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Daily mean stress, % of values ≥ 51 (medium or high), and the number of valid values.

    >>> t = pd.date_range("2023-08-01 16:00", periods=4, freq="3min", tz="UTC")
    >>> stress_daily(pd.DataFrame({"time": t, "value": [10.0, 20.0, 60.0, 90.0]}), "UTC").iloc[0].tolist()
    [45.0, 50.0, 4.0]
    """
    if stress.empty:
        return _frame(np.array([]), {}, STRESS_DAILY_COLUMNS)
    v = stress["value"].to_numpy(dtype=float)
    days, inv, n = _groups(local_day(stress["time"], tz))
    cols = {
        "stress_mean": np.bincount(inv, v) / n,
        "stress_high_pct": 100.0 * np.bincount(inv, (v >= STRESS_HIGH).astype(float)) / n,
        "stress_n": n,
    }
    return _frame(days, cols, STRESS_DAILY_COLUMNS)


def person_days(frames: Mapping[str, pd.DataFrame], tz: str) -> pd.DataFrame:
    """All candidate days of one person (any day with any data): features, stress, quality.

    ``frames`` are the reader's tidy frames keyed by modality. Missing measures are NaN; the
    quality columns (``cgm_coverage``, ``hr_hours``, ``sleep_records``, ``stress_n``) are 0.
    The index is the local day number.
    """
    parts = [
        cgm_daily(frames["cgm"], tz),
        hr_daily(frames["heart_rate"], tz),
        hr_sleep_nightly(frames["heart_rate"], frames["sleep"], tz),
        sleep_nightly(frames["sleep"], tz),
        activity_daily(frames["physical_activity"], tz),
        calorie_daily(frames["calorie"], tz),
        spo2_nightly(frames["oxygen_saturation"], tz),
        resp_daily(frames["respiratory_rate"], tz),
        stress_daily(frames["stress"], tz),
    ]
    out = pd.concat(parts, axis=1, join="outer").sort_index()
    out[list(QUALITY_COLUMNS)] = out[list(QUALITY_COLUMNS)].fillna(0.0)
    return out
