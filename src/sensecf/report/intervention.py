"""Intervention text: what a counterfactual asks a person to change, in plain words.

Every sentence comes from a deterministic template fed with the numbers, so the text can never
disagree with the counterfactual it describes:

- **Which features.** Exactly those :func:`~sensecf.data.constraints.changed` reports, the same
  test every metric uses.
- **Values.** The query's value and the counterfactual's, rounded to the feature's ``step``;
  minutes read as hours and minutes from 60 on (``6 h 10 min``), steps with thousands
  separators, percentages with ``%`` and their changes in percentage points, coded features by
  their level names (binary features without names read ``no``/``yes``).
- **Size of the change.** A round figure a person would say (nearest 5 or 10 minutes, 100 or
  500 steps, whole units, two significant figures for large numbers), never finer than the
  step. "about" marks it only where it differs from the exact change ("about 40 minutes" for
  42, "40 minutes" for 40), and the exact values follow in brackets, so nothing is hidden.
- **Wording.** A phrase per feature where one reads naturally (sleep, walk, be active, sit
  less, lower resting heart rate, time in range up by ...), for the shipped AI-READI and UCI
  heart specs and, by keyword, for sleep, step, active and sedentary features of any spec; any
  other feature reads ``Raise/Lower <description> from X to Y <unit>`` (the feature's name when
  the spec has no description).
- **Order.** Behaviour first (the groups in :data:`BEHAVIOUR_GROUPS`: sleep, then activity, ...),
  then the other groups in the order the spec first lists them; spec order within a group.
  Sizes of changes in different units cannot be compared, and a reader acts on behaviour, so the
  group order reads as a plan (what to do, then what it should move).
- **Fixed features.** Never offered as something to do. A counterfactual that changed one breaks
  a constraint (the metrics count it), but the text still says so, last:
  ``(changes a fixed feature: age, 54 → 50 years)``.
- **No change.** An empty list, and :data:`NO_CHANGE_TEXT` from :func:`intervention_text`.

:func:`paraphrase` asks an LLM to rewrite the text warmly for a patient and keeps its answer only
if :func:`check_paraphrase` finds that it mentions every change, no other feature, and no
number the template does not have; otherwise the template text comes back with the reason.

>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
...     FeatureSpec(name="sleep_total_min", unit="min", group="sleep", bounds=(0, 960)),
...     FeatureSpec(name="steps", unit="steps", kind="integer", bounds=(0, 50000))])
>>> print(intervention_text(spec, [370, 4200], [412, 7150]))
Sleep about 40 minutes more a night (6 h 10 min → 6 h 52 min)
Walk about 3,000 more steps a day (4,200 → 7,150)
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import DataError
from sensecf.llm.base import GenerationParams, LLMError

if TYPE_CHECKING:
    from sensecf.generators.base import CounterfactualResult
    from sensecf.llm.base import LLMBackend

__all__ = [
    "BEHAVIOUR_GROUPS",
    "NO_CHANGE_TEXT",
    "Change",
    "Paraphrase",
    "check_paraphrase",
    "describe_changes",
    "format_minutes",
    "intervention_table",
    "intervention_text",
    "paraphrase",
]

ARROW = "→"
NO_CHANGE_TEXT = "No change: every feature stays at its current value."
# Groups a person acts on directly; their changes come first, in this order.
BEHAVIOUR_GROUPS = (
    "sleep",
    "activity",
    "physical activity",
    "exercise behaviour",
    "diet",
    "nutrition",
    "lifestyle",
    "behaviour",
    "behavior",
)

_MINUTE_UNITS = {"min", "mins", "minute", "minutes", "min/day", "minutes/day", "min/night"}
_HOUR_UNITS = {"h", "hr", "hrs", "hour", "hours", "h/day", "hours/day", "h/night", "hours/night"}
_PERCENT_UNITS = {"%", "percent", "pct", "percentage"}


@dataclass(frozen=True)
class Change:
    """One changed feature: the query's value, the counterfactual's, and the sentence saying so.

    ``before``, ``after`` and ``delta`` are the exact numbers (not rounded); ``sentence`` shows
    them rounded to the feature's step. ``fixed`` marks a change to a fixed feature, which the
    sentence reports instead of recommending.
    """

    feature: str
    before: float
    after: float
    delta: float
    unit: str
    sentence: str
    fixed: bool = False


@dataclass(frozen=True)
class _Phrase:
    """How one feature reads: the quantity its wording assumes, a short label, verbs, key words.

    ``up``/``down`` take ``{amount}`` (figure with unit) or ``{number}`` (figure alone); empty
    means the generic wording. ``terms`` are the words by which a text recognisably mentions
    the feature (for the paraphrase check).
    """

    quantity: str  # minutes | steps | percent | number | coded
    label: str = ""
    up: str = ""
    down: str = ""
    terms: tuple[str, ...] = ()


# Wording for the features of the shipped specs (AI-READI, UCI heart). Used only where the
# feature's quantity matches, so a user's feature of the same name in other units reads generically.
_PHRASEBOOK: dict[str, _Phrase] = {
    # ---- AI-READI: glucose
    "cgm_mean": _Phrase(
        "number",
        "average glucose",
        "Raise average glucose by {amount}",
        "Lower average glucose by {amount}",
        ("average glucose", "mean glucose", "average blood sugar", "average sugar"),
    ),
    "cgm_sd": _Phrase(
        "number",
        "glucose swings (SD)",
        "Glucose swings (SD) up by {amount}",
        "Reduce glucose swings (SD) by {amount}",
        ("swing", "standard deviation", "sd"),
    ),
    "cgm_cv": _Phrase(
        "percent",
        "glucose variability (CV)",
        "Glucose variability (CV) up by {amount}",
        "Glucose variability (CV) down by {amount}",
        ("variability", "variation", "variable", "cv"),
    ),
    "cgm_tir": _Phrase(
        "percent",
        "time in range 70–180 mg/dL",
        "Time in range 70–180 mg/dL up by {amount}",
        "Time in range 70–180 mg/dL down by {amount}",
        ("time in range", "in range", "tir", "in target", "target range"),
    ),
    "cgm_tbr70": _Phrase(
        "percent",
        "time below 70 mg/dL (low glucose)",
        "Time below 70 mg/dL (low glucose) up by {amount}",
        "Time below 70 mg/dL (low glucose) down by {amount}",
        ("below 70", "time below range", "low glucose", "low blood sugar", "lows", "hypo"),
    ),
    "cgm_tbr54": _Phrase(
        "percent",
        "time below 54 mg/dL (very low glucose)",
        "Time below 54 mg/dL (very low glucose) up by {amount}",
        "Time below 54 mg/dL (very low glucose) down by {amount}",
        ("below 54", "very low"),
    ),
    "cgm_tar180": _Phrase(
        "percent",
        "time above 180 mg/dL (high glucose)",
        "Time above 180 mg/dL (high glucose) up by {amount}",
        "Time above 180 mg/dL (high glucose) down by {amount}",
        ("above 180", "time above range", "high glucose", "high blood sugar", "highs"),
    ),
    "cgm_tar250": _Phrase(
        "percent",
        "time above 250 mg/dL (very high glucose)",
        "Time above 250 mg/dL (very high glucose) up by {amount}",
        "Time above 250 mg/dL (very high glucose) down by {amount}",
        ("above 250", "very high"),
    ),
    "cgm_gmi": _Phrase(
        "percent",
        "glucose management indicator (GMI)",
        "Glucose management indicator (GMI) up by {amount}",
        "Glucose management indicator (GMI) down by {amount}",
        ("gmi", "glucose management", "management indicator", "hba1c", "a1c"),
    ),
    # ---- AI-READI: heart rate
    "hr_mean": _Phrase(
        "number",
        "average heart rate",
        "Raise average heart rate by {amount}",
        "Lower average heart rate by {amount}",
        ("average heart rate", "mean heart rate", "average pulse"),
    ),
    "hr_resting": _Phrase(
        "number",
        "resting heart rate",
        "Raise resting heart rate by {amount}",
        "Lower resting heart rate by {amount}",
        ("resting heart rate", "resting pulse", "resting"),
    ),
    "hr_sleep": _Phrase(
        "number",
        "heart rate during sleep",
        "Raise heart rate during sleep by {amount}",
        "Lower heart rate during sleep by {amount}",
        (
            "heart rate during sleep",
            "heart rate while asleep",
            "heart rate while you sleep",
            "sleeping heart rate",
            "heart rate at night",
            "night-time heart rate",
            "nighttime heart rate",
            "overnight heart rate",
        ),
    ),
    # ---- AI-READI: sleep
    "sleep_total_min": _Phrase(
        "minutes",
        "sleep",
        "Sleep {amount} more a night",
        "Sleep {amount} less a night",
        ("sleep", "slept", "asleep"),
    ),
    "sleep_deep_min": _Phrase(
        "minutes",
        "deep sleep",
        "Get {amount} more deep sleep a night",
        "Get {amount} less deep sleep a night",
        ("deep sleep", "deep"),
    ),
    "sleep_light_min": _Phrase(
        "minutes",
        "light sleep",
        "Get {amount} more light sleep a night",
        "Get {amount} less light sleep a night",
        ("light sleep",),
    ),
    "sleep_rem_min": _Phrase(
        "minutes",
        "REM (dreaming) sleep",
        "Get {amount} more REM (dreaming) sleep a night",
        "Get {amount} less REM (dreaming) sleep a night",
        ("rem (dreaming) sleep", "rem sleep", "dreaming sleep", "rem", "dream"),
    ),
    "sleep_awake_min": _Phrase(
        "minutes",
        "time awake during the night",
        "Spend {amount} more time awake during the night",
        "Spend {amount} less time awake during the night",
        ("awake", "wake", "waking", "wakeful"),
    ),
    "sleep_efficiency": _Phrase(
        "percent",
        "sleep efficiency",
        "Sleep efficiency up by {amount}",
        "Sleep efficiency down by {amount}",
        ("sleep efficiency", "efficiency", "efficient"),
    ),
    # ---- AI-READI: activity
    "steps": _Phrase(
        "steps",
        "steps",
        "Walk {number} more steps a day",
        "Walk {number} fewer steps a day",
        ("step", "walk"),
    ),
    "active_min": _Phrase(
        "minutes",
        "active time",
        "Be active {amount} more a day",
        "Be active {amount} less a day",
        ("active", "activity", "activities", "moving", "move"),
    ),
    "sedentary_min": _Phrase(
        "minutes",
        "time sitting",
        "Spend {amount} more sitting a day",
        "Spend {amount} less sitting a day",
        ("sitting", "sit", "sedentary", "seated", "lying still"),
    ),
    "active_kcal": _Phrase(
        "number",
        "active calories",
        "Burn {number} more active calories a day",
        "Burn {number} fewer active calories a day",
        ("active calorie", "calorie", "kcal", "energy"),
    ),
    # ---- AI-READI: respiratory, demographic, clinical (fixed in the shipped spec)
    "spo2_mean": _Phrase(
        "percent",
        "average night-time blood oxygen",
        terms=("blood oxygen", "oxygen saturation", "oxygen level", "spo2"),
    ),
    "spo2_below90_pct": _Phrase(
        "percent",
        "night-time oxygen readings below 90%",
        terms=("below 90", "low oxygen", "oxygen readings below", "oxygen reading below"),
    ),
    "resp_rate_mean": _Phrase(
        "number",
        "average breathing rate",
        terms=("breathing", "breath", "respiratory", "respiration"),
    ),
    "age": _Phrase("number", "age", terms=("age", "aged", "years old")),
    "study_group": _Phrase(
        "coded",
        "diabetes status at enrolment",
        terms=("diabetes status", "study group", "prediabetes", "enrolment", "enrollment"),
    ),
    # ---- UCI heart disease
    "sex": _Phrase("coded", "sex", terms=("sex", "gender", "female", "male")),
    "cp": _Phrase(
        "coded",
        "chest pain type",
        terms=("chest pain type", "type of chest pain", "chest pain", "angina"),
    ),
    "trestbps": _Phrase(
        "number",
        "resting blood pressure",
        "Raise resting blood pressure by {amount}",
        "Lower resting blood pressure by {amount}",
        ("blood pressure", "bp", "systolic"),
    ),
    "chol": _Phrase(
        "number",
        "total cholesterol",
        "Raise total cholesterol by {amount}",
        "Lower total cholesterol by {amount}",
        ("cholesterol",),
    ),
    "fbs": _Phrase(
        "coded",
        "fasting blood sugar",
        terms=("fasting blood sugar", "fasting sugar", "fasting glucose", "blood sugar", "fasting"),
    ),
    "restecg": _Phrase(
        "coded",
        "resting ECG result",
        terms=("resting ecg", "resting electrocardiogram", "ecg at rest"),
    ),
    "thalach": _Phrase(
        "number",
        "highest heart rate reached in the exercise test",
        "Raise the highest heart rate reached in the exercise test by {amount}",
        "Lower the highest heart rate reached in the exercise test by {amount}",
        ("highest heart rate", "maximum heart rate", "max heart rate", "peak heart rate"),
    ),
    "exang": _Phrase(
        "coded",
        "exercise-induced chest pain (angina)",
        terms=("angina", "chest pain", "exercise-induced"),
    ),
    "oldpeak": _Phrase(
        "number",
        "ST depression on the exercise ECG",
        "Raise ST depression on the exercise ECG by {amount}",
        "Lower ST depression on the exercise ECG by {amount}",
        ("st depression", "st segment", "oldpeak"),
    ),
    "slope": _Phrase(
        "coded",
        "shape of the ST segment at peak exercise",
        terms=("st slope", "slope", "shape of the st segment", "upsloping", "downsloping"),
    ),
    "ca": _Phrase(
        "number",
        "major coronary arteries coloured by fluoroscopy",
        terms=("coronary arteries", "arteries", "vessel", "fluoroscopy"),
    ),
    "thal": _Phrase(
        "coded", "thallium heart scan result", terms=("thallium", "heart scan", "scan")
    ),
}

# Words too common to identify a feature of a user's spec (paraphrase check).
_STOPWORDS = frozenset(
    {
        "about",
        "above",
        "after",
        "average",
        "before",
        "below",
        "between",
        "count",
        "daily",
        "during",
        "from",
        "into",
        "level",
        "mean",
        "minutes",
        "hours",
        "night",
        "number",
        "over",
        "percent",
        "rate",
        "share",
        "since",
        "than",
        "that",
        "their",
        "there",
        "these",
        "this",
        "time",
        "total",
        "under",
        "value",
        "values",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "within",
        "without",
    }
)


# ---- public API ---------------------------------------------------------------------------


def describe_changes(
    spec: DatasetSpec,
    query_row: Mapping[str, Any] | pd.Series | Sequence[float] | np.ndarray,
    cf_row: Mapping[str, Any] | pd.Series | Sequence[float] | np.ndarray,
) -> list[Change]:
    """The features a counterfactual changed, each with a plain, unit-aware sentence.

    Rows are mappings or Series keyed by feature name (other keys are ignored) or sequences in
    spec order. Behaviour groups come first, fixed features (reported, never recommended) last.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
    ...     FeatureSpec(name="hr_resting", unit="bpm", bounds=(30, 130), step=0.1),
    ...     FeatureSpec(name="age", unit="years", kind="integer", bounds=(18, 110),
    ...                 mutability="fixed"),
    ...     FeatureSpec(name="sedentary_min", unit="min", group="activity", bounds=(0, 1440))])
    >>> for c in describe_changes(spec, {"hr_resting": 68, "age": 54, "sedentary_min": 665},
    ...                           {"hr_resting": 64, "age": 50, "sedentary_min": 620}):
    ...     print(c.sentence)
    Spend 45 minutes less sitting a day (11 h 5 min → 10 h 20 min)
    Lower resting heart rate by 4 bpm (68 → 64)
    (changes a fixed feature: age, 54 → 50 years)
    """
    query = _row_values(spec, query_row, "query_row")
    cf = _row_values(spec, cf_row, "cf_row")
    moved = changed(query, cf)
    group_rank = _group_ranks(spec)
    entries = []
    for j in np.flatnonzero(moved):
        feature = spec.features[j]
        before, after = float(query[j]), float(cf[j])
        change = Change(
            feature=feature.name,
            before=before,
            after=after,
            delta=after - before,
            unit=feature.unit,
            sentence=_sentence(feature, before, after),
            fixed=not feature.is_mutable,
        )
        entries.append(((change.fixed, group_rank[feature.group], j), change))
    return [change for _, change in sorted(entries, key=lambda e: e[0])]


def intervention_text(
    spec: DatasetSpec,
    query_row: Mapping[str, Any] | pd.Series | Sequence[float] | np.ndarray,
    cf_row: Mapping[str, Any] | pd.Series | Sequence[float] | np.ndarray,
    *,
    sep: str = "\n",
) -> str:
    """The changes as text, one sentence per line (or joined by ``sep``).

    A counterfactual identical to its query gives :data:`NO_CHANGE_TEXT`.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
    ...     FeatureSpec(name="exang", kind="binary", level_names=("no", "yes"), bounds=(0, 1),
    ...                 description="Chest pain brought on by exercise")])
    >>> intervention_text(spec, [1], [0])
    'Exercise-induced chest pain (angina): yes → no'
    >>> intervention_text(spec, [1], [1])
    'No change: every feature stays at its current value.'
    """
    changes = describe_changes(spec, query_row, cf_row)
    return sep.join(c.sentence for c in changes) if changes else NO_CHANGE_TEXT


def intervention_table(result: CounterfactualResult, *, sep: str = "; ") -> pd.DataFrame:
    """One row per counterfactual: its query, rank, number of changes and intervention text.

    Columns: ``query_id``, the queries' id columns (e.g. ``person_id``, ``date``), ``method``,
    ``rank``, ``valid``, ``n_changes`` (fixed features included) and ``text`` (sentences joined
    by ``sep``, one line per counterfactual for tables and the command line). Queries without
    a counterfactual have no row here; the result's ``queries`` table counts them.
    """
    spec = result.spec
    cfs = result.cfs
    id_columns = [c for c in spec.id_columns if c in result.queries.columns]
    columns = ["query_id", *id_columns, "method", "rank", "valid", "n_changes", "text"]
    if len(cfs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    queries, values = result.query_matrix(), result.cf_matrix()
    texts, counts = [], []
    for query, cf in zip(queries, values, strict=True):
        changes = describe_changes(spec, query, cf)
        counts.append(len(changes))
        texts.append(sep.join(c.sentence for c in changes) if changes else NO_CHANGE_TEXT)
    table = pd.DataFrame(
        {
            "query_id": cfs["query_id"].to_numpy(),
            "method": cfs["method"].to_numpy() if "method" in cfs else result.method,
            "rank": cfs["rank"].to_numpy(),
            "valid": cfs["valid"].to_numpy() if "valid" in cfs else np.nan,
            "n_changes": counts,
            "text": texts,
        }
    )
    if id_columns:
        ids = result.queries.set_index("query_id")[id_columns].loc[table["query_id"]]
        for k, column in enumerate(id_columns):
            table.insert(1 + k, column, ids[column].to_numpy())
    return table[columns]


def format_minutes(minutes: float) -> str:
    """Minutes as a person reads them: ``59 min``, ``1 h``, ``1 h 1 min``, ``2 h 5 min``.

    >>> [format_minutes(m) for m in (0, 59, 60, 61, 125, 59.6)]
    ['0 min', '59 min', '1 h', '1 h 1 min', '2 h 5 min', '1 h']
    """
    total = int(math.floor(abs(minutes) + 0.5))
    sign = "-" if minutes < 0 and total else ""
    hours, rest = divmod(total, 60)
    if hours == 0:
        return f"{sign}{rest} min"
    return f"{sign}{hours} h" + (f" {rest} min" if rest else "")


# ---- paraphrase ---------------------------------------------------------------------------

PARAPHRASE_SYSTEM = (
    "You rewrite a list of suggested changes for the patient it is about. Write warmly, plainly "
    "and briefly, speaking to the patient as 'you'. Mention every change in the list and "
    "nothing else about their health: no other measures, no advice, no reasons. Keep every "
    "number exactly as written, in digits and in the same units, and add no new numbers. "
    "Answer with the rewritten text only."
)


@dataclass(frozen=True)
class Paraphrase:
    """A checked paraphrase: ``text`` is the LLM's rewrite when ``ok``, else the template text.

    ``reason`` says why a rewrite was rejected; ``candidate`` keeps what the backend answered.
    """

    text: str
    ok: bool
    reason: str = ""
    candidate: str = ""


def paraphrase(
    text: str,
    changes: Sequence[Change],
    backend: LLMBackend,
    *,
    spec: DatasetSpec,
    params: GenerationParams | None = None,
) -> Paraphrase:
    """Ask ``backend`` to rewrite the template ``text`` for a patient; keep it if it checks out.

    The rewrite must pass :func:`check_paraphrase` against ``changes`` and ``spec`` (every change
    mentioned, no other feature, no number the template lacks); if it does not, or the backend
    fails, the template text comes back with ``ok=False`` and the reason. With no changes there
    is nothing to rewrite and the backend is not called.
    """
    if not changes:
        return Paraphrase(text, False, "no changes to paraphrase; the template text is kept")
    messages = [
        {"role": "system", "content": PARAPHRASE_SYSTEM},
        {"role": "user", "content": f"Suggested changes:\n{text}"},
    ]
    try:
        answer = backend.complete(
            messages, params=params or GenerationParams(temperature=0.0, max_tokens=300)
        ).text
    except LLMError as exc:
        return Paraphrase(text, False, f"the backend failed: {exc}")
    candidate = answer.strip().strip('"').strip()
    problems = check_paraphrase(candidate, text, changes, spec)
    if problems:
        return Paraphrase(text, False, "; ".join(problems), candidate)
    return Paraphrase(candidate, True, "", candidate)


def check_paraphrase(
    candidate: str, template: str, changes: Sequence[Change], spec: DatasetSpec
) -> list[str]:
    """Problems with a paraphrase of ``template`` (an empty list means it may be used).

    A paraphrase must:

    - contain no number (in digits or words) that the template lacks;
    - recognisably mention each change: a key word of the feature, or a number that only that
      change's sentence has;
    - mention no other feature of ``spec`` (its key words, outside the mentions of changed
      features: "sleep" inside "deep sleep" belongs to deep sleep);
    - not turn a change round: a clause naming a numeric change may not hold words of the other
      direction only ("sleep 40 minutes less" for "more");
    - speak to the patient, not about the rewrite ("Here is the rewritten text"), and be no
      longer than three times the template plus 100 characters.

    The check errs towards rejecting: a rejected paraphrase costs only warmth, since the
    template text is used instead.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
    ...     FeatureSpec(name="steps", unit="steps", kind="integer", bounds=(0, 50000)),
    ...     FeatureSpec(name="hr_resting", unit="bpm", bounds=(30, 130))])
    >>> changes = describe_changes(spec, [4200, 60], [7200, 60])
    >>> template = changes[0].sentence
    >>> check_paraphrase("Try walking 3,000 more steps each day.", template, changes, spec)
    []
    >>> check_paraphrase("Walk 5,000 more steps to calm your resting heart rate.",
    ...                  template, changes, spec)  # doctest: +NORMALIZE_WHITESPACE
    ['adds a number the template does not have: 5,000',
     'mentions resting heart rate (hr_resting), which the counterfactual does not change']
    """
    if not candidate.strip():
        return ["the answer is empty"]
    problems = []
    if len(candidate) > 3 * len(template) + 100:
        problems.append(f"is too long ({len(candidate)} characters for {len(template)})")
    meta = _META.search(candidate)
    if meta:
        problems.append(f"talks about the rewriting ({meta.group()!r}) instead of to the patient")
    allowed = _numbers(template)
    found = _numbers(candidate)
    extra = sorted(found - allowed)
    if extra:
        listed = ", ".join(_plain(v) for v in extra)
        problems.append(f"adds a number the template does not have: {listed}")
    own = {
        c.feature: _numbers(c.sentence) - _numbers(_phrase(spec.feature(c.feature)).label)
        for c in changes
    }
    spans: list[tuple[int, int]] = []
    for change in changes:
        feature = spec.feature(change.feature)
        hits = _term_spans(feature, candidate)
        spans.extend(hits)
        others = set().union(*(v for k, v in own.items() if k != change.feature))
        distinctive = own[change.feature] - others
        if not hits and not distinctive & found:
            problems.append(f"leaves out the change to {_name_of(feature)}")
        elif feature.levels is not None or change.fixed or not math.isfinite(change.delta):
            continue  # "yes → no" and reported (not advised) changes have no direction to keep
        elif _reverses(candidate, hits, rising=change.delta > 0):
            problems.append(f"may reverse the direction of the change to {_name_of(feature)}")
    moved = {c.feature for c in changes}
    for feature in spec.features:
        if feature.name in moved:
            continue
        stray = [s for s in _term_spans(feature, candidate) if not _overlaps(s, spans)]
        if stray:
            problems.append(
                f"mentions {_name_of(feature)}, which the counterfactual does not change"
            )
    return problems


# ---- sentences ----------------------------------------------------------------------------


def _row_values(spec: DatasetSpec, row: Any, what: str) -> np.ndarray:
    names = spec.feature_names
    if isinstance(row, (Mapping, pd.Series)):
        missing = [n for n in names if n not in row]
        if missing:
            raise DataError(f"{what} lacks feature(s) {missing}; the spec expects {names}")
        values = [row[n] for n in names]
    else:
        values = list(np.asarray(row, dtype=float).ravel())
        if len(values) != len(names):
            raise DataError(
                f"{what} has {len(values)} values; the spec has {len(names)} features {names}"
            )
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} holds a non-numeric feature value: {values}") from None


def _group_ranks(spec: DatasetSpec) -> dict[str, int]:
    ranks = {g: i for i, g in enumerate(BEHAVIOUR_GROUPS)}
    for feature in spec.features:
        ranks.setdefault(feature.group.lower(), len(ranks))
    return {f.group: ranks[f.group.lower()] for f in spec.features}


def _quantity(feature: FeatureSpec) -> str:
    if feature.levels is not None:
        return "coded"
    unit = feature.unit.strip().lower()
    if unit in _MINUTE_UNITS or unit in _HOUR_UNITS:
        return "minutes"
    if unit in _PERCENT_UNITS:
        return "percent"
    if unit.startswith("step") or (not unit and "step" in feature.name.lower()):
        return "steps"
    return "number"


def _generic_label(feature: FeatureSpec) -> str:
    # The description up to its first ";" (which starts targets and notes), else the name.
    text = feature.description.split(";")[0].strip().rstrip(".")
    text = re.sub(r"\s*\([^)]{30,}\)", "", text)  # long asides do not belong in a list item
    return text or feature.name.replace("_", " ").strip()


def _phrase(feature: FeatureSpec) -> _Phrase:
    quantity = _quantity(feature)
    curated = _PHRASEBOOK.get(feature.name)
    if curated is not None and curated.quantity == quantity:
        return curated
    label = _generic_label(feature)
    words = f"{feature.name} {feature.description}".lower().replace("_", " ")
    if quantity == "minutes":
        if ("sleep" in words or feature.group.lower() == "sleep") and not re.search(
            r"deep|light|rem\b|awake|wake|latency|nap|efficien", words
        ):
            return _Phrase(
                quantity,
                label,
                "Sleep {amount} more a night",
                "Sleep {amount} less a night",
                ("sleep", "slept", "asleep"),
            )
        if re.search(r"sedentary|sitting", words):
            return _Phrase(
                quantity,
                label,
                "Spend {amount} more sitting a day",
                "Spend {amount} less sitting a day",
                ("sitting", "sit", "sedentary"),
            )
        if re.search(r"\bactiv|exercis|moderate|vigorous|mvpa", words):
            return _Phrase(
                quantity,
                label,
                "Be active {amount} more a day",
                "Be active {amount} less a day",
                ("active", "activity", "exercise"),
            )
    if quantity == "steps":
        return _Phrase(
            quantity,
            label,
            "Walk {number} more steps a day",
            "Walk {number} fewer steps a day",
            ("step", "walk"),
        )
    return _Phrase(quantity, label)


def _sentence(feature: FeatureSpec, before: float, after: float) -> str:
    phrase = _phrase(feature)
    label = phrase.label or _generic_label(feature)
    fixed = not feature.is_mutable
    if phrase.quantity == "coded" or not (math.isfinite(before) and math.isfinite(after)):
        b, a = _coded(feature, before), _coded(feature, after)
        if fixed:
            return f"(changes a fixed feature: {_lower_first(label)}, {b} {ARROW} {a})"
        return f"{_upper_first(label)}: {b} {ARROW} {a}"
    v = _Values(feature, phrase.quantity, before, after)
    if fixed:
        return (
            f"(changes a fixed feature: {_lower_first(label)}, {v.before} {ARROW} {v.after_full})"
        )
    template = phrase.up if v.rising else phrase.down
    if template:
        head = template.format(amount=v.amount, number=v.number)
        return f"{head} ({v.before} {ARROW} {v.after})"
    if phrase.quantity == "percent":
        direction = "up" if v.rising else "down"
        return f"{_upper_first(label)} {direction} by {v.amount} ({v.before} {ARROW} {v.after})"
    verb = "Raise" if v.rising else "Lower"
    return f"{verb} {_lower_first(label)} from {v.before} to {v.after_full}"


def _coded(feature: FeatureSpec, value: float) -> str:
    if not math.isfinite(value):
        return "missing"
    if feature.levels is None:
        return _plain(value)
    if value not in feature.levels:
        return f"{_plain(value)} (not one of its levels)"
    if feature.level_names is not None:
        return feature.level_names[feature.levels.index(value)]
    if feature.kind == "binary":
        return "yes" if value == 1 else "no"
    return _plain(value)


class _Values:
    """Before/after display strings and the size of the change for one numeric feature."""

    def __init__(self, feature: FeatureSpec, quantity: str, before: float, after: float) -> None:
        # Hours display as hours and minutes, like minutes.
        scale = 60.0 if feature.unit.strip().lower() in _HOUR_UNITS else 1.0
        step = float(feature.step) * scale
        if quantity == "minutes":
            step = max(step, 1.0)  # minutes display whole
        decimals = _decimals(step)
        b = _to_grain(before * scale, step, decimals)
        a = _to_grain(after * scale, step, decimals)
        while b == a and decimals < 6:  # changed, but below the grain: show what changed
            decimals += 1
            b, a = round(before * scale, decimals), round(after * scale, decimals)
        self.rising = a > b
        delta = round(abs(a - b), decimals)
        about = _about(delta, quantity, step)
        prefix = "about " if not math.isclose(about, delta, rel_tol=1e-9, abs_tol=1e-12) else ""
        amount_decimals = max(decimals, _decimals(about))
        unit = feature.unit.strip()
        if quantity == "minutes" and decimals == 0:
            self.before, self.after = format_minutes(b), format_minutes(a)
            self.before_full, self.after_full = self.before, self.after
            if about < 60:
                word = "minute" if about == 1 else "minutes"
                self.amount = f"{prefix}{_plain(about, amount_decimals)} {word}"
            else:
                self.amount = prefix + format_minutes(about)
            self.number = prefix + _plain(about, amount_decimals)
            return
        if quantity == "minutes":
            unit = "min"
        self.before, self.after = _plain(b, decimals), _plain(a, decimals)
        self.number = prefix + _plain(about, amount_decimals)
        if quantity == "percent":
            self.before, self.after = f"{self.before}%", f"{self.after}%"
            self.before_full, self.after_full = self.before, self.after
            points = "percentage point" if about == 1 else "percentage points"
            self.amount = f"{self.number} {points}"
            return
        if quantity == "steps":
            unit = "steps"
        suffix = f" {unit}" if unit else ""
        self.before_full, self.after_full = self.before + suffix, self.after + suffix
        self.amount = self.number + suffix


def _to_grain(value: float, step: float, decimals: int) -> float:
    return round(math.floor(value / step + 0.5) * step, decimals)


def _decimals(step: float) -> int:
    """Decimals that show multiples of ``step`` exactly (0.1 → 1, 0.25 → 2, 5 → 0)."""
    for decimals in range(7):
        scaled = step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-9 * max(1.0, scaled):
            return decimals
    return 6


def _about(delta: float, quantity: str, step: float) -> float:
    """A round figure near ``delta`` that a person would say, never finer than ``step``."""
    if delta <= 0:
        return delta
    if quantity == "minutes":
        grain = 1.0 if delta < 10 else 5.0 if delta < 120 else 10.0
    elif quantity == "steps":
        grain = 10.0 if delta < 100 else 100.0 if delta < 3000 else 500.0
    elif delta < 1:
        grain = 10.0 ** math.floor(math.log10(delta))  # one significant figure
    elif delta < 20:
        grain = 1.0
    elif delta < 100:
        grain = 5.0
    elif delta < 1000:
        grain = 10.0
    else:
        grain = 10.0 ** (math.floor(math.log10(delta)) - 1)  # two significant figures
    # Refine a grain that would distort the change by more than 10% (12 min is not "about 10").
    while True:
        grain = max(grain, step)
        nice = math.floor(delta / grain + 0.5) * grain
        if grain <= step or abs(nice - delta) <= 0.1 * delta:
            break
        # 500 → 100 → 50 → 10 ...; below 1, tenths of tenths (0.1 → 0.01, not 0.05).
        grain /= 5.0 if f"{grain:e}".startswith("5") else 2.0 if grain > 1 else 10.0
    return round(nice, 10) if nice > 0 else delta


def _plain(value: float, decimals: int | None = None) -> str:
    """A number with thousands separators and no trailing zeros."""
    if decimals is None:
        decimals = 6
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    # Keep acronyms (REM, ST, ECG) as they are.
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


# ---- paraphrase check helpers -------------------------------------------------------------

_NUMBER = re.compile(r"(?<![^\W_])(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)")
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1e6,
    "dozen": 12,
    "half": 0.5,
    "quarter": 0.25,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")s?\b", re.IGNORECASE)


def _numbers(text: str) -> set[float]:
    """Every number in a text, in digits or words ("one" and "a" are too common to count)."""
    values = {round(float(m.group().replace(",", "")), 6) for m in _NUMBER.finditer(text)}
    values |= {float(_NUMBER_WORDS[m.group(1).lower()]) for m in _NUMBER_WORD.finditer(text)}
    return values


def _terms(feature: FeatureSpec) -> list[str]:
    phrase = _phrase(feature)
    terms = [*phrase.terms, feature.name, feature.name.replace("_", " ")]
    if feature.name not in _PHRASEBOOK or phrase is not _PHRASEBOOK[feature.name]:
        # A user's feature: its label's distinctive words identify it.
        terms += [
            w
            for w in re.findall(r"[a-z][a-z0-9]+", _generic_label(feature).lower())
            if len(w) >= 4 and w not in _STOPWORDS
        ]
    return list(dict.fromkeys(t.lower() for t in terms if len(t.strip()) >= 2))


def _term_spans(feature: FeatureSpec, text: str) -> list[tuple[int, int]]:
    spans = []
    for term in _terms(feature):
        words = [re.escape(w) for w in re.split(r"[\s\-]+", term) if w]
        # Whole words, with common endings (step → steps, walk → walking).
        pattern = r"\b" + r"[\s\-]+".join(words) + r"(?:s|es|ing|ed|ly)?\b"
        spans += [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans


_UP_WORDS = frozenset(
    {
        "more",
        "increase",
        "increasing",
        "raise",
        "raising",
        "higher",
        "up",
        "extra",
        "longer",
        "add",
        "adding",
        "boost",
        "gain",
        "rise",
    }
)
_DOWN_WORDS = frozenset(
    {
        "less",
        "fewer",
        "lower",
        "lowering",
        "reduce",
        "reducing",
        "decrease",
        "decreasing",
        "down",
        "cut",
        "shorter",
        "drop",
        "fall",
    }
)


# Small models often comment on their own rewrite; such text is not for the patient.
_META = re.compile(
    r"\b(?:rewrit\w*|original (?:text|list|sentence)|the (?:text|list) above|here is|here's|"
    r"as an ai|i (?:made|added|removed|changed|kept|will keep|'ll keep))\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[!?;\n]|\.(?!\d)|,\s|\b(?:and|but)\b", re.IGNORECASE)


def _reverses(text: str, hits: Sequence[tuple[int, int]], rising: bool) -> bool:
    """True if a clause naming the change has words of the wrong direction and none of the right."""
    right, wrong = (_UP_WORDS, _DOWN_WORDS) if rising else (_DOWN_WORDS, _UP_WORDS)
    # Clauses: sentences, split again at ", " and "and"/"but" (not at 4,200 or 6.5).
    bounds = [0, *(m.end() for m in _CLAUSE_BREAK.finditer(text)), len(text)]
    for start, end in itertools.pairwise(bounds):
        if not any(start <= hit < end for hit, _ in hits):
            continue
        words = set(re.findall(r"[a-z]+", text[start:end].lower()))
        if words & wrong and not words & right:
            return True
    return False


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _name_of(feature: FeatureSpec) -> str:
    label = _lower_first(_phrase(feature).label or _generic_label(feature))
    return label if label == feature.name else f"{label} ({feature.name})"
