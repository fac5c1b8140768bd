"""The study's paired comparisons: every arm against SMOTE and against the scarce floor.

Per scenario, two arms are paired over seeds (the unit is the (scenario, seed) cell; each seed
its own cluster, since a seed's split and fits are shared by its arms) with
:func:`~sensecf.evaluation.comparisons.paired_comparisons`, and the p-values of the whole study
are Holm-adjusted together. Measures: macro-F1 and the scarce class's F1 against both
references; F1 recovery against SMOTE only, where it is defined (against the floor an arm's
recovery is its gain over a loss the floor shares, so it would test the F1 comparison again and
only spend Holm's budget). ``n_needed`` is the number of seeds that would detect the observed
difference with 80% power after Holm's adjustment across the study
(:func:`~sensecf.evaluation.comparisons.size_for_family`).

With repeated K-fold splits (``folds`` above 1; ``fold`` says which) the unit is the (seed, fold) split
and the test is the corrected resampled t-test, whose variance accounts for the training rows
a seed's folds share; ``n_needed`` then counts seeds (repetitions of all K folds).

Recovery divides by the scarcity loss (F1_full − F1_scarce), so it only means something where
that loss is measurable: :func:`scarcity_losses` pairs ``full`` with ``scarce`` per scenario,
and where the loss's 95% interval reaches zero, recovery is undefined ("no measurable loss"):
it is left out of the comparisons and blanked in the summary (:func:`blank_unmeasured`).
"""

from __future__ import annotations

import math

import pandas as pd

from sensecf.evaluation.catalog import CATALOG, Measure
from sensecf.evaluation.comparisons import (
    CORRECTED_T,
    comparison_line,
    comparisons_text,
    paired_comparisons,
    size_for_family,
    verdict,
)
from sensecf.evaluation.stats import holm, smallest_p_value

__all__ = [
    "FLOOR",
    "SMOTE",
    "blank_unmeasured",
    "comparison_lines",
    "comparisons_table",
    "loss_lines",
    "loss_table",
    "power_note",
    "scarcity_losses",
    "study_comparisons",
]

SMOTE = "smote"
FLOOR = "scarce"
CEILING = "full"
REFERENCES = (CEILING, FLOOR)
F1 = ("macro_f1", "minority_f1")
RECOVERY = ("recovery_macro_f1", "recovery_minority_f1")


