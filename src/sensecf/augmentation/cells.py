"""The study's cell cache: each finished (scenario, seed, arm) cell saved under ``OUT/cells/``.

A cell is reused on a rerun only when its fingerprint — the data, the arm, the seed, the
scenario and every setting that changes its numbers — matches; its rows are written first and
its JSON record last, so a killed study resumes cell by cell.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.augmentation.arms import ORACLE_ARMS, OVERSAMPLERS, oracle_work
from sensecf.augmentation.config import AugmentationConfig
from sensecf.augmentation.scenarios import Scenario
from sensecf.data.dataset import Dataset
from sensecf.runs import CELLS, UnitStore, fingerprint, table_digest

logger = logging.getLogger(__name__)

__all__ = ["CELLS", "cell_fingerprint", "data_key", "keep_cell", "saved_cell"]


def data_key(data: Dataset) -> str:
    """The data's part of a cell's fingerprint: its values and its spec."""
    return table_digest(data.frame, after=data.spec.to_yaml().encode())


def cell_fingerprint(
    data_key: str,
    config: AugmentationConfig,
    arm: str,
    seed: int,
    scenario: Scenario | None = None,
    *,
    fold: int = 0,
) -> str:
    """What a saved cell must match to be reused."""
    key: dict[str, Any] = {
        "data": data_key,
        "arm": arm,
        "seed": seed,
        "estimator": config.estimator,
        "params": config.params,
        "test_size": config.test_size,
    }
    if config.splits > 1:  # absent from single-split cells' keys, which stay valid
        key["folds"] = [config.splits, fold]
    if scenario is not None:
        key["scenario"] = [scenario.share, scenario.scarce_class]
    if arm not in ("full", "scarce"):
        key |= {"target": config.target, "max_generated": config.max_generated}
    if arm not in ("full", "scarce", *OVERSAMPLERS):
        key |= {
            "verifier": config.verifier,
            "n_cfs": config.n_cfs,
            "max_rounds": config.max_rounds,
            "max_queries": config.max_queries,
            "options": config.options(arm),
        }
        if config.min_proba is not None:  # absent from older cells' keys, which stay valid
            key["min_proba"] = config.min_proba
        if arm in ORACLE_ARMS:  # its work budget decides its rows
            key["work"] = oracle_work(config.options(arm))
    return fingerprint(key)


def saved_cell(
    out: Path | None, parts: tuple[str, str, str], key: str
) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """A cell saved under ``out`` whose fingerprint is ``key``, else None."""
    return UnitStore(out, CELLS).load(parts, key)


def keep_cell(
    out: Path | None,
    parts: tuple[str, str, str],
    key: str,
    record: dict[str, Any],
    rows: pd.DataFrame,
) -> None:
    """Save a finished cell (its rows, then its record) and say so on this module's logger."""
    UnitStore(out, CELLS).save(parts, key, record, rows)
    added = f", {record['rows_added']} rows added" if record.get("rows_added") else ""
    failed = f" ({record['error']})" if record.get("error") else ""
    logger.info(f"✓ {'/'.join(parts)}: macro-F1 {record['macro_f1']:.3f}{added}{failed}")
