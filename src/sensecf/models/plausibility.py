"""The plausibility detectors: one definition, shared by the oracle and the metric suite.

"Plausible" means "looks like real people of the desired class". Two detectors judge it, both
fitted on the desired class's training rows, standardised (training mean, population standard
deviation or the step where that is 0; a missing value filled with the training median):

- an IsolationForest, the constraint the oracle can hold a counterfactual to (its trees are
  encoded in the exact program, :mod:`sensecf.generators.oracle.isolation`);
- a LocalOutlierFactor (``novelty=True``), the independent check.

A generator may be held to more than the IsolationForest (:meth:`PlausibilityDetector.held_at`):
a stricter bar on the same trees, and a :class:`NeighbourBar`, "as near to real people of the
class as held-out real people are". An IsolationForest cannot see how far past its training
range a value lies; a distance to the nearest real rows can, and the exact program holds it as
linear rows (:mod:`sensecf.generators.oracle.neighbours`).

**Calibrated.** scikit-learn's default thresholds do not say "typical of real people": on
held-out real rows of the desired class its IsolationForest may call a third outliers while its
LOF calls nearly everyone an inlier. With held-out real rows of the desired class
(``calibration``), each detector's threshold is set so that ``inlier_rate`` of them (95% by
default) are inliers, and that real-row rate is kept (``reference_rates_``) to print beside
every method's. Without held-out rows the library's defaults stand (and the rates are NaN).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 2))
>>> scaler = Standardiser.from_reference(X, step=np.ones(2))
>>> detector = PlausibilityDetector(n_estimators=20).fit(scaler, X[:150], calibration=X[150:])
>>> detector.reference_rates_["iforest"] >= 0.95, detector.reference_rates_["lof"] >= 0.95
(True, True)
>>> bool(detector.inliers(np.array([[0.0, 0.0], [9.0, 9.0]])).tolist() == [True, False])
True
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError

logger = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "HeldClassifier",
    "NeighbourBar",
    "PLAUSIBILITY",
    "PlausibilityDetector",
    "Standardiser",
    "check_plausibility",
    "check_rate",
    "class_detector",
    "settable_columns",
]

Kind = Literal["iforest", "lof"]
DETECTORS: tuple[Kind, ...] = ("iforest", "lof")
# What a generator may be held to: nothing, or the IsolationForest's inlier rule.
PLAUSIBILITY = ("none", "iforest")
DEFAULT_INLIER_RATE = 0.95


@dataclass(frozen=True)
class Standardiser:
    """Rows in spec order → standardised, complete rows: a missing value becomes the training
    median, then ``(x - mean) / scale`` (per feature, increasing: a tree encoding reads it as
    its preprocessing).

    >>> s = Standardiser.from_reference(np.array([[0.0, 1.0], [2.0, np.nan]]), np.ones(2))
    >>> s.transform(np.array([[np.nan, 1.0]])).tolist()
    [[0.0, 0.0]]
    """

    mean: np.ndarray
    scale: np.ndarray
    median: np.ndarray

    @classmethod
    def from_reference(
        cls, X: np.ndarray, step: np.ndarray, fallback: np.ndarray | None = None
    ) -> Standardiser:
        """From training rows ``X``: the scale is the population standard deviation, or the
        feature's ``step`` where that is 0; ``fallback`` (e.g. the bounds' midpoints) stands in
        for a column with no value at all (default 0)."""
        X = np.asarray(X, dtype=float)
        step = np.asarray(step, dtype=float)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the fallback
            median = np.nanmedian(X, axis=0)
            mean = np.nanmean(X, axis=0)
            std = np.nanstd(X, axis=0)
        fallback = np.zeros(X.shape[1]) if fallback is None else np.asarray(fallback, float)
        median = np.where(np.isnan(median), fallback, median)
        mean = np.where(np.isnan(mean), median, mean)
        scale = np.where(np.nan_to_num(std) > 0, std, step)
        return cls(mean, scale, median)

    @classmethod
    def for_spec(cls, spec: DatasetSpec, X: np.ndarray) -> Standardiser:
        """From training rows ``X`` in ``spec``'s order: each feature's step where its
        standard deviation is 0, the middle of its bounds where it has no value at all."""
        step = np.array([float(f.step) for f in spec.features])
        middle = np.array([float(np.mean(f.bounds)) for f in spec.features])
        return cls.from_reference(X, step, middle)

    def fill(self, X: np.ndarray) -> np.ndarray:
        """Missing values as the training median."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return np.where(np.isnan(X), self.median, X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Filled, then standardised."""
        return (self.fill(X) - self.mean) / self.scale


