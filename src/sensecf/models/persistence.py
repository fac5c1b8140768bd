"""Persistence: a trained classifier's model folder, written and read back.

- ``model.joblib``: the fitted pipeline;
- ``spec.yaml``: the dataset spec;
- ``split.parquet``: the dataset's id columns (or row positions) and ``split`` (train/test);
- ``metadata.json``: estimator and parameters, seed, scikit-learn version, threshold, metrics,
  importances, creation time. Written last, so a folder without it is incomplete.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from sensecf.data.io import atomic_write, read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import ModelError
from sensecf.models.classifier import TrainedClassifier

__all__ = ["FORMAT", "load_model", "model_metadata", "save_model"]

MODEL_FILE = "model.joblib"
SPEC_FILE = "spec.yaml"
METADATA_FILE = "metadata.json"
SPLIT_FILE = "split.parquet"
FORMAT = "sensecf-classifier/1"


def save_model(clf: TrainedClassifier, out_dir: str | os.PathLike) -> Path:
    """Write ``clf``'s model folder (each file atomically; ``metadata.json`` last).

    >>> import tempfile
    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
    >>> sorted(p.name for p in save_model(clf, tempfile.mkdtemp()).iterdir())
    ['metadata.json', 'model.joblib', 'spec.yaml', 'split.parquet']
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ModelError(f"cannot write a model folder at {out}: a file is in the way")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / MODEL_FILE, lambda p: joblib.dump(clf.pipeline_, p, compress=3))
    clf.spec.to_yaml(out / SPEC_FILE)
    if clf.split_ is not None:
        write_table(clf.split_, out / SPLIT_FILE)
    write_json(out / METADATA_FILE, _jsonable(model_metadata(clf)))
    return out


def model_metadata(clf: TrainedClassifier) -> dict[str, Any]:
    """What ``metadata.json`` holds for ``clf``.

    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> meta = model_metadata(train(Dataset(df, infer_spec(df, "y")), "logreg"))
    >>> meta["format"], meta["estimator"], meta["feature_names"]
    ('sensecf-classifier/1', 'logreg', ['x'])
    """
    pipeline = clf.pipeline_
    model = pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline
    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    importance = (
        clf.feature_importance_.to_dict(orient="records")
        if clf.feature_importance_ is not None
        else []
    )
    return {
        "format": FORMAT,
        "estimator": clf.estimator_name,
        "estimator_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": params,
        "seed": clf.seed,
        "test_size": clf.test_size,
        "threshold": clf.threshold,
        "positive_class": clf.positive_class,
        "minority_class": clf.minority_class,
        "feature_names": clf.feature_names,
        "metrics": clf.metrics_,
        "feature_importance": importance,
        "sklearn_version": clf.sklearn_version,
        "sensecf_version": _sensecf_version(),
        "created_at": clf.created_at,
        "dataset": {"name": clf.spec.name, "source": clf.dataset_source},
    }


def load_model(model_dir: str | os.PathLike) -> TrainedClassifier:
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
                stacklevel=2,
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
    importance = meta.get("feature_importance")
    metrics = meta.get("metrics") or {}
    if isinstance(metrics.get("class_counts"), dict):  # JSON made the class labels strings
        metrics["class_counts"] = {
            side: {int(c): n for c, n in counts.items()}
            for side, counts in metrics["class_counts"].items()
        }
    return TrainedClassifier(
        spec,
        pipeline,
        estimator_name=meta.get("estimator", "custom"),
        seed=meta.get("seed", 0),
        test_size=meta.get("test_size", 0.25),
        threshold=meta.get("threshold", 0.5),
        minority_class=meta.get("minority_class"),
        metrics=metrics,
        feature_importance=pd.DataFrame(importance) if importance else None,
        split=split,
        created_at=meta.get("created_at"),
        sklearn_version=trained_with,
        dataset_source=(meta.get("dataset") or {}).get("source", ""),
    )


def _sensecf_version() -> str:
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
