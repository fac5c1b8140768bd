"""Persistence: a trained classifier's model folder, its files written and read back.

- ``model.joblib``: the fitted pipeline;
- ``spec.yaml``: the dataset spec;
- ``split.parquet``: the dataset's id columns (or row positions) and ``split`` (train/test);
- ``metadata.json``: estimator and parameters, seed, scikit-learn version, threshold, metrics,
  how missing values are handled (and how many each feature had in training),
  importances, creation time. Written last, so a folder without it is incomplete.

This module knows the files; :class:`~sensecf.models.classifier.TrainedClassifier` builds
itself from them (``TrainedClassifier.load``, ``save``), so the classifier sits above its
storage and not the other way round.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from sensecf.data.io import atomic_write, read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import ModelError

__all__ = ["FORMAT", "ModelFolder", "read_model_folder", "sensecf_version", "write_model_folder"]

MODEL_FILE = "model.joblib"
SPEC_FILE = "spec.yaml"
METADATA_FILE = "metadata.json"
SPLIT_FILE = "split.parquet"
FORMAT = "sensecf-classifier/1"


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder holds: the fitted pipeline, the spec, ``metadata.json`` and the
    split (``None`` when the folder has none)."""

    path: Path
    pipeline: Any
    spec: DatasetSpec
    metadata: dict[str, Any]
    split: pd.DataFrame | None


def write_model_folder(
    out_dir: str | os.PathLike,
    pipeline: Any,
    spec: DatasetSpec,
    split: pd.DataFrame | None,
    metadata: Mapping[str, Any],
) -> Path:
    """Write a model folder (each file atomically; ``metadata.json`` last).

    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...                    features=[FeatureSpec(name="x", bounds=(0, 1))])
    >>> out = write_model_folder(tempfile.mkdtemp(), DummyClassifier(), spec, None, {"seed": 0})
    >>> sorted(p.name for p in out.iterdir())
    ['metadata.json', 'model.joblib', 'spec.yaml']
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ModelError(f"cannot write a model folder at {out}: a file is in the way")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / MODEL_FILE, lambda p: joblib.dump(pipeline, p, compress=3))
    spec.to_yaml(out / SPEC_FILE)
    if split is not None:
        write_table(split, out / SPLIT_FILE)
    write_json(out / METADATA_FILE, _jsonable(metadata))
    return out


def read_model_folder(model_dir: str | os.PathLike) -> ModelFolder:
    """Read a model folder written by :meth:`TrainedClassifier.save` (or ``sensecf train``).

    Warns when the model was trained with another scikit-learn version (predictions may differ).
    """
    path = Path(model_dir)
    if not path.exists():
        raise ModelError(f"model folder not found: {path}")
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a model folder (one written by `sensecf train`)")
    missing = [n for n in (MODEL_FILE, SPEC_FILE, METADATA_FILE) if not (path / n).is_file()]
    if missing:
        raise ModelError(
            f"{path} is not a complete model folder: {', '.join(missing)} missing "
            "(write one with `sensecf train` or TrainedClassifier.save)"
        )
    try:
        meta = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path / METADATA_FILE}: not valid JSON: {exc}") from None
    spec = DatasetSpec.from_yaml(path / SPEC_FILE)
    trained_with = meta.get("sklearn_version")
    with warnings.catch_warnings():
        if trained_with and trained_with != sklearn.__version__:
            warnings.warn(
                f"{path}: the model was trained with scikit-learn {trained_with}; this is "
                f"{sklearn.__version__}, so its predictions may differ (retrain to be sure)",
                UserWarning,
                stacklevel=3,
            )
            # The same news from scikit-learn itself, once per pickled object, is noise.
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        try:
            pipeline = joblib.load(path / MODEL_FILE)
        except Exception as exc:  # unpickling raises many types; the user needs the file name
            raise ModelError(f"cannot load {path / MODEL_FILE}: {exc}") from exc
    if meta.get("feature_names") not in (None, spec.feature_names):
        raise ModelError(
            f"{path}: {SPEC_FILE} lists features {spec.feature_names}, but the model was "
            f"trained on {meta['feature_names']}"
        )
    split = read_table_file(path / SPLIT_FILE) if (path / SPLIT_FILE).is_file() else None
    metrics = meta.get("metrics") or {}
    if isinstance(metrics.get("class_counts"), dict):  # JSON made the class labels strings
        metrics["class_counts"] = {
            side: {int(c): n for c, n in counts.items()}
            for side, counts in metrics["class_counts"].items()
        }
    meta["metrics"] = metrics
    return ModelFolder(path, pipeline, spec, meta, split)


def sensecf_version() -> str:
    """The installed package's version (``unknown`` when run from a source tree)."""
    try:
        return importlib_metadata.version("sensecf")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: NaN → null, numpy scalars → Python, other objects → their repr."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return repr(obj)
