"""The home of runs: a run folder's file names, the fingerprints of what went in, finished units.

Every verb writes plain files into a folder, and a rerun with the same inputs reuses what is
finished. The writers (the benchmark, the augmentation study, ``explain``, the demo) and the
readers (the report, ``--saved-only``) take the file names from here, so a name is spelled once.
A finished unit — a generator's result in a benchmark, a (scenario, seed, arm) cell of a study —
is kept with the fingerprint of everything that changes its numbers (:func:`fingerprint`), and
reused only when a rerun's fingerprint is the same (:class:`UnitStore`).

>>> fingerprint({"seed": 0, "arm": "smote"}) == fingerprint({"arm": "smote", "seed": 0})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.data.io import read_table_file, write_json, write_table

__all__ = [
    "CELLS",
    "CFS",
    "COMPARISONS_CSV",
    "CONFIG_YAML",
    "CV_SCORES_CSV",
    "FEATURE_CHANGES_CSV",
    "FRONTIER_CSV",
    "GENERATED_ROWS",
    "INTERVENTIONS_CSV",
    "LLM_CACHE",
    "PER_QUERY",
    "PLAUSIBILITY_JSON",
    "PRICE_CSV",
    "QUERIES",
    "REJECTED",
    "RESULTS",
    "RESULT_JSON",
    "ROW_PLACEMENT_CSV",
    "SCARCITY_LOSS_CSV",
    "SCORES",
    "STUDY_RESULTS_CSV",
    "STUDY_RESULTS_PARQUET",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "UnitStore",
    "fingerprint",
    "table_digest",
]

# ---- file names ----------------------------------------------------------------------------
# Every run: what was asked for, the summary people read, the call cache of any LLM.
CONFIG_YAML = "config.yaml"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
# The benchmark's and the study's paired comparisons (method against reference, arm against arm).
COMPARISONS_CSV = "comparisons.csv"
# A model folder's cross-validated scores (`sensecf train --cv`), one row per (seed, fold).
CV_SCORES_CSV = "cv_scores.csv"
SCARCITY_LOSS_CSV = "scarcity_loss.csv"
LLM_CACHE = "llm-cache.sqlite"
# The benchmark: one result folder per generator under results/, the scores of every CF and query.
RESULTS = "results"
SCORES = "scores.parquet"
PER_QUERY = "per_query.parquet"
CFS = "cfs.parquet"
# One generator's result (a benchmark's results/<name>/, an explain folder).
RESULT_JSON = "result.json"
# A benchmark's finished result: the fingerprint of the settings, model and data it was made with.
UNIT_JSON = "unit.json"
QUERIES = "queries.parquet"
# The answers an LLM generator withheld (they never reached the desired class, broke a rule...).
REJECTED = "rejected.parquet"
# The benchmark's plausibility files: the held-out real rows' inlier rates (the reference line),
# what plausibility costs per query, and the frontier of a few people's fewest changes.
PLAUSIBILITY_JSON = "plausibility.json"
PRICE_CSV = "plausibility_price.csv"
FRONTIER_CSV = "plausibility_frontier.csv"
# `explain`: the intervention text of each counterfactual.
INTERVENTIONS_CSV = "interventions.csv"
# The augmentation study: one folder per finished cell under cells/, then its tables.
CELLS = "cells"
STUDY_RESULTS_CSV = "results.csv"
STUDY_RESULTS_PARQUET = "results.parquet"
GENERATED_ROWS = "generated_rows.parquet"
FEATURE_CHANGES_CSV = "feature_changes.csv"
ROW_PLACEMENT_CSV = "row_placement.csv"


# ---- fingerprints --------------------------------------------------------------------------
def fingerprint(key: Mapping[str, Any]) -> str:
    """A short hash of ``key`` (JSON with sorted keys; other objects by ``str``): what a saved
    unit must match to be reused.

    >>> fingerprint({"n_cfs": 3})
    'f5d74fdbafe2c3b6'
    """
    text = json.dumps(dict(key), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_digest(frame: pd.DataFrame, *, before: bytes = b"", after: bytes = b"") -> str:
    """A short hash of a table's values (row order included), between ``before`` and ``after``
    (e.g. its column names, its spec).

    >>> table_digest(pd.DataFrame({"x": [1, 2]})) == table_digest(pd.DataFrame({"y": [1, 2]}))
    True
    """
    digest = hashlib.sha256(before)
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(after)
    return digest.hexdigest()[:16]


# ---- finished units ------------------------------------------------------------------------
RECORD = "cell.json"
ROWS = "rows.parquet"


@dataclass(frozen=True)
class UnitStore:
    """Finished units kept under ``root/<folder>/<key parts>/``: what the unit made first, then
    its record with the fingerprint it was made with (``record``, ``cell.json`` by default), so
    a unit without its record is unfinished and is computed again.

    A unit is either rows and a record (:meth:`save` / :meth:`load`: ``rows.parquet`` beside
    the record, as the augmentation study's cells) or whatever a writer puts in its folder
    (:meth:`keep` / :meth:`finished`: a benchmark's result folder). ``root`` ``None`` keeps
    nothing (every unit is computed).

    >>> import tempfile
    >>> store = UnitStore(Path(tempfile.mkdtemp()), "cells")
    >>> store.save(("a", "seed0"), "f1", {"score": 0.5}, pd.DataFrame({"x": [1.0]}))
    >>> store.load(("a", "seed0"), "f1")[0], store.load(("a", "seed0"), "other")
    ({'score': 0.5}, None)
    >>> folder = store.keep(("b",), "f2", lambda path: (path / "notes.txt").write_text("done"))
    >>> store.finished(("b",), "f2") == folder, store.finished(("b",), "f1")
    (True, None)
    """

    root: Path | None
    folder: str
    record: str = RECORD

    def path(self, parts: tuple[str, ...]) -> Path | None:
        """Where the unit ``parts`` is kept (``None`` without a root)."""
        return self.root.joinpath(self.folder, *parts) if self.root is not None else None

    def exists(self) -> bool:
        """Whether any unit was ever kept here."""
        return self.root is not None and (self.root / self.folder).is_dir()

    def finished(self, parts: tuple[str, ...], key: str) -> Path | None:
        """The unit's folder when it was finished with fingerprint ``key``, else ``None``."""
        found = self._finished(parts, key)
        return found[0] if found is not None else None

    def keep(
        self,
        parts: tuple[str, ...],
        key: str,
        write: Callable[[Path], Any],
        record: Mapping[str, Any] | None = None,
    ) -> Path | None:
        """Keep a finished unit: ``write(folder)`` puts its outputs there, then the record."""
        folder = self.path(parts)
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        write_json(folder / self.record, {"fingerprint": key, "record": dict(record or {})})
        return folder

    def load(self, parts: tuple[str, ...], key: str) -> tuple[dict[str, Any], pd.DataFrame] | None:
        """The unit's record and rows when it was finished with fingerprint ``key``."""
        found = self._finished(parts, key)
        if found is None:
            return None
        folder, record = found
        rows = read_table_file(folder / ROWS) if (folder / ROWS).is_file() else pd.DataFrame()
        return record, rows

    def save(
        self, parts: tuple[str, ...], key: str, record: Mapping[str, Any], rows: pd.DataFrame
    ) -> None:
        """Keep a finished unit: its rows (if any), then its record."""

        def write_rows(folder: Path) -> None:
            if len(rows):
                write_table(rows, folder / ROWS)

        self.keep(parts, key, write_rows, record)

    def _finished(self, parts: tuple[str, ...], key: str) -> tuple[Path, dict[str, Any]] | None:
        """The unit's folder and its record when it was finished with fingerprint ``key``."""
        folder = self.path(parts)
        if folder is None or not (folder / self.record).is_file():
            return None
        saved = json.loads((folder / self.record).read_text(encoding="utf-8"))
        if saved.get("fingerprint") != key:
            return None
        return folder, saved["record"]
