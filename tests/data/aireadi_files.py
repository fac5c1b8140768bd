"""Build tiny AI-READI folders for tests: participants, manifests and wearable JSON files.

Record makers take UTC timestamp strings; ``good_person`` writes a person whose every local
day passes the keep rules, with known values (see its docstring) that tests check against.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.data.aireadi.layout import MODALITIES, conventional_path, timezone_for

PARTICIPANT_COLUMNS = ("clinical_site", "study_group", "age", "study_visit_date")
GROUPS = (
    "healthy",
    "pre_diabetes_lifestyle_controlled",
    "oral_medication_and_or_non_insulin_injectable_medication_controlled",
    "insulin_dependent",
)


def utc_strings(local_times: pd.DatetimeIndex, old_format: bool = False) -> list[str]:
    """UTC timestamp strings of tz-aware times, in the current or the old format."""
    fmt = "%Y-%m-%d %H:%M:%S" if old_format else "%Y-%m-%dT%H:%M:%SZ"
    return list(local_times.tz_convert("UTC").strftime(fmt))


def local_grid(pid: int, start: str, end: str, freq: str) -> pd.DatetimeIndex:
    """Times from ``start`` (inclusive) to ``end`` (exclusive), local to the person's site."""
    tz = timezone_for(pid)
    return pd.date_range(
        pd.Timestamp(start, tz=tz), pd.Timestamp(end, tz=tz), freq=freq, inclusive="left"
    )


# ---- record makers ----------------------------------------------------------------------------
def point(key: str, t: str, value: Any, unit: str = "") -> dict:
    return {key: {"value": value, "unit": unit}, "effective_time_frame": {"date_time": t}}


def cgm(t: str, value: Any) -> dict:
    return {
        "effective_time_frame": {"time_interval": {"start_date_time": t, "end_date_time": t}},
        "event_type": "EGV",
        "source_device_id": "AB12345678",
        "blood_glucose": {"unit": "mg/dL", "value": value},
        "transmitter_time": {"unit": "long integer", "value": 7573},
        "transmitter_id": "123ABC",
    }


def interval(start: str, end: str) -> dict:
    return {"time_interval": {"start_date_time": start, "end_date_time": end}}


def sleep(start: str, end: str, stage: str, frame_key: str = "effective_time_frame") -> dict:
    return {"sleep_stage_state": stage, frame_key: interval(start, end)}


def sleep_bout(start: str, end: str, hours: float) -> dict:
    return {
        "sleep_duration": {"value": hours, "unit": "h"},
        "effective_time_frame": interval(start, end),
    }


def activity(start: str, end: str, steps: Any, name: str = "walking") -> dict:
    return {
        "activity_name": name,
        "base_movement_quantity": {"value": steps, "unit": "steps"},
        "effective_time_frame": interval(start, end),
    }


def calorie(t: str, value: Any, key: str = "calories_value") -> dict:
    return {
        "activity_name": "kcal_burned",
        key: {"value": value, "unit": "kcal"},
        "effective_time_frame": {"date_time": t},
    }


