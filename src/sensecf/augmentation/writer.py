"""The files a finished augmentation study writes into its folder."""

from __future__ import annotations

from pathlib import Path

from sensecf.augmentation.plots import write_plots
from sensecf.augmentation.result import AugmentationResult
from sensecf.augmentation.tables import summary_markdown
from sensecf.data.dataset import Dataset
from sensecf.data.io import write_table, write_text
from sensecf.runs import (
    COMPARISONS_CSV,
    FEATURE_CHANGES_CSV,
    GENERATED_ROWS,
    ROW_PLACEMENT_CSV,
    SCARCITY_LOSS_CSV,
    STUDY_RESULTS_CSV,
    STUDY_RESULTS_PARQUET,
    SUMMARY_CSV,
    SUMMARY_MD,
)

__all__ = ["write_study"]


def write_study(study: AugmentationResult, data: Dataset, out: Path) -> None:
    """Write the study's tables, ``summary.md`` and (when asked) its plots to ``out``."""
    write_table(study.results, out / STUDY_RESULTS_CSV)
    write_table(study.results, out / STUDY_RESULTS_PARQUET)
    write_table(study.summary, out / SUMMARY_CSV)
    if len(study.rows):
        write_table(study.rows, out / GENERATED_ROWS)
    write_table(study.feature_changes, out / FEATURE_CHANGES_CSV)
    write_table(study.placement, out / ROW_PLACEMENT_CSV)
    if len(study.comparisons):
        write_table(study.comparisons, out / COMPARISONS_CSV)
    if len(study.losses):
        write_table(study.losses, out / SCARCITY_LOSS_CSV)
    write_text(out / SUMMARY_MD, summary_markdown(study, data.spec))
    if study.config.plots:
        study.plots = write_plots(study, data, out)
