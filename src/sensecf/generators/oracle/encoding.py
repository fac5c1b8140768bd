"""Reading a fitted classifier as something a mixed-integer program can hold.

A :class:`~sensecf.models.classifier.TrainedClassifier` is a pipeline: maybe a median imputer
and a scaler, then the estimator. The exact oracle supports:

- preprocessing that maps each feature on its own by an increasing affine map (``StandardScaler``,
  ``MinMaxScaler``, ``RobustScaler``, ``MaxAbsScaler``, imputers, which leave a value alone);
  it is checked numerically on the reference rows rather than trusted by type. A missing value
  becomes a constant per feature (an imputer's) or stays missing (for an estimator that takes
  it);
- tree ensembles (:mod:`.trees`): decision trees, random forests, extra trees, gradient
  boosting and histogram gradient boosting without categorical splits; a split on a missing
  value goes the way the fitted tree sends it;
- linear models (:mod:`.linear`) whose probability is the logistic function of
  ``decision_function`` (logistic regression, SGD with log loss), behind an imputer where
  values may be missing.

A query's missing feature is nobody's measurement: it stays missing in every counterfactual, so
the encodings hold it at what the estimator receives for it.

Every encoding is verified against ``predict_proba`` on the reference rows, and on reference
rows with values taken out, when it is built
(:func:`~sensecf.generators.oracle.encode.encode_model`); a model that fails any of this raises
:class:`UnsupportedModel`, and the oracle searches instead. This module holds what the
encodings share (the link, the preprocessing); the dispatcher over them is
:mod:`~sensecf.generators.oracle.encode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.pipeline import Pipeline

from sensecf.models.classifier import TrainedClassifier


class UnsupportedModel(Exception):
    """The model (or its preprocessing) has no exact encoding; the reason says which part."""


@dataclass(frozen=True)
class Link:
    """How the encoded score ``s`` becomes P(positive class): ``identity`` or ``logistic``.

    ``factor`` scales the score first (2 for gradient boosting's exponential loss).

    >>> link = Link("logistic")
    >>> round(float(link.proba(np.array([0.0]))[0]), 3), round(link.score_at(0.5), 3)
    (0.5, 0.0)
    """

    kind: str
    factor: float = 1.0

    def proba(self, score: np.ndarray) -> np.ndarray:
        """P(positive class) from the score."""
        if self.kind == "identity":
            return np.asarray(score, dtype=float)
        return expit(self.factor * np.asarray(score, dtype=float))

    def score_at(self, proba: float) -> float:
        """The score at which P(positive class) equals ``proba`` (±inf at 0 and 1)."""
        if self.kind == "identity":
            return float(proba)
        with np.errstate(divide="ignore"):
            return float(logit(proba)) / self.factor

    @property
    def tolerance(self) -> float:
        """How far inside the threshold a solution must lie, in score units.

        Covers the solver's feasibility tolerance (1e-7 on rows, 1e-6 on integrality)."""
        return 1e-6 if self.kind == "identity" else 1e-5


@dataclass(frozen=True)
class Preprocessing:
    """The pipeline steps before the estimator: each feature ``x`` becomes ``slope * x + shift``,
    a missing one becomes ``missing`` (NaN: it reaches the estimator missing).

    ``transform`` applies the real steps (exact floating point); the affine form locates
    thresholds and folds linear weights.
    """

    steps: Any  # a fitted transformer, or None for no preprocessing
    slope: np.ndarray
    shift: np.ndarray
    feature_names: tuple[str, ...]
    missing: np.ndarray | None = None  # None: every missing value reaches the estimator as NaN

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Rows in spec order (missing values as NaN) → what the estimator receives, as floats."""
        X = np.asarray(X, dtype=float)
        if self.steps is None:
            return X
        return np.asarray(self.steps.transform(_input(self.steps, X, self.feature_names)), float)

    def inverse(self, z: np.ndarray, j: int) -> np.ndarray:
        """Approximate raw values of feature ``j`` for model-space values ``z``."""
        return (np.asarray(z, dtype=float) - self.shift[j]) / self.slope[j]


def split_pipeline(model: TrainedClassifier) -> tuple[Any, Any]:
    """The preprocessing steps (a transformer or None) and the final estimator."""
    pipeline = model.pipeline_
    if isinstance(pipeline, Pipeline):
        steps = pipeline[:-1] if len(pipeline.steps) > 1 else None
        return steps, pipeline[-1]
    return None, pipeline


def read_preprocessing(model: TrainedClassifier, reference: np.ndarray) -> Preprocessing:
    """The preprocessing as a per-feature increasing affine map, checked on ``reference``.

    Raises :class:`UnsupportedModel` when a step mixes features, is not affine or reverses
    the order of a feature's values. What a missing value becomes is probed too (a row of NaN)
    and checked on the reference rows' own missing values: one constant per feature (an
    imputer's), or NaN where it passes through.
    """
    steps, _ = split_pipeline(model)
    names = tuple(model.feature_names)
    d = len(names)
    if steps is None:
        return Preprocessing(None, np.ones(d), np.zeros(d), names, np.full(d, np.nan))
    try:
        base = np.asarray(steps.transform(_input(steps, np.zeros((1, d)), names)), float)
        unit = np.asarray(steps.transform(_input(steps, np.ones((1, d)), names)), float)
    except Exception as exc:  # any transformer may refuse a probe
        raise UnsupportedModel(f"the preprocessing could not be probed: {exc}") from exc
    try:
        gap = np.asarray(steps.transform(_input(steps, np.full((1, d), np.nan), names)), float)
        missing = gap[0] if gap.shape == (1, d) else np.full(d, np.nan)
    except Exception:  # a step that refuses NaN: the model cannot take a missing value
        missing = np.full(d, np.nan)
    if base.shape != (1, d):
        raise UnsupportedModel(
            f"the preprocessing turns {d} features into {base.shape[1]} columns; the exact "
            "oracle needs one column per feature"
        )
    slope, shift = (unit - base)[0], base[0]
    if not (np.all(np.isfinite(slope)) and np.all(slope > 0)):
        raise UnsupportedModel("the preprocessing is not increasing in every feature")
    reference = np.asarray(reference, dtype=float)
    complete = np.isfinite(reference).all(axis=1)
    # The complete rows as before, then rows with gaps: each value on its own is checked.
    rows = np.vstack([reference[complete][:500], reference[~complete][:500]])
    if len(rows):
        try:
            seen = np.asarray(steps.transform(_input(steps, rows, names)), float)
        except Exception as exc:
            raise UnsupportedModel(f"the preprocessing refused a reference row: {exc}") from exc
        gaps = np.isnan(rows)
        expected = np.where(gaps, missing, slope * rows + shift)
        if not np.allclose(seen, expected, rtol=1e-9, atol=1e-9, equal_nan=True):
            raise UnsupportedModel("the preprocessing is not a per-feature affine map")
    return Preprocessing(steps, slope, shift, names, missing)


def _input(steps: Any, X: np.ndarray, names: tuple[str, ...]) -> Any:
    """Give a transformer the form it was fitted on (a DataFrame when it knows names)."""
    if getattr(steps, "feature_names_in_", None) is not None:
        return pd.DataFrame(X, columns=list(names))
    first = steps.steps[0][1] if isinstance(steps, Pipeline) else steps
    if getattr(first, "feature_names_in_", None) is not None:
        return pd.DataFrame(X, columns=list(names))
    return X


def positive_column(estimator: Any, model: TrainedClassifier) -> int:
    """Which ``predict_proba`` column of the estimator is the positive class."""
    classes = [int(c) for c in getattr(estimator, "classes_", model.classes)]
    if len(classes) != 2:
        raise UnsupportedModel(f"the estimator has classes {classes}; the oracle needs two")
    return classes.index(model.positive_class)
