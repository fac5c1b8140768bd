"""A table that carries its spec, and the feature folder it is saved in.

Readers of other forms (CSV/Parquet with a spec, the UCI heart file, AI-READI) build on this
module; :func:`sensecf.data.loaders.load_dataset` picks the reader for a path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.io import read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError

FEATURES_FILE = "features.parquet"
SPEC_FILE = "spec.yaml"
INFO_FILE = "info.json"


@dataclass(frozen=True)
class Dataset:
    """A feature table with its spec: ids, features and target, checked against each other.

    ``info`` holds provenance (source files, how many records were skipped and why).

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"pid": [1, 1, 2], "x": [0.5, 1.5, 2.5], "y": [0, 1, 0]})
    >>> data = Dataset(df, infer_spec(df, "y", id_columns=["pid"], group_column="pid"))
    >>> len(data), data.X.columns.tolist(), data.y.tolist(), data.groups.tolist()
    (3, ['x'], [0, 1, 0], [1, 1, 2])
    """

    frame: pd.DataFrame
    spec: DatasetSpec
    info: dict[str, Any] = field(default_factory=dict)
    source: str = "dataset"

    def __post_init__(self) -> None:
        checked = self.spec.validate_frame(self.frame, source=self.source)
        columns = [*self.spec.id_columns, *self.spec.feature_names, self.spec.target]
        object.__setattr__(self, "frame", checked[columns].reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        counts = ", ".join(f"{self.spec.classes[c]}: {n}" for c, n in self.class_counts().items())
        return (
            f"Dataset({self.spec.name!r}, {len(self)} rows, {len(self.spec.features)} features, "
            f"target {self.spec.target!r} [{counts}])"
        )

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the conventional name for a feature matrix
        """Feature columns, in spec order."""
        return self.frame[self.spec.feature_names]

    @property
    def y(self) -> pd.Series:
        """Target labels (integers)."""
        return self.frame[self.spec.target]

    @property
    def groups(self) -> pd.Series | None:
        """The group column (e.g. person id) used for grouped splits, if the spec names one."""
        if self.spec.group_column is None:
            return None
        return self.frame[self.spec.group_column]

    @property
    def ids(self) -> pd.DataFrame:
        """Identifier columns (e.g. person id and date)."""
        return self.frame[list(self.spec.id_columns)]

    def class_counts(self) -> dict[int, int]:
        """Rows per class, for every class in the spec (zero included)."""
        counts = self.y.value_counts()
        return {c: int(counts.get(c, 0)) for c in sorted(self.spec.classes)}

    def subset(self, rows: np.ndarray | pd.Series | list[int]) -> Dataset:
        """The rows selected by a boolean mask or positional indices, with the same spec."""
        rows = np.asarray(rows)
        frame = self.frame[rows] if rows.dtype == bool else self.frame.iloc[rows]
        return Dataset(frame, self.spec, dict(self.info), self.source)

    def with_spec(self, spec: DatasetSpec) -> Dataset:
        """The same rows under another spec (e.g. after editing bounds or dropping features)."""
        return Dataset(self.frame, spec, dict(self.info), self.source)

    # ---- feature folders ----------------------------------------------------------------
    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write a feature folder: ``features.parquet``, ``spec.yaml`` and ``info.json``.

        >>> import tempfile
        >>> from sensecf.data.spec import infer_spec
        >>> df = pd.DataFrame({"x": [0.5, 1.5], "y": [0, 1]})
        >>> folder = Dataset(df, infer_spec(df, "y")).save(tempfile.mkdtemp())
        >>> len(read_feature_folder(folder))
        2
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_table(self.frame, out / FEATURES_FILE)
        self.spec.to_yaml(out / SPEC_FILE)
        write_json(out / INFO_FILE, self.info)
        return out


def missing_by_feature(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, int]:
    """Missing (NaN) values per feature, for the features that miss any, in ``names`` order.

    >>> missing_by_feature(pd.DataFrame({"a": [1.0, None], "b": [1.0, 2.0]}), ["a", "b"])
    {'a': 1}
    """
    counts = frame[list(names)].isna().sum()
    return {str(name): int(n) for name, n in counts.items() if n}


def read_feature_folder(path: str | os.PathLike, spec: DatasetSpec | None = None) -> Dataset:
    """Read a feature folder written by :meth:`Dataset.save` (its own spec unless ``spec`` is given).

    Rows are read as written: missing feature values stay missing (NaN), none is dropped.

    >>> import tempfile
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": [0.5, 1.5], "y": [0, 1]})
    >>> folder = Dataset(df, infer_spec(df, "y"), info={"rows": 2}).save(tempfile.mkdtemp())
    >>> read_feature_folder(folder).info
    {'rows': 2}
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"feature table or folder not found: {path}")
    table = path / FEATURES_FILE
    if not table.is_file():
        raise DataError(f"{path} is not a feature folder: it has no {FEATURES_FILE}")
    if spec is None:
        spec_path = path / SPEC_FILE
        if not spec_path.is_file():
            raise DataError(f"feature folder {path} has no {SPEC_FILE}")
        spec = DatasetSpec.from_yaml(spec_path)
    info_path = path / INFO_FILE
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return Dataset(read_table_file(table), spec, info, source=str(table))


def find_spec_file(table: str | os.PathLike) -> Path | None:
    """The spec YAML beside a table file (``spec.yaml``, ``NAME.spec.yaml`` or ``NAME.yaml``), if any."""
    table = Path(table)
    # The table's own spec wins over a folder-wide one.
    candidates = [
        table.with_suffix(".spec.yaml"),
        table.with_suffix(".yaml"),
        table.parent / SPEC_FILE,
    ]
    return next((c for c in candidates if c.is_file()), None)