class AireadiFiles:
    """Writes an AI-READI folder under ``root`` piece by piece.

    The record makers are available as methods too (``files.cgm(t, 120)``), so tests need only
    the fixture.
    """

    point = staticmethod(point)
    cgm = staticmethod(cgm)
    sleep = staticmethod(sleep)
    sleep_bout = staticmethod(sleep_bout)
    activity = staticmethod(activity)
    calorie = staticmethod(calorie)
    utc_strings = staticmethod(utc_strings)
    local_grid = staticmethod(local_grid)

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- tables --------------------------------------------------------------------------
    def participants(self, rows: Sequence[dict[str, Any]], id_column: str = "person_id") -> Path:
        """Write participants.tsv; each row needs ``person_id`` and may set the other columns."""
        table = pd.DataFrame(
            [
                {
                    id_column: r["person_id"],
                    "clinical_site": r.get(
                        "clinical_site", "UAB" if str(r["person_id"])[0] == "7" else "UW"
                    ),
                    "study_group": r.get("study_group", "healthy"),
                    "age": r.get("age", 55),
                    "study_visit_date": r.get("study_visit_date", "2023-08-01"),
                    "recommended_split": "train",
                    "wearable_activity_monitor": "TRUE",
                    "wearable_blood_glucose": "TRUE",
                }
                for r in rows
            ]
        )
        path = self.root / "participants.tsv"
        table.to_csv(path, sep="\t", index=False)
        return path

    def manifest(self, datatype: str, rows: Sequence[dict[str, Any]]) -> Path:
        """Write ``<datatype>/manifest.tsv`` from dict rows (column name → value)."""
        path = self.root / datatype / "manifest.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(list(rows)).to_csv(path, sep="\t", index=False)
        return path

    # ---- wearable files ------------------------------------------------------------------
    def write(
        self,
        pid: int,
        modality: str,
        records: list | None = None,
        *,
        form: str = "v2",
        path: Path | None = None,
        raw: str | bytes | None = None,
        header: dict[str, Any] | None = None,
    ) -> Path:
        """Write one wearable file at its conventional path (or ``path``).

        ``form``: ``"v2"`` (header + body dict), ``"body-list"`` (pre-v2: body is the list) or
        ``"list"`` (the file is just the list). ``raw`` writes the given text as is.
        """
        path = path or conventional_path(self.root, pid, modality)
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            path.write_bytes(raw.encode() if isinstance(raw, str) else raw)
            return path
        records = list(records or [])
        id_key = "patient_id" if modality == "cgm" else "user_id"
        head = {
            "uuid": f"AIREADI-{pid}",
            "creation_date_time": "2024-02-26T12:56:46Z",
            id_key: f"AIREADI-{pid}",
            "schema_id": {"namespace": "omh", "name": modality, "version": 3.0},
            "timezone": "pst",
        }
        head.update(header or {})
        if form == "list":
            doc: Any = records
        elif form == "body-list":
            doc = {"header": head, "body": records}
        else:
            doc = {"header": head, "body": {MODALITIES[modality].body_key: records}}
        path.write_text(json.dumps(doc))
        return path

    def records(self, pid: int, modality: str) -> list:
        """The records of a file written by ``write`` (v2 form)."""
        doc = json.loads(conventional_path(self.root, pid, modality).read_text())
        return doc["body"][MODALITIES[modality].body_key]

    def edit(self, pid: int, modality: str, keep: Callable[[dict], bool]) -> None:
        """Rewrite a v2 file keeping only the records for which ``keep(record)`` is true."""
        self.write(pid, modality, [r for r in self.records(pid, modality) if keep(r)])

    @staticmethod
    def local_time(pid: int, record: dict) -> pd.Timestamp:
        """The local time of a record's (start) time, in the person's time zone."""
        frame = record.get("effective_time_frame") or record.get("sleep_stage_time_frame")
        t = frame.get("date_time") or frame["time_interval"]["start_date_time"]
        return pd.Timestamp(t).tz_convert(timezone_for(pid))

    # ---- a complete, well-behaved person ------------------------------------------------
    def good_person(
        self,
        pid: int,
        start: str = "2023-08-01",
        days: int = 3,
        *,
        stress: float | Iterable[float] = 20.0,
        hr: float = 70.0,
        glucose: Sequence[float] = (100.0, 150.0, 60.0, 200.0),
        skip: Sequence[str] = (),
        form: str = "v2",
        old_format: bool = False,
    ) -> None:
        """Write every modality for ``days`` local days from ``start``, all passing the rules.

        Known daily values: CGM every 15 min cycling through ``glucose`` (TIR 50%, TBR70 25%,
        TAR180 25% for the default); HR ``hr`` every 10 min (mean = resting = sleeping = hr);
        sleep 23:00-07:00 local: light 120 + deep 90 + awake 30 + REM 90 + light 150 min
        (total 450, light 270, efficiency 93.75%); steps 3,000 in one walking hour
        (12:00-13:00), sedentary 60 + 600 min; calorie counter +10 kcal per hour (230/day);
        SpO2 95% 01:00-05:00; respiration 14/min; stress ``stress`` every 30 min with a -1
        sentinel at minute 15 of each hour. Modalities in ``skip`` are not written. ``form``
        and ``old_format`` write the files as older releases did (see ``write`` and
        ``utc_strings``).
        """
        kw: dict[str, Any] = {"form": form}

        def stamp(times: pd.DatetimeIndex) -> list[str]:
            return utc_strings(times, old_format)

        tz_days = pd.date_range(start, periods=days, freq="D")
        first, end = tz_days[0], tz_days[-1] + pd.Timedelta(days=1)
        stress_values = [float(stress)] * days if isinstance(stress, int | float) else list(stress)
        grid = local_grid(pid, str(first.date()), str(end.date()), "15min")
        if "cgm" not in skip:
            values = [glucose[i % len(glucose)] for i in range(len(grid))]
            self.write(
                pid,
                "cgm",
                [cgm(t, v) for t, v in zip(stamp(grid), values, strict=True)],
                **kw,
            )
        grid = local_grid(pid, str(first.date()), str(end.date()), "10min")
        if "heart_rate" not in skip:
            self.write(
                pid,
                "heart_rate",
                [point("heart_rate", t, hr, "beats/min") for t in stamp(grid)],
                **kw,
            )
        grid = local_grid(pid, str(first.date()), str(end.date()), "30min")
        if "respiratory_rate" not in skip:
            self.write(
                pid,
                "respiratory_rate",
                [point("respiratory_rate", t, 14.0, "breaths/min") for t in stamp(grid)],
                **kw,
            )
        if "stress" not in skip:
            recs = []
            for i, day in enumerate(tz_days):
                g = local_grid(
                    pid, str(day.date()), str((day + pd.Timedelta(days=1)).date()), "30min"
                )
                recs += [point("stress", t, stress_values[i]) for t in stamp(g)]
                g15 = g + pd.Timedelta(minutes=15)
                recs += [point("stress", t, -1) for t in stamp(g15)]
            self.write(pid, "stress", recs, **kw)
        sleep_recs, spo2_recs, act_recs, cal_recs = [], [], [], []
        tz = timezone_for(pid)
        for day in tz_days:
            eve = pd.Timestamp(day, tz=tz) - pd.Timedelta(hours=1)  # 23:00 the evening before
            plan = [("light", 120), ("deep", 90), ("awake", 30), ("rem", 90), ("light", 150)]
            t = eve
            for stage, minutes in plan:
                s, e = stamp(pd.DatetimeIndex([t, t + pd.Timedelta(minutes=minutes)]))
                sleep_recs.append(sleep(s, e, stage))
                t += pd.Timedelta(minutes=minutes)
            midnight = pd.Timestamp(day, tz=tz)
            spo2_grid = pd.date_range(midnight + pd.Timedelta(hours=1), periods=16, freq="15min")
            spo2_recs += [point("oxygen_saturation", s, 95.0, "%") for s in stamp(spo2_grid)]
            blocks = [(7, 12, "sedentary", 0), (12, 13, "walking", 3000), (13, 23, "sedentary", 0)]
            for h0, h1, name, steps in blocks:
                s, e = stamp(
                    pd.DatetimeIndex(
                        [midnight + pd.Timedelta(hours=h0), midnight + pd.Timedelta(hours=h1)]
                    )
                )
                act_recs.append(activity(s, e, steps, name))
            hours = pd.date_range(midnight, periods=24, freq="1h")
            cal_recs += [calorie(s, 10.0 * i) for i, s in enumerate(stamp(hours))]
        for modality, recs in (
            ("sleep", sleep_recs),
            ("oxygen_saturation", spo2_recs),
            ("physical_activity", act_recs),
            ("calorie", cal_recs),
        ):
            if modality not in skip:
                self.write(pid, modality, recs, **kw)

    def cohort(
        self, people: Sequence[dict[str, Any]], id_column: str = "person_id", **kw: Any
    ) -> None:
        """participants.tsv plus a good person for each row (row keys: person_id, study_group,
        age, stress, hr)."""
        self.participants(people, id_column=id_column)
        for p in people:
            opts = {k: p[k] for k in ("stress", "hr", "start", "days") if k in p}
            self.good_person(p["person_id"], **{**kw, **opts})
