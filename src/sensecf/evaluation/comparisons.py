"""Paired comparisons of methods (or arms) on the same units, and the ★ that only a real lead earns.

Two methods asked the same queries (or two arms of the same (scenario, seed) cells) are
compared unit by unit with :func:`~sensecf.evaluation.stats.paired_difference`: the mean
difference, its paired cluster-bootstrap interval, a sign-flip permutation p-value, Cohen's
d_z and the smallest difference the run could detect. The p-values of one table are
Holm-adjusted together (:func:`~sensecf.evaluation.stats.holm`), and a comparison's
``verdict`` reads the adjusted p-value with the measure's direction: ``better`` /
``worse`` below the level, else ``indistinguishable`` (``no pairs`` without a shared unit).

The benchmark's units are queries, clustered by person where the data have people
(:data:`PERSON` in the per-query table); the study's are seeds, each its own cluster.
:func:`query_values` says which per-query value stands for each headline measure;
:func:`best_marks` decides the ★: the best mean is marked only when it is better than every
other method at the Holm-adjusted level.

>>> rows = pd.DataFrame({"method": ["a"] * 6 + ["b"] * 6, "query_id": list(range(6)) * 2,
...                      "l0": [1, 1, 2, 1, 1, 2, 3, 3, 4, 3, 3, 4.0]})
>>> l0 = Measure("l0", "cf", "L0", higher_is_better=False)
>>> table = paired_comparisons(rows, [("a", "b")], [l0], item="method", unit="query_id")
>>> table[["method", "reference", "n", "mean_diff", "p_holm", "verdict"]].to_dict("records")
[{'method': 'a', 'reference': 'b', 'n': 6, 'mean_diff': -2.0, 'p_holm': 0.03125, 'verdict': 'better'}]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensecf.errors import SensecfError
from sensecf.evaluation.catalog import CATALOG, Catalog, Measure
from sensecf.evaluation.stats import (
    holm,
    paired_difference,
    repetitions_needed,
    resampled_difference,
    runs_needed,
    smallest_p_value,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "CORRECTED_T",
    "SIGN_FLIP",
    "PERSON",
    "Best",
    "best_marks",
    "comparison_line",
    "comparisons_text",
    "measure_frame",
    "paired_comparisons",
    "query_values",
    "size_for_family",
    "verdict",
]

# The per-query table's column of the person a query belongs to (the spec's group column),
# where the data have people: the cluster of the benchmark's paired comparisons.
PERSON = "person"
# The columns after the grouping keys and the item column (``method`` or ``arm``).
COMPARISON_COLUMNS = (
    "reference",
    "measure",
    "n",
    "mean",
    "mean_reference",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "effect_size",
    "detectable",
    "n_needed",
    "test",
    "verdict",
)
# The test behind a comparison's p-value, named in its ``test`` column.
SIGN_FLIP = "sign-flip"
CORRECTED_T = "corrected resampled t"
VERDICTS = ("better", "worse", "indistinguishable", "no pairs")


def verdict(mean_diff: float, p_holm: float, higher_is_better: bool, alpha: float = 0.05) -> str:
    """``better`` / ``worse`` by the measure's direction when the adjusted p-value is below
    ``alpha``, else ``indistinguishable``; ``no pairs`` when there was nothing to compare.

    >>> verdict(-0.5, 0.01, higher_is_better=False), verdict(0.5, 0.2, higher_is_better=True)
    ('better', 'indistinguishable')
    """
    if p_holm is None or math.isnan(p_holm):
        return "no pairs"
    if p_holm >= alpha or mean_diff == 0:
        return "indistinguishable"
    return "better" if (mean_diff > 0) == higher_is_better else "worse"


def query_values(per_query: pd.DataFrame, measure: str) -> pd.Series | None:
    """The per-query value that stands for a summary ``measure`` (the paired unit's value), or
    ``None`` when the per-query table has none.

    Shares are a query's share (``validity``: its valid CFs ÷ its CFs, so the paired mean is
    the mean per query, not the summary's pooled share); ``feasible_coverage`` is a covered,
    violation-free answer over the queries the oracle did not prove infeasible; counts
    (``viol_total``) are a query's count; every other measure is its own per-query column.

    >>> q = pd.DataFrame({"covered": [True, False], "n_cfs": [2, 0], "n_valid_margin": [1, 0],
    ...                   "clean_valid": [True, False], "min_l0_status": ["certified", "infeasible"]})
    >>> query_values(q, "coverage").tolist(), query_values(q, "validity_margin").tolist()
    ([1.0, 0.0], [0.5, nan])
    >>> query_values(q, "feasible_coverage").tolist(), query_values(q, "l0") is None
    ([1.0, nan], True)
    """
    if measure in ("coverage", "any_valid"):
        column = "covered" if measure == "coverage" else "any_valid"
        return per_query[column].astype(float) if column in per_query else None
    if measure in ("validity", "query_validity"):
        return per_query["validity"].astype(float) if "validity" in per_query else None
    if measure == "validity_margin":
        if not {"n_valid_margin", "n_cfs"} <= set(per_query.columns):
            return None
        n_cfs = per_query["n_cfs"].astype(float)
        return (per_query["n_valid_margin"] / n_cfs).where(n_cfs > 0)
    if measure == "feasible_coverage":
        if not {"clean_valid", "min_l0_status"} <= set(per_query.columns):
            return None
        feasible = per_query["min_l0_status"] != "infeasible"
        return per_query["clean_valid"].astype(float).where(feasible)
    if measure in per_query.columns:
        return pd.to_numeric(per_query[measure], errors="coerce").astype(float)
    return None


def measure_frame(
    per_query: pd.DataFrame, measures: Sequence[Measure], keep: Sequence[str] = ()
) -> pd.DataFrame:
    """The per-query table as the comparisons read it: ``method``, ``query_id``, the
    :data:`PERSON` column where there is one, the ``keep`` columns present, then each
    measure's per-query value (:func:`query_values`; measures without one are left out).

    >>> q = pd.DataFrame({"method": ["a", "b"], "query_id": [0, 0], "covered": [True, False]})
    >>> measure_frame(q, [CATALOG.get("coverage"), CATALOG.get("l0")]).to_dict("list")
    {'method': ['a', 'b'], 'query_id': [0, 0], 'coverage': [1.0, 0.0]}
    """
    ids = ["method", "query_id", *(c for c in (PERSON, *keep) if c in per_query.columns)]
    out = per_query[ids].copy()
    for measure in measures:
        values = query_values(per_query, measure.name)
        if values is not None:
            out[measure.name] = values.to_numpy(dtype=float)
    return out


def paired_comparisons(
    frame: pd.DataFrame,
    pairs: Iterable[tuple[str, str]],
    measures: Sequence[Measure],
    *,
    item: str,
    unit: str,
    clusters: str | None = None,
    by: Sequence[str] = (),
    seed: int = 0,
    confidence: float = 0.95,
    folds: int | None = None,
) -> pd.DataFrame:
    """Each ``(item, reference)`` pair compared on each measure, per group of ``by``.

    ``frame`` holds one row per ``by`` group, ``item`` (a method, an arm) and ``unit`` (a
    query, a seed), with a column per measure. A pair is compared on the units both have a
    value for; ``clusters`` names the column of the units' clusters (people), ``None`` makes
    each unit its own. Measures without a direction are skipped. The p-values of all rows are
    Holm-adjusted together; ``n_needed`` is how many units (clusters) would detect the
    observed difference with 80% power after that adjustment (:func:`size_for_family`; NaN
    where there is no difference or no spread to size it from).

    ``folds``: the units are the folds of repeated ``folds``-fold cross-validation on one
    table; they are compared with the corrected resampled t-test
    (:func:`~sensecf.evaluation.stats.resampled_difference`), and ``n_needed`` counts
    repetitions (seeds) of all ``folds`` folds (inf: no number of repetitions would do).
    """
    by = list(by)
    if folds is not None and (isinstance(folds, bool) or folds < 2):
        raise SensecfError(f"folds must be at least 2 (or None); got {folds!r}")
    needed = [item, unit, *by, *([clusters] if clusters else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SensecfError(
            f"paired_comparisons needs the columns {needed}; {missing} are not among "
            f"{list(frame.columns)}"
        )
    ranked = [m for m in measures if m.higher_is_better is not None and m.name in frame.columns]
    pairs = list(pairs)
    records: list[dict[str, object]] = []
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    for key, rows in groups:
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for name, reference in pairs:
            mine = rows[rows[item] == name].set_index(unit)
            theirs = rows[rows[item] == reference].set_index(unit)
            if mine.empty or theirs.empty:  # an arm absent from this group: nothing to pair
                continue
            shared = mine.index.intersection(theirs.index)
            for m in ranked:
                a = mine.loc[shared, m.name].to_numpy(dtype=float)
                b = theirs.loc[shared, m.name].to_numpy(dtype=float)
                both = ~(np.isnan(a) | np.isnan(b))
                people = mine.loc[shared, clusters].to_numpy()[both] if clusters else None
                records.append(
                    {
                        **keys,
                        item: name,
                        "reference": reference,
                        "measure": m.name,
                        **_compare(a[both], b[both], people, seed, confidence, folds),
                    }
                )
    table = pd.DataFrame.from_records(records, columns=[*by, item, *COMPARISON_COLUMNS])
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float)) if len(table) else []
    direction = {m.name: bool(m.higher_is_better) for m in ranked}
    alpha = 1 - confidence
    table["verdict"] = [
        verdict(d, p, direction[m], alpha)
        for d, p, m in zip(table["mean_diff"], table["p_holm"], table["measure"], strict=True)
    ]
    return size_for_family(table, confidence=confidence, folds=folds)


def size_for_family(
    table: pd.DataFrame, *, confidence: float = 0.95, folds: int | None = None
) -> pd.DataFrame:
    """``n_needed`` of every row, sized so the difference would hold *after* Holm's adjustment
    across the table: at the level ``α/m`` (``m``: the comparisons with a p-value), which is
    what Holm asks of the clearest difference. A table adjusted again as part of a larger
    family (the study's) is sized again with that family.

    >>> t = pd.DataFrame({"mean_diff": [0.05, 0.05], "effect_size": [1.0, 1.0],
    ...                   "p_value": [0.2, 0.2]})
    >>> size_for_family(t.iloc[:1])["n_needed"].tolist(), size_for_family(t)["n_needed"].tolist()
    ([8.0], [10.0, 10.0])
    """
    out = table.copy()
    m = int(out["p_value"].notna().sum()) if len(out) else 0
    level = (1 - confidence) / max(m, 1)
    needed = []
    for diff, effect in zip(out["mean_diff"], out["effect_size"], strict=True):
        if pd.isna(diff) or diff == 0 or pd.isna(effect):
            needed.append(np.nan)
            continue
        # d_z = mean / SD of the units' differences, so the SD is mean / d_z (0 when ±inf).
        sd = abs(diff / effect) if effect else 0.0
        if folds is not None:
            needed.append(float(repetitions_needed(sd, diff, folds, confidence=1 - level)))
        else:
            # The normal approximation forgets that the sign-flip test needs enough clusters
            # to reach the level at all (6 for 5%): never ask for fewer.
            fewest = next(n for n in range(2, 64) if smallest_p_value(n) < level)
            needed.append(float(max(runs_needed(sd, diff, confidence=1 - level), fewest)))
    out["n_needed"] = needed
    return out


def _compare(
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray | None,
    seed: int,
    confidence: float,
    folds: int | None = None,
) -> dict[str, float | str]:
    """One comparison's numbers (NaN throughout when no unit has both values)."""
    if a.size == 0:
        empty: dict[str, float | str] = {c: float("nan") for c in COMPARISON_COLUMNS[3:-2]}
        return empty | {"n": 0, "test": ""}
    if folds is None:
        d = paired_difference(a, b, clusters, confidence=confidence, seed=seed)
    else:
        d = resampled_difference(a, b, 1 / (folds - 1), confidence=confidence)
    return {
        "n": d.n,
        "mean": float(a.mean()),
        "mean_reference": float(b.mean()),
        "mean_diff": d.mean_diff,
        "ci_low": d.low,
        "ci_high": d.high,
        "p_value": d.p_value,
        "p_holm": float("nan"),
        "effect_size": d.effect_size,
        "detectable": d.detectable,
        "n_needed": np.nan,  # sized once the family is known (size_for_family)
        "test": SIGN_FLIP if folds is None else CORRECTED_T,
    }


@dataclass(frozen=True)
class Best:
    """The ★ of one measure: the method with the best mean (``leader``), whether it is marked
    (better than every other at the Holm-adjusted level) and the methods it could not be told
    apart from (``tied_with``)."""

    measure: str
    leader: str
    marked: bool
    tied_with: tuple[str, ...]


def best_marks(
    frame: pd.DataFrame,
    measures: Sequence[Measure],
    *,
    item: str = "method",
    unit: str = "query_id",
    clusters: str | None = None,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Best]:
    """Per ranked measure: the item with the best mean over its units, compared with each
    other item on their shared units (Holm across every comparison made here).

    A measure on which every item has the same mean, or fewer than two items have a value,
    has no entry. ``frame`` is as :func:`paired_comparisons` takes it.

    >>> rows = pd.DataFrame({"method": ["a"] * 8 + ["b"] * 8 + ["c"] * 8,
    ...                      "query_id": list(range(8)) * 3,
    ...                      "l0": [1, 1, 2, 1] * 2 + [3, 4, 3, 5] * 2 + [1.0, 2, 2, 1] * 2})
    >>> best_marks(rows, [Measure("l0", "cf", "L0", higher_is_better=False)])["l0"]
    Best(measure='l0', leader='a', marked=False, tied_with=('c',))
    """
    ranked = [m for m in measures if m.higher_is_better is not None and m.name in frame.columns]
    pairs: list[tuple[str, str, Measure]] = []
    leaders: dict[str, str] = {}
    for m in ranked:
        means = frame.groupby(item, sort=False)[m.name].mean().dropna()
        if len(means) < 2 or means.min() == means.max():
            continue
        leader = str(means.idxmax() if m.higher_is_better else means.idxmin())
        leaders[m.name] = leader
        pairs += [(leader, str(other), m) for other in means.index if other != leader]
    if not pairs:
        return {}
    parts = [
        paired_comparisons(
            frame, [(a, b)], [m], item=item, unit=unit, clusters=clusters, seed=seed
        ).assign(p_holm=np.nan)
        for a, b, m in pairs
    ]
    table = pd.concat(parts, ignore_index=True)
    p_holm = holm(table["p_value"].to_numpy(dtype=float))
    alpha = 1 - confidence
    direction = {m.name: bool(m.higher_is_better) for m in ranked}
    table["verdict"] = [
        verdict(d, p, direction[m], alpha)
        for d, p, m in zip(table["mean_diff"], p_holm, table["measure"], strict=True)
    ]
    out = {}
    for name, leader in leaders.items():
        rows = table[table["measure"] == name]
        tied = tuple(rows.loc[rows["verdict"] != "better", "reference"].astype(str))
        out[name] = Best(name, leader, marked=not tied, tied_with=tied)
    return out


def comparison_line(row: Mapping[str, object], item: str = "method", fmt: str = "+.3f") -> str:
    """One comparison in words: ``oracle vs smote: +0.054 [0.010, 0.090], p_holm=0.031; better``.

    >>> comparison_line({"method": "a", "reference": "b", "mean_diff": -2.0, "ci_low": -2.5,
    ...     "ci_high": -1.5, "p_holm": 0.03125, "verdict": "better", "n": 6}, fmt="+.2f")
    'a vs b: -2.00 [-2.50, -1.50], p_holm=0.031 (n = 6); better'
    """
    diff = row["mean_diff"]
    if diff is None or pd.isna(diff):
        return f"{row[item]} vs {row['reference']}: no shared units"
    low, high = row.get("ci_low"), row.get("ci_high")
    interval = (
        f" [{format(low, fmt)}, {format(high, fmt)}]"
        if low is not None and not pd.isna(low) and high is not None and not pd.isna(high)
        else " (no interval)"
    )
    p_holm, n = float(str(row["p_holm"])), int(float(str(row["n"])))
    return (
        f"{row[item]} vs {row['reference']}: {format(diff, fmt)}{interval}, "
        f"p_holm={p_holm:.2g} (n = {n}); {row['verdict']}"
    )


def comparisons_text(
    comparisons: pd.DataFrame,
    item: str = "method",
    *,
    level: str | None = None,
    catalog: Catalog = CATALOG,
) -> pd.DataFrame:
    """:func:`paired_comparisons`' table as people read it: the grouping keys, the item, ``vs``,
    the measure's label, ``n``, the difference with its 95% interval (in the measure's format,
    signed), the raw and Holm-adjusted p-values, the units needed to detect the difference
    and the verdict. ``level="study"`` looks the measures up among the study's.

    >>> c = pd.DataFrame({"method": ["a"], "reference": ["b"], "measure": ["l0"], "n": [6],
    ...     "mean_diff": [-2.0], "ci_low": [-2.5], "ci_high": [-1.5], "p_value": [0.03125],
    ...     "p_holm": [0.03125], "n_needed": [3.0], "verdict": ["better"]})
    >>> comparisons_text(c).iloc[0].tolist()
    ['a', 'b', 'L0', '6', '-2.00 [-2.50, -1.50]', '0.031', '0.031', '3', 'better']
    """
    keys = [c for c in comparisons.columns if c not in (item, *COMPARISON_COLUMNS)]
    keys = [c for c in keys if c not in ("ci_low", "ci_high")]
    rows = []
    for row in comparisons.to_dict("records"):
        measure = catalog.get(str(row["measure"]), level=level)
        fmt = measure.fmt if measure.fmt.startswith("+") else "+" + measure.fmt
        fmt = "+.2f" if fmt == "+.0f" else fmt  # a mean difference of counts has decimals
        diff = row["mean_diff"]
        text = "–" if pd.isna(diff) else format(diff, fmt)
        if not pd.isna(row["ci_low"]) and not pd.isna(row["ci_high"]):
            text += f" [{format(row['ci_low'], fmt)}, {format(row['ci_high'], fmt)}]"
        needed = row.get("n_needed")
        rows.append(
            {
                **{k: row[k] for k in keys},
                item: row[item],
                "vs": row["reference"],
                "measure": measure.label,
                "n": str(int(row["n"])),
                "difference [95% CI]": text,
                "p": _p_text(row["p_value"]),
                "p (Holm)": _p_text(row["p_holm"]),
                "needed": _needed_text(needed),
                "verdict": row["verdict"],
            }
        )
    columns = [*keys, item, "vs", "measure", "n", "difference [95% CI]", "p", "p (Holm)"]
    return pd.DataFrame(rows, columns=[*columns, "needed", "verdict"])


def _needed_text(needed: float | None) -> str:
    if needed is None or pd.isna(needed):
        return "–"
    return "∞" if math.isinf(needed) else f"{needed:.0f}"


def _p_text(p: float) -> str:
    return "–" if pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.2g}")
