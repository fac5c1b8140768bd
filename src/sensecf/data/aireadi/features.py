"""Per person-day (or per person) features and targets from AI-READI wearable files.

Days are LOCAL calendar days of the person's site. Sleep, sleeping heart rate and SpO2 belong
to the night ending that morning: a reading or interval belongs to the local date of
(time + 12 h), i.e. a noon-to-noon window. A day is kept only with enough CGM, heart-rate,
sleep and stress data (:class:`DayRules`, which a caller may relax for short recordings), and
then only if every feature is known; the rest are counted by reason.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sensecf.data.aireadi.layout import Layout, timezone_for
from sensecf.data.aireadi.reader import ReadReport, read_participants, read_person
from sensecf.data.constraints import recompute
from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SpecError
from sensecf.progress import progress_bar

Unit = Literal["day", "person"]
Target = Literal["high_stress", "diabetes"]

# Columns of each modality's daily (or nightly) summary, in feature order; the quality measures
# among them feed the keep rules and are not features.
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

CGM_MIN_COVERAGE = 0.70  # share of the expected CGM readings a kept day needs
HR_MIN_HOURS = 18  # clock hours with heart-rate data a kept day needs
RESTING_WINDOW_MIN = 30
RESTING_MIN_FILL = 0.75  # share of a window's expected readings it needs to count
STRESS_HIGH = 51  # Garmin: 51-75 medium, 76-100 high stress
SLEEP_STAGES = ("light", "deep", "rem")  # asleep; "awake" and "unknown" are not sleep

DROP_CGM = "CGM below 70% of the expected readings"
DROP_HR = "heart rate in fewer than 18 hours"
DROP_SLEEP = "no sleep record for the night"
DROP_STRESS = "no valid stress values"
DROP_UNLABELLED = "no valid stress values (the high_stress target needs them)"
# Night-time features that exist only with a sleep record (left out when sleep is not required).
NIGHT_FEATURES: tuple[str, ...] = (
    *HR_SLEEP_COLUMNS,
    *(c for c in SLEEP_COLUMNS if c not in QUALITY_COLUMNS),
)


@dataclass(frozen=True)
class DayRules:
    """Which person-days are kept: today's rules by default, each one relaxable.

    - ``min_cgm_coverage``: share (0-1) of the expected CGM readings a day needs;
    - ``min_hr_hours``: clock hours (0-24) with heart-rate data a day needs;
    - ``require_sleep``: a day needs a sleep record for its night; ``False`` leaves the
      night-time features (sleep stages, efficiency, heart rate during sleep) out of the table
      and the spec, so days without one are kept;
    - ``require_stress``: a day needs valid stress values; ``False`` keeps a day without them
      unless the target needs them (``high_stress`` is labelled from stress).

    ``DayRules(min_cgm_coverage=0, min_hr_hours=0)`` keeps every day that has data of each
    kind, with features computed from what is there.

    >>> DayRules().reasons()[:2]
    ['CGM below 70% of the expected readings', 'heart rate in fewer than 18 hours']
    >>> DayRules(min_hr_hours=-1)
    Traceback (most recent call last):
    ...
    sensecf.errors.SpecError: min_hr_hours must be a number of hours from 0 to 24; got -1
    """

    min_cgm_coverage: float = CGM_MIN_COVERAGE
    min_hr_hours: float = HR_MIN_HOURS
    require_sleep: bool = True
    require_stress: bool = True

    def __post_init__(self) -> None:
        coverage, hours = self.min_cgm_coverage, self.min_hr_hours
        if (
            isinstance(coverage, bool)
            or not isinstance(coverage, (int, float))
            or not (0.0 <= coverage <= 1.0)
        ):
            raise SpecError(f"min_cgm_coverage must be a share from 0 to 1; got {coverage!r}")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours <= 24:
            raise SpecError(f"min_hr_hours must be a number of hours from 0 to 24; got {hours!r}")
        for name in ("require_sleep", "require_stress"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name} must be True or False; got {getattr(self, name)!r}")

    def reasons(self) -> list[str]:
        """The drop reasons of the four rules, worded with these values."""
        cgm = (
            DROP_CGM
            if self.min_cgm_coverage == CGM_MIN_COVERAGE
            else f"CGM below {100 * self.min_cgm_coverage:g}% of the expected readings"
        )
        hr = (
            DROP_HR
            if self.min_hr_hours == HR_MIN_HOURS
            else f"heart rate in fewer than {self.min_hr_hours:g} hours"
        )
        return [cgm, hr, DROP_SLEEP, DROP_STRESS]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as recorded in a feature folder's ``info.json``."""
        return asdict(self)

    def features(self) -> tuple[str, ...]:
        """The feature columns a table read under these rules has."""
        if self.require_sleep:
            return FEATURES
        return tuple(c for c in FEATURES if c not in NIGHT_FEATURES)


