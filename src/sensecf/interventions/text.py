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
- **Wording.** The feature's ``phrase`` in the spec (a label and the sentence for a rise and
  a fall: sleep, walk, be active, sit less, lower resting heart rate, time in range up by ...;
  see :mod:`sensecf.interventions.wording` for the wording of features without one); a feature with
  no sentence of its own reads ``Raise/Lower <label> from X to Y <unit>``, a percentage
  ``<Label> up/down by N percentage points``.
- **Order.** Behaviour first (the groups in :data:`BEHAVIOUR_GROUPS`: sleep, then activity, ...),
  then the other groups in the order the spec first lists them; spec order within a group.
  Sizes of changes in different units cannot be compared, and a reader acts on behaviour, so the
  group order reads as a plan (what to do, then what it should move).
- **Derived features.** A feature the spec computes from others (its ``relations``) is never an
  instruction of its own: where its inputs changed, its change follows the last of their
  sentences as their consequence (``…, so total sleep rises from 6 h 3 min to 6 h 50 min``).
- **Fixed features.** Never offered as something to do. A counterfactual that changed one breaks
  a constraint (the metrics count it), but the text still says so, last:
  ``(changes a fixed feature: age, 54 → 50 years)``.
- **Features nobody measured.** A value the person has no measurement of (NaN in the query)
  is never named: not as something to do, not as a current value. Every counterfactual of the
  project's own generators keeps it missing, so it is no change. One that gives it a value
  anyway (a baseline's; the metrics count it as changing what may not change) is reported
  last, like a fixed feature, with the value it assumed and no "before":
  ``(assumes a value that was not measured: resting heart rate 68 bpm)``; left out, the text
  would disagree with the counterfactual (a person doing what it says may not reach the
  prediction). Where a current value is shown beside a change (:func:`shown_values`), a
  missing one reads ``not measured``: why there is no number, not a number of zero.
- **No change.** An empty list, and :data:`NO_CHANGE_TEXT` from :func:`intervention_text`.

Numbers are formatted by :mod:`sensecf.interventions.formatting`; :mod:`sensecf.interventions.paraphrasing`
rewrites a text warmly for a patient and keeps the rewrite only where it checks out.

>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0, features=[
...     FeatureSpec(name="sleep_total_min", unit="min", group="sleep", bounds=(0, 960)),
...     FeatureSpec(name="steps", unit="steps", kind="integer", bounds=(0, 50000))])
>>> print(intervention_text(spec, [370, 4200], [412, 7150]))
Sleep about 40 minutes more a night (6 h 10 min → 6 h 52 min)
Walk about 3,000 more steps a day (4,200 → 7,150)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed, expand_inputs
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import DataError
from sensecf.interventions.formatting import (
    format_change,
    format_value,
    lower_first,
    plain_number,
    quantity_of,
    upper_first,
)
from sensecf.interventions.wording import feature_phrase

if TYPE_CHECKING:
    from sensecf.results import CounterfactualResult

__all__ = [
    "ARROW",
    "BEHAVIOUR_GROUPS",
    "INFEASIBLE_TEXT",
    "NO_CHANGE_TEXT",
    "NOT_MEASURED",
    "Change",
    "describe_changes",
    "intervention_table",
    "intervention_text",
    "shown_values",
]

ARROW = "→"
NO_CHANGE_TEXT = "No change: every feature stays at its current value."
# How a value the person has no measurement of reads where a current value would be shown.
NOT_MEASURED = "not measured"
# A person the oracle proved no allowed change flips (its certificate says "infeasible").
INFEASIBLE_TEXT = (
    "No allowed change flips this prediction: the model keeps it for every change the fixed "
    "features, directions, bounds and relations allow."
)
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


