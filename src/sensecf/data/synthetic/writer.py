"""Format one synthetic person's measurements as AI-READI files, with the real files' quirks.

JSON text is built by string joins from pre-formatted tokens (no per-record dicts): a 200-person
cohort has ~4 million records, and this is several times faster than serialising dicts.
Every file is written atomically (a temporary file in the same folder, then `os.replace`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sensecf.data.io import write_bytes
from sensecf.data.synthetic.gaps import MANIFEST_COLUMNS, GapPlan
from sensecf.data.synthetic.physiology import (
    ACTIVITY_NAMES,
    STAGE_NAMES,
    Measured,
    PersonSeries,
)

GLUCOSE_DIR = "wearable_blood_glucose"
ACTIVITY_DIR = "wearable_activity_monitor"
CGM_SUBDIR = "continuous_glucose_monitoring/dexcom_g6"
DEVICE = "garmin_vivosmart5"

# manifest column -> (modality folder, file suffix, body key, OMH schema name, schema version)
GARMIN_FILES: dict[str, tuple[str, str, str, str, str]] = {
    "heart_rate_filepath": ("heart_rate", "heartrate", "heart_rate", "heart-rate", "2.0"),
    "oxygen_saturation_filepath": (
        "oxygen_saturation",
        "oxygensaturation",
        "breathing",
        "oxygen-saturation",
        "2.0",
    ),
    "physical_activity_filepath": (
        "physical_activity",
        "activity",
        "activity",
        "physical-activity",
        "1.2",
    ),
    "physical_activity_calorie_filepath": (
        "physical_activity_calorie",
        "calorie",
        "activity",
        "calories-burned",
        "2.0",
    ),
    "respiratory_rate_filepath": (
        "respiratory_rate",
        "respiratoryrate",
        "breathing",
        "respiratory-rate",
        "2.0",
    ),
    "sleep_filepath": ("sleep", "sleep", "sleep", "sleep-episode", "1.1"),
    "stress_filepath": ("stress", "stress", "stress", "stress", "1.0"),
}

#: Every quirk the writer can inject; counts are reported for each (0 when absent).
QUIRK_KEYS: tuple[str, ...] = (
    "glucose_low",
    "glucose_high",
    "cgm_duplicate",
    "cgm_unknown_header_key",
    "hr_zero",
    "stress_minus1",
    "stress_minus2",
    "resp_minus1",
    "resp_minus2",
    "sleep_stage_time_frame_key",
    "sleep_v1_form",
    "steps_numeric_string",
    "steps_empty_string",
    "activity_name_empty",
    "activity_zero_length",
    "calorie_duration_key",
    "calorie_midday_reset",
    "missing_activity_monitor",
    "empty_stress_file",
    "old_timestamp_format",
    "malformed_missing_value",
    "malformed_string_value",
)

# Person slots (by index in the cohort) for one-off quirks. Slots depend only on the index, so a
# person's files never depend on how many persons follow.
SLOT_CALORIE_DURATION = 1
SLOT_CGM_ARTIFACTS = 2
SLOT_EMPTY_STRESS = 3
SLOT_MISSING_ACTIVITY = 9  # present when participants >= 10
SLOT_SLEEP_V1 = 19  # present when participants >= 20


@dataclass(frozen=True)
class QuirkPlan:
    """Which quirks one person's files carry."""

    enabled: bool
    at_least_one: bool  # rate-based quirks happen at least once (person 0), so every run has them
    missing_activity: bool = False
    sleep_v1: bool = False
    sleep_stage_time_frame: bool = False
    calorie_duration_key: bool = False
    empty_stress: bool = False
    cgm_artifacts: bool = False
    cgm_unknown_header: bool = False
    cgm_duplicates: bool = False
    old_timestamp_file: str | None = None
    malformed: bool = False


