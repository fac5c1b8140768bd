"""Where data comes from: the synthetic cohort, AI-READI files, and tables with a spec.

>>> import sensecf as scf
>>> data = scf.datasets.synthetic_cohort(participants=12, days=3, interval_min=15, seed=1)
>>> data.spec.target
'high_stress'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from sensecf.data.aireadi import read_aireadi
from sensecf.data.dataset import Dataset
from sensecf.data.heart import read_uci_heart
from sensecf.data.loaders import load_dataset
from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort
from sensecf.data.tabular import read_table

__all__ = [
    "load_dataset",
    "read_aireadi",
    "read_table",
    "read_uci_heart",
    "synthetic_cohort",
]


def synthetic_cohort(
    participants: int = 200,
    days: int = 10,
    *,
    interval_min: int = 5,
    seed: int = 0,
    unit: Literal["day", "person"] = "day",
    target: Literal["high_stress", "diabetes"] = "high_stress",
    root: str | os.PathLike | None = None,
) -> Dataset:
    """Write a synthetic cohort in the AI-READI layout and read its features back.

    The files go to ``root`` (kept) or to a temporary folder (removed afterwards); either way
    the features come through the same reader as real data.
    """
    config = CohortConfig(
        participants=participants, days=days, interval_min=interval_min, seed=seed
    )
    if root is not None:
        write_synthetic_cohort(Path(root), config)
        return read_aireadi(root, unit=unit, target=target)
    with tempfile.TemporaryDirectory(prefix="sensecf-cohort-") as tmp:
        write_synthetic_cohort(Path(tmp), config)
        return read_aireadi(tmp, unit=unit, target=target)
