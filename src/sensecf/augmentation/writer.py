"""The files a finished augmentation study writes into its folder."""

from __future__ import annotations

from pathlib import Path

from sensecf.augmentation.plots import write_plots
from sensecf.augmentation.result import AugmentationResult
from sensecf.augmentation.tables import summary_markdown
from sensecf.data.dataset import Dataset
from sensecf.data.io import write_table, write_text

__all__ = ["write_study"]


def write_study(study: AugmentationResult, data: Dataset, out: Path) -> None:
    """Write the study's tables, ``summary.md`` and (when asked) its plots to ``out``."""
    write_table(study.results, out / "results.csv")
    write_table(study.results, out / "results.parquet")
    write_table(study.summary, out / "summary.csv")
    if len(study.rows):
        write_table(study.rows, out / "generated_rows.parquet")
    write_table(study.feature_changes, out / "feature_changes.csv")
    write_table(study.placement, out / "row_placement.csv")
    write_text(out / "summary.md", summary_markdown(study, data.spec))
    if study.config.plots:
        study.plots = write_plots(study, data, out)