def plan_quirks(index: int, enabled: bool, rng: np.random.Generator) -> QuirkPlan:
    """Decide one person's quirks from their index (and a private generator).

    >>> plan_quirks(9, True, np.random.default_rng(0)).missing_activity
    True
    >>> plan_quirks(9, False, np.random.default_rng(0)).missing_activity
    False
    """
    if not enabled:
        return QuirkPlan(enabled=False, at_least_one=False)
    old_file = None
    if index % 8 == 5:
        old_file = list(GARMIN_FILES)[int(rng.integers(len(GARMIN_FILES)))]
    return QuirkPlan(
        enabled=True,
        at_least_one=index == 0,
        missing_activity=index == SLOT_MISSING_ACTIVITY,
        sleep_v1=index == SLOT_SLEEP_V1,
        sleep_stage_time_frame=index % 7 == 4,
        calorie_duration_key=index == SLOT_CALORIE_DURATION,
        empty_stress=index == SLOT_EMPTY_STRESS,
        cgm_artifacts=index == SLOT_CGM_ARTIFACTS,
        cgm_unknown_header=index % 4 == 0,
        cgm_duplicates=index % 5 == 1,
        old_timestamp_file=old_file,
        malformed=index % 6 == 2,
    )


def _n_events(rng: np.random.Generator, n: int, p: float, at_least_one: bool) -> int:
    k = int(rng.binomial(n, p)) if n > 0 else 0
    return max(k, 1) if at_least_one and n > 0 else k


