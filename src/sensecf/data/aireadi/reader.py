"""Read AI-READI participant and wearable files into tidy, clean DataFrames.

Every reader survives the quirks of the published files (see ``reference/aireadi-format.md``):
bad records, sentinels and unreadable files are skipped and counted in a ``Counter`` keyed
``"modality: reason"``, never fatal. Only a missing root or a missing/garbled
``participants.tsv`` raises :class:`~sensecf.errors.DataError`.

Point modalities come back as ``time`` (UTC, tz-aware, sorted, unique) and ``value``; sleep as
``start``, ``end``, ``stage``, ``minutes``; activity as ``start``, ``end``, ``name``, ``steps``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from sensecf.data.aireadi.layout import MODALITIES, PARTICIPANTS_FILE, parse_person_id
from sensecf.errors import DataError

STUDY_GROUPS: tuple[str, ...] = (
    "healthy",
    "pre_diabetes_lifestyle_controlled",
    "oral_medication_and_or_non_insulin_injectable_medication_controlled",
    "insulin_dependent",
)
STUDY_GROUP_NAMES: tuple[str, ...] = (
    "healthy",
    "prediabetes (lifestyle-controlled)",
    "type 2 diabetes (oral or non-insulin injectable medication)",
    "type 2 diabetes (insulin-dependent)",
)

POINT_MODALITIES = (
    "cgm",
    "heart_rate",
    "oxygen_saturation",
    "respiratory_rate",
    "stress",
    "calorie",
)
# The key of the value object in each point modality's records (alternatives after the first).
VALUE_KEYS: dict[str, tuple[str, ...]] = {
    "cgm": ("blood_glucose",),
    "heart_rate": ("heart_rate",),
    "oxygen_saturation": ("oxygen_saturation",),
    "respiratory_rate": ("respiratory_rate",),
    "stress": ("stress",),
    "calorie": ("calories_value", "duration"),  # "duration" before v2
}
# CGM values outside the sensor's range are written as words.
CGM_WORDS = {"low": 40.0, "high": 400.0}

_NS_PER_MIN = 60 * 10**9
_MAX_INTERVAL_MIN = 24 * 60


@dataclass
class ReadReport:
    """What a read found: files, missing files, skipped records and dropped rows, with reasons.

    >>> r = ReadReport(root="/data", persons=2, files_read=15, missing_files=[(1001, "sleep")])
    >>> r.skipped_records["stress: sentinel masked"] = 40
    >>> r.to_dict()["missing_files"]
    [[1001, 'sleep']]
    >>> r.summary_lines()[0]
    'read 2 persons from /data: 15 files read, 1 missing, 0 unreadable'
    """

    root: str = ""
    persons: int = 0
    files_read: int = 0
    missing_files: list[tuple[int, str]] = field(default_factory=list)
    unreadable_files: list[str] = field(default_factory=list)
    skipped_records: dict[str, int] = field(default_factory=dict)
    dropped_rows: dict[str, int] = field(default_factory=dict)
    missing_by_feature: dict[str, int] = field(default_factory=dict)
    emptied_days: dict[str, int] = field(default_factory=dict)
    candidate_days: int = 0
    rows: int = 0
    persons_with_rows: int = 0
    unit: str = "day"
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists, counts sorted by size)."""
        return {
            "root": self.root,
            "unit": self.unit,
            "persons": self.persons,
            "persons_with_rows": self.persons_with_rows,
            "rows": self.rows,
            "candidate_days": self.candidate_days,
            "files_read": self.files_read,
            "missing_files": [[int(p), m] for p, m in self.missing_files],
            "unreadable_files": list(self.unreadable_files),
            "skipped_records": _sorted_counts(self.skipped_records),
            "dropped_rows": _sorted_counts(self.dropped_rows),
            "missing_by_feature": {k: int(v) for k, v in self.missing_by_feature.items() if v},
            "emptied_days": _sorted_counts(self.emptied_days),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }

    def summary_lines(self) -> list[str]:
        """A few readable lines for a terminal or a report."""
        lines = [
            f"read {self.persons} persons from {self.root}: {self.files_read} files read, "
            f"{len(self.missing_files)} missing, {len(self.unreadable_files)} unreadable"
        ]
        if self.candidate_days:
            dropped = sum(self.dropped_rows.values())
            rows = "person-days" if self.unit == "day" else "persons"
            lines.append(
                f"kept {self.rows} {rows} of {self.persons_with_rows} persons "
                f"({self.candidate_days} candidate days, {dropped} days dropped)"
            )
        for reason, n in _sorted_counts(self.dropped_rows).items():
            lines.append(f"  dropped {n} days: {reason}")
        lines.extend(f"  {line}" for line in emptied_lines(self.emptied_days))
        lines.extend(
            f"  {line}" for line in missing_lines(self.missing_by_feature, self.rows, self.unit)
        )
        for reason, n in _sorted_counts(self.skipped_records).items():
            lines.append(f"  skipped {n} records: {reason}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        if self.seconds:
            lines.append(f"took {self.seconds:.1f} s")
        return lines


def missing_lines(missing: dict[str, int], rows: int, unit: str = "day") -> list[str]:
    """One line per feature with missing values: ``spo2_mean missing on 212 of 1,970 days``.

    >>> missing_lines({"spo2_mean": 212, "steps": 0}, 1970)
    ['spo2_mean missing on 212 of 1,970 days']
    """
    what = "days" if unit == "day" else "persons"
    return [f"{name} missing on {n:,} of {rows:,} {what}" for name, n in missing.items() if n]


def emptied_lines(emptied: dict[str, int]) -> list[str]:
    """One line per stream rule that emptied kept days, largest count first.

    >>> emptied_lines({"no sleep record for the night": 3,
    ...                "CGM below 70% of the expected readings": 12})
    ['CGM features emptied on 12 days (CGM below 70% of the expected readings)', 'sleep features emptied on 3 days (no sleep record for the night)']
    """
    return [
        f"{'CGM' if reason.startswith('CGM') else 'sleep'} features emptied on {n:,} "
        f"day{'s' * (n != 1)} ({reason})"
        for reason, n in _sorted_counts(emptied).items()
    ]


def _sorted_counts(counts: dict[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}


# ---- participants ---------------------------------------------------------------------------
def study_group_code(value: object) -> float:
    """The ordered severity 0..3 of a study-group string (NaN if unrecognised).

    >>> study_group_code("pre_diabetes_lifestyle_controlled"), study_group_code("insulin_dependent")
    (1.0, 3.0)
    """
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if text in ("0", "1", "2", "3"):
        return float(text)
    if text.startswith("healthy"):
        return 0.0
    if "pre_diabetes" in text or "prediabetes" in text:
        return 1.0
    # Test "oral"/"non_insulin" before "insulin": the oral group's name contains "insulin".
    if text.startswith("oral") or "non_insulin" in text:
        return 2.0
    if text.startswith("insulin"):
        return 3.0
    return math.nan


def read_participants(root: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    """``participants.tsv`` as ``person_id`` (int), ``age``, ``study_group`` (0..3), ``clinical_site``.

    Accepts ``person_id`` or ``participant_id``. Returns the table and warnings (rows whose id
    cannot be read, duplicate ids, unknown study groups). A missing root, a missing file, or a
    file without any readable id is a :class:`DataError` naming the path.

    >>> read_participants("/no/such/root")
    Traceback (most recent call last):
    ...
    sensecf.errors.DataError: AI-READI folder not found: /no/such/root
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"AI-READI folder not found: {root}")
    path = root / PARTICIPANTS_FILE
    if not path.is_file():
        raise DataError(f"participants file not found: {path} (expected in the AI-READI root)")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types; the user needs the file name
        raise DataError(f"cannot read participants file {path}: {exc}") from exc
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]  # BOM-safe
    id_col = next((c for c in ("person_id", "participant_id") if c in table.columns), None)
    if id_col is None:
        raise DataError(
            f"participants file {path} has no person_id or participant_id column "
            f"(is it tab-separated?); found columns {list(table.columns)[:8]}"
        )
    warnings: list[str] = []
    ids = [parse_person_id(v) for v in table[id_col]]
    bad = [i for i, v in enumerate(ids) if v is None]
    if len(bad) == len(ids):
        raise DataError(f"participants file {path}: no readable {id_col} in {len(ids)} rows")
    if bad:
        warnings.append(
            f"{path}: skipped {len(bad)} rows with an unreadable {id_col} "
            f"(first at data row {bad[0] + 1}: {table[id_col].iloc[bad[0]]!r})"
        )
    out = pd.DataFrame({"person_id": pd.array(ids, dtype="Int64")})
    age_raw = table["age"] if "age" in table.columns else pd.Series([""] * len(table))
    out["age"] = pd.to_numeric(age_raw, errors="coerce").astype(float).to_numpy()
    if "study_group" in table.columns:
        out["study_group"] = [study_group_code(v) for v in table["study_group"]]
        unknown = sorted(
            {
                str(v)
                for v, c in zip(table["study_group"], out["study_group"], strict=True)
                if math.isnan(c)
            }
        )
        if unknown:
            warnings.append(f"{path}: unrecognised study_group values {unknown[:5]}")
    else:
        out["study_group"] = math.nan
        warnings.append(f"{path}: no study_group column")
    site = table["clinical_site"] if "clinical_site" in table.columns else ""
    out["clinical_site"] = site.to_numpy() if isinstance(site, pd.Series) else site
    out = out[out["person_id"].notna()]
    dup = out["person_id"].duplicated()
    if dup.any():
        warnings.append(f"{path}: {int(dup.sum())} duplicate ids; kept the first row of each")
        out = out[~dup]
    out["person_id"] = out["person_id"].astype("int64")
    return out.sort_values("person_id", kind="stable").reset_index(drop=True), warnings


# ---- JSON files -----------------------------------------------------------------------------
def load_records(path: str | os.PathLike, modality: str, skipped: Counter) -> list | None:
    """The list of records in a wearable JSON file, or ``None`` if it cannot be read (counted).

    Accepts ``{"header":..., "body": {<key>: [...]}}``, a body that is the list itself (pre-v2),
    and a file that is just a list (possibly empty).
    """
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        skipped[f"{modality}: file unreadable"] += 1
        return None
    records = _body_records(data, MODALITIES[modality].body_key)
    if records is None:
        skipped[f"{modality}: file unreadable"] += 1
    return records


def _body_records(data: Any, key: str) -> list | None:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    body = data.get("body", data)
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        return None
    if isinstance(body.get(key), list):
        return body[key]
    lists = [v for v in body.values() if isinstance(v, list)]
    if len(lists) == 1:  # an unexpected body key with the one list of records
        return lists[0]
    if not lists and all(k in ("header",) for k in body):
        return []  # {"header": ..., "body": {}}: no data
    return None


# ---- record fields ---------------------------------------------------------------------------
def _time_frame(record: dict) -> dict | None:
    frame = record.get("effective_time_frame")
    if frame is None:
        frame = record.get("sleep_stage_time_frame")  # the documented (not written) key
    return frame if isinstance(frame, dict) else None


def _point_time(record: dict) -> Any:
    frame = _time_frame(record)
    if frame is None:
        return None
    t = frame.get("date_time")
    if t is None and isinstance(frame.get("time_interval"), dict):
        interval = frame["time_interval"]
        t = interval.get("start_date_time") or interval.get("end_date_time")
    return t


def _interval(record: dict) -> tuple[Any, Any]:
    frame = _time_frame(record)
    if frame is None:
        return None, None
    interval = frame.get("time_interval")
    if isinstance(interval, dict):
        return interval.get("start_date_time"), interval.get("end_date_time")
    return frame.get("date_time"), None


def _value_of(record: dict, keys: Sequence[str]) -> tuple[bool, Any]:
    for key in keys:
        obj = record.get(key)
        if isinstance(obj, dict) and "value" in obj and obj["value"] is not None:
            return True, obj["value"]
    return False, None


def parse_utc(values: Sequence[Any]) -> pd.DatetimeIndex:
    """Parse UTC timestamps (``...Z`` or the old ``YYYY-MM-DD HH:MM:SS``); bad ones become NaT.

    >>> parse_utc(["2023-08-08T21:15:10Z", "2023-08-08 21:16:10", "noon"]).tolist()[1:]
    [Timestamp('2023-08-08 21:16:10+0000', tz='UTC'), NaT]
    """
    if len(values) == 0:
        return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    # Every value is a string in real files; a number would otherwise be read as epoch time.
    if set(map(type, values)) != {str}:
        values = [v if type(v) is str else None for v in values]
    try:
        out = pd.to_datetime(values, format="ISO8601", utc=True)
    except (ValueError, TypeError):
        out = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    return pd.DatetimeIndex(out).as_unit("ns")


def _to_float(
    values: list, modality: str, skipped: Counter, words: dict[str, float] | None = None
) -> np.ndarray:
    """Numeric values (NaN where missing or non-numeric, counted); numeric strings accepted."""
    try:
        arr = np.asarray(values, dtype=float)
    except (ValueError, TypeError):
        arr = np.array([_coerce(v, words) for v in values], dtype=float)
        bad = np.isnan(arr) & np.array([v is not None for v in values])
        if bad.any():
            skipped[f"{modality}: non-numeric value"] += int(bad.sum())
            missing = int(np.isnan(arr).sum() - bad.sum())
        else:
            missing = int(np.isnan(arr).sum())
        if missing:
            skipped[f"{modality}: missing value"] += missing
        return arr
    missing = int(np.isnan(arr).sum())  # None became NaN
    if missing:
        skipped[f"{modality}: missing value"] += missing
    return arr


def _coerce(value: Any, words: dict[str, float] | None) -> float:
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if words is not None and text.lower() in words:
            return words[text.lower()]
        try:
            number = float(text)
        except ValueError:
            return math.nan
        return number if math.isfinite(number) else math.nan
    return math.nan


# ---- point modalities -----------------------------------------------------------------------
def _extract_points(records: list, keys: Sequence[str], modality: str, skipped: Counter):
    """Times and raw values of point records: a tight fast path, a careful per-record fallback."""
    try:
        first = records[0]
        key = next(k for k in keys if k in first)
        if "date_time" in first["effective_time_frame"]:
            times = [r["effective_time_frame"]["date_time"] for r in records]
        else:
            times = [r["effective_time_frame"]["time_interval"]["start_date_time"] for r in records]
        values = [r[key]["value"] for r in records]
        return times, values
    except (KeyError, TypeError, IndexError, AttributeError, StopIteration):
        pass
    times, values = [], []
    for r in records:
        if not isinstance(r, dict):
            skipped[f"{modality}: record not an object"] += 1
            continue
        t = _point_time(r)
        if t is None:
            skipped[f"{modality}: missing time"] += 1
            continue
        ok, v = _value_of(r, keys)
        if not ok:
            skipped[f"{modality}: missing value"] += 1
            continue
        times.append(t)
        values.append(v)
    return times, values


def _valid_point_mask(modality: str, values: np.ndarray, skipped: Counter) -> np.ndarray:
    """Mask sentinels and impossible values (counted), per modality."""
    finite = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        if modality == "heart_rate":
            sentinel = values == 0  # no signal
            plausible = (values > 0) & (values <= 300)
        elif modality in ("stress", "respiratory_rate"):
            sentinel = (values == -1) | (values == -2)  # not enough data / too much motion
            upper = 100 if modality == "stress" else 80
            plausible = (values >= 0) & (values <= upper)
            if modality == "respiratory_rate":
                plausible &= values > 0
        elif modality == "oxygen_saturation":
            sentinel = values <= 0
            plausible = (values > 0) & (values <= 100)
        elif modality == "cgm":
            sentinel = np.zeros(len(values), dtype=bool)
            plausible = (values > 0) & (values <= 1000)
        else:  # calorie
            sentinel = np.zeros(len(values), dtype=bool)
            plausible = values >= 0
    sentinel &= finite
    out_of_range = finite & ~plausible & ~sentinel
    if sentinel.any():
        skipped[f"{modality}: sentinel masked"] += int(sentinel.sum())
    if out_of_range.any():
        skipped[f"{modality}: out of range"] += int(out_of_range.sum())
    return finite & plausible


def points_frame(records: list, modality: str, skipped: Counter) -> pd.DataFrame:
    """Clean point readings: ``time`` (UTC, sorted, unique) and ``value``.

    >>> recs = [{"heart_rate": {"value": v}, "effective_time_frame": {"date_time": t}}
    ...         for v, t in [(70, "2023-08-01T00:00:00Z"), (0, "2023-08-01T00:01:00Z")]]
    >>> c = Counter(); points_frame(recs, "heart_rate", c)["value"].tolist(), dict(c)
    ([70.0], {'heart_rate: sentinel masked': 1})
    """
    if not records:
        return _empty_points()
    times, raw = _extract_points(records, VALUE_KEYS[modality], modality, skipped)
    values = _to_float(raw, modality, skipped, CGM_WORDS if modality == "cgm" else None)
    stamps = parse_utc(times)
    bad_time = np.asarray(stamps.isna())
    if bad_time.any():
        skipped[f"{modality}: bad timestamp"] += int((bad_time & ~np.isnan(values)).sum())
    keep = ~bad_time & _valid_point_mask(modality, values, skipped)
    frame = pd.DataFrame({"time": stamps[keep], "value": values[keep]})
    frame = frame.sort_values("time", kind="stable")
    dup = frame["time"].duplicated()
    if dup.any():
        skipped[f"{modality}: duplicate timestamp"] += int(dup.sum())
        frame = frame[~dup.to_numpy()]
    return frame.reset_index(drop=True)


def _empty_points() -> pd.DataFrame:
    return pd.DataFrame(
        {"time": pd.DatetimeIndex([], dtype="datetime64[ns, UTC]"), "value": np.array([], float)}
    )


# ---- interval modalities --------------------------------------------------------------------
def _interval_mask(
    start: pd.DatetimeIndex, end: pd.DatetimeIndex, modality: str, skipped: Counter
) -> np.ndarray:
    bad = np.asarray(start.isna() | end.isna())
    minutes = np.asarray((end - start).total_seconds(), dtype=float) / 60.0
    with np.errstate(invalid="ignore"):
        zero = ~bad & (minutes <= 0)
        long = ~bad & (minutes > _MAX_INTERVAL_MIN)
    for mask, reason in (
        (bad, "bad timestamp"),
        (zero, "zero-length interval"),
        (long, "interval over 24 h"),
    ):
        if mask.any():
            skipped[f"{modality}: {reason}"] += int(mask.sum())
    return ~(bad | zero | long)


def sleep_frame(records: list, skipped: Counter) -> pd.DataFrame:
    """Sleep intervals: ``start``, ``end`` (UTC), ``stage`` and ``minutes``.

    Stage records (``awake``/``light``/``deep``/``rem``/``unknown``) take their minutes from the
    interval; a v1 bout record (``sleep_duration`` in hours) has stage ``"bout"`` and minutes
    from its duration (its stages are unknown).

    >>> rec = {"sleep_stage_state": "deep", "sleep_stage_time_frame": {"time_interval": {
    ...     "start_date_time": "2023-08-01T07:00:00Z", "end_date_time": "2023-08-01T07:30:00Z"}}}
    >>> sleep_frame([rec], Counter())[["stage", "minutes"]].values.tolist()
    [['deep', 30.0]]
    """
    modality = "sleep"
    starts, ends, stages, bout_min = [], [], [], []
    for r in records:
        if not isinstance(r, dict):
            skipped[f"{modality}: record not an object"] += 1
            continue
        start, end = _interval(r)
        if start is None:
            skipped[f"{modality}: missing time"] += 1
            continue
        stage = r.get("sleep_stage_state")
        minutes = math.nan
        if isinstance(stage, str) and stage.strip():
            stage = stage.strip().lower()
        else:
            ok, value = _value_of(r, ("sleep_duration",))
            if not ok:
                skipped[f"{modality}: missing value"] += 1
                continue
            minutes = _coerce(value, None) * _duration_factor(r["sleep_duration"].get("unit"))
            if math.isnan(minutes):
                skipped[f"{modality}: non-numeric value"] += 1
                continue
            stage = "bout"
        starts.append(start)
        ends.append(end)
        stages.append(stage)
        bout_min.append(minutes)
    start_ts = parse_utc(starts)
    end_ts = parse_utc(ends)
    bout = np.asarray(bout_min, dtype=float)
    is_bout = ~np.isnan(bout)
    # A bout without an end lasts its stated duration.
    no_end = np.asarray(end_ts.isna()) & is_bout
    if no_end.any():
        implied = start_ts + pd.to_timedelta(np.nan_to_num(bout), unit="min")
        end_ts = end_ts.where(~no_end, implied)
    keep = _interval_mask(start_ts, end_ts, modality, skipped)
    interval_min = np.asarray((end_ts - start_ts).total_seconds(), dtype=float) / 60.0
    durations = np.where(is_bout, bout, interval_min)
    frame = pd.DataFrame(
        {
            "start": start_ts[keep],
            "end": end_ts[keep],
            "stage": np.asarray(stages, dtype=object)[keep],
            "minutes": durations[keep],
        }
    )
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


def _duration_factor(unit: Any) -> float:
    text = str(unit or "h").strip().lower()
    if text.startswith("min"):
        return 1.0
    if text in ("s", "sec", "second", "seconds"):
        return 1.0 / 60.0
    return 60.0  # hours, the documented unit


def activity_frame(records: list, skipped: Counter) -> pd.DataFrame:
    """Activity intervals: ``start``, ``end`` (UTC), ``name`` (``""`` if blank) and ``steps``.

    A blank step value ``""`` is zero steps; numeric strings are numbers.

    >>> rec = {"activity_name": "walking", "base_movement_quantity": {"value": "70"},
    ...        "effective_time_frame": {"time_interval": {
    ...            "start_date_time": "2023-08-01T17:00:00Z", "end_date_time": "2023-08-01T17:01:00Z"}}}
    >>> activity_frame([rec], Counter())["steps"].tolist()
    [70.0]
    """
    modality = "physical_activity"
    if not records:
        return _empty_intervals({"name": np.array([], dtype=object), "steps": np.array([], float)})
    try:
        frames = [r["effective_time_frame"]["time_interval"] for r in records]
        starts = [f["start_date_time"] for f in frames]
        ends = [f["end_date_time"] for f in frames]
        names = [r.get("activity_name") for r in records]
        raw = [r["base_movement_quantity"]["value"] for r in records]
    except (KeyError, TypeError, AttributeError):
        starts, ends, names, raw = [], [], [], []
        for r in records:
            if not isinstance(r, dict):
                skipped[f"{modality}: record not an object"] += 1
                continue
            start, end = _interval(r)
            if start is None or end is None:
                skipped[f"{modality}: missing time"] += 1
                continue
            obj = r.get("base_movement_quantity")
            if not isinstance(obj, dict) or "value" not in obj:
                skipped[f"{modality}: missing value"] += 1
                continue
            starts.append(start)
            ends.append(end)
            names.append(r.get("activity_name"))
            raw.append(obj["value"])
    # "" means no steps counted in the interval (sedentary and blank-named records).
    raw = [0 if v == "" else v for v in raw] if "" in raw else raw
    steps = _to_float(raw, modality, skipped)
    start_ts, end_ts = parse_utc(starts), parse_utc(ends)
    keep = _interval_mask(start_ts, end_ts, modality, skipped) & ~np.isnan(steps)
    with np.errstate(invalid="ignore"):
        negative = keep & (steps < 0)
    if negative.any():
        skipped[f"{modality}: out of range"] += int(negative.sum())
        keep &= ~negative
    clean_names = np.array(
        [n.strip().lower() if isinstance(n, str) else "" for n in names], dtype=object
    )
    frame = pd.DataFrame(
        {
            "start": start_ts[keep],
            "end": end_ts[keep],
            "name": clean_names[keep],
            "steps": steps[keep],
        }
    )
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


def _empty_intervals(extra: dict[str, np.ndarray]) -> pd.DataFrame:
    empty = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"start": empty, "end": empty, **extra})


def empty_frame(modality: str) -> pd.DataFrame:
    """The (empty) tidy frame a modality has when a person has no data for it."""
    if modality == "sleep":
        return _empty_intervals(
            {"stage": np.array([], dtype=object), "minutes": np.array([], dtype=float)}
        )
    if modality == "physical_activity":
        return _empty_intervals(
            {"name": np.array([], dtype=object), "steps": np.array([], dtype=float)}
        )
    return _empty_points()


_READERS: dict[str, Callable[[list, Counter], pd.DataFrame]] = {
    "sleep": sleep_frame,
    "physical_activity": activity_frame,
}


def read_modality(path: str | os.PathLike, modality: str, skipped: Counter) -> pd.DataFrame | None:
    """Read one wearable file into its tidy frame; ``None`` if the file is unreadable (counted).

    >>> c = Counter(); read_modality("/no/such/file.json", "stress", c) is None, dict(c)
    (True, {'stress: file unreadable': 1})
    """
    records = load_records(path, modality, skipped)
    if records is None:
        return None
    if not records:
        return empty_frame(modality)
    reader = _READERS.get(modality)
    if reader is not None:
        return reader(records, skipped)
    return points_frame(records, modality, skipped)


@dataclass
class PersonFiles:
    """One person's tidy frames per modality, and what happened to their files."""

    person_id: int
    frames: dict[str, pd.DataFrame]
    files_read: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def read_person(paths: Mapping[str, Path | None], person_id: int, skipped: Counter) -> PersonFiles:
    """Read all of one person's wearable files; absent or unreadable files give empty frames.

    ``paths`` maps each modality to its file (``None``: absent), e.g. ``Layout(root).paths(pid)``.

    >>> from sensecf.data.aireadi.layout import Layout
    >>> p = read_person(Layout("/no/such/root").paths(1001), 1001, Counter())
    >>> len(p.missing), len(p.frames["cgm"])
    (8, 0)
    """
    out = PersonFiles(person_id=int(person_id), frames={})
    for modality in MODALITIES:
        path = paths.get(modality)
        frame = None
        if path is None or not Path(path).is_file():
            out.missing.append(modality)
        else:
            frame = read_modality(path, modality, skipped)
            if frame is None:
                out.unreadable.append(str(path))
            else:
                out.files_read += 1
        out.frames[modality] = frame if frame is not None else empty_frame(modality)
    return out
