"""The study's summary as people read it: one table per scenario, in the console and Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sensecf.augmentation.comparisons import comparison_lines, loss_lines, power_note
from sensecf.augmentation.config import AugmentationConfig
from sensecf.augmentation.placement import PLACEMENT_NEIGHBOURS
from sensecf.data.spec import DatasetSpec

# The benchmark's Markdown writer; one table format for every report.
from sensecf.evaluation.benchmark import markdown_table as markdown
from sensecf.evaluation.catalog import CATALOG, Catalog

if TYPE_CHECKING:
    from sensecf.augmentation.result import AugmentationResult

# Cost columns are shown only where a language model was asked.
LLM_COSTS = {"llm_calls", "tokens"}


def summary_table(
    summary: pd.DataFrame, scenario: str, *, catalog: Catalog = CATALOG
) -> pd.DataFrame:
    """One scenario's rows of the summary as text: arm, then the headline measures (the
    catalog's ``study`` view; those with an interval print as ``mean [low, high]``).

    >>> s = pd.DataFrame({"scenario": "a", "arm": ["scarce"], "macro_f1": [0.61],
    ...                   "macro_f1_ci_low": [0.6], "macro_f1_ci_high": [0.62]})
    >>> summary_table(s, "a").iloc[0].tolist()
    ['scarce', '0.610 [0.600, 0.620]']
    """
    rows = summary[summary["scenario"] == scenario]
    table = pd.DataFrame({"arm": rows["arm"].to_numpy()})
    for measure in catalog.view("study"):
        column = measure.name
        shown = rows[column] if column in rows.columns else pd.Series(dtype=float)
        if column in LLM_COSTS:  # only where a language model was asked
            shown = shown.where(shown > 0)
        if shown.notna().any():
            cells = [measure.cell(row) for _, row in rows.iterrows()]
            table[measure.label] = [
                c if pd.notna(v) else "–" for c, v in zip(cells, shown, strict=True)
            ]
    return table


PLACEMENT_TITLE = "Where the added rows sit"
PLACEMENT_NOTE = (
    "Over all scenarios and seeds: features a generated row changed from its source row, how "
    "often a row is a copy of a real row (other than its source), and the scarce class's share "
    "among its nearest real rows (standardised features, its own source row left out). Rows "
    "among real scarce-class rows teach the classifier that region; rows just across the "
    "boundary, next to their source, move the boundary only there."
)


def placement_table(placement: pd.DataFrame) -> pd.DataFrame:
    """:func:`~sensecf.augmentation.study.row_placement` as text, one line per arm.

    >>> p = pd.DataFrame({"arm": ["smote"], "n_rows": [50], "features_changed": [float("nan")],
    ...     "copies_real": [0.0], "scarce_neighbours": [0.71], "data_scarce_share": [0.25]})
    >>> placement_table(p).iloc[0].tolist()
    ['smote', '50', '–', '0.00', '0.71']
    """
    share = placement["data_scarce_share"].iloc[0] if len(placement) else float("nan")
    return pd.DataFrame(
        {
            "arm": placement["arm"].to_numpy(),
            "rows": [f"{n:.0f}" for n in placement["n_rows"]],
            "features changed": [
                "–" if pd.isna(v) else f"{v:.1f}" for v in placement["features_changed"]
            ],
            "copies of real rows": [f"{v:.2f}" for v in placement["copies_real"]],
            f"scarce share of {PLACEMENT_NEIGHBOURS} nearest real rows (data {share:.2f})": [
                f"{v:.2f}" for v in placement["scarce_neighbours"]
            ],
        }
    )


COMPARISONS_TITLE = "Paired comparisons"
COMPARISONS_NOTE = (
    "Per scenario, each arm against SMOTE (macro-F1, scarce-class F1 and their recovery) and "
    "against the scarce floor (the two F1s), paired over seeds (or over the splits of repeated "
    "K-fold): the mean difference with its 95% paired interval, the p-value (sign-flip, or "
    "the corrected resampled t-test for folds) Holm-adjusted across the study "
    "(p_holm), and the verdict at the adjusted 5% level; where a difference does not hold, "
    "how many seeds it would need to hold after the adjustment, with 80% power (comparisons.csv: "
    "n_needed; ∞: no number of seeds, as the folds' shared training rows set a floor)."
)


LOSS_NOTE = (
    "What scarcity cost (F1 full − F1 scarce, paired over the same splits): recovery divides by "
    "it, so where its 95% interval reaches zero, recovery is undefined and left blank."
)


def split_text(config: AugmentationConfig) -> str:
    """How the study split its data, e.g. ``5 seeds, test share 0.25`` or ``seeds 0, 3, 4 ×
    5-fold cross-validation``.

    >>> split_text(AugmentationConfig(seeds=[0, 3], splits=5))
    'seeds 0, 3 × 5-fold cross-validation (each seed tests every row once)'
    """
    seeds = (
        f"{config.seeds} seeds"
        if isinstance(config.seeds, int)
        else "seeds " + ", ".join(str(s) for s in config.seeds)
    )
    if config.splits == 1:
        return f"{seeds}, test share {config.test_size}"
    return f"{seeds} × {config.splits}-fold cross-validation (each seed tests every row once)"


def scenario_title(summary: pd.DataFrame, scenario: str, spec: DatasetSpec) -> str:
    """E.g. ``50% of 'high stress' training rows removed``."""
    row = summary[summary["scenario"] == scenario].iloc[0]
    label = spec.classes.get(int(row["scarce_class"]), row["scarce_class"])
    return f"{row['share']:.0%} of {label!r} training rows removed"


def summary_markdown(study: AugmentationResult, spec: DatasetSpec) -> str:
    """The Markdown report: settings, then one table per scenario."""
    config = study.config
    summary = study.summary
    lines = [
        "# Augmentation study",
        "",
        f"Estimator `{config.estimator}` (params {config.params or 'default'}), "
        f"{split_text(config)}; rows added: `{config.target}`"
        + (f" (at most {config.max_generated})" if config.max_generated else "")
        + f"; generated rows verified by the **{config.verifier}** classifier"
        + (
            " — it has seen the removed labels, so these arms leak"
            if config.verifier == "full"
            else ""
        )
        + ".",
        "",
        "Means over seeds with 95% intervals. Recovery = (F1_arm − F1_scarce) / "
        "(F1_full − F1_scarce), per seed; *pooled* = mean gain / mean loss.",
    ]
    if len(study.losses):
        lines += ["", f"{LOSS_NOTE}", ""]
        lines += [f"- {line}" for line in loss_lines(study.losses)]
    for scenario in dict.fromkeys(summary["scenario"]):
        lines += ["", f"## {scenario_title(summary, scenario, spec)}", ""]
        lines.append(markdown(summary_table(summary, scenario)))
    if len(study.placement):
        lines += [
            "",
            f"## {PLACEMENT_TITLE}",
            "",
            PLACEMENT_NOTE,
            "",
            markdown(placement_table(study.placement)),
        ]
    if len(study.comparisons):
        lines += [
            "",
            f"## {COMPARISONS_TITLE}",
            "",
            COMPARISONS_NOTE,
            "",
            power_note(study.comparisons),
        ]
        held = study.comparisons["verdict"].isin(["better", "worse"])
        lines += ["", f"Differences that hold ({int(held.sum())} of {len(held)}):", ""]
        lines += [f"- {line}" for line in comparison_lines(study.comparisons[held])] or ["- none"]
        lines += ["", "Every comparison:", ""]
        lines += [f"- {line}" for line in comparison_lines(study.comparisons)]
    failed = study.results[study.results.get("error", pd.Series(dtype=str)).fillna("") != ""]
    if len(failed):
        lines += ["", "Arms that added nothing:", ""]
        lines += [f"- {r.scenario} seed {r.seed} {r.arm}: {r.error}" for r in failed.itertuples()]
    return "\n".join(lines) + "\n"
