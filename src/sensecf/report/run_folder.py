"""What a run folder holds: the outputs of each verb, found by the files each one writes.

A run folder is any folder the verbs wrote into: a demo's (``features/``, ``model/``,
``explain/``, ``benchmark/`` side by side), or one verb's own output folder. Each kind of
output is recognised by its files, at the top or up to :data:`MAX_DEPTH` folders down:

==============  ============================================================================
kind            recognised by
==============  ============================================================================
features        ``features.parquet`` and ``spec.yaml`` (``sensecf features``)
model           ``metadata.json``, ``model.joblib`` and ``spec.yaml`` (``sensecf train``)
benchmark       ``summary.csv`` with a ``method`` column (``sensecf benchmark``)
augmentation    ``summary.csv`` with ``arm`` and ``share`` columns (``sensecf augment``)
explain         ``interventions.csv`` and ``result.json`` (``sensecf explain``)
fine-tune       ``loss.csv`` (``sensecf finetune``)
==============  ============================================================================

The shallowest folder of each kind wins (ties by name); every explain and fine-tune folder is
kept.

>>> import tempfile
>>> RunFolder.find(tempfile.mkdtemp())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sensecf.errors.DataError: ... holds no sensecf outputs: expected a model folder ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sensecf.data.dataset import FEATURES_FILE, SPEC_FILE
from sensecf.errors import DataError

__all__ = ["MAX_DEPTH", "RunFolder"]

MAX_DEPTH = 3
# Folders that hold raw inputs or a verb's internals, never an output of their own.
_SKIPPED = {"cells", "results", "wearable_activity_monitor", "wearable_blood_glucose"}


@dataclass(frozen=True)
class RunFolder:
    """The output folders found under ``root`` (``None`` or empty where a kind is absent)."""

    root: Path
    features: Path | None = None
    model: Path | None = None
    benchmark: Path | None = None
    augmentation: Path | None = None
    explain: tuple[Path, ...] = field(default_factory=tuple)
    finetune: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def find(cls, root: str | os.PathLike[str]) -> RunFolder:
        """Look through ``root`` for the outputs of the verbs; refuse a folder with none."""
        root = Path(root)
        if not root.exists():
            raise DataError(f"run folder not found: {root}")
        if not root.is_dir():
            raise DataError(
                f"{root} is a file; expected a run folder (one that `sensecf demo`, `train`, "
                "`explain`, `benchmark` or `augment` wrote into)"
            )
        found: dict[str, list[Path]] = {}
        for folder in _folders(root):
            kind = _kind(folder)
            if kind is not None:
                found.setdefault(kind, []).append(folder)
        if not found:
            raise DataError(
                f"{root} holds no sensecf outputs: expected a model folder (metadata.json), "
                "a feature folder (features.parquet), a benchmark or augmentation study "
                "(summary.csv), an explain folder (interventions.csv) or a fine-tune folder "
                f"(loss.csv), at most {MAX_DEPTH} folders down"
            )

        def first(kind: str) -> Path | None:
            return found[kind][0] if kind in found else None

        return cls(
            root=root,
            features=first("features"),
            model=first("model"),
            benchmark=first("benchmark"),
            augmentation=first("augmentation"),
            explain=tuple(found.get("explain", ())),
            finetune=tuple(found.get("finetune", ())),
        )


def _folders(root: Path) -> list[Path]:
    """``root`` and the folders below it, shallowest first, then by name."""
    out: list[Path] = []
    level = [root]
    for _ in range(MAX_DEPTH + 1):
        out.extend(level)
        below: list[Path] = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            below.extend(
                c for c in children if not c.name.startswith(".") and c.name not in _SKIPPED
            )
        level = below
    return out


def _kind(folder: Path) -> str | None:
    def has(*names: str) -> bool:
        return all((folder / n).is_file() for n in names)

    if has("metadata.json", "model.joblib", SPEC_FILE):
        return "model"
    if has(FEATURES_FILE, SPEC_FILE):
        return "features"
    if has("interventions.csv", "result.json"):
        return "explain"
    if has("loss.csv"):
        return "finetune"
    if has("summary.csv"):
        try:
            columns = set(pd.read_csv(folder / "summary.csv", nrows=0).columns)
        except (ValueError, OSError):  # unreadable or empty: not an output
            return None
        if "method" in columns:
            return "benchmark"
        if {"arm", "share"} <= columns:
            return "augmentation"
    return None
