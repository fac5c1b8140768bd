"""Synthetic cohort in the AI-READI wearable file layout, with behaviour that drives outcomes.

The cohort is the embedded default dataset of `sensecf`: it writes the same folders, manifests
and JSON shapes as AI-READI (Dexcom G6 CGM, Garmin Vivosmart 5), including the quirks of the
real files, and returns the latent ground truth (per person and per person-day) that produced
them. In its physiology sleep and steps drive glucose, heart rate and Garmin stress, so a model of
"high stress day" has behavioural levers for counterfactuals to find.

>>> import tempfile
>>> cohort = write_synthetic_cohort(tempfile.mkdtemp(), CohortConfig(participants=3, days=2))
>>> len(cohort.persons), len(cohort.days)
(3, 6)
"""

from __future__ import annotations

import importlib.metadata
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
import pandas as pd

from sensecf.data.io import write_bytes
from sensecf.data.synthetic.gaps import (
    STREAMS,
    check_share,
    plan_gaps,
    stream_shares,
)
from sensecf.data.synthetic.physiology import (
    MAX_PER_SITE,
    SITES,
    STUDY_GROUPS,
    day_truth,
    draw_traits,
    measure,
    simulate_person,
)
from sensecf.data.synthetic.writer import (
    ACTIVITY_DIR,
    GARMIN_FILES,
    GLUCOSE_DIR,
    QUIRK_KEYS,
    PersonWriter,
    plan_quirks,
)
from sensecf.errors import DataError
from sensecf.progress import track

__all__ = [
    "CohortConfig",
    "SyntheticCohort",
    "QUIRK_KEYS",
    "STREAMS",
    "write_synthetic_cohort",
]

#: Garmin sampling intervals that tile an hour (and so every local day) exactly.
ALLOWED_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
MAX_PARTICIPANTS = MAX_PER_SITE * len(SITES)
MAX_DAYS = 365
#: Share of person-days labelled high stress (the top quarter of daily mean valid stress).
HIGH_STRESS_QUANTILE = 0.75

# Streams of the seed: one SeedSequence per (purpose, person index), so a person's data depends
# only on the seed and their index, never on how many persons the cohort has.
_TRAITS, _PHYSIOLOGY, _MEASURE, _QUIRKS, _GAPS = 0, 1, 2, 3, 4
# Config fields that real downloads' gaps add; left out of the written description at their
# defaults, so a cohort without gaps is written byte for byte as before they existed.
_GAP_FIELDS = ("missing_streams", "cgm_stops")


def _check_int(name: str, value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    if int(value) < lo:
        raise ValueError(f"{name} must be {what}; got {value!r}")
    if int(value) > hi:
        raise ValueError(f"{name} must be at most {hi}; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class CohortConfig:
    """What to generate. Validated on construction.

    >>> CohortConfig(participants=6, days=3, interval_min=15).interval_min
    15

    Gaps, as real downloads have them: ``missing_streams`` is the share of persons without a
    stream's file, one share for every stream (``0.1``) or per stream (``{"spo2": 0.2,
    "cgm": 0.1}``, names from :data:`STREAMS` or their aliases); ``cgm_stops`` is the share of
    persons whose CGM stops partway through the study (a quarter to three quarters of the way).
    Shares lie in [0, 1).

    >>> dict(CohortConfig(missing_streams={"spo2": 0.2}).missing_streams)["oxygen_saturation"]
    0.2
    >>> CohortConfig(participants=-3)
    Traceback (most recent call last):
    ...
    ValueError: participants must be a positive integer; got -3
    """

    participants: int = 200
    days: int = 10
    interval_min: int = 5  # Garmin sampling interval (minutes); CGM is always every 5 minutes
    seed: int = 0
    quirks: bool = True  # inject the real files' quirks
    missing_streams: float | Mapping[str, float] | tuple[tuple[str, float], ...] = 0.0
    cgm_stops: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise numpy integers to int
        set_(
            self,
            "participants",
            _check_int(
                "participants", self.participants, 1, MAX_PARTICIPANTS, "a positive integer"
            ),
        )
        set_(self, "days", _check_int("days", self.days, 1, MAX_DAYS, "a positive integer"))
        interval = _check_int("interval_min", self.interval_min, 1, 60, "a positive integer")
        if interval not in ALLOWED_INTERVALS:
            allowed = ", ".join(map(str, ALLOWED_INTERVALS))
            raise ValueError(f"interval_min must divide 60 (one of {allowed}); got {interval}")
        set_(self, "interval_min", interval)
        set_(self, "seed", _check_int("seed", self.seed, 0, 2**63 - 1, "a non-negative integer"))
        if not isinstance(self.quirks, bool | np.bool_):
            raise ValueError(f"quirks must be True or False; got {self.quirks!r}")
        set_(self, "quirks", bool(self.quirks))
        shares = self.missing_streams
        if isinstance(shares, tuple):  # already normalised (e.g. dataclasses.replace)
            shares = dict(shares)
        set_(self, "missing_streams", stream_shares(shares))
        set_(self, "cgm_stops", check_share("cgm_stops", self.cgm_stops))

    @property
    def stream_gaps(self) -> tuple[tuple[str, float], ...]:
        """``missing_streams`` as normalised at construction: ``(stream, share)`` pairs."""
        return cast(tuple[tuple[str, float], ...], self.missing_streams)

    @property
    def has_gaps(self) -> bool:
        """Whether any stream may be left out or stop early."""
        return self.cgm_stops > 0 or any(share > 0 for _, share in self.stream_gaps)


@dataclass
class SyntheticCohort:
    """A written cohort: where it is, how it was made, and the ground truth behind the files.

    `persons` has one row per person (latent traits); `days` one row per person and study day
    (local calendar day 1..days) with behaviour, outcomes as a clean file would give them, and
    the cohort-level `high_stress` label (daily mean valid stress in the top quarter).
    `quirks` counts every injected quirk (keys: `QUIRK_KEYS`). `gaps` has one row per gap
    (`person_id`, `stream`, `kind`: `absent` or `stops`, and `stop_utc`, where a stream stops).
    """

    root: Path
    config: CohortConfig
    persons: pd.DataFrame
    days: pd.DataFrame
    quirks: dict[str, int] = field(default_factory=dict)
    high_stress_threshold: float = float("nan")
    gaps: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["person_id", "stream", "kind", "stop_utc"])
    )


