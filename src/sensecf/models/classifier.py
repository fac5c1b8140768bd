"""The classifier every generator explains: train, evaluate, save and load it.

:func:`train` fits a scikit-learn pipeline (median imputation, then the estimator) on a training
split of a :class:`~sensecf.data.dataset.Dataset` and measures it on the held-out test split. The
split is by group when the spec names a ``group_column`` (no person has rows on both sides), else
stratified by class. The result, a :class:`TrainedClassifier`, carries the spec, the decision rule
(a row is in the positive class — class 1 — when P(class 1) ≥ ``threshold``), test metrics,
permutation importances and the split, and saves to a model folder that :func:`load_model` reads:

- ``model.joblib``: the fitted pipeline;
- ``spec.yaml``: the dataset spec;
- ``split.parquet``: the dataset's id columns (or row positions) and ``split`` (train/test);
- ``metadata.json``: estimator and parameters, seed, scikit-learn version, threshold, metrics,
  importances, creation time. Written last, so a folder without it is incomplete.

Only binary targets are supported (the project's decision rule is a threshold on one class).
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sensecf.data.dataset import Dataset
from sensecf.data.io import atomic_write, read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, ModelError

__all__ = [
    "ESTIMATORS",
    "MIN_CLASS_ROWS",
    "TrainedClassifier",
    "evaluate_classifier",
    "load_model",
    "make_estimator",
    "split_rows",
    "train",
]

ESTIMATORS: dict[str, str] = {
    "rf": "random forest: 300 trees, class_weight='balanced_subsample'",
    "gb": "histogram gradient boosting, class_weight='balanced'",
    "logreg": "standardised logistic regression, class_weight='balanced'",
}
MIN_CLASS_ROWS = 5  # fewer rows of a class leave too few for both the train and the test split

MODEL_FILE = "model.joblib"
SPEC_FILE = "spec.yaml"
METADATA_FILE = "metadata.json"
SPLIT_FILE = "split.parquet"
FORMAT = "sensecf-classifier/1"


# ---- estimators ---------------------------------------------------------------------------
def make_estimator(name: str, seed: int = 0, params: Mapping[str, Any] | None = None) -> Any:
    """The named estimator, unfitted (without the imputer that :func:`train` puts first).

    ``params`` override the defaults (e.g. ``{"n_estimators": 50}``).

    >>> make_estimator("rf", seed=1, params={"n_estimators": 10}).n_estimators
    10
    """
    if name == "rf":
        model: Any = RandomForestClassifier(
            n_estimators=300, class_weight="balanced_subsample", n_jobs=-1, random_state=seed
        )
    elif name == "gb":
        model = HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)
    elif name == "logreg":
        model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    else:
        raise ModelError(f"unknown estimator {name!r}; choose one of {list(ESTIMATORS)}")
    return _set_params(model, params)


def _set_params(model: Any, params: Mapping[str, Any] | None) -> Any:
    if not params:
        return model
    if not hasattr(model, "set_params"):
        raise ModelError(f"{type(model).__name__} has no set_params; pass it configured instead")
    valid = set(model.get_params(deep=False))
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ModelError(
            f"{type(model).__name__} has no parameter(s) {unknown}; it takes {sorted(valid)}"
        )
    return model.set_params(**params)


def _build_pipeline(
    estimator: Any, seed: int, params: Mapping[str, Any] | None
) -> tuple[str, Pipeline]:
    # keep_empty_features: a column that is all missing in training keeps its position (as 0),
    # so predict_proba always takes the spec's full feature list.
    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if isinstance(estimator, str):
        name = estimator
        model = make_estimator(estimator, seed, params)
        if name == "logreg":
            steps.append(("scale", StandardScaler()))
    else:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
            raise ModelError(
                f"an estimator needs fit() and predict_proba(); {type(estimator).__name__} lacks "
                f"{'fit' if not hasattr(estimator, 'fit') else 'predict_proba'} "
                f"(or pass a name: {list(ESTIMATORS)})"
            )
        name = type(estimator).__name__
        model = _fresh_copy(estimator)
        model = _set_params(model, params)
        # Randomness only through the explicit seed: fill an unset random_state.
        if (
            hasattr(model, "get_params")
            and model.get_params(deep=False).get("random_state", 0) is None
        ):
            model.set_params(random_state=seed)
    steps.append(("model", model))
    return name, Pipeline(steps)


def _fresh_copy(estimator: Any) -> Any:
    """An unfitted copy, so the caller's object is left as it was."""
    try:
        return clone(estimator)
    except (TypeError, AttributeError, RuntimeError):  # not a scikit-learn estimator
        return copy.deepcopy(estimator)