CLASSES = {
    "high_stress": {0: "not high stress", 1: "high stress"},
    "diabetes": {0: "no diabetes", 1: "diabetes"},
}

_NS_MIN = 60 * 10**9
_NS_HOUR = 60 * _NS_MIN
_NS_DAY = 24 * _NS_HOUR
_SPEC_FILE = "aireadi.spec.yaml"


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


# ---- rules ----------------------------------------------------------------------------------
def apply_day_rules(
    days: pd.DataFrame, rules: DayRules | None = None
) -> tuple[pd.DataFrame, Counter]:
    """Keep the days with enough data and every feature known; count the rest by reason.

    Each dropped day is counted once, under the first rule it fails, in this order (the
    defaults of :class:`DayRules`): CGM ≥ 70% of the expected readings, heart rate in ≥ 18
    clock hours, a sleep record for the night, valid stress values, then ``missing <feature>``
    for the first feature that is NaN. A rule that ``rules`` switches off is not applied.
    """
    rules = DayRules() if rules is None else rules
    cgm, hr, sleep, stress = rules.reasons()
    dropped: Counter = Counter()
    keep = np.ones(len(days), dtype=bool)
    never = np.zeros(len(days), dtype=bool)
    checks = [
        (cgm, days["cgm_coverage"].to_numpy() < rules.min_cgm_coverage),
        (hr, days["hr_hours"].to_numpy() < rules.min_hr_hours),
        (sleep, days["sleep_records"].to_numpy() < 1 if rules.require_sleep else never),
        (stress, days["stress_n"].to_numpy() < 1 if rules.require_stress else never),
        *((f"missing {c}", days[c].isna().to_numpy()) for c in rules.features()),
    ]
    for reason, fails in checks:
        hit = keep & fails
        if hit.any():
            dropped[reason] += int(hit.sum())
            keep &= ~hit
    return days[keep], dropped


# ---- the whole cohort -----------------------------------------------------------------------
def _person_job(job: tuple[int, str, float, float, dict[str, Path | None]]) -> dict[str, Any]:
    """Read and summarise one person (runs in a worker process when a pool is used)."""
    pid, tz, age, group, paths = job
    skipped: Counter = Counter()
    # Parsed JSON is millions of acyclic dicts: the cycle collector would only rescan them
    # again and again (about a third of the parse time), so it pauses while one person is read.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        files = read_person(paths, pid, skipped)
        days = person_days(files.frames, tz)
    finally:
        if was_enabled:
            gc.enable()
    days.insert(0, "person_id", pid)
    days["age"] = age
    days["study_group"] = group
    return {
        "days": days,
        "skipped": skipped,
        "files_read": files.files_read,
        "missing": files.missing,
        "unreadable": files.unreadable,
    }


def _default_workers(n_persons: int) -> int:
    cpus = os.cpu_count() or 1
    return 1 if n_persons < 16 or cpus < 2 else min(cpus, 4)


