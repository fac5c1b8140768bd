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
kept. :class:`RunData` reads the files the report needs, each once, on first use.

>>> import tempfile
>>> RunFolder.find(tempfile.mkdtemp())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sensecf.errors.DataError: ... holds no sensecf outputs: expected a model folder ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sensecf.data.dataset import FEATURES_FILE, SPEC_FILE, Dataset, read_feature_folder
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SensecfError
from sensecf.llm.artifacts import LOSS_CSV
from sensecf.models.persistence import METADATA_FILE, MODEL_FILE, SPLIT_FILE
from sensecf.results import CounterfactualResult
from sensecf.runs import (
    CELLS,
    CFS,
    CONFIG_YAML,
    INTERVENTIONS_CSV,
    PLAUSIBILITY_JSON,
    RESULT_JSON,
    RESULTS,
    SUMMARY_CSV,
)

__all__ = ["MAX_DEPTH", "RunData", "RunFolder"]

MAX_DEPTH = 3
# Folders that hold raw inputs or a verb's internals, never an output of their own.
_SKIPPED = {CELLS, RESULTS, "wearable_activity_monitor", "wearable_blood_glucose"}


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

    if has(METADATA_FILE, MODEL_FILE, SPEC_FILE):
        return "model"
    if has(FEATURES_FILE, SPEC_FILE):
        return "features"
    if has(INTERVENTIONS_CSV, RESULT_JSON):
        return "explain"
    if has(LOSS_CSV):
        return "finetune"
    if has(SUMMARY_CSV):
        try:
            columns = set(pd.read_csv(folder / SUMMARY_CSV, nrows=0).columns)
        except (ValueError, OSError):  # unreadable or empty: not an output
            return None
        if "method" in columns:
            return "benchmark"
        if {"arm", "share"} <= columns:
            return "augmentation"
    return None


class RunData:
    """The run folder's files, each read on first use and kept."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run

    @cached_property
    def model_dir(self) -> Path | None:
        """The run's model folder, or the one the benchmark explained."""
        if self.run.model is not None:
            return self.run.model
        named = self.benchmark_config.get("model")
        if named and (Path(named) / METADATA_FILE).is_file():
            return Path(named)
        return None

    @cached_property
    def metadata(self) -> dict[str, Any] | None:
        """The model folder's ``metadata.json``."""
        if self.model_dir is None:
            return None
        path = self.model_dir / METADATA_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None

    @cached_property
    def spec(self) -> DatasetSpec | None:
        """The spec of the run's data: the model's, the features', else a result's."""
        candidates = [self.model_dir, self.run.features, *self.run.explain]
        if self.run.benchmark is not None:
            candidates += sorted((self.run.benchmark / RESULTS).glob("*"))
        for folder in candidates:
            if folder is not None and (folder / SPEC_FILE).is_file():
                return DatasetSpec.from_yaml(folder / SPEC_FILE)
        return None

    @cached_property
    def features(self) -> Dataset | None:
        """The feature table: the run's feature folder, or the table the benchmark read (a
        feature folder, or a CSV/Parquet table with its spec)."""
        if self.run.features is not None:
            return read_feature_folder(self.run.features)
        data = self.benchmark_config.get("data")
        if data and Path(data).exists():
            from sensecf.data.loaders import load_dataset

            return load_dataset(data)
        return None

    @cached_property
    def reference(self) -> Dataset | None:
        """The rows the model was trained on (all feature rows when the split is unknown)."""
        data = self.features
        if data is None:
            return None
        if self.model_dir is not None and (self.model_dir / SPLIT_FILE).is_file():
            from sensecf.models import load_model

            try:
                return load_model(self.model_dir).split_data(data)[0]
            except SensecfError:
                return data  # a feature table the model was not trained on
        return data

    @cached_property
    def benchmark_config(self) -> dict[str, Any]:
        """The benchmark's ``config.yaml`` (empty without one)."""
        if self.run.benchmark is None or not (self.run.benchmark / CONFIG_YAML).is_file():
            return {}
        return yaml.safe_load((self.run.benchmark / CONFIG_YAML).read_text()) or {}

    @cached_property
    def summary(self) -> pd.DataFrame | None:
        """The benchmark's summary over all queries (one row per method)."""
        if self.run.benchmark is None:
            return None
        summary = pd.read_csv(self.run.benchmark / SUMMARY_CSV)
        by = self.by
        if by is not None:
            summary = summary[summary[by].isna()]
        return summary.reset_index(drop=True)

    @cached_property
    def by(self) -> str | None:
        """The benchmark's breakdown column (e.g. ``label``), when its summary has one."""
        if self.run.benchmark is None:
            return None
        columns = pd.read_csv(self.run.benchmark / SUMMARY_CSV, nrows=0).columns
        by = self.benchmark_config.get("by", "label")
        return by if by in columns else None

    @cached_property
    def plausibility(self) -> dict[str, Any] | None:
        """The benchmark's ``plausibility.json``: the held-out real rows' inlier rates (the
        reference beside every method's), the calibration rate and the notes; ``None`` where
        the benchmark wrote none (older runs)."""
        if self.run.benchmark is None:
            return None
        path = self.run.benchmark / PLAUSIBILITY_JSON
        if not path.is_file():
            return None
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        return record

    def benchmark_table(self, name: str) -> pd.DataFrame | None:
        """A table the benchmark wrote beside its summary (e.g. ``plausibility_price.csv``),
        ``None`` where it is absent."""
        if self.run.benchmark is None or not (self.run.benchmark / name).is_file():
            return None
        return pd.read_csv(self.run.benchmark / name)

    @cached_property
    def counterfactuals(self) -> CounterfactualResult | None:
        """Every generator's CFs with their queries: the benchmark's, else the first explain
        folder's (``method`` tells the generators apart)."""
        bench = self.run.benchmark
        if bench is not None and (bench / CFS).is_file():
            folders = sorted(p for p in (bench / RESULTS).glob("*") if p.is_dir())
            if folders:
                first = CounterfactualResult.load(folders[0])
                cfs = pd.read_parquet(bench / CFS)
                return CounterfactualResult(
                    "benchmark", first.desired_class, first.spec, first.queries, cfs
                )
        for folder in self.run.explain:
            return CounterfactualResult.load(folder)
        return None

    def colours(self, methods: Sequence[str]) -> dict[str, tuple[float, ...]]:
        """One colour per method, the same in every figure."""
        from sensecf.report.plots import method_colours

        known = list(self.summary["method"]) if self.summary is not None else []
        return method_colours([*known, *methods])