# ---- the split ----------------------------------------------------------------------------
def split_rows(
    data: Dataset, test_size: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the train and test rows: grouped by ``group_column`` if any, else stratified.

    A grouped split takes one fold of ``StratifiedGroupKFold`` with ``round(1 / test_size)``
    folds (for ``test_size`` above 0.5, the other folds), so its test share is close to, not
    exactly, ``test_size``; no group has rows on both sides.

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": np.arange(20.0), "y": [0, 1] * 10})
    >>> tr, te = split_rows(Dataset(df, infer_spec(df, "y")), test_size=0.25)
    >>> len(tr), len(te)
    (15, 5)
    """
    _check_dataset(data)
    _check_test_size(test_size)
    y = data.y.to_numpy()
    positions = np.arange(len(data))
    if data.groups is None:
        try:
            train_idx, test_idx = train_test_split(
                positions, test_size=test_size, stratify=y, random_state=seed
            )
        except ValueError as exc:
            raise ModelError(f"{data.source}: cannot split {len(data)} rows: {exc}") from exc
        return np.sort(train_idx), np.sort(test_idx)
    groups = data.groups.to_numpy()
    n_groups = len(pd.unique(groups))
    swap = test_size > 0.5
    n_splits = max(2, round(1 / ((1 - test_size) if swap else test_size)))
    if n_groups < n_splits:
        raise ModelError(
            f"{data.source}: a grouped split with test_size={test_size} needs at least {n_splits} "
            f"groups ({data.spec.group_column!r}); the data have {n_groups}"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, test_idx = next(folds.split(positions, y, groups))
    if swap:
        train_idx, test_idx = test_idx, train_idx
    for side, idx in (("train", train_idx), ("test", test_idx)):
        absent = sorted(set(data.spec.classes) - set(y[idx].tolist()))
        if absent:
            raise ModelError(
                f"{data.source}: the grouped split left class(es) {absent} out of the {side} set; "
                f"too few groups ({data.spec.group_column!r}) have rows of that class"
            )
    return np.sort(train_idx), np.sort(test_idx)


def _check_dataset(data: Any) -> None:
    if not isinstance(data, Dataset):
        raise DataError(f"expected a sensecf Dataset; got {type(data).__name__}")
    if len(data.spec.classes) != 2:
        raise ModelError(
            f"{data.source}: the classifier needs a binary target; {data.spec.target!r} has "
            f"classes {sorted(data.spec.classes)}"
        )
    counts = data.class_counts()
    few = {data.spec.classes[c]: n for c, n in counts.items() if n < MIN_CLASS_ROWS}
    if few:
        raise ModelError(
            f"{data.source}: too few rows to train and test: each class needs at least "
            f"{MIN_CLASS_ROWS}; rows per class: "
            + ", ".join(f"{data.spec.classes[c]!r}: {n}" for c, n in counts.items())
        )
    if data.groups is not None:
        per_class = data.frame.groupby(data.spec.target)[data.spec.group_column].nunique()
        single = [data.spec.classes[c] for c in counts if per_class.get(c, 0) < 2]
        if single:
            raise ModelError(
                f"{data.source}: class(es) {single} occur in fewer than 2 groups "
                f"({data.spec.group_column!r}); a grouped split needs them on both sides"
            )


def _check_threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ModelError(f"threshold must be a number in [0, 1]; got {value!r}")
    if not 0 <= float(value) <= 1:
        raise ModelError(f"threshold must lie in [0, 1]; got {value}")
    return float(value)


def _check_test_size(test_size: Any) -> None:
    ok = isinstance(test_size, (int, float, np.floating)) and not isinstance(test_size, bool)
    if not ok or not 0 < float(test_size) < 1:
        raise ModelError(
            f"test_size must be a fraction between 0 and 1 (exclusive); got {test_size!r}"
        )


# ---- training -----------------------------------------------------------------------------
def train(
    data: Dataset,
    estimator: str | Any = "rf",
    *,
    seed: int = 0,
    test_size: float = 0.25,
    params: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    importance_repeats: int = 5,
) -> TrainedClassifier:
    """Fit a classifier on a train split of ``data`` and measure it on the test split.

    ``estimator`` is a name (``rf``, ``gb``, ``logreg``; see :data:`ESTIMATORS`) or any object
    with ``fit``/``predict_proba`` (copied, not changed; an unset ``random_state`` gets ``seed``).
    ``params`` override the estimator's parameters (e.g. a small forest for a quick run).
    Permutation importance (AUROC drop, ``importance_repeats`` shuffles) is on the test split.

    >>> from sensecf.data.spec import infer_spec
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> df["y"] = (df["x"] > 0).astype(int)
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg")
    >>> clf.metrics_["auroc"] > 0.95, clf.feature_importance_["feature"].iloc[0]
    (True, 'x')
    """
    _check_dataset(data)
    _check_test_size(test_size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer; got {seed!r}")
    if not isinstance(importance_repeats, (int, np.integer)) or importance_repeats < 1:
        raise ModelError(
            f"importance_repeats must be a positive integer; got {importance_repeats!r}"
        )
    threshold = _check_threshold(threshold)
    seed = int(seed)
    name, pipeline = _build_pipeline(estimator, seed, params)
    train_idx, test_idx = split_rows(data, test_size, seed)
    X, y = data.X, data.y
    pipeline.fit(X.iloc[train_idx], y.iloc[train_idx].to_numpy())
    _predict_in_one_thread(pipeline)

    counts = pd.Series(y.iloc[train_idx]).value_counts()
    # The minority class is the rarer one in training; on a tie, the flagged (not desired) class.
    minority = min(
        sorted(data.spec.classes),
        key=lambda c: (int(counts.get(c, 0)), c == data.spec.desired_class),
    )
    split = data.ids.copy() if data.spec.id_columns else pd.DataFrame({"row": np.arange(len(data))})
    split["split"] = "test"
    split.iloc[train_idx, split.columns.get_loc("split")] = "train"
    clf = TrainedClassifier(
        data.spec,
        pipeline,
        estimator_name=name,
        seed=seed,
        test_size=float(test_size),
        threshold=threshold,
        minority_class=minority,
        split=split,
        dataset_source=data.source,
    )
    test = data.subset(test_idx)
    scores = evaluate_classifier(clf, test)
    clf.metrics_ = {
        **{k: v for k, v in scores.items() if k not in ("n", "class_counts")},
        "split": "grouped" if data.groups is not None else "stratified",
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "class_counts": {
            "train": data.subset(train_idx).class_counts(),
            "test": test.class_counts(),
        },
    }
    if data.groups is not None:
        groups = data.groups.to_numpy()
        clf.metrics_["n_groups_train"] = len(pd.unique(groups[train_idx]))
        clf.metrics_["n_groups_test"] = len(pd.unique(groups[test_idx]))
    clf.feature_importance_ = _importance(clf, test, importance_repeats, seed)
    return clf


def _predict_in_one_thread(pipeline: Any) -> None:
    """Counterfactual searches ask for many small batches of predictions, where starting a
    thread pool per call costs more than it saves (a 300-tree forest: ~50 ms against ~15 ms)."""
    model = pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline
    if "n_jobs" in getattr(model, "get_params", dict)():
        model.set_params(n_jobs=1)


def _importance(
    clf: TrainedClassifier, test: Dataset, repeats: int, seed: int, max_rows: int = 200_000
) -> pd.DataFrame:
    """Permutation importance: the drop in test AUROC when one feature's values are shuffled.

    The same quantity as scikit-learn's ``permutation_importance(scoring="roc_auc")``, but the
    shuffled copies are stacked into a few large ``predict_proba`` calls: a forest pays tens of
    milliseconds of overhead per call, and one call per feature and repeat added up to seconds.
    """
    rng = np.random.default_rng(seed)
    X = test.X.to_numpy(dtype=float)
    y = test.y.to_numpy()
    n, d = X.shape
    positive = clf.positive_class
    baseline = roc_auc_score(y, clf.proba_of(X, positive))
    drops = np.empty((d, repeats))
    per_call = max(1, max_rows // max(1, n * repeats))  # features per predict_proba call
    for start in range(0, d, per_call):
        columns = range(start, min(d, start + per_call))
        blocks = []
        for j in columns:
            for _ in range(repeats):
                block = X.copy()
                block[:, j] = X[rng.permutation(n), j]
                blocks.append(block)
        proba = clf.proba_of(np.vstack(blocks), positive).reshape(len(columns), repeats, n)
        for k, j in enumerate(columns):
            drops[j] = [baseline - roc_auc_score(y, proba[k, r]) for r in range(repeats)]
    table = pd.DataFrame(
        {
            "feature": clf.feature_names,
            "group": [f.group for f in clf.spec.features],
            "importance": drops.mean(axis=1),
            "importance_std": drops.std(axis=1),
        }
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


# ---- evaluation ---------------------------------------------------------------------------
def evaluate_classifier(clf: TrainedClassifier, data: Dataset) -> dict[str, Any]:
    """The classifier's metrics on any dataset with the same features, under its decision rule.

    Keys: ``n``, ``class_counts``, ``auroc`` (NaN if only one class is present), ``accuracy``,
    ``macro_f1``, ``minority_class``, ``minority_f1``, ``threshold`` and ``confusion``
    (``tn``/``fp``/``fn``/``tp``, with the positive class — class 1 — as positive).

    >>> from sensecf.data.spec import infer_spec
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
        self._threshold = _check_threshold(value)

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
        >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
        >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
        >>> load_model(clf.save(tempfile.mkdtemp())).predict([[38.0]]).tolist()
        [1]
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ModelError(f"cannot write a model folder at {out}: a file is in the way")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / MODEL_FILE, lambda p: joblib.dump(self.pipeline_, p, compress=3))
        self.spec.to_yaml(out / SPEC_FILE)
        if self.split_ is not None:
            write_table(self.split_, out / SPLIT_FILE)
        write_json(out / METADATA_FILE, _jsonable(self.metadata()))
        return out

    def metadata(self) -> dict[str, Any]:
        """What ``metadata.json`` holds."""
        model = self.pipeline_[-1] if isinstance(self.pipeline_, Pipeline) else self.pipeline_
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
            "sklearn_version": self.sklearn_version,
            "sensecf_version": _sensecf_version(),
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