def extract_features(
    root: str | os.PathLike,
    *,
    unit: Unit = "day",
    progress: bool = False,
    workers: int | None = None,
    rules: DayRules | None = None,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read an AI-READI folder and compute one row per person-day (or per person).

    Returns all feature columns plus the label-only ``stress_mean`` and ``stress_high_pct``
    (no target), with ``person_id`` and (for ``unit="day"``) ``date`` first, sorted, and the
    :class:`ReadReport` of what was read, skipped and dropped. ``workers`` processes read
    persons in parallel (default: up to 4 when there are many persons; 1 reads in-process);
    the output does not depend on it.

    >>> import tempfile
    >>> from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort
    >>> cfg = CohortConfig(participants=2, days=2, quirks=False)
    >>> root = write_synthetic_cohort(tempfile.mkdtemp(), cfg).root
    >>> frame, report = extract_features(root)
    >>> frame.columns[:3].tolist(), report.persons
    (['person_id', 'date', 'cgm_mean'], 2)
    """
    if unit not in ("day", "person"):
        raise SpecError(f"unit must be 'day' or 'person'; got {unit!r}")
    rules = DayRules() if rules is None else rules
    if not isinstance(rules, DayRules):
        raise SpecError(f"rules must be a DayRules; got {type(rules).__name__}")
    features = rules.features()
    started = time.perf_counter()
    root = Path(root)
    participants, warnings = read_participants(root)
    report = ReadReport(root=str(root), persons=len(participants), unit=unit, warnings=warnings)
    layout = Layout(root, report.warnings)
    jobs = [
        (
            int(r.person_id),
            timezone_for(r.person_id),
            float(r.age),
            float(r.study_group),
            layout.paths(int(r.person_id)),
        )
        for r in participants.itertuples(index=False)
    ]
    n_workers = _default_workers(len(jobs)) if workers is None else max(1, int(workers))
    skipped: Counter = Counter()
    frames: list[pd.DataFrame] = []
    with progress_bar("reading AI-READI persons", len(jobs), progress) as advance:
        if n_workers == 1:
            results: Iterator[dict[str, Any]] = _collect(map(_person_job, jobs), advance)
        else:
            # joblib's loky workers start cleanly (no fork of a threaded process, no __main__
            # guard needed) and the generator yields results in input order, so the output does
            # not depend on the number of workers.
            parallel = Parallel(n_jobs=n_workers, return_as="generator", batch_size=2)
            results = _collect(parallel(delayed(_person_job)(job) for job in jobs), advance)
        for job, result in zip(jobs, results, strict=True):
            pid = job[0]
            report.files_read += result["files_read"]
            report.missing_files.extend((pid, m) for m in result["missing"])
            report.unreadable_files.extend(result["unreadable"])
            skipped.update(result["skipped"])
            if len(result["days"]):
                frames.append(result["days"])
    columns = ["person_id", *FEATURES, *STRESS_COLUMNS, *QUALITY_COLUMNS]
    days = (
        pd.concat(frames)
        if frames
        else pd.DataFrame({c: [] for c in columns}, index=pd.Index([], name="day"))
    )
    report.candidate_days = len(days)
    kept, dropped = apply_day_rules(days, rules)
    report.skipped_records = dict(skipped)
    report.dropped_rows = dict(dropped)
    out = kept.reset_index()
    out.insert(
        1, "date", day_strings(out["day"].to_numpy()) if len(out) else np.array([], dtype=object)
    )
    out = out[["person_id", "date", *features, *STRESS_COLUMNS]]
    out["person_id"] = out["person_id"].astype("int64")
    if unit == "person":
        out = out.drop(columns="date").groupby("person_id", sort=True).mean().reset_index()
        out["steps"] = out["steps"].round()  # steps are whole numbers in the spec
        # A mean of ratios is not the ratio of the means: derived features (efficiency, CV)
        # are computed again from the person's means, so the spec's relations hold.
        spec = _spec_for(aireadi_spec("person"), rules)
        if len(out):
            out[spec.feature_names] = recompute(spec, out[spec.feature_names].to_numpy())
    out = out.sort_values(list(out.columns[: 2 if unit == "day" else 1]), kind="stable")
    out = out.reset_index(drop=True)
    report.rows = len(out)
    report.persons_with_rows = int(out["person_id"].nunique())
    report.seconds = time.perf_counter() - started
    return out, report


def _collect(results: Iterator[dict[str, Any]], advance: Any) -> Iterator[dict[str, Any]]:
    for result in results:
        advance()
        yield result


# ---- spec and dataset -----------------------------------------------------------------------
def aireadi_spec(unit: Unit = "day", target: Target = "high_stress") -> DatasetSpec:
    """The shipped AI-READI feature spec, adjusted to the unit and target.

    For ``target="diabetes"`` the ``study_group`` feature is removed (it defines the label).

    >>> aireadi_spec().id_columns
    ('person_id', 'date')
    >>> "study_group" in aireadi_spec("person", "diabetes").feature_names
    False
    """
    if unit not in ("day", "person"):
        raise SpecError(f"unit must be 'day' or 'person'; got {unit!r}")
    if target not in CLASSES:
        raise SpecError(f"target must be one of {sorted(CLASSES)}; got {target!r}")
    text = resources.files("sensecf.data.aireadi").joinpath(_SPEC_FILE).read_text(encoding="utf-8")
    spec = DatasetSpec.from_yaml(text)
    if unit == "person":
        spec = spec.replace(
            name="aireadi-person",
            id_columns=["person_id"],
            description=spec.description.replace(
                "One row per person-day (local calendar day)",
                "One row per person (each feature is the mean over the person's kept days)",
            ),
        )
    if target == "diabetes":
        spec = spec.drop_features(["study_group"]).replace(
            target="diabetes",
            classes=CLASSES["diabetes"],
            desired_class=0,
            description=spec.description
            + " Target diabetes: 1 = any study group other than healthy, i.e. prediabetes "
            "(lifestyle-controlled) counts as diabetes together with type 2 diabetes on oral, "
            "non-insulin injectable or insulin treatment; 0 = healthy. study_group is not a "
            "feature because it defines the label.",
        )
    return spec


def _spec_for(spec: DatasetSpec, rules: DayRules) -> DatasetSpec:
    """The spec without the features these rules leave out."""
    left_out = [n for n in spec.feature_names if n in FEATURES and n not in rules.features()]
    return spec.drop_features(left_out) if left_out else spec


def read_aireadi(
    root: str | os.PathLike,
    *,
    unit: Unit = "day",
    target: Target = "high_stress",
    stress_quantile: float = 0.75,
    stress_threshold: float | None = None,
    min_cgm_coverage: float = CGM_MIN_COVERAGE,
    min_hr_hours: float = HR_MIN_HOURS,
    require_sleep: bool = True,
    require_stress: bool = True,
    progress: bool = False,
    workers: int | None = None,
) -> Dataset:
    """Read an AI-READI folder into a :class:`Dataset` with its spec and a read report.

    ``target="high_stress"``: 1 when the row's mean Garmin stress is above the cohort's
    ``stress_quantile`` quantile (or above ``stress_threshold`` if given); desired class 0.
    ``target="diabetes"``: 1 when the study group is not healthy (prediabetes included).
    ``info`` holds the read report (``info["report"]``), ``info["stress_threshold"]`` and the
    day rules used (``info["day_rules"]``): ``min_cgm_coverage``, ``min_hr_hours``,
    ``require_sleep`` and ``require_stress``, see :class:`DayRules` (relax them for short
    recordings).

    >>> import tempfile
    >>> from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort
    >>> cfg = CohortConfig(participants=2, days=2, quirks=False)
    >>> data = read_aireadi(write_synthetic_cohort(tempfile.mkdtemp(), cfg).root, target="diabetes")
    >>> data.spec.classes, data.spec.id_columns
    ({0: 'no diabetes', 1: 'diabetes'}, ('person_id', 'date'))
    """
    rules = DayRules(min_cgm_coverage, min_hr_hours, require_sleep, require_stress)
    spec = _spec_for(aireadi_spec(unit, target), rules)
    if not 0.0 < stress_quantile < 1.0:
        raise SpecError(f"stress_quantile must lie between 0 and 1; got {stress_quantile}")
    frame, report = extract_features(
        root, unit=unit, progress=progress, workers=workers, rules=rules
    )
    if target == "high_stress" and len(frame):
        # A row without stress values has no label: kept only when the target does not need it.
        unlabelled = frame["stress_mean"].isna().to_numpy()
        if unlabelled.any():
            report.dropped_rows[DROP_UNLABELLED] = int(unlabelled.sum())
            frame = frame[~unlabelled].reset_index(drop=True)
            report.rows = len(frame)
            report.persons_with_rows = int(frame["person_id"].nunique())
    if frame.empty:
        reasons = "; ".join(f"{k}: {v}" for k, v in report.to_dict()["dropped_rows"].items())
        raise DataError(
            f"no usable {'person-days' if unit == 'day' else 'persons'} in {root}: "
            f"{report.persons} persons, {report.files_read} files read, "
            f"{len(report.missing_files)} missing"
            + (f"; dropped days: {reasons}" if reasons else "")
            + (
                "; for short recordings relax the day rules (min_cgm_coverage, min_hr_hours, "
                "require_sleep, require_stress; `sensecf features --min-cgm-coverage F "
                "--min-hr-hours H --no-require-sleep --no-require-stress`)"
                if reasons
                else ""
            )
        )
    threshold: float | None = None
    if target == "high_stress":
        threshold = (
            float(stress_threshold)
            if stress_threshold is not None
            else float(frame["stress_mean"].quantile(stress_quantile))
        )
        frame[spec.target] = (frame["stress_mean"] > threshold).astype(int)
        how = (
            f"a fixed threshold {threshold:.2f}"
            if stress_threshold is not None
            else f"{threshold:.2f}, the cohort's {stress_quantile:.0%} quantile"
        )
        spec = spec.replace(
            description=spec.description
            + f" Target high_stress: 1 = mean Garmin stress (0-100) above {how}; 0 = otherwise."
        )
    else:
        frame[spec.target] = (frame["study_group"] != 0).astype(int)
    info = {
        "source": "aireadi",
        "root": str(root),
        "unit": unit,
        "target": target,
        "stress_quantile": stress_quantile if stress_threshold is None else None,
        "stress_threshold": threshold,
        "day_rules": rules.to_dict(),
        "report": report.to_dict(),
    }
    return Dataset(frame, spec, info, source=str(root))
