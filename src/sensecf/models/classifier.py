"""The classifier every generator explains: :class:`TrainedClassifier` and its evaluation.

A :class:`TrainedClassifier` carries the spec, the decision rule (a row is in the positive class —
class 1 — when P(class 1) ≥ ``threshold``), test metrics, permutation importances and the split
it was trained on. :func:`~sensecf.models.training.train` makes one;
:meth:`TrainedClassifier.save` and :meth:`TrainedClassifier.load` write and read its model
folder (the files: :mod:`sensecf.models.persistence`).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, ModelError
from sensecf.models.persistence import (
    FORMAT,
    read_model_folder,
    sensecf_version,
    write_model_folder,
)

__all__ = [
    "TrainedClassifier",
    "check_threshold",
    "evaluate_classifier",
    "load_model",
    "missing_value_handling",
    "model_metadata",
    "save_model",
]


def check_threshold(value: Any) -> float:
    """``value`` as a float when it is a number in [0, 1] (the decision threshold), else an error.

    >>> check_threshold(1)
    1.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ModelError(f"threshold must be a number in [0, 1]; got {value!r}")
    if not 0 <= float(value) <= 1:
        raise ModelError(f"threshold must lie in [0, 1]; got {value}")
    return float(value)


def missing_value_handling(pipeline: Any, feature_names: list[str]) -> dict[str, Any]:
    """How ``pipeline`` treats a missing (NaN) feature value.

    ``handling`` is ``"median imputer"`` (or another imputer strategy: the value is replaced
    before the estimator sees it; ``imputed_with`` gives the value per feature), ``"native"``
    (the estimator takes NaN itself: a tree sends it down the branch it learned) or ``"none"``
    (neither: a row with a missing value cannot be predicted).

    >>> from sklearn.impute import SimpleImputer
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("model",
    ...                  LogisticRegression())]).fit([[1.0], [np.nan], [3.0]], [0, 1, 1])
    >>> missing_value_handling(pipe, ["x"])
    {'handling': 'median imputer', 'imputed_with': {'x': 2.0}}
    """
    from sklearn.impute import SimpleImputer

    steps = [s for _, s in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    for step in steps[:-1]:
        if isinstance(step, SimpleImputer) and hasattr(step, "statistics_"):
            values = np.asarray(step.statistics_, dtype=float)
            if len(values) != len(feature_names):  # empty columns dropped: names unknown
                return {"handling": f"{step.strategy} imputer"}
            return {
                "handling": f"{step.strategy} imputer",
                "imputed_with": {
                    n: float(v) for n, v in zip(feature_names, values.tolist(), strict=True)
                },
            }
    try:
        from sklearn.utils import get_tags

        native = bool(get_tags(steps[-1]).input_tags.allow_nan)
    except Exception:  # no scikit-learn tags (or an older scikit-learn): not known to take NaN
        native = False
    return {"handling": "native" if native else "none"}


# ---- evaluation ---------------------------------------------------------------------------
def evaluate_classifier(clf: TrainedClassifier, data: Dataset) -> dict[str, Any]:
    """The classifier's metrics on any dataset with the same features, under its decision rule.

    Keys: ``n``, ``class_counts``, ``auroc`` (NaN if only one class is present), ``accuracy``,
    ``macro_f1``, ``minority_class``, ``minority_f1``, ``threshold`` and ``confusion``
    (``tn``/``fp``/``fn``/``tp``, with the positive class — class 1 — as positive).

    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> data = Dataset(df, infer_spec(df, "y"))
    >>> evaluate_classifier(train(data, "logreg", importance_repeats=1), data)["accuracy"]
    1.0
    """
    if not isinstance(data, Dataset):
        raise DataError(f"expected a sensecf Dataset; got {type(data).__name__}")
    y = data.y.to_numpy()
    pos, neg = clf.positive_class, clf.negative_class
    proba = clf.proba_of(data.X, pos)
    pred = np.where(proba >= clf.threshold, pos, neg)
    labels = [neg, pos]
    (tn, fp), (fn, tp) = confusion_matrix(y, pred, labels=labels)
    per_class = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    minority = clf.minority_class if clf.minority_class is not None else pos
    return {
        "n": len(data),
        "class_counts": data.class_counts(),
        "auroc": float(roc_auc_score(y, proba)) if len(set(y.tolist())) == 2 else math.nan,
        "accuracy": float(accuracy_score(y, pred)) if len(y) else math.nan,
        "macro_f1": float(np.mean(per_class)),
        "minority_class": int(minority),
        "minority_f1": float(per_class[labels.index(minority)]),
        "threshold": clf.threshold,
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


# ---- the trained classifier ---------------------------------------------------------------
class TrainedClassifier:
    """A fitted pipeline with its spec, decision rule, metrics, importances and split.

    A row is in the positive class (class 1, the larger label) when P(class 1) ≥ ``threshold``.
    ``predict_proba`` takes a DataFrame with the spec's feature columns (any order; extra columns
    are ignored), an array in spec order, or a :class:`Dataset`.

    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
    >>> clf.predict(np.array([[1.0], [38.0]])).tolist(), clf.feature_names
    ([0, 1], ['x'])
    """

    def __init__(
        self,
        spec: DatasetSpec,
        pipeline: Any,
        *,
        estimator_name: str = "custom",
        seed: int = 0,
        test_size: float = 0.25,
        threshold: float = 0.5,
        minority_class: int | None = None,
        metrics: dict[str, Any] | None = None,
        feature_importance: pd.DataFrame | None = None,
        split: pd.DataFrame | None = None,
        created_at: str | None = None,
        sklearn_version: str | None = None,
        dataset_source: str = "",
        missing_in_training: dict[str, int] | None = None,
    ) -> None:
        if len(spec.classes) != 2:
            raise ModelError(f"the classifier needs a binary target; got {sorted(spec.classes)}")
        self.spec = spec
        self.pipeline_ = pipeline
        self.estimator_name = estimator_name
        self.seed = seed
        self.test_size = test_size
        self.threshold = threshold
        self.minority_class = minority_class
        self.metrics_: dict[str, Any] = metrics or {}
        self.feature_importance_ = feature_importance
        self.split_ = split
        self.created_at = created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.sklearn_version = sklearn_version or sklearn.__version__
        self.dataset_source = dataset_source
        # Per feature, how many training rows lacked it (None: not recorded, older models).
        self.missing_in_training = missing_in_training
        fitted = [int(c) for c in getattr(pipeline, "classes_", sorted(spec.classes))]
        if sorted(fitted) != self.classes:
            raise ModelError(
                f"the model was fitted on classes {fitted}; the spec has {self.classes}"
            )
        self._columns = [fitted.index(c) for c in self.classes]  # proba columns in class order

    # ---- decision rule ---------------------------------------------------------------
    @property
    def threshold(self) -> float:
        """P(positive class) at or above which a row is predicted positive."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = check_threshold(value)

    @property
    def feature_names(self) -> list[str]:
        """The spec's features, in the order an array passed to ``predict_proba`` must follow."""
        return self.spec.feature_names

    @property
    def classes(self) -> list[int]:
        """Class labels, sorted: the column order of ``predict_proba``."""
        return sorted(int(c) for c in self.spec.classes)

    @property
    def classes_(self) -> np.ndarray:
        """Class labels as scikit-learn names them (for libraries that read ``classes_``)."""
        return np.asarray(self.classes)

    @property
    def positive_class(self) -> int:
        """The class the threshold applies to (the larger label: 1 for a 0/1 target)."""
        return self.classes[1]

    @property
    def negative_class(self) -> int:
        """The other class (0 for a 0/1 target)."""
        return self.classes[0]

    # ---- prediction --------------------------------------------------------------------
    def predict_proba(self, X: pd.DataFrame | np.ndarray | Dataset | pd.Series) -> np.ndarray:
        """Class probabilities, one column per class in :attr:`classes` order."""
        proba = np.asarray(self.pipeline_.predict_proba(self._frame(X)), dtype=float)
        return proba[:, self._columns]

    def proba_of(self, X: pd.DataFrame | np.ndarray | Dataset | pd.Series, cls: int) -> np.ndarray:
        """Probability of one class for each row."""
        if cls not in self.classes:
            raise ModelError(f"class {cls!r} is not one of {self.classes}")
        return self.predict_proba(X)[:, self.classes.index(int(cls))]

    def predict(self, X: pd.DataFrame | np.ndarray | Dataset | pd.Series) -> np.ndarray:
        """Class labels under the decision rule (P(positive) ≥ threshold)."""
        return self.predict_with_proba(X, self.positive_class)[0]

    def predict_with_proba(
        self, X: pd.DataFrame | np.ndarray | Dataset | pd.Series, cls: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels and the probability of class ``cls`` from one model call (search loops)."""
        proba = self.predict_proba(X)
        positive = proba[:, self.classes.index(self.positive_class)] >= self.threshold
        labels = np.where(positive, self.positive_class, self.negative_class)
        if cls not in self.classes:
            raise ModelError(f"class {cls!r} is not one of {self.classes}")
        return labels, proba[:, self.classes.index(int(cls))]

    def _frame(self, X: Any) -> pd.DataFrame:
        names = self.feature_names
        if isinstance(X, Dataset):
            X = X.X
        if isinstance(X, pd.Series):  # one row
            X = X.to_frame().T
        if isinstance(X, pd.DataFrame):
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise DataError(f"missing feature column(s) {missing}; the model takes {names}")
            frame = X[names]
            try:
                return frame.astype(float)
            except (ValueError, TypeError):
                for column in names:
                    bad = (
                        pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()
                    )
                    if bad.any():
                        row = int(bad.to_numpy().nonzero()[0][0])
                        raise DataError(
                            f"feature {column!r} must be numeric; row {row} holds "
                            f"{frame[column].iloc[row]!r}"
                        ) from None
                raise
        try:
            arr = np.asarray(X, dtype=float)
        except (ValueError, TypeError) as exc:
            raise DataError(f"features must be numbers: {exc}") from None
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise DataError(
                f"an array of features needs shape (rows, {len(names)}) in spec order {names}; "
                f"got shape {np.shape(X)}"
            )
        return pd.DataFrame(arr, columns=names)

    # ---- the split it was trained on ------------------------------------------------------
    def split_data(self, data: Dataset) -> tuple[Dataset, Dataset]:
        """The rows of ``data`` it was trained on and the held-out rows, by its recorded split.

        Rows are matched on the spec's id columns (or row positions when there are none), so
        counterfactual queries can come from held-out people and reference rows from training.

        >>> from sensecf.data.spec import infer_spec
        >>> from sensecf.models import train
        >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
        >>> data = Dataset(df, infer_spec(df, "y"))
        >>> train_rows, test_rows = train(data, "logreg", importance_repeats=1).split_data(data)
        >>> len(train_rows) + len(test_rows)
        40
        """
        if self.split_ is None:
            raise ModelError("this model has no recorded train/test split")
        keys = [c for c in self.split_.columns if c != "split"]
        if keys == ["row"] and "row" not in data.frame.columns:
            labels = self.split_["split"].to_numpy()
            if len(labels) != len(data):
                raise DataError(
                    f"the model's split covers {len(labels)} rows; the data has {len(data)}"
                )
        else:
            missing = [k for k in keys if k not in data.frame.columns]
            if missing:
                raise DataError(f"the data lacks the id column(s) {missing} of the model's split")
            mapping = self.split_.drop_duplicates()
            if mapping.duplicated(subset=keys).any():
                raise DataError(
                    f"the id columns {keys} do not tell the model's train and test rows apart"
                )
            merged = data.frame[keys].merge(mapping, on=keys, how="left")
            labels = merged["split"].fillna("unseen").to_numpy()
        return data.subset(labels == "train"), data.subset(labels != "train")

    # ---- persistence -------------------------------------------------------------------
    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the model folder (each file atomically; ``metadata.json`` last).

        >>> import tempfile
        >>> from sensecf.data.spec import infer_spec
        >>> from sensecf.models import load_model, train
        >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
        >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
        >>> load_model(clf.save(tempfile.mkdtemp())).predict([[38.0]]).tolist()
        [1]
        """
        return write_model_folder(out_dir, self.pipeline_, self.spec, self.split_, self.metadata())

    @classmethod
    def load(cls, model_dir: str | os.PathLike) -> TrainedClassifier:
        """Read a model folder written by :meth:`save` (or ``sensecf train``).

        Warns when the model was trained with another scikit-learn version (predictions may
        differ).
        """
        folder = read_model_folder(model_dir)
        meta = folder.metadata
        importance = meta.get("feature_importance")
        return cls(
            folder.spec,
            folder.pipeline,
            estimator_name=meta.get("estimator", "custom"),
            seed=meta.get("seed", 0),
            test_size=meta.get("test_size", 0.25),
            threshold=meta.get("threshold", 0.5),
            minority_class=meta.get("minority_class"),
            metrics=meta.get("metrics") or {},
            feature_importance=pd.DataFrame(importance) if importance else None,
            split=folder.split,
            created_at=meta.get("created_at"),
            sklearn_version=meta.get("sklearn_version"),
            dataset_source=(meta.get("dataset") or {}).get("source", ""),
            missing_in_training=(meta.get("missing_values") or {}).get("missing_in_training"),
        )

    def metadata(self) -> dict[str, Any]:
        """What ``metadata.json`` holds.

        ``missing_values`` says how the model treats a missing feature value
        (:func:`missing_value_handling`) and, per feature, how many training rows lacked it
        (``missing_in_training``; ``None`` for a model saved before this was recorded).

        >>> from sensecf.data.spec import infer_spec
        >>> from sensecf.models import train
        >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
        >>> meta = train(Dataset(df, infer_spec(df, "y")), "logreg").metadata()
        >>> meta["format"], meta["estimator"], meta["feature_names"]
        ('sensecf-classifier/1', 'logreg', ['x'])
        >>> meta["missing_values"]
        {'handling': 'median imputer', 'imputed_with': {'x': 19.5}, 'missing_in_training': {'x': 0}}
        """
        pipeline = self.pipeline_
        model = pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline
        params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
        importance = (
            self.feature_importance_.to_dict(orient="records")
            if self.feature_importance_ is not None
            else []
        )
        return {
            "format": FORMAT,
            "estimator": self.estimator_name,
            "estimator_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "params": params,
            "seed": self.seed,
            "test_size": self.test_size,
            "threshold": self.threshold,
            "positive_class": self.positive_class,
            "minority_class": self.minority_class,
            "feature_names": self.feature_names,
            "metrics": self.metrics_,
            "feature_importance": importance,
            "missing_values": {
                **missing_value_handling(pipeline, self.feature_names),
                "missing_in_training": self.missing_in_training,
            },
            "sklearn_version": self.sklearn_version,
            "sensecf_version": sensecf_version(),
            "created_at": self.created_at,
            "dataset": {"name": self.spec.name, "source": self.dataset_source},
        }

    def __repr__(self) -> str:
        auroc = self.metrics_.get("auroc")
        score = f", test AUROC {auroc:.3f}" if isinstance(auroc, float) else ""
        return (
            f"TrainedClassifier({self.estimator_name!r} on {self.spec.name!r}, "
            f"{len(self.feature_names)} features, threshold {self.threshold:g}{score})"
        )


_MOVED = {
    "ESTIMATORS": "sensecf.models.training",
    "MIN_CLASS_ROWS": "sensecf.models.training",
    "make_estimator": "sensecf.models.training",
    "split_rows": "sensecf.models.training",
    "train": "sensecf.models.training",
}


def load_model(model_dir: str | os.PathLike) -> TrainedClassifier:
    """Read a model folder written by :meth:`TrainedClassifier.save` (or ``sensecf train``);
    see :meth:`TrainedClassifier.load`."""
    return TrainedClassifier.load(model_dir)


def save_model(clf: TrainedClassifier, out_dir: str | os.PathLike) -> Path:
    """Write ``clf``'s model folder (:meth:`TrainedClassifier.save`)."""
    return clf.save(out_dir)


def model_metadata(clf: TrainedClassifier) -> dict[str, Any]:
    """What ``metadata.json`` holds for ``clf`` (:meth:`TrainedClassifier.metadata`)."""
    return clf.metadata()


def __getattr__(name: str) -> Any:
    """Names that lived here before training got a module of its own."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