@dataclass(frozen=True)
class Change:
    """One changed feature: the query's value, the counterfactual's, and the sentence saying so.

    ``before``, ``after`` and ``delta`` are the exact numbers (not rounded); ``sentence`` shows
    them rounded to the feature's step. ``fixed`` marks a change to a fixed feature, which the
    sentence reports instead of recommending. ``consequence_of`` names the changed inputs of a
    derived feature; its sentence is then a clause (``so total sleep rises from … to …``) that
    follows theirs. ``unmeasured`` marks a value given to a feature the person has no
    measurement of (``before`` is NaN); it is reported like a fixed feature's change
    (``fixed`` too), never recommended.
    """

    feature: str
    before: float
    after: float
    delta: float
    unit: str
    sentence: str
    fixed: bool = False
    consequence_of: tuple[str, ...] = ()
    unmeasured: bool = False


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

    A feature nobody measured for the person is no change while it stays missing:

    >>> nan = float("nan")
    >>> [c.sentence for c in describe_changes(spec,
    ...     {"hr_resting": nan, "age": 54, "sedentary_min": 665},
    ...     {"hr_resting": nan, "age": 54, "sedentary_min": 620})]
    ['Spend 45 minutes less sitting a day (11 h 5 min → 10 h 20 min)']
    """
    query = _row_values(spec, query_row, "query_row")
    cf = _row_values(spec, cf_row, "cf_row")
    moved = changed(query, cf)
    group_rank = _group_ranks(spec)
    names = spec.feature_names
    moved_names = {names[j] for j in np.flatnonzero(moved)}
    entries = []
    consequences = []
    for j in np.flatnonzero(moved):
        feature = spec.features[j]
        before, after = float(query[j]), float(cf[j])
        if math.isnan(before):  # nobody measured it: reported, never advised
            change = Change(
                feature=feature.name,
                before=before,
                after=after,
                delta=math.nan,
                unit=feature.unit,
                sentence=_unmeasured(feature, after),
                fixed=True,
                unmeasured=True,
            )
            entries.append(((True, group_rank[feature.group], j), change))
            continue
        causes = tuple(
            n for n in expand_inputs(spec, [feature.name]) if n in moved_names and n != feature.name
        )
        if feature.name not in spec.derived_features:
            causes = ()
        change = Change(
            feature=feature.name,
            before=before,
            after=after,
            delta=after - before,
            unit=feature.unit,
            sentence=_consequence(feature, before, after)
            if causes
            else _sentence(feature, before, after),
            fixed=not feature.is_mutable and not causes,
            consequence_of=causes,
        )
        if causes:
            consequences.append((j, change))
        else:
            entries.append(((change.fixed, group_rank[feature.group], j), change))
    ordered = [change for _, change in sorted(entries, key=lambda e: e[0])]
    for _, change in consequences:  # spec order, after the last of the inputs' sentences
        at = max(i for i, c in enumerate(ordered) if c.feature in change.consequence_of)
        while at + 1 < len(ordered) and ordered[at + 1].consequence_of:
            at += 1
        ordered.insert(at + 1, change)
    return ordered


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
    return _joined(describe_changes(spec, query_row, cf_row), sep)


def shown_values(feature: FeatureSpec, before: float, after: float) -> tuple[str, str]:
    """A change's two values as its sentence shows them, each with its unit (level names for
    coded features).

    >>> from sensecf.data.spec import FeatureSpec
    >>> shown_values(FeatureSpec(name="sleep_total_min", unit="min", bounds=(0, 960)), 370, 412)
    ('6 h 10 min', '6 h 52 min')
    >>> shown_values(FeatureSpec(name="smoker", kind="binary", bounds=(0, 1)), 1, 0)
    ('yes', 'no')
    >>> shown_values(FeatureSpec(name="hr", unit="bpm", bounds=(30, 130)), float("nan"), 68)
    ('not measured', '68 bpm')
    """
    if math.isnan(before):
        return NOT_MEASURED, _assumed(feature, after)
    quantity = quantity_of(feature)
    if quantity == "coded" or not (math.isfinite(before) and math.isfinite(after)):
        return _coded(feature, before), _coded(feature, after)
    v = format_change(feature, quantity, before, after)
    return v.before_full, v.after_full


def intervention_table(result: CounterfactualResult, *, sep: str = "; ") -> pd.DataFrame:
    """One row per counterfactual: its query, rank, number of changes and intervention text.

    Columns: ``query_id``, the queries' id columns (e.g. ``person_id``, ``date``), ``method``,
    ``rank``, ``valid``, ``n_changes`` (fixed features included) and ``text`` (sentences joined
    by ``sep``, one line per counterfactual for tables and the command line). Queries without
    a counterfactual have no row here; the result's ``queries`` table counts them.

    Where the queries carry the oracle's answer (a ``status`` column), the table has a
    ``status`` column too, and each person the oracle proved that no allowed change flips
    gets one row (no rank, not valid, no changes, :data:`INFEASIBLE_TEXT`, status
    ``infeasible``), so the people without an intervention are told why.
    """
    spec = result.spec
    cfs = result.cfs
    id_columns = [c for c in spec.id_columns if c in result.queries.columns]
    columns = ["query_id", *id_columns, "method", "rank", "valid", "n_changes", "text"]
    if "status" in result.queries.columns:
        return _with_status(result, intervention_table(_without_status(result), sep=sep))
    if len(cfs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    queries, values = result.query_matrix(), result.cf_matrix()
    texts, counts = [], []
    for query, cf in zip(queries, values, strict=True):
        changes = describe_changes(spec, query, cf)
        counts.append(len(changes))
        texts.append(_joined(changes, sep))
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


def _without_status(result: CounterfactualResult) -> CounterfactualResult:
    return dataclasses.replace(result, queries=result.queries.drop(columns="status"))


def _with_status(result: CounterfactualResult, table: pd.DataFrame) -> pd.DataFrame:
    """The oracle's answer per row, and one row per person proven infeasible."""
    queries = result.queries
    status = queries.set_index("query_id")["status"]
    table = table.assign(status=table["query_id"].map(status).to_numpy())
    proven = queries[
        (queries["status"] == "infeasible") & ~queries["query_id"].isin(table["query_id"])
    ]
    if not len(proven):
        return table
    rows = pd.DataFrame(
        {
            "query_id": proven["query_id"].to_numpy(),
            **{
                c: proven[c].to_numpy()
                for c in table.columns
                if c in proven.columns and c != "status"
            },
            "method": result.method,
            "rank": pd.NA,
            "valid": False,
            "n_changes": 0,
            "text": INFEASIBLE_TEXT,
            "status": "infeasible",
        }
    )
    out = pd.concat([table.astype({"rank": "Int64"}), rows.astype({"rank": "Int64"})])
    return out.sort_values("query_id", kind="stable").reset_index(drop=True)[table.columns]


