"""What an augmentation study produced: :class:`AugmentationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sensecf.augmentation.config import AugmentationConfig

__all__ = ["AugmentationResult"]


@dataclass
class AugmentationResult:
    """What the study produced.

    ``results``: one row per (scenario, seed, arm) with the scores, gains and recoveries,
    rows added and their cost; ``summary``: means and 95% intervals over seeds per scenario
    and arm; ``rows``: every added row with its provenance; ``feature_changes``: per generator
    and feature, the share of its rows that changed the feature from their source row;
    ``comparisons``: each arm against SMOTE and the scarce floor per scenario, paired over
    seeds (:func:`~sensecf.augmentation.comparisons.study_comparisons`); ``losses``: what
    scarcity cost per scenario and whether it is measurable, which decides where recovery is
    defined (:func:`~sensecf.augmentation.comparisons.scarcity_losses`);
    ``placement``: per arm, where its rows sit among the real rows (:func:`~sensecf.augmentation.placement.row_placement`).
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    rows: pd.DataFrame
    feature_changes: pd.DataFrame
    placement: pd.DataFrame
    config: AugmentationConfig
    out_dir: Path | None = None
    plots: list[Path] = field(default_factory=list)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    losses: pd.DataFrame = field(default_factory=pd.DataFrame)