def _seed(config: CohortConfig, purpose: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(purpose, index)))


PARTICIPANT_COLUMNS = {
    "person_id": "Participant identifier (4 digits; the first digit names the site: 1 UW, 4 UCSD, 7 UAB).",
    "clinical_site": "Site of the study visit.",
    "study_group": "Diabetes status group, an ordered severity from healthy to insulin dependent.",
    "age": "Age in years at the study visit.",
    "study_visit_date": "Date of the study visit (YYYY-MM-DD); wearables start that evening.",
    "recommended_split": "Recommended machine-learning split.",
    "wearable_activity_monitor": "Whether Garmin Vivosmart 5 files are present.",
    "wearable_blood_glucose": "Whether Dexcom G6 CGM files are present.",
    "clinical_data": "Whether clinical (OMOP) data are present (never, in this synthetic cohort).",
    "environment": "Whether environmental sensor data are present (never, in this synthetic cohort).",
}


def _tf(flag: bool) -> str:
    return "TRUE" if flag else "FALSE"


def _tsv(df: pd.DataFrame) -> bytes:
    return df.to_csv(sep="\t", index=False, lineterminator="\n").encode()


def write_synthetic_cohort(
    out_dir: str | Path, config: CohortConfig = CohortConfig(), progress: bool = False
) -> SyntheticCohort:
    """Write a synthetic AI-READI-style cohort under `out_dir` and return its ground truth.

    The same config always writes byte-identical files. Files are written atomically; the
    ground truth is also saved as `synthetic_truth/persons.csv` and `synthetic_truth/days.csv`
    (and, for a config with gaps, `synthetic_truth/gaps.csv`).

    >>> import tempfile
    >>> c = write_synthetic_cohort(tempfile.mkdtemp(), CohortConfig(participants=2, days=1))
    >>> (c.root / "participants.tsv").exists(), sorted(c.days.columns)[:2]
    (True, ['active_kcal', 'active_min'])
    """
    if not isinstance(config, CohortConfig):
        raise TypeError(f"config must be a CohortConfig; got {type(config).__name__}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise DataError(f"out_dir {str(root)!r} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)

    counts = dict.fromkeys(QUIRK_KEYS, 0)
    person_rows: list[dict] = []
    day_tables: list[pd.DataFrame] = []
    cgm_rows: list[dict] = []
    garmin_rows: list[dict] = []
    gap_rows: list[dict] = []
    for i in track(range(config.participants), "synthetic cohort", config.participants, progress):
        traits = draw_traits(i, _seed(config, _TRAITS, i), config.days)
        series = simulate_person(traits, config.days, _seed(config, _PHYSIOLOGY, i))
        meas = measure(series, config.interval_min, _seed(config, _MEASURE, i))
        qrng = _seed(config, _QUIRKS, i)
        plan = plan_quirks(i, config.quirks, qrng)
        gaps = plan_gaps(config.stream_gaps, config.cgm_stops, _seed(config, _GAPS, i))
        writer = PersonWriter(root, series, meas, plan, qrng, counts, gaps)
        paths = writer.write_all()
        gap_rows += writer.gap_rows()

        truth = pd.DataFrame(day_truth(series, meas, config.days))
        truth["activity_observed"] = not plan.missing_activity
        truth["stress_observed"] = not (
            plan.missing_activity or plan.empty_stress or "stress" in gaps.absent
        )
        day_tables.append(truth)
        row = asdict(traits)
        row["visit_date"] = traits.visit_date.isoformat()
        row["wearable_activity_monitor"] = not plan.missing_activity
        person_rows.append(row)
        cgm_rows.append(
            {"person_id": traits.person_id, "glucose_filepath": paths["glucose_filepath"]}
        )
        garmin_rows.append({"person_id": traits.person_id, **{c: paths[c] for c in GARMIN_FILES}})

    persons = pd.DataFrame(person_rows)
    days = pd.concat(day_tables, ignore_index=True)
    days = days.merge(persons[["person_id", "age", "severity", "study_group"]], on="person_id")
    threshold = float(days["stress_mean"].quantile(HIGH_STRESS_QUANTILE))
    days["high_stress"] = days["stress_mean"] > threshold

    _write_cohort_files(root, config, persons, cgm_rows, garmin_rows, counts)
    write_bytes(root / "synthetic_truth" / "persons.csv", persons.to_csv(index=False).encode())
    write_bytes(root / "synthetic_truth" / "days.csv", days.to_csv(index=False).encode())
    gap_table = pd.DataFrame(gap_rows, columns=["person_id", "stream", "kind", "stop_utc"])
    if config.has_gaps:
        write_bytes(root / "synthetic_truth" / "gaps.csv", gap_table.to_csv(index=False).encode())
    return SyntheticCohort(
        root=root,
        config=config,
        persons=persons,
        days=days,
        quirks=counts,
        high_stress_threshold=threshold,
        gaps=gap_table,
    )