# ---- sentences ----------------------------------------------------------------------------
def _joined(changes: list[Change], sep: str) -> str:
    """Sentences joined by ``sep``; a consequence joins the sentence before it with a comma."""
    if not changes:
        return NO_CHANGE_TEXT
    parts: list[str] = []
    for change in changes:
        if change.consequence_of and parts:
            parts[-1] += ", " + change.sentence
        else:
            parts.append(change.sentence)
    return sep.join(parts)


def _consequence(feature: FeatureSpec, before: float, after: float) -> str:
    """A derived feature's change as a clause: ``so <label> rises from A to B``."""
    label = lower_first(feature_phrase(feature).label)
    quantity = quantity_of(feature)
    if quantity == "coded" or not (math.isfinite(before) and math.isfinite(after)):
        return f"so {label} goes from {_coded(feature, before)} to {_coded(feature, after)}"
    v = format_change(feature, quantity, before, after)
    verb = "rises" if v.rising else "falls"
    return f"so {label} {verb} from {v.before} to {v.after_full}"


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


def _sentence(feature: FeatureSpec, before: float, after: float) -> str:
    phrase = feature_phrase(feature)
    label = phrase.label
    quantity = quantity_of(feature)
    fixed = not feature.is_mutable
    if quantity == "coded" or not (math.isfinite(before) and math.isfinite(after)):
        b, a = _coded(feature, before), _coded(feature, after)
        if fixed:
            return f"(changes a fixed feature: {lower_first(label)}, {b} {ARROW} {a})"
        return f"{upper_first(label)}: {b} {ARROW} {a}"
    v = format_change(feature, quantity, before, after)
    if fixed:
        return f"(changes a fixed feature: {lower_first(label)}, {v.before} {ARROW} {v.after_full})"
    template = phrase.increase if v.rising else phrase.decrease
    if template:
        head = template.format(amount=v.amount, number=v.number)
        return f"{head} ({v.before} {ARROW} {v.after})"
    if quantity == "percent":
        direction = "up" if v.rising else "down"
        return f"{upper_first(label)} {direction} by {v.amount} ({v.before} {ARROW} {v.after})"
    verb = "Raise" if v.rising else "Lower"
    return f"{verb} {lower_first(label)} from {v.before} to {v.after_full}"


def _unmeasured(feature: FeatureSpec, after: float) -> str:
    """A value given to a feature nobody measured: reported, never advised."""
    label = lower_first(feature_phrase(feature).label)
    return f"(assumes a value that was not measured: {label} {_assumed(feature, after)})"


def _assumed(feature: FeatureSpec, value: float) -> str:
    """One value with its unit (level names for coded features)."""
    if feature.levels is not None or not math.isfinite(value):
        return _coded(feature, value)
    return format_value(feature, value)


def _coded(feature: FeatureSpec, value: float) -> str:
    if not math.isfinite(value):
        return "missing"
    if feature.levels is None:
        return plain_number(value)
    if value not in feature.levels:
        return f"{plain_number(value)} (not one of its levels)"
    if feature.level_names is not None:
        return feature.level_names[feature.levels.index(value)]
    if feature.kind == "binary":
        return "yes" if value == 1 else "no"
    return plain_number(value)
