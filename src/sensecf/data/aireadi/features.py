"""Per person-day (or per person) features and targets from AI-READI wearable files.

The cohort driver: each person's files are read (:mod:`~sensecf.data.aireadi.reader`),
summarised per day (:mod:`~sensecf.data.aireadi.daily`) and kept by the day rules
(:mod:`~sensecf.data.aireadi.rules`), in parallel over people; then labelled and given the
shipped spec (:func:`aireadi_spec`).
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sensecf.data.aireadi.daily import (
    FEATURES,
    QUALITY_COLUMNS,
    STRESS_COLUMNS,
    day_strings,
    person_days,
)
from sensecf.data.aireadi.layout import Layout, timezone_for
from sensecf.data.aireadi.reader import ReadReport, read_participants, read_person
from sensecf.data.aireadi.rules import (
    CGM_MIN_COVERAGE,
    DROP_UNLABELLED,
    HR_MIN_HOURS,
    DayRules,
    apply_day_rules,
    emptied_days,
)
from sensecf.data.constraints import recompute
from sensecf.data.dataset import Dataset, missing_by_feature
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SpecError
from sensecf.progress import progress_bar

Unit = Literal["day", "person"]
Target = Literal["high_stress", "diabetes"]

CLASSES = {
    "high_stress": {0: "not high stress", 1: "high stress"},
    "diabetes": {0: "no diabetes", 1: "diabetes"},
}

_SPEC_FILE = "aireadi.spec.yaml"


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
    :class:`ReadReport` of what was read, skipped and dropped, and how many values each
    feature misses (``missing_by_feature``). A day keeps its row when a stream has no data for
    it (an absent file, a CGM that stopped) or fails the CGM or sleep rule: that stream's
    features are NaN, unless ``rules`` require them; ``emptied_days`` counts the days each of
    those two rules emptied. A person's mean (``unit="person"``) is over the days that have the
    value. ``workers`` processes read persons in parallel (default: up to 4 when there are many
    persons; 1 reads in-process); the output does not depend on it.

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
    report.emptied_days = dict(emptied_days(kept, rules))
    out = kept.reset_index()
    out.insert(
        1, "date", day_strings(out["day"].to_numpy()) if len(out) else np.array([], dtype=object)
    )
    out = out[["person_id", "date", *FEATURES, *STRESS_COLUMNS]]
    out["person_id"] = out["person_id"].astype("int64")
    if unit == "person":
        out = out.drop(columns="date").groupby("person_id", sort=True).mean().reset_index()
        out["steps"] = out["steps"].round()  # steps are whole numbers in the spec
        # A mean of ratios is not the ratio of the means: derived features (efficiency, CV)
        # are computed again from the person's means, so the spec's relations hold.
        spec = aireadi_spec("person")
        if len(out):
            out[spec.feature_names] = recompute(spec, out[spec.feature_names].to_numpy())
    out = out.sort_values(list(out.columns[: 2 if unit == "day" else 1]), kind="stable")
    out = out.reset_index(drop=True)
    report.rows = len(out)
    report.persons_with_rows = int(out["person_id"].nunique())
    report.missing_by_feature = missing_by_feature(out, FEATURES)
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


def select_features(
    spec: DatasetSpec,
    features: Sequence[str] | None = None,
    required: Sequence[str] = (),
) -> tuple[DatasetSpec, list[str]]:
    """The spec with only ``features`` (all when ``None``), ``required`` ones marked required.

    Also returns the names of the relations left out over some selected features: a relation
    over a feature that is not selected no longer applies (a derived feature whose inputs are gone becomes an ordinary
    feature with the values it was read with), so it is dropped rather than refused, which
    would force a study without, say, a sleep-stage stream to keep features it cannot have.
    Unknown names, an empty selection and a required feature that is not selected are
    :class:`SpecError`\\ s that list the known features.

    >>> spec, left_out = select_features(aireadi_spec(), ["cgm_mean", "cgm_gmi", "age"], ["age"])
    >>> spec.feature_names, spec.required_features, left_out
    (['cgm_mean', 'cgm_gmi', 'age'], ['age'], [])
    >>> select_features(aireadi_spec(), ["cgm_gmi", "age"])[1]
    ['glucose management indicator']
    """
    known = spec.feature_names
    for what, names in (("features", features or ()), ("required", required)):
        if isinstance(names, str):
            raise SpecError(f"{what} must be a list of feature names; got {names!r}")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SpecError(
                f"{what}: unknown feature(s) {unknown}; the {spec.name} features are "
                + ", ".join(known)
            )
    if features is not None:
        chosen = set(features)
        if not chosen:
            raise SpecError(f"features: select at least one of {', '.join(known)}")
        outside = [n for n in required if n not in chosen]
        if outside:
            raise SpecError(
                f"required feature(s) {outside} are not among the selected features "
                f"{[n for n in known if n in chosen]}; select them too"
            )
        dropped = [n for n in known if n not in chosen]
        # Worth saying only where a kept feature loses a rule: a derived feature kept without
        # its inputs, or a check over some kept features.
        left_out = [
            r.label
            for r in spec.relations
            if set(dropped) & set(r.features)
            and (r.derived in chosen if r.derived is not None else chosen & set(r.features))
        ]
        spec = spec.drop_features(dropped) if dropped else spec
    else:
        left_out = []
    for name in dict.fromkeys(required):
        spec = spec.update_feature(name, required=True)
    return spec, left_out


def read_aireadi(
    root: str | os.PathLike,
    *,
    unit: Unit = "day",
    target: Target = "high_stress",
    stress_quantile: float = 0.75,
    stress_threshold: float | None = None,
    min_cgm_coverage: float = CGM_MIN_COVERAGE,
    min_hr_hours: float = HR_MIN_HOURS,
    require_sleep: bool = False,
    require_stress: bool = True,
    require_cgm: bool = False,
    features: Sequence[str] | None = None,
    required: Sequence[str] = (),
    progress: bool = False,
    workers: int | None = None,
) -> Dataset:
    """Read an AI-READI folder into a :class:`Dataset` with its spec and a read report.

    ``target="high_stress"``: 1 when the row's mean Garmin stress is above the cohort's
    ``stress_quantile`` quantile (or above ``stress_threshold`` if given); desired class 0.
    ``target="diabetes"``: 1 when the study group is not healthy (prediabetes included).
    ``info`` holds the read report (``info["report"]``), ``info["stress_threshold"]`` and the
    day rules used (``info["day_rules"]``): ``min_cgm_coverage``, ``min_hr_hours``,
    ``require_sleep``, ``require_stress``, ``required`` and ``require_cgm``, see
    :class:`DayRules` (relax them for short recordings).

    A day without data of some stream keeps its row, that stream's features NaN;
    ``info["missing_by_feature"]`` counts them. So does, by default, a day below
    ``min_cgm_coverage`` (its CGM features emptied) or without a sleep record (its night-time
    features empty); ``info["emptied_days"]`` counts those by rule, and ``require_cgm`` or
    ``require_sleep`` drop such days instead. ``features`` keeps only those features in the
    table and the spec (a study without SpO2 leaves the feature out, not the people; relations
    over a left-out feature go too, listed in ``info["relations_left_out"]``); ``required``
    features must have a value: they are marked ``required`` in the spec and a day without one
    is dropped (``missing <feature>``). Names are checked against the spec's features.

    >>> import tempfile
    >>> from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort
    >>> cfg = CohortConfig(participants=2, days=2, quirks=False)
    >>> data = read_aireadi(write_synthetic_cohort(tempfile.mkdtemp(), cfg).root, target="diabetes")
    >>> data.spec.classes, data.spec.id_columns
    ({0: 'no diabetes', 1: 'diabetes'}, ('person_id', 'date'))
    """
    spec, relations_left_out = select_features(aireadi_spec(unit, target), features, required)
    rules = DayRules(
        min_cgm_coverage=min_cgm_coverage,
        min_hr_hours=min_hr_hours,
        require_sleep=require_sleep,
        require_stress=require_stress,
        required=tuple(required),
        require_cgm=require_cgm,
    )
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
            if unit == "day":  # the emptied days count the rows that are left
                report.emptied_days = dict(emptied_days(frame, rules))
            report.rows = len(frame)
            report.persons_with_rows = int(frame["person_id"].nunique())
    report.missing_by_feature = missing_by_feature(frame, spec.feature_names)
    empty = [n for n in spec.feature_names if len(frame) and frame[n].isna().all()]
    if empty:
        report.warnings.append(
            f"no values at all for {', '.join(empty)} (a stream absent for everyone?); leave "
            "them out with features= (`sensecf features --features ...`)"
        )
    if frame.empty:
        reasons = "; ".join(f"{k}: {v}" for k, v in report.to_dict()["dropped_rows"].items())
        raise DataError(
            f"no usable {'person-days' if unit == 'day' else 'persons'} in {root}: "
            f"{report.persons} persons, {report.files_read} files read, "
            f"{len(report.missing_files)} missing"
            + (f"; dropped days: {reasons}" if reasons else "")
            + (
                "; for short recordings relax the day rules (min_cgm_coverage, min_hr_hours, "
                "require_cgm, require_sleep, require_stress; `sensecf features "
                "--min-cgm-coverage F --min-hr-hours H"
                + " --no-require-cgm" * rules.require_cgm
                + " --no-require-sleep" * rules.require_sleep
                + " --no-require-stress`)"
                + (
                    f" or require fewer features (required: {list(rules.required)})"
                    if rules.required
                    else ""
                )
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
        "missing_by_feature": dict(report.missing_by_feature),
        "emptied_days": report.to_dict()["emptied_days"],
        "report": report.to_dict(),
    }
    if relations_left_out:
        info["relations_left_out"] = relations_left_out
    return Dataset(frame, spec, info, source=str(root))