def _config_record(config: CohortConfig) -> dict[str, Any]:
    """The config as written in dataset_description.json (gap fields only when set)."""
    record = asdict(config)
    if config.has_gaps:
        record["missing_streams"] = {k: v for k, v in config.stream_gaps if v}
    else:
        for name in _GAP_FIELDS:
            record.pop(name)
    return record


def _write_cohort_files(
    root: Path,
    config: CohortConfig,
    persons: pd.DataFrame,
    cgm_rows: list[dict],
    garmin_rows: list[dict],
    counts: dict[str, int],
) -> None:
    order = persons["person_id"].argsort(kind="stable").to_numpy()
    p = persons.iloc[order]
    participants = pd.DataFrame(
        {
            "person_id": p["person_id"].to_numpy(),
            "clinical_site": p["clinical_site"].to_numpy(),
            "study_group": p["study_group"].to_numpy(),
            "age": p["age"].to_numpy(),
            "study_visit_date": p["visit_date"].to_numpy(),
            "recommended_split": p["recommended_split"].to_numpy(),
            "wearable_activity_monitor": [_tf(x) for x in p["wearable_activity_monitor"]],
            "wearable_blood_glucose": _tf(True),
            "clinical_data": _tf(False),
            "environment": _tf(False),
        }
    )
    write_bytes(root / "participants.tsv", _tsv(participants))
    meta: dict[str, dict[str, Any]] = {
        name: {"Description": text} for name, text in PARTICIPANT_COLUMNS.items()
    }
    meta["clinical_site"]["Levels"] = {s[0]: f"site with person ids {s[1]}xxx" for s in SITES}
    meta["study_group"]["Levels"] = {g: f"severity {k}" for k, g in enumerate(STUDY_GROUPS)}
    meta["recommended_split"]["Levels"] = {"train": "training", "val": "validation", "test": "test"}
    write_bytes(root / "participants.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    try:
        version = importlib.metadata.version("sensecf")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    description = {
        "Name": "sensecf synthetic cohort (AI-READI wearable layout)",
        "DatasetType": "synthetic",
        "License": "CC0-1.0",
        "GeneratedBy": [{"Name": "sensecf", "Version": version}],
        "SyntheticConfig": _config_record(config),
        "InjectedQuirks": counts,
    }
    write_bytes(
        root / "dataset_description.json", orjson.dumps(description, option=orjson.OPT_INDENT_2)
    )
    cgm = pd.DataFrame(cgm_rows).iloc[order]
    write_bytes(root / GLUCOSE_DIR / "manifest.tsv", _tsv(cgm))
    garmin = pd.DataFrame(garmin_rows).iloc[order]
    write_bytes(root / ACTIVITY_DIR / "manifest.tsv", _tsv(garmin))