def _pick(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return (
        np.sort(rng.choice(n, size=min(k, n), replace=False))
        if n > 0 and k > 0
        else np.array([], int)
    )


def _old_format(times: list[str]) -> list[str]:
    """`2023-08-08T21:15:10Z` -> `2023-08-08 21:15:10` (still UTC)."""
    return [t[:10] + " " + t[11:19] for t in times]


class PersonWriter:
    """Writes one person's files and counts the quirks it injected."""

    def __init__(
        self,
        root: Path,
        series: PersonSeries,
        meas: Measured,
        plan: QuirkPlan,
        rng: np.random.Generator,
        counts: dict[str, int],
        gaps: GapPlan | None = None,
    ) -> None:
        self.root = root
        self.gaps = GapPlan() if gaps is None else gaps
        self.cgm_stop_utc = ""  # where the CGM stops, when it does (set by write_cgm)
        self.s = series
        self.m = meas
        self.plan = plan
        self.rng = rng
        self.counts = counts
        self.pid = series.traits.person_id
        clock = series.clock
        minutes = clock.start_utc + np.arange(clock.n + 1).astype("timedelta64[m]")
        self.ts_min = np.datetime_as_string(minutes, unit="s", timezone="UTC")
        end = clock.start_utc + np.timedelta64(clock.n, "m")
        # A fixed creation time a couple of days after the window keeps files reproducible.
        self.created = str(
            np.datetime_as_string(
                end + np.timedelta64(2 * 1440 + 754, "m"), unit="s", timezone="UTC"
            )
        )
        self.malformed_files: dict[str, str] = {}
        if plan.malformed:
            kinds = ["glucose_filepath"]
            if not plan.missing_activity:
                kinds += ["heart_rate_filepath", "stress_filepath", "respiratory_rate_filepath"]
            a = kinds[int(rng.integers(len(kinds)))]
            b = kinds[int(rng.integers(len(kinds)))]
            self.malformed_files = {a: "both"} if a == b else {a: "missing", b: "string"}

    # ---------------------------------------------------------------- helpers
    def _uuid(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def _times(self, idx: np.ndarray, column: str) -> list[str]:
        times = self.ts_min[idx].tolist()
        if self.plan.old_timestamp_file == column:
            times = _old_format(times)
        return times

    def _garmin_header(self, column: str) -> bytes:
        _, _, _, schema, version = GARMIN_FILES[column]
        header = {
            "uuid": self._uuid(),
            "creation_date_time": self.created,
            "user_id": f"AIREADI-{self.pid}",
            "schema_id": {"namespace": "omh", "name": schema, "version": version},
            "timezone": self.s.traits.tz_abbrev,
        }
        return orjson.dumps(header)

    def _write(self, rel: str, header: bytes, body_key: str, records: list[str]) -> str:
        if rel in self._absent:
            # The file is made (the generators draw as always, so the other files keep their
            # bytes) but not written: the manifest marks it absent.
            return "None"
        text = b"".join(
            [
                b'{"header":',
                header,
                b',"body":{"',
                body_key.encode(),
                b'":[\n',
                ",\n".join(records).encode(),
                b"\n]}}\n" if records else b"]}}\n",
            ]
        )
        write_bytes(self.root / rel.lstrip("/"), text)
        return rel

    def _garmin_path(self, column: str) -> str:
        folder, suffix, *_ = GARMIN_FILES[column]
        return f"/{ACTIVITY_DIR}/{folder}/{DEVICE}/{self.pid}/{self.pid}_{suffix}.json"

    def _malform(
        self, column: str, records: list[str], times: list[str], key: str, unit: str
    ) -> None:
        """Replace one or two records by ones a reader must skip (and count)."""
        kind = self.malformed_files.get(column)
        if kind is None or not records:
            return
        kinds = ["missing", "string"] if kind == "both" else [kind]
        for k in kinds:
            i = int(self.rng.integers(len(records)))
            if k == "missing":
                records[i] = f'{{"effective_time_frame":{{"date_time":"{times[i]}"}}}}'
                self.counts["malformed_missing_value"] += 1
            else:
                records[i] = (
                    f'{{"{key}":{{"value":"n/a","unit":"{unit}"}},'
                    f'"effective_time_frame":{{"date_time":"{times[i]}"}}}}'
                )
                self.counts["malformed_string_value"] += 1

    @staticmethod
    def _points(
        key: str, unit: str, tokens: list[str], times: list[str], extra: str = ""
    ) -> list[str]:
        pre = '{"' + key + '":{"value":'
        mid = ',"unit":"' + unit + '"},"effective_time_frame":{"date_time":"'
        post = '"}' + extra + "}"
        return [pre + v + mid + t + post for v, t in zip(tokens, times, strict=True)]

    # ---------------------------------------------------------------- files
    @property
    def _absent(self) -> set[str]:
        return {
            self._cgm_path() if stream == "cgm" else self._garmin_path(MANIFEST_COLUMNS[stream])
            for stream in self.gaps.absent
        }

    def _cgm_path(self) -> str:
        return f"/{GLUCOSE_DIR}/{CGM_SUBDIR}/{self.pid}/{self.pid}_DEX.json"

    def gap_rows(self) -> list[dict[str, Any]]:
        """This person's gaps as rows of the cohort's gap table (streams in file order)."""
        rows: list[dict[str, Any]] = [
            {"person_id": self.pid, "stream": stream, "kind": "absent", "stop_utc": ""}
            for stream in MANIFEST_COLUMNS
            if stream in self.gaps.absent
        ]
        if self.cgm_stop_utc:
            rows.append(
                {
                    "person_id": self.pid,
                    "stream": "cgm",
                    "kind": "stops",
                    "stop_utc": self.cgm_stop_utc,
                }
            )
        return rows

    def write_all(self) -> dict[str, str]:
        """Write every file of this person; return manifest paths (`None` where absent)."""
        paths = {"glucose_filepath": self.write_cgm()}
        if self.plan.missing_activity:
            self.counts["missing_activity_monitor"] += 1
            paths.update({c: "None" for c in GARMIN_FILES})
            return paths
        paths["heart_rate_filepath"] = self.write_heart_rate()
        paths["oxygen_saturation_filepath"] = self.write_spo2()
        paths["physical_activity_filepath"] = self.write_activity()
        paths["physical_activity_calorie_filepath"] = self.write_calorie()
        paths["respiratory_rate_filepath"] = self.write_resp()
        paths["sleep_filepath"] = self.write_sleep()
        paths["stress_filepath"] = self.write_stress()
        if self.plan.old_timestamp_file is not None:
            self.counts["old_timestamp_format"] += 1
        return paths

    def write_cgm(self) -> str:
        m, t, rng = self.m, self.s.traits, self.rng
        values = m.cgm_value.copy()
        if self.plan.cgm_artifacts:
            # A compression low during the first night and a short sensor spike in the afternoon.
            night = self.s.nights[0]
            rows = np.flatnonzero((m.cgm_minute >= night[0] + 90) & (m.cgm_minute < night[1]))
            if len(rows) >= 4:
                values[rows[:4]] = rng.integers(30, 39, 4)
            day1 = self.s.clock.midnight_idx[1]
            rows = np.flatnonzero(m.cgm_minute >= day1 + 15 * 60)
            if len(rows) >= 2:
                values[rows[:2]] = rng.integers(402, 440, 2)
        if self.plan.enabled:
            tokens = values.astype(str).astype(object)
            low, high = values < 40, values > 400
            tokens[low] = '"Low"'
            tokens[high] = '"High"'
            self.counts["glucose_low"] += int(low.sum())
            self.counts["glucose_high"] += int(high.sum())
            tokens = tokens.tolist()
        else:
            tokens = np.clip(values, 40, 400).astype(str).tolist()
        stamps = self.s.clock.start_utc + m.cgm_offset_s.astype("timedelta64[s]")
        times = np.datetime_as_string(stamps, unit="s", timezone="UTC").tolist()
        tx0 = int(rng.integers(1000, 400000))
        tx = (tx0 + m.cgm_offset_s - m.cgm_offset_s[0]).astype(str).tolist()
        device = "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), 2)) + str(
            rng.integers(10**7, 10**8)
        )
        transmitter = str(rng.integers(100, 1000)) + "".join(
            rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), 3)
        )
        pre = '{"effective_time_frame":{"time_interval":{"start_date_time":"'
        mid1 = '","end_date_time":"'
        mid2 = f'"}}}},"event_type":"EGV","source_device_id":"{device}","blood_glucose":{{"unit":"mg/dL","value":'
        mid3 = '},"transmitter_time":{"unit":"long integer","value":'
        post = f'}},"transmitter_id":"{transmitter}"}}'
        records = [
            pre + s + mid1 + s + mid2 + v + mid3 + x + post
            for s, v, x in zip(times, tokens, tx, strict=True)
        ]
        if self.gaps.cgm_stop is not None:
            # The sensor stops for good partway: its later readings are never recorded.
            keep = max(1, int(len(records) * self.gaps.cgm_stop))
            if keep < len(records):
                self.cgm_stop_utc = times[keep]
            records, times = records[:keep], times[:keep]
        self._malform_cgm(records, times)
        if self.plan.cgm_duplicates:
            picked = _pick(rng, len(records), int(rng.integers(1, 4))).tolist()
            for i in sorted(picked, reverse=True):
                records.insert(i + 1, records[i])  # same timestamp, same value: a re-sent reading
            self.counts["cgm_duplicate"] += len(picked)
        header: dict[str, Any] = {
            "uuid": self._uuid(),
            "creation_date_time": self.created,
            "patient_id": f"AIREADI-{self.pid}",
            "schema_id": {"namespace": "omh", "name": "blood-glucose", "version": 3.0},
            "modality": "sensed",
            "timezone": t.tz_abbrev,
        }
        if self.plan.cgm_unknown_header:
            header["acquistion_rate"] = 5  # sic: one real writer misspells this key
            self.counts["cgm_unknown_header_key"] += 1
        return self._write(self._cgm_path(), orjson.dumps(header), "cgm", records)

    def _malform_cgm(self, records: list[str], times: list[str]) -> None:
        kind = self.malformed_files.get("glucose_filepath")
        if kind is None:
            return
        for k in ["missing", "string"] if kind == "both" else [kind]:
            i = int(self.rng.integers(len(records)))
            frame = f'{{"effective_time_frame":{{"time_interval":{{"start_date_time":"{times[i]}","end_date_time":"{times[i]}"}}}},"event_type":"EGV"'
            if k == "missing":
                records[i] = frame + "}"
                self.counts["malformed_missing_value"] += 1
            else:
                records[i] = frame + ',"blood_glucose":{"unit":"mg/dL","value":"n/a"}}'
                self.counts["malformed_string_value"] += 1

    def write_heart_rate(self) -> str:
        col = "heart_rate_filepath"
        m, rng = self.m, self.rng
        values = m.hr.copy()
        if self.plan.enabled:
            # No-signal zeros in short runs.
            starts = _pick(
                rng, len(values), _n_events(rng, len(values), 0.002, self.plan.at_least_one)
            )
            for i in starts:
                run = int(rng.integers(1, 4))
                values[i : i + run] = 0
            self.counts["hr_zero"] += int((values == 0).sum())
        times = self._times(m.block_start, col)
        records = self._points("heart_rate", "beats/min", values.astype(str).tolist(), times)
        self._malform(col, records, times, "heart_rate", "beats/min")
        return self._write(self._garmin_path(col), self._garmin_header(col), "heart_rate", records)

    def write_spo2(self) -> str:
        col = "oxygen_saturation_filepath"
        m = self.m
        idx = np.flatnonzero(m.asleep)
        times = self._times(m.block_start[idx], col)
        tokens = m.spo2[idx].astype(str).tolist()
        records = self._points(
            "oxygen_saturation", "%", tokens, times, ',"measurement_method":"pulse oximetry"'
        )
        return self._write(self._garmin_path(col), self._garmin_header(col), "breathing", records)

    def write_resp(self) -> str:
        col = "respiratory_rate_filepath"
        m, rng = self.m, self.rng
        tokens = m.resp.astype(str).astype(object)
        if self.plan.enabled:
            moving = np.flatnonzero(m.stress == -2)
            k2 = _n_events(rng, len(moving), 0.4, self.plan.at_least_one)
            tokens[moving[_pick(rng, len(moving), k2)]] = "-2"
            k1 = _n_events(rng, len(tokens), 0.02, self.plan.at_least_one)
            free = np.flatnonzero(tokens != "-2")
            tokens[free[_pick(rng, len(free), k1)]] = "-1"
            self.counts["resp_minus2"] += int((tokens == "-2").sum())
            self.counts["resp_minus1"] += int((tokens == "-1").sum())
        times = self._times(m.block_start, col)
        records = self._points("respiratory_rate", "breaths/min", tokens.tolist(), times)
        self._malform(col, records, times, "respiratory_rate", "breaths/min")
        return self._write(self._garmin_path(col), self._garmin_header(col), "breathing", records)

    def write_stress(self) -> str:
        col = "stress_filepath"
        m = self.m
        # Sentinels are how the device reports (always present), counted for the reader's tests.
        self.counts["stress_minus1"] += int((m.stress == -1).sum())
        self.counts["stress_minus2"] += int((m.stress == -2).sum())
        if self.plan.empty_stress:
            self.counts["empty_stress_file"] += 1
            return self._write(self._garmin_path(col), self._garmin_header(col), "stress", [])
        times = self._times(m.block_start, col)
        records = self._points("stress", "stress level", m.stress.astype(str).tolist(), times)
        self._malform(col, records, times, "stress", "stress level")
        return self._write(self._garmin_path(col), self._garmin_header(col), "stress", records)

    def write_activity(self) -> str:
        col = "physical_activity_filepath"
        m, rng, plan = self.m, self.rng, self.plan
        nb = len(m.steps)
        names = np.array(ACTIVITY_NAMES, dtype=object)[m.activity]
        steps = m.steps.astype(str).astype(object)
        if plan.enabled:
            k = _n_events(rng, nb, 0.015, plan.at_least_one)
            idx = _pick(rng, nb, k)
            steps[idx] = np.array(['"' + v + '"' for v in steps[idx]], dtype=object).reshape(-1)
            self.counts["steps_numeric_string"] += len(idx)
            k = _n_events(rng, nb, 0.001, plan.at_least_one)
            idx = _pick(rng, nb, k)
            steps[idx] = '""'
            self.counts["steps_empty_string"] += len(idx)
            k = _n_events(rng, nb, 0.002, plan.at_least_one)
            idx = _pick(rng, nb, k)
            names[idx] = ""
            self.counts["activity_name_empty"] += len(idx)
        starts = self._times(m.block_start, col)
        ends = self._times(m.block_start + m.interval, col)
        pre = '{"activity_name":"'
        mid1 = '","base_movement_quantity":{"value":'
        mid2 = ',"unit":"steps"},"effective_time_frame":{"time_interval":{"start_date_time":"'
        mid3 = '","end_date_time":"'
        post = '"}}}'
        records = [
            pre + a + mid1 + v + mid2 + s + mid3 + e + post
            for a, v, s, e in zip(names.tolist(), steps.tolist(), starts, ends, strict=True)
        ]
        if plan.enabled:
            k = _n_events(rng, nb, 0.0007, plan.at_least_one)
            for i in sorted(_pick(rng, nb, k).tolist(), reverse=True):
                # A zero-length interval (start == end) with no steps, as real exports contain.
                t = starts[i]
                records.insert(i, pre + "generic" + mid1 + "0" + mid2 + t + mid3 + t + post)
            self.counts["activity_zero_length"] += k
        return self._write(self._garmin_path(col), self._garmin_header(col), "activity", records)

    def write_calorie(self) -> str:
        col = "physical_activity_calorie_filepath"
        m, rng, plan = self.m, self.rng, self.plan
        values = m.kcal_cum.copy()
        if plan.enabled:
            # The counter occasionally restarts mid-day: later values count from the reset, and
            # the day total (sum of increments, a drop meaning a reset) is unchanged.
            days = np.unique(m.block_day)
            k = _n_events(rng, len(days), 0.08, plan.at_least_one)
            for d in days[_pick(rng, len(days), k)]:
                rows = np.flatnonzero(m.block_day == d)
                ok = [
                    j
                    for j in rows[1:]
                    if values[j - 1] >= 20 and values[j] - values[j - 1] < values[j - 1]
                ]
                if not ok:
                    continue
                j = ok[int(rng.integers(len(ok)))]
                last = rows[-1]
                values[j : last + 1] = m.kcal_cum[j : last + 1] - m.kcal_cum[j - 1]
                self.counts["calorie_midday_reset"] += 1
        key = "duration" if plan.calorie_duration_key else "calories_value"
        if plan.calorie_duration_key:
            self.counts["calorie_duration_key"] += 1
        times = self._times(m.block_start, col)
        pre = '{"activity_name":"kcal_burned","' + key + '":{"value":'
        mid = ',"unit":"kcal"},"effective_time_frame":{"date_time":"'
        records = [
            pre + v + mid + t + '"}}'
            for v, t in zip(values.astype(str).tolist(), times, strict=True)
        ]
        return self._write(self._garmin_path(col), self._garmin_header(col), "activity", records)

    def write_sleep(self) -> str:
        col = "sleep_filepath"
        s, plan = self.s, self.plan
        ts = self.ts_min.tolist()
        if plan.old_timestamp_file == col:
            ts = _old_format(ts)
        records: list[str] = []
        if plan.sleep_v1:
            # v1 form: one record per bout with its asleep duration in hours.
            self.counts["sleep_v1_form"] += 1
            for runs, (bed, wake) in zip(s.sleep_runs, s.nights, strict=True):
                if not runs:
                    continue
                asleep = sum(b - a for a, b, st in runs if st > 0)
                records.append(
                    f'{{"sleep_duration":{{"value":{round(asleep / 60, 2)},"unit":"h"}},'
                    f'"effective_time_frame":{{"time_interval":{{"start_date_time":"{ts[bed]}",'
                    f'"end_date_time":"{ts[wake]}"}}}}}}'
                )
        else:
            key = (
                "sleep_stage_time_frame" if plan.sleep_stage_time_frame else "effective_time_frame"
            )
            if plan.sleep_stage_time_frame:
                self.counts["sleep_stage_time_frame_key"] += 1
            for runs in s.sleep_runs:
                for a, b, st in runs:
                    records.append(
                        f'{{"sleep_stage_state":"{STAGE_NAMES[st]}","{key}":{{"time_interval":'
                        f'{{"start_date_time":"{ts[a]}","end_date_time":"{ts[b]}"}}}}}}'
                    )
        return self._write(self._garmin_path(col), self._garmin_header(col), "sleep", records)
