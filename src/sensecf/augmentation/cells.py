"""The study's cell cache: each finished (scenario, seed, arm) cell saved under ``OUT/cells/``.

A cell is reused on a rerun only when its fingerprint — the data, the arm, the seed, the
scenario and every setting that changes its numbers — matches; its rows are written first and
its JSON record last, so a killed study resumes cell by cell.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.augmentation.arms import OVERSAMPLERS
from sensecf.augmentation.config import AugmentationConfig
from sensecf.augmentation.scenarios import Scenario
from sensecf.data.dataset import Dataset
from sensecf.data.io import read_table_file, write_json, write_table

__all__ = ["CELLS", "cached_cell", "cell_fingerprint", "data_key"]

CELLS = "cells"


def data_key(data: Dataset) -> str:
    hashed = pd.util.hash_pandas_object(data.frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + data.spec.to_yaml().encode()).hexdigest()[:16]


def cell_fingerprint(
    data_key: str,
    config: AugmentationConfig,
    arm: str,
    seed: int,
    scenario: Scenario | None = None,
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
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_cell(
    out: Path | None,
    parts: tuple[str, str, str],
    fingerprint: str,
    compute: Any,
    say: Any,
    saved_only: bool = False,
) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """A saved cell when its fingerprint matches, else computed and saved (rows, then JSON);
    ``(None, empty)`` for a cell not saved yet when ``saved_only``."""
    label = "/".join(parts)
    folder = out.joinpath(CELLS, *parts) if out is not None else None
    if folder is not None and (folder / "cell.json").is_file():
        saved = json.loads((folder / "cell.json").read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint:
            rows_path = folder / "rows.parquet"
            rows = read_table_file(rows_path) if rows_path.is_file() else pd.DataFrame()
            say(f"↺ {label}: reused")
            return saved["record"], rows
    if saved_only:
        say(f"· {label}: not finished")
        return None, pd.DataFrame()
    start = time.perf_counter()
    record, rows = compute()
    record = {**record, "cell_seconds": time.perf_counter() - start}
    if folder is not None:
        if len(rows):
            write_table(rows, folder / "rows.parquet")
        write_json(folder / "cell.json", {"fingerprint": fingerprint, "record": record})
    added = f", {record['rows_added']} rows added" if record.get("rows_added") else ""
    failed = f" ({record['error']})" if record.get("error") else ""
    say(f"✓ {label}: macro-F1 {record['macro_f1']:.3f}{added}{failed}")
    return record, rows
