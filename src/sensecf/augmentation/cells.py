"""The study's cell cache: each finished (scenario, seed, arm) cell saved under ``OUT/cells/``.

A cell is reused on a rerun only when its fingerprint — the data, the arm, the seed, the
scenario and every setting that changes its numbers — matches; its rows are written first and
its JSON record last, so a killed study resumes cell by cell.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.augmentation.arms import OVERSAMPLERS
from sensecf.augmentation.config import AugmentationConfig
from sensecf.augmentation.scenarios import Scenario
from sensecf.data.dataset import Dataset
from sensecf.runs import CELLS, UnitStore, fingerprint, table_digest

logger = logging.getLogger(__name__)

__all__ = ["CELLS", "cached_cell", "cell_fingerprint", "data_key"]


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
    return fingerprint(key)


def cached_cell(
    out: Path | None,
    parts: tuple[str, str, str],
    key: str,
    compute: Any,
    saved_only: bool = False,
) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """A saved cell when its fingerprint matches, else computed and saved (rows, then JSON);
    ``(None, empty)`` for a cell not saved yet when ``saved_only``."""
    label = "/".join(parts)
    store = UnitStore(out, CELLS)
    saved = store.load(parts, key)
    if saved is not None:
        logger.info(f"↺ {label}: reused")
        return saved
    if saved_only:
        logger.info(f"· {label}: not finished")
        return None, pd.DataFrame()
    start = time.perf_counter()
    record, rows = compute()
    record = {**record, "cell_seconds": time.perf_counter() - start}
    store.save(parts, key, record, rows)
    added = f", {record['rows_added']} rows added" if record.get("rows_added") else ""
    failed = f" ({record['error']})" if record.get("error") else ""
    logger.info(f"✓ {label}: macro-F1 {record['macro_f1']:.3f}{added}{failed}")
    return record, rows