@dataclass(frozen=True)
class NeighbourBar:
    """ "As near to real people of the class as held-out real people are", in two parts: a row
    passes when

    - its mean distance to its ``k`` nearest training rows of the class is at most
      ``threshold`` (near in absolute terms), and
    - some ``k`` training rows are, on average, no further from it than ``factor`` times their
      own mean distance to their ``k`` nearest neighbours (``densities``): near as the rows
      around it are near one another. A bar on distance alone is loose where real people
      crowd together, and a row at its edge there stands apart from a tight group.

    The distance is the L1 distance in standard units (``|x - a| / scale``, summed) over
    ``columns``, the features a person sets (a spec's derived features follow them and are
    left out); a missing value counts as the training median, as the detector reads it.
    ``anchors`` are the training rows on those columns (filled); ``rate`` is the share of the
    held-out rows of the class that pass both parts (each part's bar is set there at the rate
    asked). Without ``densities`` only the first part is asked.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> scaler = Standardiser.from_reference(X, step=np.ones(3))
    >>> bar = NeighbourBar.calibrated(scaler, X[:200], X[200:], k=10, rate=0.9)
    >>> bool(0.8 <= bar.rate <= 0.9), bool(bar.inliers(np.array([[6.0, 6.0, 6.0]]))[0])
    (True, False)
    """

    columns: np.ndarray
    scale: np.ndarray
    median: np.ndarray
    anchors: np.ndarray
    k: int
    threshold: float
    rate: float
    densities: np.ndarray | None = None
    factor: float = math.inf

    @classmethod
    def calibrated(
        cls,
        standardiser: Standardiser,
        rows: np.ndarray,
        held: np.ndarray,
        *,
        k: int,
        rate: float,
        columns: np.ndarray | None = None,
    ) -> NeighbourBar:
        """The bar on training ``rows`` (spec order) whose parts ``rate`` of the held-out rows
        ``held`` each meet; ``columns``: the positions the distance reads (default: all)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise SensecfError(f"the neighbour bar's k must be a positive integer; got {k!r}")
        check_rate("the neighbour bar's rate", rate)
        rows = standardiser.fill(rows)
        width = rows.shape[1]
        cols = np.arange(width) if columns is None else np.asarray(columns, dtype=int)
        if not len(cols) or cols.min() < 0 or cols.max() >= width:
            raise SensecfError(
                f"the neighbour bar's columns must be positions among {width} features; got "
                f"{cols.tolist()}"
            )
        if len(rows) < 3 or not len(held):
            raise SensecfError(
                f"the neighbour bar needs at least 3 training rows and held-out rows of the "
                f"class; got {len(rows)} and {len(held)}"
            )
        k = int(min(k, len(rows) - 1))
        draft = cls(
            cols, standardiser.scale[cols], standardiser.median, rows[:, cols], k, math.inf, rate
        )
        threshold = -_threshold(-draft.distances(held), rate)
        # Each anchor's own mean distance to its k nearest others (itself left out).
        own = np.concatenate(
            [np.sort(gaps, axis=1)[:, 1 : k + 1].mean(1) for gaps in draft._gaps(rows)]
        )
        factors = draft._factors(held, own)
        factor = -_threshold(-factors, rate)
        bar = cls(cols, draft.scale, draft.median, draft.anchors, k, threshold, rate, own, factor)
        return replace(bar, rate=float(bar.inliers(held).mean()))

    def _gaps(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Raw rows' distances to every anchor, a block of rows at a time (anchors x rows
        stays small)."""
        filled = np.where(np.isnan(X), self.median, X)[:, self.columns]
        for start in range(0, len(X), 256):
            part = filled[start : start + 256]
            yield (np.abs(part[:, None, :] - self.anchors[None, :, :]) / self.scale).sum(axis=2)

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Each raw row's mean distance to its ``k`` nearest anchors (standard units)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if not len(X):
            return np.zeros(0)
        k = self.k
        return np.concatenate([np.partition(d, k - 1, 1)[:, :k].mean(1) for d in self._gaps(X)])

    def local_margins(self, X: np.ndarray) -> np.ndarray:
        """Each raw row's least mean, over ``k`` anchors, of its distance to an anchor less
        ``factor`` times that anchor's own (at most 0: within the bar's second part; -inf
        where the bar has no second part)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.densities is None or not math.isfinite(self.factor):
            return np.full(len(X), -math.inf)
        return np.concatenate(
            [_least_mean(d - self.factor * self.densities, self.k) for d in self._gaps(X)]
        )

    def _factors(self, X: np.ndarray, own: np.ndarray) -> np.ndarray:
        """Per raw row, the least factor at which it meets the second part (bisection on a
        margin that falls as the factor grows)."""
        factors = []
        for d in self._gaps(X):
            low, high = np.zeros(len(d)), np.ones(len(d))
            for _ in range(60):  # double until every row passes
                short = _least_mean(d - high[:, None] * own, self.k) > 0
                if not short.any():
                    break
                high[short] *= 2
            for _ in range(50):
                middle = (low + high) / 2
                passes = _least_mean(d - middle[:, None] * own, self.k) <= 0
                high, low = np.where(passes, middle, high), np.where(passes, low, middle)
            factors.append(high)
        return np.concatenate(factors) if factors else np.zeros(0)

    def inliers(self, X: np.ndarray) -> np.ndarray:
        """Whether each raw row is within both parts of the bar."""
        return (self.distances(X) <= self.threshold) & (self.local_margins(X) <= 0)

    def nearest(self, row: np.ndarray, n: int) -> np.ndarray:
        """The positions of the ``n`` anchors nearest ``row`` (raw, spec order), nearest
        first."""
        filled = np.where(np.isnan(row), self.median, row)[self.columns]
        d = (np.abs(self.anchors - filled) / self.scale).sum(axis=1)
        return np.argsort(d, kind="stable")[: max(int(n), self.k)]


def _least_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its ``k`` smallest values."""
    return np.partition(values, k - 1, axis=1)[:, :k].mean(axis=1)