def study_comparisons(results: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per scenario: each arm (not ``full``, ``scarce`` or ``smote`` itself) against SMOTE on
    F1 and recovery, and each arm (SMOTE included) against the scarce floor on F1, paired over
    seeds; Holm across every row. Empty when there is no arm to compare.

    >>> gain = {"scarce": 0.0, "smote": 0.02, "oracle": 0.05}
    >>> rows = pd.DataFrame([{"scenario": "s", "share": 0.5, "seed": seed, "arm": arm,
    ...     "macro_f1": 0.6 + 0.01 * (seed % 3) + gain[arm] + 0.001 * seed * (arm == "oracle")}
    ...     for seed in range(8) for arm in gain])
    >>> table = study_comparisons(rows)
    >>> table[["arm", "reference", "measure", "n", "verdict"]].values.tolist()
    [['oracle', 'smote', 'macro_f1', 8, 'better'], ['smote', 'scarce', 'macro_f1', 8, 'better'], ['oracle', 'scarce', 'macro_f1', 8, 'better']]
    """
    arms = [a for a in dict.fromkeys(results["arm"]) if a not in REFERENCES]
    measures = {m.name: m for m in CATALOG.at("study")}
    f1 = [measures[m] for m in F1 if m in results.columns]
    recovered = [measures[m] for m in (*F1, *RECOVERY) if m in results.columns]
    keys = [k for k in ("scenario", "share") if k in results.columns]
    parts = []
    if SMOTE in arms:
        against = _compare(results, [(a, SMOTE) for a in arms if a != SMOTE], recovered, keys, seed)
        parts.append(_drop_undefined_recovery(against, scarcity_losses(results, seed=seed)))
    parts.append(_compare(results, [(a, FLOOR) for a in arms], f1, keys, seed))
    table = pd.concat([p for p in parts if len(p)], ignore_index=True) if arms else None
    if table is None or table.empty:
        return pd.DataFrame()
    # Holm across the study: the two pieces were adjusted on their own, so adjust all together.
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float))
    table["verdict"] = [
        verdict(d, p, bool(measures[m].higher_is_better))
        for d, p, m in zip(table["mean_diff"], table["p_holm"], table["measure"], strict=True)
    ]
    table = size_for_family(table, folds=_folds(results))
    order = {s: i for i, s in enumerate(dict.fromkeys(results["scenario"]))}
    return table.sort_values("scenario", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True
    )


def scarcity_losses(results: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per scenario and F1: what scarcity cost (``full`` − ``scarce``), paired over seeds (or
    splits), with its 95% interval and ``measurable``: True where the interval lies above
    zero, False where it reaches zero (recovery is then undefined), NaN where there are too
    few seeds for an interval. Not part of any Holm family: it only decides where recovery
    has a denominator.

    >>> loss = {"full": 0.8, "scarce": 0.6}
    >>> rows = pd.DataFrame([{"scenario": "s", "share": 0.5, "seed": seed, "arm": arm,
    ...     "macro_f1": loss[arm] + 0.01 * (seed % 3)} for seed in range(6) for arm in loss])
    >>> scarcity_losses(rows)[["scenario", "measure", "loss", "measurable"]].values.tolist()
    [['s', 'macro_f1', 0.2, True]]
    """
    measures = {m.name: m for m in CATALOG.at("study")}
    f1 = [measures[m] for m in F1 if m in results.columns]
    keys = [k for k in ("scenario", "share") if k in results.columns]
    arms = set(results["arm"])
    if CEILING not in arms or FLOOR not in arms or not f1:
        return pd.DataFrame(columns=[*keys, "measure", "loss", "ci_low", "ci_high", "measurable"])
    table = _compare(results, [(CEILING, FLOOR)], f1, keys, seed)
    measurable = [
        float("nan") if pd.isna(low) else bool(low > 0) for low in table["ci_low"].to_numpy()
    ]
    return (
        table.rename(columns={"mean_diff": "loss"})
        .drop(columns=["arm", "reference", "p_holm", "verdict"])
        .assign(measurable=pd.Series(measurable, dtype=object))
        .round({"loss": 12})
    )


def blank_unmeasured(summary: pd.DataFrame, losses: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with each F1's recovery columns blanked (NaN) in the scenarios whose loss of
    that F1 is not measurable (``measurable`` False in ``losses``).

    >>> summary = pd.DataFrame({"scenario": ["a", "b"], "recovery_macro_f1": [0.4, 0.7],
    ...     "pooled_recovery_macro_f1": [0.5, 0.6]})
    >>> losses = pd.DataFrame({"scenario": ["a", "b"], "measure": "macro_f1",
    ...     "measurable": [False, True]})
    >>> blank_unmeasured(summary, losses)["recovery_macro_f1"].tolist()
    [nan, 0.7]
    """
    out = summary.copy()
    for row in losses.to_dict("records"):
        if _measurable(row) is not False:
            continue
        rows = out["scenario"] == row["scenario"]
        metric = row["measure"]
        for column in out.columns:
            if column.startswith((f"recovery_{metric}", f"pooled_recovery_{metric}")):
                out.loc[rows, column] = float("nan")
    return out


def loss_lines(losses: pd.DataFrame) -> list[str]:
    """What scarcity cost, in words, one line per scenario and F1.

    >>> losses = pd.DataFrame({"share": [0.5], "measure": ["macro_f1"], "n": [5],
    ...     "loss": [0.004], "ci_low": [-0.02], "ci_high": [0.03], "measurable": [False]})
    >>> loss_lines(losses)[0]
    '50% · macro-F1 lost +0.004 [-0.020, +0.030] (n = 5): recovery undefined: no measurable loss'
    """
    return [
        f"{row['removed']} · {row['measure']} lost {row['loss [95% CI]']} (n = {row['n']}): "
        f"recovery {row['recovery']}"
        for row in loss_table(losses).to_dict("records")
    ]


def loss_table(losses: pd.DataFrame) -> pd.DataFrame:
    """:func:`scarcity_losses` as text: removed, measure, n, loss [95% CI], and what it means
    for recovery.

    >>> losses = pd.DataFrame({"share": [0.5], "measure": ["minority_f1"], "n": [3],
    ...     "loss": [0.08], "ci_low": [float("nan")], "ci_high": [float("nan")],
    ...     "measurable": [float("nan")]})
    >>> loss_table(losses).iloc[0].tolist()
    ['50%', 'scarce-class F1', '3', '+0.080', 'untested: too few seeds for an interval']
    """
    rows = []
    for row in losses.to_dict("records"):
        label = CATALOG.get(str(row["measure"]), level="study").label
        text = f"{row['loss']:+.3f}"
        if pd.isna(row["ci_low"]):
            state = "untested: too few seeds for an interval"
        else:
            text += f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
            state = "defined" if _measurable(row) else "undefined: no measurable loss"
        rows.append(
            {
                "removed": f"{row['share']:.0%}" if "share" in row else str(row["scenario"]),
                "measure": label,
                "n": str(int(row["n"])),
                "loss [95% CI]": text,
                "recovery": state,
            }
        )
    return pd.DataFrame(rows, columns=["removed", "measure", "n", "loss [95% CI]", "recovery"])


def _measurable(row: dict[str, object]) -> bool | None:
    """A loss row's ``measurable`` as True, False or None (untested), also as read from CSV."""
    value = row["measurable"]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip().lower() in ("true", "1", "1.0")


def _drop_undefined_recovery(table: pd.DataFrame, losses: pd.DataFrame) -> pd.DataFrame:
    """Recovery comparisons only where the scenario's loss of that F1 is measurable."""
    if table.empty or losses.empty:
        return table
    unmeasured = {
        (row["scenario"], f"recovery_{row['measure']}")
        for row in losses.to_dict("records")
        if _measurable(row) is False
    }
    keep = [
        (scenario, measure) not in unmeasured
        for scenario, measure in zip(table["scenario"], table["measure"], strict=True)
    ]
    return table[keep].reset_index(drop=True)


def _compare(
    results: pd.DataFrame,
    pairs: list[tuple[str, str]],
    measures: list[Measure],
    keys: list[str],
    seed: int,
) -> pd.DataFrame:
    folds = _folds(results)
    if folds is None:
        return paired_comparisons(
            results, pairs, measures, item="arm", unit="seed", by=keys, seed=seed
        )
    units = results.assign(split=results["seed"].astype(str) + "/" + results["fold"].astype(str))
    return paired_comparisons(
        units, pairs, measures, item="arm", unit="split", by=keys, seed=seed, folds=folds
    )


def _folds(results: pd.DataFrame) -> int | None:
    """K of repeated K-fold, or None for one split per seed."""
    if "folds" not in results.columns or "fold" not in results.columns:
        return None
    k = int(results["folds"].max())
    return k if k > 1 else None


def comparison_lines(comparisons: pd.DataFrame) -> list[str]:
    """The comparisons in words, one per row, with the seeds needed to detect each difference:
    ``50% · macro-F1 · oracle vs smote: +0.054 [..], p_holm=0.19 (n = 5); indistinguishable
    (≈ 12 seeds would detect it)``.

    >>> c = pd.DataFrame({"scenario": ["s"], "share": [0.5], "arm": ["oracle"],
    ...     "reference": ["smote"], "measure": ["macro_f1"], "n": [5], "mean_diff": [0.054],
    ...     "ci_low": [0.01], "ci_high": [0.09], "p_holm": [0.5], "n_needed": [12.0],
    ...     "verdict": ["indistinguishable"]})
    >>> comparison_lines(c)[0]
    '50% · macro-F1 · oracle vs smote: +0.054 [+0.010, +0.090], p_holm=0.5 (n = 5); indistinguishable (12 seeds would detect it)'
    """
    lines = []
    for row in comparisons.to_dict("records"):
        measure = CATALOG.get(str(row["measure"]), level="study")
        fmt = measure.fmt if measure.fmt.startswith("+") else "+" + measure.fmt
        where = f"{row['share']:.0%}" if "share" in row else str(row.get("scenario", ""))
        text = f"{where} · {measure.label} · {comparison_line(row, item='arm', fmt=fmt)}"
        needed = row.get("n_needed")
        if needed is not None and not pd.isna(needed) and row["verdict"] == "indistinguishable":
            if math.isinf(needed):
                text += " (no number of seeds would detect it on these folds)"
            else:
                text += f" ({needed:.0f} seeds would detect it)"
        lines.append(text)
    return lines


def comparisons_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as a text table (the console's and the report's): scarcity, arm, vs,
    measure, seeds, difference [95% CI], p, p (Holm), seeds needed, verdict.

    >>> c = pd.DataFrame({"scenario": ["s"], "share": [0.5], "arm": ["oracle"],
    ...     "reference": ["smote"], "measure": ["macro_f1"], "n": [5], "mean_diff": [0.054],
    ...     "ci_low": [0.01], "ci_high": [0.09], "p_value": [0.06], "p_holm": [0.5],
    ...     "n_needed": [12.0], "verdict": ["indistinguishable"]})
    >>> comparisons_table(c).iloc[0].tolist()[:5]
    ['50%', 'oracle', 'smote', 'macro-F1', '5']
    """
    table = comparisons_text(comparisons, item="arm", level="study")
    if "share" in table.columns:
        table["share"] = [f"{v:.0%}" for v in table["share"]]
    units = "splits" if _resampled(comparisons) else "seeds"
    return table.drop(columns=["scenario"], errors="ignore").rename(
        columns={"share": "removed", "n": units, "needed": "seeds needed"}
    )


def power_note(comparisons: pd.DataFrame) -> str:
    """Why few seeds decide nothing: the smallest p-value the sign-flip test can give.

    >>> power_note(pd.DataFrame({"n": [5, 5]}))
    'With 5 seeds the sign-flip test cannot give a p-value below 0.062, before any Holm adjustment.'
    """
    n = int(comparisons["n"].max()) if len(comparisons) else 0
    if _resampled(comparisons):
        return (
            f"Over {n} splits of repeated K-fold, compared with the corrected resampled t-test "
            "(its variance allows for the training rows a seed's folds share, so more folds "
            "alone cannot make a difference significant)."
        )
    return (
        f"With {n} seeds the sign-flip test cannot give a p-value below "
        f"{smallest_p_value(n):.2g}, before any Holm adjustment."
    )


def _resampled(comparisons: pd.DataFrame) -> bool:
    return "test" in comparisons.columns and bool((comparisons["test"] == CORRECTED_T).any())
