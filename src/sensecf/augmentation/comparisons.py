"""The study's paired comparisons: every arm against SMOTE and against the scarce floor.

Per scenario, two arms are paired over seeds (the unit is the (scenario, seed) cell; each seed
its own cluster, since a seed's split and fits are shared by its arms) with
:func:`~sensecf.evaluation.comparisons.paired_comparisons`, and the p-values of the whole study
are Holm-adjusted together. Measures: macro-F1 and the scarce class's F1 against both
references; F1 recovery against SMOTE only, where it is defined (against the floor an arm's
recovery is its gain over a loss the floor shares, so it would test the F1 comparison again and
only spend Holm's budget). ``n_needed`` is the number of seeds that would detect the observed
difference with 80% power (:func:`~sensecf.evaluation.stats.runs_needed`).
"""

from __future__ import annotations

import pandas as pd

from sensecf.evaluation.catalog import CATALOG, Measure
from sensecf.evaluation.comparisons import (
    comparison_line,
    comparisons_text,
    paired_comparisons,
    verdict,
)
from sensecf.evaluation.stats import holm, smallest_p_value

__all__ = [
    "FLOOR",
    "SMOTE",
    "comparison_lines",
    "comparisons_table",
    "power_note",
    "study_comparisons",
]

SMOTE = "smote"
FLOOR = "scarce"
REFERENCES = ("full", FLOOR)
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
        parts.append(
            _compare(results, [(a, SMOTE) for a in arms if a != SMOTE], recovered, keys, seed)
        )
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
    order = {s: i for i, s in enumerate(dict.fromkeys(results["scenario"]))}
    return table.sort_values("scenario", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True
    )


def _compare(
    results: pd.DataFrame,
    pairs: list[tuple[str, str]],
    measures: list[Measure],
    keys: list[str],
    seed: int,
) -> pd.DataFrame:
    return paired_comparisons(results, pairs, measures, item="arm", unit="seed", by=keys, seed=seed)


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
    return table.drop(columns=["scenario"], errors="ignore").rename(
        columns={"share": "removed", "n": "seeds", "needed": "seeds needed"}
    )


def power_note(comparisons: pd.DataFrame) -> str:
    """Why few seeds decide nothing: the smallest p-value the sign-flip test can give.

    >>> power_note(pd.DataFrame({"n": [5, 5]}))
    'With 5 seeds the sign-flip test cannot give a p-value below 0.062, before any Holm adjustment.'
    """
    n = int(comparisons["n"].max()) if len(comparisons) else 0
    return (
        f"With {n} seeds the sign-flip test cannot give a p-value below "
        f"{smallest_p_value(n):.2g}, before any Holm adjustment."
    )