class PlausibilityDetector:
    """IsolationForest and LOF on one class's training rows, calibrated on held-out rows.

    ``n_estimators``, ``max_samples`` and ``seed``: the IsolationForest's trees;
    ``lof_neighbors``: LOF's neighbourhood (fewer where the class has fewer rows);
    ``inlier_rate``: the share of held-out real rows each calibrated detector calls inliers
    (``None``: scikit-learn's default thresholds even with held-out rows).

    Fitted state: ``standardiser_``, ``iforest_``, ``lof_``, the thresholds on each detector's
    ``score_samples`` (``iforest_threshold_``, ``lof_threshold_``; a row is an inlier where its
    score is at least the threshold), ``calibrated_`` and ``reference_rates_`` (per detector,
    the share of the held-out rows that are inliers; NaN without them), ``n_calibration_``.

    >>> PlausibilityDetector(inlier_rate=1.5)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: inlier_rate must lie strictly between 0 and 1, or be None; got 1.5
    """

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        seed: int = 0,
        lof_neighbors: int = 20,
        inlier_rate: float | None = DEFAULT_INLIER_RATE,
    ) -> None:
        for name, value in (("n_estimators", n_estimators), ("lof_neighbors", lof_neighbors)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise SensecfError(f"{name} must be a positive integer; got {value!r}")
        if inlier_rate is not None:
            check_rate("inlier_rate", inlier_rate)
        self.n_estimators = int(n_estimators)
        self.max_samples = max_samples
        self.seed = int(seed)
        self.lof_neighbors = int(lof_neighbors)
        self.inlier_rate = None if inlier_rate is None else float(inlier_rate)

    def settings(self) -> dict[str, object]:
        """The constructor's arguments (two detectors with equal settings and inputs agree)."""
        return {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "seed": self.seed,
            "lof_neighbors": self.lof_neighbors,
            "inlier_rate": self.inlier_rate,
        }

    def fit(
        self,
        standardiser: Standardiser,
        rows: np.ndarray,
        calibration: np.ndarray | None = None,
    ) -> PlausibilityDetector:
        """Fit both detectors on ``rows`` (one class's training rows, spec order), then set
        their thresholds on ``calibration`` (held-out real rows of the same class)."""
        rows = np.asarray(rows, dtype=float)
        if rows.ndim != 2 or len(rows) < 2:
            raise SensecfError(
                f"the plausibility detector needs at least 2 training rows of the class; got "
                f"{len(rows) if rows.ndim == 2 else rows.shape}"
            )
        self.standardiser_ = standardiser
        Z = standardiser.transform(rows)
        k = min(self.lof_neighbors, len(Z) - 1)
        self.lof_ = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(Z)
        self.iforest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.seed
        ).fit(Z)
        self.iforest_threshold_ = float(self.iforest_.offset_)
        self.lof_threshold_ = float(self.lof_.offset_)
        held = np.empty((0, rows.shape[1])) if calibration is None else np.asarray(calibration)
        self.n_calibration_ = len(held)
        self.calibrated_ = bool(len(held)) and self.inlier_rate is not None
        # Kept so a stricter bar can be set on the same trees (``held_at``).
        self.calibration_scores_ = self.iforest_scores(held) if len(held) else np.empty(0)
        self.rows_, self.calibration_rows_ = rows, held
        self.neighbour_bar_: NeighbourBar | None = None  # set by ``held_at(neighbours=)``
        if self.calibrated_:
            assert self.inlier_rate is not None
            self.iforest_threshold_ = _threshold(self.calibration_scores_, self.inlier_rate)
            self.lof_threshold_ = _threshold(self.lof_scores(held), self.inlier_rate)
        self.reference_rates_: dict[str, float] = {
            kind: float(self.inliers(held, kind).mean()) if len(held) else math.nan
            for kind in DETECTORS
        }
        logger.debug(f"plausibility detector: {self.reference_rates_} on {len(held)} rows")
        return self

    # ---- scores and verdicts -----------------------------------------------------------------
    def iforest_scores(self, X: np.ndarray) -> np.ndarray:
        """The IsolationForest's ``score_samples`` of raw rows (higher: more typical)."""
        return self.iforest_.score_samples(self.standardiser_.transform(X))

    def lof_scores(self, X: np.ndarray) -> np.ndarray:
        """LOF's ``score_samples`` of raw rows (higher: more typical)."""
        return self.lof_.score_samples(self.standardiser_.transform(X))

    def inliers(self, X: np.ndarray, kind: Kind = "iforest") -> np.ndarray:
        """Whether each raw row is an inlier of the ``kind`` detector (at its threshold)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if not len(X):
            return np.zeros(0, dtype=bool)
        if kind == "iforest":
            return self.iforest_scores(X) >= self.iforest_threshold_
        if kind == "lof":
            return self.lof_scores(X) >= self.lof_threshold_
        raise SensecfError(f"kind must be one of {list(DETECTORS)}; got {kind!r}")

    def holds(self, X: np.ndarray, iforest: np.ndarray | None = None) -> np.ndarray:
        """Whether each raw row meets the bar a generator is held to: an IsolationForest inlier,
        and within the neighbour bar where :meth:`held_at` set one. ``iforest``: the
        IsolationForest's verdict on ``X`` where the caller has it already (e.g. from the
        encoded trees), else it is scored here."""
        verdict = self.inliers(X, "iforest") if iforest is None else np.array(iforest, dtype=bool)
        if self.neighbour_bar_ is not None and len(verdict):
            verdict &= self.neighbour_bar_.inliers(X)
        return verdict

    def held_at(
        self,
        rate: float | None,
        *,
        neighbours: int | None = None,
        columns: np.ndarray | None = None,
    ) -> PlausibilityDetector:
        """This detector with its IsolationForest's bar moved to where ``rate`` of its held-out
        rows pass (``None``: kept where it is): the same trees and the same LOF (the independent
        check keeps its own threshold). A generator held to a stricter bar than the metric suite
        judges by gets answers with room inside the typical region, not on its edge.

        ``neighbours``: also a :class:`NeighbourBar` over that many nearest training rows (on
        ``columns``, default all), met by ``rate`` of the held-out rows (``None``: by the
        calibration's rate); :meth:`holds` then asks for both.

        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> scaler = Standardiser.from_reference(X, step=np.ones(2))
        >>> judge = PlausibilityDetector(n_estimators=20).fit(scaler, X[:200], calibration=X[200:])
        >>> strict = judge.held_at(0.8)
        >>> strict.reference_rates_["iforest"], judge.reference_rates_["iforest"]
        (0.8, 0.95)
        >>> strict.iforest_threshold_ > judge.iforest_threshold_, strict.lof_ is judge.lof_
        (True, True)
        """
        if rate is not None:
            check_rate("held_rate", rate)
        if not getattr(self, "calibrated_", False):
            raise SensecfError(
                "held_at needs a detector calibrated on held-out rows of the class; this one "
                "was fitted without any (or with inlier_rate=None)"
            )
        held = copy.copy(self)
        if rate is not None:
            held.iforest_threshold_ = _threshold(self.calibration_scores_, float(rate))
            passed = float((self.calibration_scores_ >= held.iforest_threshold_).mean())
            held.reference_rates_ = {**self.reference_rates_, "iforest": passed}
        if neighbours is not None:
            assert self.inlier_rate is not None  # calibrated
            held.neighbour_bar_ = NeighbourBar.calibrated(
                self.standardiser_,
                self.rows_,
                self.calibration_rows_,
                k=neighbours,
                rate=self.inlier_rate if rate is None else float(rate),
                columns=columns,
            )
        return held

    def held_for(
        self, spec: DatasetSpec, rate: float | None, neighbours: int | None
    ) -> PlausibilityDetector:
        """The bar a generator asked for ``rate`` and ``neighbours`` is held to:
        :meth:`held_at` with the neighbour bar over the features a person sets in ``spec``
        (:func:`settable_columns`); this detector itself where neither is set.

        >>> from sensecf.data.spec import infer_spec
        >>> import pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> spec = infer_spec(pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": [0, 1] * 150}), "y")
        >>> judge = PlausibilityDetector(n_estimators=20).fit(
        ...     Standardiser.from_reference(X, step=np.ones(2)), X[:200], calibration=X[200:])
        >>> judge.held_for(spec, None, None) is judge, judge.held_for(spec, None, 5).neighbour_bar_.k
        (True, 5)
        """
        if rate is None and neighbours is None:
            return self
        return self.held_at(rate, neighbours=neighbours, columns=settable_columns(spec))

    def path_length_bound(self) -> float:
        """The IsolationForest's inlier rule as a bound on the mean normalised path length:
        ``score_samples = -2 ** (-S) >= threshold`` exactly when ``S >= -log2(-threshold)``,
        with ``S`` the sum over trees of each leaf's (depth + c(leaf size)) over
        (trees × c(max_samples)). ``inf`` where no row can be an inlier."""
        threshold = self.iforest_threshold_
        if threshold >= 0:
            return math.inf
        if threshold <= -1:
            return -math.inf
        return -math.log2(-threshold)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.settings().items() if v != _DEFAULTS[k]}
        return f"PlausibilityDetector({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


_DEFAULTS: dict[str, object] = {
    "n_estimators": 100,
    "max_samples": "auto",
    "seed": 0,
    "lof_neighbors": 20,
    "inlier_rate": DEFAULT_INLIER_RATE,
}


class HeldClassifier:
    """A classifier whose ``predict`` says "not the desired class" for the rows a plausibility
    verdict refuses (``holds``: raw rows → bools): what a search, an enumeration or a list of
    single moves checks when its answers are held to plausibility. Everything else is the
    wrapped model's.

    >>> class Model:
    ...     positive_class, negative_class = 1, 0
    ...     def predict(self, X):
    ...         return np.zeros(len(X), dtype=int)
    >>> held = HeldClassifier(Model(), lambda X: np.asarray(X)[:, 0] < 5, desired=0)
    >>> held.predict(np.array([[1.0], [7.0]])).tolist(), held.positive_class
    ([0, 1], 1)
    """

    def __init__(self, model: Any, holds: Callable[[np.ndarray], np.ndarray], desired: int):
        self.model = model
        self.holds = holds
        self.desired = desired
        self.other = (
            model.negative_class if desired == model.positive_class else model.positive_class
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("model", "holds", "desired", "other"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def _hold(self, X: Any, labels: np.ndarray) -> np.ndarray:
        rows = np.asarray(X, dtype=float)
        hit = labels == self.desired
        if hit.any():
            outside = ~np.asarray(self.holds(rows[hit]), dtype=bool)
            labels = np.array(labels, copy=True)
            labels[np.flatnonzero(hit)[outside]] = self.other
        return labels

    def predict(self, X: Any) -> np.ndarray:
        """The model's labels, the desired class refused where the verdict refuses the row."""
        return self._hold(X, self.model.predict(X))

    def predict_with_proba(self, X: Any, cls: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels as :meth:`predict`, with the model's own probability of ``cls``."""
        labels, proba = self.model.predict_with_proba(X, cls)
        return self._hold(X, labels), proba


def check_rate(name: str, rate: object) -> None:
    """Raise :class:`SensecfError` unless ``rate`` lies strictly between 0 and 1.

    >>> check_rate("held_rate", 1.2)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: held_rate must lie strictly between 0 and 1, or be None; got 1.2
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1:
        raise SensecfError(f"{name} must lie strictly between 0 and 1, or be None; got {rate!r}")


def check_plausibility(
    plausibility: object,
    detector: object,
    detector_trees: object,
    detector_seed: object,
    inlier_rate: object,
    held_rate: object = None,
) -> None:
    """Raise ``ValueError`` unless these are settings a generator held to plausibility takes
    (its ``plausibility``, ``detector``, ``detector_trees``, ``detector_seed``,
    ``inlier_rate`` and ``held_rate`` parameters), naming the one refused.

    >>> check_plausibility("iforest", None, 100, 0, 0.95)
    >>> check_plausibility("lof", None, 100, 0, 0.95)
    Traceback (most recent call last):
    ...
    ValueError: `plausibility` must be one of ['none', 'iforest']; got 'lof'
    """
    if plausibility not in PLAUSIBILITY:
        raise ValueError(
            f"`plausibility` must be one of {list(PLAUSIBILITY)}; got {plausibility!r}"
        )
    if detector is not None and not isinstance(detector, PlausibilityDetector):
        raise ValueError(
            f"`detector` must be a fitted PlausibilityDetector or None; got "
            f"{type(detector).__name__}"
        )
    if not isinstance(detector_seed, int) or isinstance(detector_seed, bool) or detector_seed < 0:
        raise ValueError(f"`detector_seed` must be an integer ≥ 0; got {detector_seed!r}")
    # The detector checks its own settings: one definition of what it accepts.
    try:
        PlausibilityDetector(n_estimators=detector_trees, inlier_rate=inlier_rate)  # type: ignore[arg-type]
        if held_rate is not None:
            check_rate("held_rate", held_rate)
    except SensecfError as exc:
        raise ValueError(str(exc)) from exc


def class_detector(
    reference: Dataset,
    cls: int,
    *,
    trees: int = 100,
    seed: int = 0,
    inlier_rate: float | None = DEFAULT_INLIER_RATE,
) -> PlausibilityDetector:
    """A detector on the ``reference`` rows of class ``cls``, calibrated on a seeded fifth of
    them held out: what a generator held to plausibility fits when a run gives it no detector
    (a run with held-out rows passes the metric suite's).

    Where the rows have people (the spec's group column), a fifth of the people is held out,
    as the suite's held-out rows are other people: a held-out day whose person's other days
    are among the training rows lies nearer them than a new person's would, and a bar set
    there is stricter than the suite's.

    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=60), "y": [0, 1] * 30})
    >>> class_detector(Dataset(frame, infer_spec(frame, "y")), 0).n_calibration_
    6
    >>> frame["who"] = np.repeat(np.arange(12), 5)  # 6 people have rows of class 0
    >>> spec = infer_spec(frame, "y", id_columns=["who"], group_column="who")
    >>> class_detector(Dataset(frame, spec), 0).n_calibration_  # one person's 5 rows
    5
    """
    X = reference.X.to_numpy(dtype=float)
    mine = reference.y.to_numpy() == cls
    rows = X[mine]
    if len(rows) < 10:
        raise SensecfError(
            f"plausibility needs at least 10 reference rows of class {cls}; got {len(rows)}"
        )
    rng = np.random.default_rng(seed)
    people = None if reference.groups is None else reference.groups.to_numpy()[mine]
    if people is not None and len(np.unique(people)) >= 5:
        names = np.unique(people)
        out = names[rng.permutation(len(names))[: len(names) // 5]]
        held_out = np.isin(people, out)
    else:
        held_out = np.zeros(len(rows), dtype=bool)
        held_out[rng.permutation(len(rows))[: len(rows) // 5]] = True
    detector = PlausibilityDetector(n_estimators=trees, seed=seed, inlier_rate=inlier_rate)
    standardiser = Standardiser.for_spec(reference.spec, X)
    return detector.fit(standardiser, rows[~held_out], rows[held_out])


def settable_columns(spec: DatasetSpec) -> np.ndarray:
    """The positions of the features a person sets (the spec's derived features follow them):
    what a :class:`NeighbourBar` measures.

    >>> import pandas as pd
    >>> from sensecf.data.spec import infer_spec
    >>> settable_columns(infer_spec(pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}), "y")).tolist()
    [0]
    """
    derived = set(spec.derived_features)
    return np.array([j for j, f in enumerate(spec.features) if f.name not in derived], dtype=int)


def _threshold(scores: np.ndarray, rate: float) -> float:
    """The score at which at least ``rate`` of ``scores`` are at or above it."""
    ordered = np.sort(scores)
    k = int(math.floor((1.0 - rate) * len(ordered) + 1e-9))
    return float(ordered[min(k, len(ordered) - 1)])
