"""Training: the estimators by name, the train/test split, and :func:`train`.

:func:`train` fits a scikit-learn pipeline on a training split of a
:class:`~sensecf.data.dataset.Dataset` and measures it on the held-out test split. The split is by
group when the spec names a ``group_column`` (no person has rows on both sides), else stratified
by class. Only binary targets are supported (the project's decision rule is a threshold on one
class).

Missing values (a stream nobody recorded that day) reach the estimator as they are where it
takes them: random forests and histogram gradient boosting learn where a missing value goes at
each split. The logistic model (and any estimator that does not take NaN) gets a median imputer
first. :func:`accepts_missing` decides.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sensecf.data.dataset import Dataset
from sensecf.errors import DataError, ModelError
from sensecf.models.classifier import TrainedClassifier, check_threshold, evaluate_classifier
from sensecf.models.importance import permutation_importance

__all__ = [
    "fit_pipeline",
    "ESTIMATORS",
    "FillEmpty",
    "accepts_missing",
    "MIN_CLASS_ROWS",
    "make_estimator",
    "cross_validate",
    "fold_rows",
    "split_rows",
    "train",
]

ESTIMATORS: dict[str, str] = {
    "rf": "random forest: 300 trees, class_weight='balanced_subsample'",
    "gb": "histogram gradient boosting, class_weight='balanced'",
    "logreg": "standardised logistic regression, class_weight='balanced'",
}
MIN_CLASS_ROWS = 5  # fewer rows of a class leave too few for both the train and the test split


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


def accepts_missing(estimator: Any) -> bool:
    """Whether ``estimator`` takes NaN feature values itself (scikit-learn's ``allow_nan`` tag).

    An object without scikit-learn's tags counts as not taking them (it gets an imputer).

    >>> accepts_missing(make_estimator("rf")), accepts_missing(make_estimator("logreg"))
    (True, False)
    """
    try:
        from sklearn.utils import get_tags  # scikit-learn >= 1.6
    except ImportError:  # pragma: no cover - older scikit-learn
        from sklearn.utils._tags import _safe_tags

        try:
            return bool(_safe_tags(estimator, key="allow_nan"))
        except Exception:
            return False
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # not a scikit-learn estimator: its tags are unknown
        return False


class FillEmpty(TransformerMixin, BaseEstimator):
    """Fills the columns that had no value at all in training with ``fill_value``; every other
    value (missing ones included) passes through unchanged.

    It stands in front of an estimator that takes NaN only when a training column is empty
    (histogram gradient boosting cannot bin a column without values), so that ``predict_proba``
    still takes the spec's full feature list.

    >>> step = FillEmpty().fit(np.array([[1.0, np.nan], [np.nan, np.nan]]))
    >>> step.transform(np.array([[np.nan, np.nan], [2.0, 5.0]])).tolist()
    [[nan, 0.0], [2.0, 0.0]]
    """

    def __init__(self, fill_value: float = 0.0) -> None:
        self.fill_value = fill_value

    def fit(self, X: Any, y: Any = None) -> FillEmpty:
        """Find the columns without a single value."""
        arr = np.asarray(X, dtype=float)
        self.empty_ = ~np.isfinite(arr).any(axis=0)
        self.n_features_in_ = arr.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The rows with the empty columns filled."""
        arr = np.array(X, dtype=float, copy=True)
        if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"expected rows of {self.n_features_in_} features; got shape {np.shape(X)}"
            )
        arr[:, self.empty_] = self.fill_value
        return arr

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _build_pipeline(
    estimator: Any, seed: int, params: Mapping[str, Any] | None, X: pd.DataFrame | None = None
) -> tuple[str, Pipeline]:
    steps: list[tuple[str, Any]] = []
    if isinstance(estimator, str):
        name = estimator
        model = make_estimator(estimator, seed, params)
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
    if accepts_missing(model):
        if X is not None and X.isna().all(axis=0).any():
            steps.append(("fill_empty", FillEmpty()))
    else:
        # keep_empty_features: a column that is all missing in training keeps its position
        # (as 0), so predict_proba always takes the spec's full feature list.
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    if name == "logreg":
        steps.append(("scale", StandardScaler()))
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
    _check_sides(data, y, train_idx, test_idx)
    return np.sort(train_idx), np.sort(test_idx)


