"""The augmentation study: its table per scenario, where the added rows sit, and its plots."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sensecf.augmentation.comparisons import comparisons_table, loss_table, power_note
from sensecf.augmentation.plots import plot_f1
from sensecf.augmentation.tables import (
    COMPARISONS_NOTE,
    LOSS_NOTE,
    PLACEMENT_NOTE,
    PLACEMENT_TITLE,
    placement_table,
    summary_table,
)
from sensecf.report.parts import Plot, Section, Table
from sensecf.report.run_folder import RunData
from sensecf.runs import COMPARISONS_CSV, ROW_PLACEMENT_CSV, SCARCITY_LOSS_CSV, SUMMARY_CSV

__all__ = ["STUDY_PLOTS", "augmentation_section"]

STUDY_PLOTS = (
    (
        "f1_by_scarcity.png",
        "F1 by scarcity",
        "Macro-F1 and the scarce class's F1 by the share of its training rows removed, one "
        "line per arm with its 95% band over seeds (full: the ceiling; scarce: the floor).",
    ),
    (
        "embedding.png",
        "Real and added rows",
        "A 2-D map of real rows of each class and each arm's added rows (one scarcity level, "
        "one seed).",
    ),
    (
        "feature_changes.png",
        "Features changed by the generated rows",
        "Per generator, the share of its added rows that changed each feature from the row "
        "it was made from.",
    ),
)


def augmentation_section(data: RunData) -> Section | None:
    """The study's table per scenario and its plots (drawn again where a PNG is missing)."""
    folder = data.run.augmentation
    if folder is None:
        return None
    summary = pd.read_csv(folder / SUMMARY_CSV)
    section = Section(
        "augmentation",
        "Augmentation study",
        "Counterfactuals of the other class's rows, flipped to a scarce class, as new training "
        "rows: how much of the F1 lost to scarcity comes back? Recovery = (F1 with added rows "
        "− F1 scarce) ÷ (F1 full − F1 scarce), blank where the loss itself is not measurable; "
        "means over seeds with 95% intervals.",
    )
    spec = data.spec
    for scenario in dict.fromkeys(summary["scenario"]):
        rows = summary[summary["scenario"] == scenario]
        title = str(scenario)
        if {"share", "scarce_class"} <= set(rows.columns):
            cls = int(rows["scarce_class"].iloc[0])
            name = spec.classes.get(cls, cls) if spec is not None else cls
            title = f"{rows['share'].iloc[0]:.0%} of '{name}' training rows removed"
        section.tables.append(Table.from_frame(summary_table(summary, scenario), title=title))
    losses_path = folder / SCARCITY_LOSS_CSV
    if losses_path.is_file():  # written by studies since recovery checks its denominator
        losses = pd.read_csv(losses_path)
        if len(losses):
            section.tables.append(
                Table.from_frame(loss_table(losses), title="What scarcity cost", caption=LOSS_NOTE)
            )
    comparisons_path = folder / COMPARISONS_CSV
    if comparisons_path.is_file():  # written by studies since the comparisons exist
        comparisons = pd.read_csv(comparisons_path)
        if len(comparisons):
            section.tables.append(
                Table.from_frame(
                    comparisons_table(comparisons),
                    title="Paired comparisons",
                    caption=f"{COMPARISONS_NOTE} {power_note(comparisons)}",
                )
            )
    placement_path = folder / ROW_PLACEMENT_CSV
    if placement_path.is_file():  # written by studies since the measure exists
        placement = pd.read_csv(placement_path)
        if len(placement):
            section.tables.append(
                Table.from_frame(
                    placement_table(placement), title=PLACEMENT_TITLE, caption=PLACEMENT_NOTE
                )
            )
    for name, title, caption in STUDY_PLOTS:
        if (folder / name).is_file():
            png: bytes | None = (folder / name).read_bytes()
        else:
            png = _redrawn_f1(summary) if name == "f1_by_scarcity.png" else None
        if png is not None:
            section.plots.append(Plot(title, caption, png))
    return section


def _redrawn_f1(summary: pd.DataFrame) -> bytes | None:
    """The F1 curves as PNG bytes, drawn in a temporary folder that is removed afterwards."""
    needed = {"arm", "share", "macro_f1_ci_low", "minority_f1_ci_high"}
    if not needed <= set(summary.columns):
        return None
    with tempfile.TemporaryDirectory(prefix="sensecf-report-") as folder:
        return plot_f1(summary, Path(folder) / "f1_by_scarcity.png").read_bytes()