def fold_rows(data: Dataset, folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions of the train and test rows of each fold of a shuffled K-fold split: grouped by
    ``group_column`` (``StratifiedGroupKFold``) if any, else stratified (``StratifiedKFold``).

    Every row is in exactly one test fold, so the folds of one seed together test the whole
    table once; another seed shuffles them anew (repeated K-fold).

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": np.arange(20.0), "y": [0, 1] * 10})
    >>> parts = fold_rows(Dataset(df, infer_spec(df, "y")), folds=4, seed=0)
    >>> [len(test) for _, test in parts], np.sort(np.concatenate([t for _, t in parts]))[:3].tolist()
    ([5, 5, 5, 5], [0, 1, 2])
    """
    _check_dataset(data)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ModelError(f"folds must be an integer of at least 2; got {folds!r}")
    y = data.y.to_numpy()
    positions = np.arange(len(data))
    if data.groups is None:
        smallest = min(data.class_counts().values())
        if smallest < folds:
            raise ModelError(
                f"{data.source}: {folds} stratified folds need at least {folds} rows of each "
                f"class; the smallest class has {smallest}"
            )
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        parts = list(splitter.split(positions, y))
    else:
        groups = data.groups.to_numpy()
        n_groups = len(pd.unique(groups))
        if n_groups < folds:
            raise ModelError(
                f"{data.source}: {folds} grouped folds need at least {folds} groups "
                f"({data.spec.group_column!r}); the data have {n_groups}"
            )
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        parts = list(splitter.split(positions, y, groups))
    for train_idx, test_idx in parts:
        _check_sides(data, y, train_idx, test_idx)
    return [(np.sort(train_idx), np.sort(test_idx)) for train_idx, test_idx in parts]


def _check_sides(data: Dataset, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray) -> None:
    """Both classes on both sides of a split, or an error naming the group column."""
    for side, idx in (("train", train_idx), ("test", test_idx)):
        absent = sorted(set(data.spec.classes) - set(y[idx].tolist()))
        if absent:
            how = (
                f"too few groups ({data.spec.group_column!r}) have rows of that class"
                if data.groups is not None
                else "too few rows have that class"
            )
            raise ModelError(
                f"{data.source}: the split left class(es) {absent} out of the {side} set; {how}"
            )


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
    threshold = check_threshold(threshold)
    seed = int(seed)
    train_idx, test_idx = split_rows(data, test_size, seed)
    clf = _fit_split(data, train_idx, estimator, seed, params, threshold, float(test_size))
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
    clf.feature_importance_ = permutation_importance(clf, test, importance_repeats, seed)
    return clf


def cross_validate(
    data: Dataset,
    estimator: str | Any = "rf",
    *,
    folds: int = 5,
    seeds: int | list[int] = 1,
    params: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Held-out scores over repeated K-fold splits (grouped by person where the spec has one):
    one row per (seed, fold) with ``n_train``, ``n_test``, ``auroc``, ``accuracy``,
    ``macro_f1`` and ``minority_f1`` — steadier than one split on a small table.

    ``seeds``: how many repetitions (``3``: seeds 0–2) or which. Each fold fits the same
    estimator with the repetition's seed. The folds of one seed share training rows; summarise
    them with :func:`~sensecf.evaluation.stats.resampled_interval`, not as independent samples.

    >>> from sensecf.data.spec import infer_spec
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=120)})
    >>> df["y"] = (df["x"] + 0.5 * rng.normal(size=120) > 0).astype(int)
    >>> scores = cross_validate(Dataset(df, infer_spec(df, "y")), "logreg", folds=3, seeds=2)
    >>> scores[["seed", "fold", "n_test"]].values.tolist()
    [[0, 0, 40], [0, 1, 40], [0, 2, 40], [1, 0, 40], [1, 1, 40], [1, 2, 40]]
    """
    _check_dataset(data)
    threshold = check_threshold(threshold)
    if isinstance(seeds, bool) or (isinstance(seeds, int) and seeds < 1):
        raise ModelError(f"seeds must be a positive number or a list of seeds; got {seeds!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    rows = []
    for seed in seed_list:
        for fold, (train_idx, test_idx) in enumerate(fold_rows(data, folds, seed)):
            test_share = len(test_idx) / len(data)
            clf = _fit_split(data, train_idx, estimator, seed, params, threshold, test_share)
            scores = evaluate_classifier(clf, data.subset(test_idx))
            rows.append(
                {
                    "seed": seed,
                    "fold": fold,
                    "n_train": len(train_idx),
                    "n_test": len(test_idx),
                    **{k: scores[k] for k in ("auroc", "accuracy", "macro_f1", "minority_f1")},
                }
            )
    return pd.DataFrame(rows)


def _fit_split(
    data: Dataset,
    train_idx: np.ndarray,
    estimator: str | Any,
    seed: int,
    params: Mapping[str, Any] | None,
    threshold: float,
    test_size: float,
) -> TrainedClassifier:
    """The classifier fitted on the rows ``train_idx`` of ``data``, its split recorded."""
    X, y = data.X, data.y
    name, pipeline = fit_pipeline(
        estimator, X.iloc[train_idx], y.iloc[train_idx].to_numpy(), seed=seed, params=params
    )
    counts = pd.Series(y.iloc[train_idx]).value_counts()
    # The minority class is the rarer one in training; on a tie, the flagged (not desired) class.
    minority = min(
        sorted(data.spec.classes),
        key=lambda c: (int(counts.get(c, 0)), c == data.spec.desired_class),
    )
    split = data.ids.copy() if data.spec.id_columns else pd.DataFrame({"row": np.arange(len(data))})
    split["split"] = "test"
    split.iloc[train_idx, split.columns.get_loc("split")] = "train"
    return TrainedClassifier(
        data.spec,
        pipeline,
        estimator_name=name,
        seed=seed,
        test_size=test_size,
        threshold=threshold,
        minority_class=minority,
        split=split,
        dataset_source=data.source,
        missing_in_training={name: int(n) for name, n in X.iloc[train_idx].isna().sum().items()},
    )


def fit_pipeline(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> tuple[str, Pipeline]:
    """The project's pipeline (a median imputer where the estimator does not take missing
    values, scaling where it needs it, the estimator) fitted on exactly the rows given, with no
    split: for callers that choose the rows themselves.

    Returns the estimator's name and the fitted pipeline, set to predict in one thread.

    >>> X = pd.DataFrame({"x": np.arange(20.0)})
    >>> name, pipe = fit_pipeline("logreg", X, np.array([0] * 10 + [1] * 10))
    >>> name, pipe.predict(pd.DataFrame({"x": [0.0, 19.0]})).tolist()
    ('logreg', [0, 1])
    """
    name, pipeline = _build_pipeline(estimator, int(seed), params, X)
    pipeline.fit(X, y)
    _predict_in_one_thread(pipeline)
    return name, pipeline


def _predict_in_one_thread(pipeline: Any) -> None:
    """Counterfactual searches ask for many small batches of predictions, where starting a
    thread pool per call costs more than it saves (a 300-tree forest: ~50 ms against ~15 ms)."""
    model = pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline
    if "n_jobs" in getattr(model, "get_params", dict)():
        model.set_params(n_jobs=1)
