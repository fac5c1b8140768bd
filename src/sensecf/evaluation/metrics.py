"""One metric suite for every method: validity, sparsity, proximity, plausibility, cost.

A :class:`MetricSuite` is fitted once on the classifier and its training rows, then scores any
:class:`~sensecf.results.CounterfactualResult` at three levels:

- :meth:`MetricSuite.score_cfs`: one row per counterfactual (columns in :data:`CF_COLUMNS`);
- :meth:`MetricSuite.score_queries`: one row per query, with or without a counterfactual
  (:data:`QUERY_COLUMNS`);
- :meth:`MetricSuite.summarise`: one row per method (and group, e.g. ``by="label"``), means
  over queries with 95% intervals that resample people (:data:`SUMMARY_COLUMNS`; see
  :func:`~sensecf.evaluation.stats.grouped_intervals`).

**Valid CFs only, by default.** Sparsity, proximity, plausibility and diversity describe
counterfactuals that work: per query they are averaged over its *valid* CFs
(``valid_only=True``), so a query without a valid CF contributes no value to them. Pass
``valid_only=False`` to average over every CF. The minimal-L0 ratio is defined for valid CFs
only, whatever ``valid_only`` says. Constraint violations and cost are counted over every CF a
method returned: a broken constraint or a spent token counts whether or not the model was fooled.

**Withheld answers count against validity.** An LLM generator offers only verified answers and
withholds the rest (the result's ``rejected`` table). Validity is the share of a method's
answers that are valid, offered or withheld: ``n_valid / (n_cfs + n_rejected)`` per query and
pooled, with ``n_rejected`` shown beside it; a method that withholds nothing (every baseline)
has ``n_rejected`` 0 and the plain share of its CFs. Coverage counts offered CFs only.

Choices the contract in DESIGN.md leaves open, made here:

- MAD is the raw median absolute deviation (no 1.4826 factor) of the training rows; where it is
  0 the population standard deviation (``ddof=0``), where that is 0 too the feature's step.
  :attr:`MetricSuite.mad_source_` says which one each feature uses.
- Standardisation (L2, LOF, IsolationForest, nearest neighbours) centres on the training mean and
  divides by the population standard deviation, or the step where that is 0 (scikit-learn's
  ``StandardScaler`` would divide by 1, in the feature's own unit). Missing values (in the
  reference rows and in counterfactuals) are filled with the training median: the detectors
  need complete rows.
- The range of range-normalised L1 is the spec's plausible bounds (``upper - lower``, always
  positive and the same for every sample of the data); ``range_from="data"`` uses the training
  min-max range instead (the bounds' width where that is 0).
- A feature counts as changed by :func:`sensecf.data.constraints.changed` (relative tolerance);
  an unchanged feature adds exactly 0 to every distance.
- Missing values (NaN: a feature nobody measured). A feature the query is missing adds 0 to
  every distance (the CF keeps it missing; a value given to it has no size to measure, and is
  counted in L0 and as a ``fixed`` violation); scales, means and medians ignore missing values.
  A CF is judged by the model as it stands, NaN at its query's missing features included; one
  that drops a measured value to NaN is not judged (not valid). The plausibility detectors
  (LOF, IsolationForest, nearest neighbours) cannot take NaN: reference rows and CFs alike have
  each missing value filled with the training median before they are standardised.

>>> import numpy as np, pandas as pd
>>> from sensecf import Dataset, infer_spec, train
>>> from sensecf.results import CounterfactualResult
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"x": rng.normal(size=60).round(2), "z": rng.normal(size=60).round(2)})
>>> df["y"] = (df["x"] > 0).astype(int)
>>> data = Dataset(df, infer_spec(df, "y"))                       # desired class 0
>>> clf = train(data, "logreg", importance_repeats=1)
>>> queries = pd.DataFrame({"query_id": [0, 1], "x": [1.0, 2.0], "z": [0.0, 0.0],
...                         "label": [1, 1], "n_cfs": [1, 0], "seconds": [0.5, 0.25],
...                         "error": ["", ""]})
>>> cfs = pd.DataFrame({"query_id": [0], "method": ["demo"], "rank": [0], "x": [-1.0],
...                     "z": [0.0], "valid": [True]})
>>> result = CounterfactualResult("demo", 0, data.spec, queries, cfs)
>>> suite = MetricSuite().fit(clf, data)
>>> suite.score_cfs(result)[["valid", "l0", "viol_total"]].to_dict("records")
[{'valid': True, 'l0': 1, 'viol_total': 0}]
>>> suite.summarise(result)[["method", "n_queries", "coverage", "validity"]].to_dict("records")
[{'method': 'demo', 'n_queries': 2, 'coverage': 0.5, 'validity': 1.0}]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from sensecf.data.constraints import (
    VIOLATION_KINDS,
    RowLimits,
    as_matrix,
    count_changes,
    violations,
)
from sensecf.data.dataset import Dataset
from sensecf.data.limits import PersonLimits
from sensecf.data.scales import FeatureScales
from sensecf.errors import DataError, SensecfError
from sensecf.evaluation.catalog import CATALOG, SUITE_LEVELS, Catalog, CFBatch, Measure
from sensecf.evaluation.stats import grouped_intervals
from sensecf.generators.base import (
    CounterfactualGenerator,
    NotFittedError,
    fill_missing,
    judgeable,
)
from sensecf.generators.provenance import result_copies
from sensecf.models.classifier import TrainedClassifier
from sensecf.models.plausibility import DEFAULT_INLIER_RATE, PlausibilityDetector, Standardiser
from sensecf.results import LLM_SOURCES, CounterfactualResult

__all__ = [
    "CF_COLUMNS",
    "CF_METRICS",
    "QUERY_COLUMNS",
    "SUMMARY_COLUMNS",
    "MetricSuite",
    "cf_columns",
    "evaluate",
    "minimal_l0",
    "query_columns",
    "share_detector",
    "summary_columns",
]

# Per-CF metrics that describe a counterfactual's quality (averaged over valid CFs by default):
# the catalog's counterfactual-level measures.
CF_METRICS = tuple(m.name for m in CATALOG.at("cf"))
VIOLATION_COLUMNS = tuple(f"viol_{k}" for k in (*VIOLATION_KINDS, "total"))
COST_COLUMNS = ("llm_calls", "prompt_tokens", "completion_tokens")
# The suite computes these from its fitted detectors and the oracle's minimum; any other
# counterfactual-level measure brings its own compute function.
OWN_CF_METRICS = ("min_l0_ratio", "lof_inlier", "iforest_inlier", "ynn", "nn_dist")

_CF_KEYS: dict[str, str] = {
    "query_id": "the query this counterfactual answers",
    "method": "the generator that produced it",
    "rank": "its position among the query's CFs (0 first)",
    "valid": "the model puts it in the desired class under its decision rule (or `threshold`)",
}
_MIN_L0 = "the oracle's minimal number of changes for this query (NaN if not given)"
_CF_TAIL: dict[str, str] = {
    "viol_fixed": "fixed features changed",
    "viol_direction": "features moved against their allowed direction",
    "viol_bounds": "changed features outside their plausible bounds",
    "viol_grain": "changed values that are not a level (coded) or not whole (integer)",
    "viol_relations": "spec relations broken (a derived feature off its formula, a check not met)",
    "viol_limits": "the person's limits broken (kept feature changed, value outside their "
    "bounds, more changes than their cap; 0 without a limits table)",
    "viol_total": "all constraint violations of this CF",
    "llm_calls": "LLM calls attributed to this CF by its generator",
    "prompt_tokens": "prompt tokens attributed to this CF",
    "completion_tokens": "completion tokens attributed to this CF",
    "source": "llm (first answer), repair, fallback or search",
    "first_answer": "it is a first answer: source llm and the first sample (sample 0) of its query",
    "copied_example": "its mutable features equal an example its query's prompts showed (NaN "
    "when the result records no examples)",
    "example_share": "share of its changed values that equal an example's value for that "
    "feature (NaN when it changed nothing or no examples are recorded)",
}


def _metric_columns(catalog: Catalog) -> list[str]:
    """The CF table's metric columns: the catalog's CF measures, ``min_l0`` before its ratio."""
    names = [m.name for m in catalog.at("cf")]
    at = names.index("min_l0_ratio") if "min_l0_ratio" in names else len(names)
    return [*names[:at], "min_l0", *names[at:]]


def cf_columns(catalog: Catalog = CATALOG) -> dict[str, str]:
    """The CF table's columns and what each holds, for a catalog (:data:`CF_COLUMNS`: the
    default one's).

    >>> list(cf_columns())[3:7]
    ['valid', 'l0', 'min_l0', 'min_l0_ratio']
    """
    meaning = {m.name: m.meaning for m in catalog.at("cf")}
    metrics = {c: meaning.get(c, _MIN_L0) for c in _metric_columns(catalog)}
    return {**_CF_KEYS, **metrics, **_CF_TAIL}


def query_columns(catalog: Catalog = CATALOG) -> dict[str, str]:
    """The per-query table's columns for a catalog (:data:`QUERY_COLUMNS`: the default one's).

    >>> list(query_columns())[:3]
    ['query_id', 'label', 'covered']
    """
    metrics = [m.name for m in catalog.at("cf")]
    return {
        **_QUERY_HEAD,
        **{m: f"mean of the CFs' {m} (valid CFs only by default)" for m in metrics},
        **_QUERY_TAIL,
    }


def summary_columns(catalog: Catalog = CATALOG) -> dict[str, str]:
    """The summary's columns in order, for a catalog (:data:`SUMMARY_COLUMNS`: the default
    one's); a measure with an interval also has ``<name>_ci_low``, ``<name>_ci_high`` and
    ``<name>_n`` (the clusters it was computed over: people, or queries without person ids).

    >>> summary_columns()["l0"]
    'mean over queries of the per-query mean l0 (+ CI)'
    """

    def doc(m: Measure) -> str:
        if m.level == "cf":
            return f"mean over queries of the per-query mean {m.name} (+ CI)"
        return m.meaning + (" (+ CI)" if m.interval else "")

    return {"method": "the generator", **{m.name: doc(m) for m in catalog.at(*SUITE_LEVELS)}}


_QUERY_HEAD: dict[str, str] = {
    "query_id": "the query",
    "label": "its true class (when the queries carried the target)",
    "covered": "it got at least one CF",
    "n_cfs": "how many CFs it got",
    "n_valid": "how many of them are valid",
    "n_rejected": "how many answers the method withheld for it (its rejected rows)",
    "any_valid": "at least one of its CFs is valid",
    "validity": "share of its answers, offered or withheld, that are valid: n_valid / (n_cfs + "
    "n_rejected) (NaN without any)",
    "valid_first": "its first LLM answer (round 0, first sample) is valid (LLM methods; else NaN)",
    "valid_after_repair": "a CF of source llm or repair is valid (LLM methods; else NaN)",
    "n_valid_fallback": "valid CFs of source fallback",
    "min_l0": "the oracle's minimal number of changes (NaN if not given)",
    "min_l0_status": "certified (proven minimum), bounded (best found), infeasible (proven: no "
    "allowed change flips it), unknown (oracle gave no answer), or empty without an oracle",
    "clean_valid": "it has a valid CF that breaks no constraint",
}
_QUERY_TAIL: dict[str, str] = {
    "diversity": "mean pairwise MAD-L1 among its CFs (valid CFs only by default; NaN with <2)",
    "copied_example": "share of its CFs that copy an example whole (valid CFs only by default)",
    "example_share": "mean share of changed values taken from an example (valid CFs only by "
    "default)",
    **{v: f"sum of its CFs' {v} (all CFs)" for v in VIOLATION_COLUMNS},
    "n_violating": "its CFs with at least one violation",
    **{
        c: f"total {c} spent on it (queries table if it has the column, else the CFs' sum)"
        for c in COST_COLUMNS
    },
    "seconds": "time the method spent on it",
    "error": "the method's error on it (empty when it ran)",
}

# Added to the CF and query tables (after ``valid`` / ``n_valid``) when the suite has a margin.
MARGIN_COLUMNS: dict[str, str] = {
    "valid_margin": "P(desired) >= the suite's `margin`, by the suite's model",
    "n_valid_margin": "how many of the query's CFs reach the margin",
}

CF_COLUMNS = cf_columns()
QUERY_COLUMNS = query_columns()
SUMMARY_COLUMNS = summary_columns()


class MetricSuite:
    """The metric suite, fitted on a classifier and its training rows.

    ``lof_neighbors`` and ``ynn_neighbors`` are the neighbourhood sizes of LocalOutlierFactor
    and yNN (fewer where a class has fewer rows); ``threshold`` recomputes validity with
    another decision threshold on P(positive class) (by default the ``valid`` column the
    generator wrote is used); ``seed`` seeds the IsolationForest and the intervals' bootstrap; ``range_from`` picks the
    range of range-normalised L1 (``"bounds"``: the spec's plausible bounds; ``"data"``: the
    training min-max). ``catalog``: the measures to score (by default :data:`CATALOG`); a
    counterfactual-level measure with a compute function adds a column to every table.
    ``limits``: per-person limits (:class:`~sensecf.data.limits.PersonLimits`) every CF is
    held to, found by its query's id columns; what a CF breaks of them is ``viol_limits``
    (whether or not its method honoured them).

    Fitted state: ``mad_``, ``mad_source_``, ``std_``, ``range_``, ``mean_``, ``scale_``
    (pandas Series indexed by feature), ``median_``, ``nn_`` (nearest-neighbour index on
    standardised training rows), ``reference_pred_`` (the model's labels of the training rows),
    and per desired class, fitted when first needed, ``detectors_`` (a
    :class:`~sensecf.models.plausibility.PlausibilityDetector` by class, ``None`` where the
    class has fewer than 2 training rows; ``lof_`` and ``iforest_`` read their detectors).
    ``inlier_rate`` and ``detector_trees``: the detectors' calibration target (used where
    :meth:`fit` is given held-out rows) and the IsolationForest's trees.

    >>> clf, data, result = _example()
    >>> suite = MetricSuite(seed=0).fit(clf, data)
    >>> suite.mad_source_.to_dict()
    {'x': 'mad', 'z': 'mad'}
    """

    def __init__(
        self,
        *,
        lof_neighbors: int = 20,
        ynn_neighbors: int = 5,
        threshold: float | None = None,
        seed: int = 0,
        range_from: Literal["bounds", "data"] = "bounds",
        margin: float | None = None,
        catalog: Catalog = CATALOG,
        inlier_rate: float | None = DEFAULT_INLIER_RATE,
        detector_trees: int = 100,
        limits: PersonLimits | None = None,
    ) -> None:
        for name, value in (("lof_neighbors", lof_neighbors), ("ynn_neighbors", ynn_neighbors)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise SensecfError(f"{name} must be a positive integer; got {value!r}")
        if threshold is not None and not 0.0 < float(threshold) < 1.0:
            raise SensecfError(f"threshold must lie strictly between 0 and 1; got {threshold!r}")
        if range_from not in ("bounds", "data"):
            raise SensecfError(f"range_from must be 'bounds' or 'data'; got {range_from!r}")
        if margin is not None and (
            isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 < margin < 1
        ):
            raise SensecfError(f"margin must lie strictly between 0 and 1; got {margin!r}")
        self.lof_neighbors = int(lof_neighbors)
        self.ynn_neighbors = int(ynn_neighbors)
        self.threshold = None if threshold is None else float(threshold)
        self.seed = int(seed)
        self.range_from = range_from
        self.margin = None if margin is None else float(margin)
        if not isinstance(catalog, Catalog):
            raise SensecfError(f"catalog must be a Catalog; got {type(catalog).__name__}")
        unknown = [
            m.name for m in catalog.at("cf") if m.compute is None and m.name not in OWN_CF_METRICS
        ]
        if unknown:
            raise SensecfError(
                f"counterfactual-level measures {unknown} have no compute function; the suite "
                f"computes only its own ({', '.join(OWN_CF_METRICS)})"
            )
        self.catalog = catalog
        # Checked by the detector itself: one definition of what it accepts.
        PlausibilityDetector(n_estimators=detector_trees, inlier_rate=inlier_rate)
        self.inlier_rate = inlier_rate
        self.detector_trees = int(detector_trees)
        if limits is not None and not isinstance(limits, PersonLimits):
            raise SensecfError(f"limits must be a PersonLimits; got {type(limits).__name__}")
        self.limits = limits

    # ---- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        model: TrainedClassifier,
        reference: Dataset,
        *,
        calibration: Dataset | None = None,
    ) -> MetricSuite:
        """Learn scales, the neighbour index and the model's labels from the training rows.

        ``reference`` should be the rows the model was trained on, e.g.
        ``model.split_data(data)[0]``. ``calibration``: held-out real rows (e.g. the model's
        test rows); each plausibility detector's threshold is then set so that
        ``inlier_rate`` of the desired class's held-out rows are inliers
        (:class:`~sensecf.models.plausibility.PlausibilityDetector`), and
        :meth:`reference_rates` gives that real-row rate to print beside every method's.

        >>> clf, data, _ = _example()
        >>> MetricSuite().fit(clf, data).range_.round(2).to_dict()   # bounds widths
        {'x': 5.15, 'z': 5.1}
        """
        if not isinstance(model, TrainedClassifier):
            raise SensecfError(f"model must be a TrainedClassifier; got {type(model).__name__}")
        if not isinstance(reference, Dataset):
            raise SensecfError(f"reference must be a Dataset; got {type(reference).__name__}")
        spec = model.spec
        if reference.spec.feature_names != spec.feature_names:
            raise DataError(
                f"the reference data's features {reference.spec.feature_names} differ from the "
                f"model's {spec.feature_names}"
            )
        if len(reference) == 0:
            raise DataError("the reference data has no rows")
        names = spec.feature_names
        X = as_matrix(spec, reference.frame)
        step = np.array([float(f.step) for f in spec.features])
        width = np.array([f.bounds[1] - f.bounds[0] for f in spec.features], dtype=float)
        scales = FeatureScales.from_reference(spec, X)
        std = scales.std
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are handled below
            mean = np.nanmean(X, axis=0)
            data_range = np.nanmax(X, axis=0) - np.nanmin(X, axis=0)
        # A column with no values at all falls back to its bounds' midpoint and step.
        median = scales.median
        median = np.where(np.isnan(median), [np.mean(f.bounds) for f in spec.features], median)
        mean = np.where(np.isnan(mean), median, mean)
        has_std = np.nan_to_num(std) > 0
        self.mad_ = pd.Series(scales.scale, index=names)
        self.mad_source_ = pd.Series(scales.source, index=names)
        self.std_ = pd.Series(np.where(np.isnan(std), 0.0, std), index=names)
        self.mean_ = pd.Series(mean, index=names)
        self.scale_ = pd.Series(np.where(has_std, std, step), index=names)
        self.median_ = pd.Series(median, index=names)
        if self.range_from == "bounds":
            self.range_ = pd.Series(width, index=names)
        else:
            self.range_ = pd.Series(np.where(data_range > 0, data_range, width), index=names)

        self.model_ = model
        self.spec_ = spec
        filled = np.where(np.isnan(X), median, X)
        self.reference_z_ = self._standardise(filled)
        self.reference_y_ = reference.y.to_numpy()
        self.reference_pred_ = model.predict(X)
        k = min(self.ynn_neighbors, len(X))
        self.nn_ = NearestNeighbors(n_neighbors=k).fit(self.reference_z_)
        self.reference_X_ = X
        self.calibration_: tuple[np.ndarray, np.ndarray] | None = None
        if calibration is not None:
            if calibration.spec.feature_names != spec.feature_names:
                raise DataError(
                    f"the calibration rows' features {calibration.spec.feature_names} differ "
                    f"from the model's {spec.feature_names}"
                )
            self.calibration_ = (as_matrix(spec, calibration.frame), calibration.y.to_numpy())
        self.detectors_: dict[int, PlausibilityDetector | None] = {}
        return self

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_.to_numpy()) / self.scale_.to_numpy()

    @property
    def standardiser_(self) -> Standardiser:
        """The suite's standardisation (what its detectors and neighbours see)."""
        return Standardiser(self.mean_.to_numpy(), self.scale_.to_numpy(), self.median_.to_numpy())

    def detector(self, cls: int) -> PlausibilityDetector | None:
        """The plausibility detector of class ``cls`` (LOF and IsolationForest on its training
        rows, calibrated on its held-out rows where the suite has them), fitted once and
        cached; ``None`` where the class has fewer than 2 training rows. The oracle held to
        plausibility takes this very object, so both judge by one definition."""
        if cls not in self.detectors_:
            rows = self.reference_X_[self.reference_y_ == cls]
            if len(rows) < 2:  # no neighbourhood to compare with
                self.detectors_[cls] = None
            else:
                held = None
                if self.calibration_ is not None:
                    X, y = self.calibration_
                    held = X[y == cls]
                detector = PlausibilityDetector(
                    n_estimators=self.detector_trees,
                    seed=self.seed,
                    lof_neighbors=self.lof_neighbors,
                    inlier_rate=self.inlier_rate,
                )
                self.detectors_[cls] = detector.fit(self.standardiser_, rows, held)
        return self.detectors_[cls]

    def use_detector(self, cls: int, detector: PlausibilityDetector) -> None:
        """Judge class ``cls`` by an already fitted ``detector`` (one shared with a generator)."""
        self._check_fitted()
        self.detectors_[cls] = detector

    def reference_rates(self, cls: int) -> dict[str, float]:
        """Per detector, the share of held-out real rows of class ``cls`` it calls inliers
        (about ``inlier_rate`` by calibration; NaN without held-out rows), and their count
        (``n``)."""
        detector = self.detector(cls)
        if detector is None:
            return {"lof": math.nan, "iforest": math.nan, "n": 0.0}
        return {**detector.reference_rates_, "n": float(detector.n_calibration_)}

    # Where the fitted state used to be read: LOF and IsolationForest per class.
    @property
    def lof_(self) -> dict[int, LocalOutlierFactor | None]:
        """The fitted LOF of each class fitted so far."""
        return {c: d.lof_ if d is not None else None for c, d in self.detectors_.items()}

    @property
    def iforest_(self) -> dict[int, IsolationForest | None]:
        """The fitted IsolationForest of each class fitted so far."""
        return {c: d.iforest_ if d is not None else None for c, d in self.detectors_.items()}

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("MetricSuite is not fitted; call fit(model, training_rows) first")

    def _check(self, result: CounterfactualResult) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("MetricSuite is not fitted; call fit(model, training_rows) first")
        if not isinstance(result, CounterfactualResult):
            raise SensecfError(f"expected a CounterfactualResult; got {type(result).__name__}")
        if result.spec.feature_names != self.spec_.feature_names:
            raise DataError(
                f"result {result.method!r} has features {result.spec.feature_names}; the suite "
                f"was fitted on {self.spec_.feature_names}"
            )
        unknown = set(result.cfs["query_id"]) - set(result.queries["query_id"])
        if unknown:
            raise DataError(
                f"result {result.method!r} has CFs for query_id(s) {sorted(unknown)[:5]} that "
                "are not in its queries table"
            )

    def _row_limits(self, result: CounterfactualResult) -> RowLimits | None:
        """Each CF's person's limits (None without a limits table)."""
        if self.limits is None:
            return None
        queries = result.queries.set_index("query_id")
        person = self.limits.resolve(queries.loc[result.cfs["query_id"].to_numpy()])
        return PersonLimits.rows(self.spec_, person)

    # ---- per counterfactual ------------------------------------------------------------------
    def score_cfs(
        self,
        result: CounterfactualResult,
        min_l0: pd.Series | CounterfactualResult | None = None,
    ) -> pd.DataFrame:
        """One row per counterfactual with every per-CF metric (columns: :data:`CF_COLUMNS`).

        Metrics are computed for every CF, valid or not (the aggregates choose); the
        minimal-L0 ratio only for valid ones. ``min_l0`` is the oracle's minimal L0 per query,
        indexed by ``query_id`` (or the oracle's result, see :func:`minimal_l0`). Plausibility
        columns are computed with missing values filled by the training medians; they are NaN
        for a CF that drops a measured value to NaN (or holds an infinity), or when the desired
        class has fewer than two training rows.

        >>> clf, data, result = _example()
        >>> scored = MetricSuite().fit(clf, data).score_cfs(result, min_l0=pd.Series({0: 1}))
        >>> scored[["query_id", "valid", "l0", "min_l0_ratio", "lof_inlier"]].to_dict("records")
        [{'query_id': 0, 'valid': True, 'l0': 1, 'min_l0_ratio': 1.0, 'lof_inlier': 1.0}]
        """
        self._check(result)
        cfs = result.cfs
        n = len(cfs)
        spec = self.spec_
        if n == 0:
            table = _empty(cf_columns(self.catalog))
            if self.margin is not None:
                table.insert(table.columns.get_loc("valid") + 1, "valid_margin", False)
            return table
        Q, C = result.query_matrix(), result.cf_matrix()
        # Judged as it stands: NaN where the query lacks a value; a dropped value is not judged.
        finite = judgeable(Q, C)
        valid = self._validity(result, C, finite)

        batch = CFBatch(
            spec,
            Q,
            C,
            valid,
            mad=self.mad_.to_numpy(),
            ranges=self.range_.to_numpy(),
            scale=self.scale_.to_numpy(),
        )
        computed = {m.name: m.compute(batch) for m in self.catalog.at("cf") if m.compute}
        # The ratio needs L0 whether or not the catalog shows it.
        l0 = computed["l0"] if "l0" in computed else count_changes(spec, Q, C)

        oracle = _as_min_l0(min_l0)
        qid = cfs["query_id"].to_numpy()
        best = (
            pd.Series(qid).map(oracle).to_numpy(dtype=float)
            if oracle is not None
            else np.full(n, np.nan)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(valid & (best > 0), l0 / best, np.nan)

        lof_in, if_in, ynn, nn_dist = (np.full(n, np.nan) for _ in range(4))
        if finite.any():
            # The detectors cannot take NaN: missing values as the reference rows had them.
            Z = self._standardise(fill_missing(C[finite], self.median_.to_numpy()))
            detector = self.detector(result.desired_class)
            if detector is not None:
                lof_in[finite] = detector.inliers(C[finite], "lof")
                if_in[finite] = detector.inliers(C[finite], "iforest")
            dist, idx = self.nn_.kneighbors(Z)
            ynn[finite] = (self.reference_pred_[idx] == result.desired_class).mean(axis=1)
            nn_dist[finite] = dist[:, 0]

        broken = violations(spec, Q, C, self._row_limits(result))
        own = {
            "min_l0": best,
            "min_l0_ratio": ratio,
            "lof_inlier": lof_in,
            "iforest_inlier": if_in,
            "ynn": ynn,
            "nn_dist": nn_dist,
        }
        table = pd.DataFrame(
            {
                "query_id": qid,
                "method": cfs["method"].to_numpy() if "method" in cfs else result.method,
                "rank": cfs["rank"].to_numpy() if "rank" in cfs else 0,
                "valid": valid,
                **{
                    c: computed[c] if c in computed else own[c]
                    for c in _metric_columns(self.catalog)
                },
                **{f"viol_{k}": broken[k].to_numpy() for k in (*VIOLATION_KINDS, "total")},
            }
        )
        if self.margin is not None:
            reached = np.zeros(n, dtype=bool)
            if finite.any():
                proba = self.model_.proba_of(C[finite], result.desired_class)
                reached[finite] = proba >= self.margin
            table.insert(table.columns.get_loc("valid") + 1, "valid_margin", reached)
        for column in COST_COLUMNS:
            values = cfs[column] if column in cfs else pd.Series(0, index=cfs.index)
            table[column] = pd.to_numeric(values, errors="coerce").fillna(0).to_numpy()
        table["source"] = cfs["source"].to_numpy() if "source" in cfs else "search"
        sample = pd.to_numeric(cfs["sample"], errors="coerce") if "sample" in cfs else None
        first = table["source"].astype(str).to_numpy() == "llm"
        if sample is not None:
            first &= (sample.fillna(0) == 0).to_numpy()
        table["first_answer"] = first
        table["copied_example"], table["example_share"] = _copy_provenance(result, C)
        return table

    def _validity(
        self, result: CounterfactualResult, C: np.ndarray, finite: np.ndarray
    ) -> np.ndarray:
        """Validity by the suite's own model and decision rule (or ``threshold``), never a
        stored ``valid`` column: a result saved under another model must not bring its verdict."""
        threshold = self.model_.threshold if self.threshold is None else self.threshold
        model = self.model_
        valid = np.zeros(len(C), dtype=bool)
        if finite.any():
            positive = model.proba_of(C[finite], model.positive_class) >= threshold
            predicted = np.where(positive, model.positive_class, model.negative_class)
            valid[finite] = predicted == result.desired_class
        return valid

    # ---- per query ---------------------------------------------------------------------------
    def score_queries(
        self,
        result: CounterfactualResult,
        min_l0: pd.Series | CounterfactualResult | None = None,
        *,
        valid_only: bool = True,
    ) -> pd.DataFrame:
        """One row per query, with or without CFs (columns: :data:`QUERY_COLUMNS`).

        Means of the per-CF metrics and the diversity are over the query's valid CFs
        (``valid_only=True``, the default) or all its CFs; violations, LLM calls and tokens are
        sums over all its CFs. ``valid_first`` / ``valid_after_repair`` are filled only when the
        result's ``source`` column holds llm, repair or fallback.

        >>> clf, data, result = _example()
        >>> table = MetricSuite().fit(clf, data).score_queries(result)
        >>> table[["query_id", "covered", "n_cfs", "any_valid", "mad_l1"]].round(2).to_dict("list")
        {'query_id': [0, 1], 'covered': [True, False], 'n_cfs': [1, 0], 'any_valid': [True, False], 'mad_l1': [3.03, nan]}
        """
        return self._score(result, min_l0, valid_only)[1]

    def _score(
        self,
        result: CounterfactualResult,
        min_l0: pd.Series | CounterfactualResult | None,
        valid_only: bool,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        scored = self.score_cfs(result, min_l0)
        queries = result.queries
        qids = queries["query_id"].to_numpy()
        table = pd.DataFrame({"query_id": qids})
        if "label" in queries:
            table["label"] = queries["label"].to_numpy()

        valid = scored["valid"].to_numpy(dtype=bool)
        by_query = scored.groupby("query_id", sort=False)
        n_cfs = by_query.size().reindex(qids, fill_value=0).to_numpy()
        n_valid = by_query["valid"].sum().reindex(qids, fill_value=0).to_numpy().astype(int)
        # A withheld answer counts as an answer that is not valid (see the module docstring).
        n_rejected = _count(result.rejected["query_id"], np.ones(len(result.rejected), bool), qids)
        answers = n_cfs + n_rejected
        table["covered"] = n_cfs > 0
        table["n_cfs"] = n_cfs
        table["n_valid"] = n_valid
        table["n_rejected"] = n_rejected
        table["any_valid"] = n_valid > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            table["validity"] = np.where(answers > 0, n_valid / np.maximum(answers, 1), np.nan)
        if self.margin is not None:
            reached = by_query["valid_margin"].sum().reindex(qids, fill_value=0)
            table.insert(
                table.columns.get_loc("n_valid") + 1,
                "n_valid_margin",
                reached.to_numpy().astype(int),
            )

        source = scored["source"].astype(str).to_numpy()
        if np.isin(source, LLM_SOURCES).any() or len(result.rejected):  # only LLMs withhold
            first_answer = scored["first_answer"].to_numpy(dtype=bool)
            first = _count(scored["query_id"], valid & first_answer, qids)
            repaired = _count(scored["query_id"], valid & np.isin(source, ("llm", "repair")), qids)
            table["valid_first"] = (first > 0).astype(float)
            table["valid_after_repair"] = (repaired > 0).astype(float)
        else:
            table["valid_first"] = np.nan
            table["valid_after_repair"] = np.nan
        table["n_valid_fallback"] = _count(scored["query_id"], valid & (source == "fallback"), qids)

        oracle = _as_min_l0(min_l0)
        table["min_l0"] = (
            pd.Series(qids).map(oracle).to_numpy(dtype=float) if oracle is not None else np.nan
        )
        certificate = _min_l0_status(min_l0)
        table["min_l0_status"] = (
            pd.Series(qids).map(certificate).to_numpy(dtype=object)
            if certificate is not None
            else None
        )
        clean = valid & (scored["viol_total"].to_numpy() == 0)
        table["clean_valid"] = _count(scored["query_id"], clean, qids) > 0
        cf_metrics = [m.name for m in self.catalog.at("cf")]
        metrics = scored[cf_metrics].astype(float)
        keep = valid if valid_only else np.ones(len(scored), dtype=bool)
        metrics = metrics.where(pd.Series(keep, index=metrics.index), np.nan)
        means = metrics.groupby(scored["query_id"], sort=False).mean().reindex(qids)
        for m in cf_metrics:
            table[m] = means[m].to_numpy()
        copies = scored[["copied_example", "example_share"]].astype(float)
        copies = copies.where(pd.Series(keep, index=copies.index), np.nan)
        copy_means = copies.groupby(scored["query_id"], sort=False).mean().reindex(qids)
        table["diversity"] = (
            _diversity(
                scored["query_id"].to_numpy()[keep],
                result.cf_matrix()[keep] if len(scored) else np.empty((0, len(self.mad_))),
                self.mad_.to_numpy(),
            )
            .reindex(qids)
            .to_numpy()
        )

        table["copied_example"] = copy_means["copied_example"].to_numpy()
        table["example_share"] = copy_means["example_share"].to_numpy()
        sums = scored[[*VIOLATION_COLUMNS, *COST_COLUMNS]].groupby(scored["query_id"]).sum()
        sums = sums.reindex(qids, fill_value=0)
        for v in VIOLATION_COLUMNS:
            table[v] = sums[v].to_numpy().astype(int)
        table["n_violating"] = _count(scored["query_id"], scored["viol_total"].to_numpy() > 0, qids)
        for c in COST_COLUMNS:
            # The queries table, where a generator writes it, also counts calls that produced no CF.
            if c in queries:
                table[c] = pd.to_numeric(queries[c], errors="coerce").fillna(0).to_numpy()
            else:
                table[c] = sums[c].to_numpy()
        table["seconds"] = (
            pd.to_numeric(queries["seconds"], errors="coerce").to_numpy()
            if "seconds" in queries
            else np.nan
        )
        table["error"] = queries["error"].fillna("").to_numpy() if "error" in queries else ""
        return scored, table

    # ---- per method --------------------------------------------------------------------------
    def summarise(
        self,
        result: CounterfactualResult,
        min_l0: pd.Series | CounterfactualResult | None = None,
        by: str | None = None,
        *,
        valid_only: bool = True,
    ) -> pd.DataFrame:
        """One row per method, or per group of the queries' column ``by`` (e.g. ``"label"``).

        Columns (see :data:`SUMMARY_COLUMNS`): counts (``n_rejected``: answers withheld);
        ``coverage``; ``validity`` (share of all answers valid, offered or withheld);
        ``query_validity`` and ``any_valid``; for LLM methods ``validity_first``
        (share of queries with a valid first answer, ``source == "llm"``),
        ``validity_after_repair`` (a valid CF of source llm or repair) and ``fallback_share``
        (share of valid CFs from the fallback search), so ``any_valid - validity_after_repair``
        is the share of queries only the fallback answered; the mean of each per-query metric
        with its 95% interval (``<m>``, ``<m>_ci_low``, ``<m>_ci_high``, ``<m>_n``) — sparsity,
        proximity, plausibility and diversity over valid CFs unless ``valid_only=False``;
        violation totals (counts over all CFs); seconds per query; LLM calls and tokens, in
        total and per valid CF.

        Intervals (:func:`~sensecf.evaluation.stats.grouped_intervals`, seeded with the
        suite's ``seed``) resample people where the queries carry the spec's
        ``group_column``, else queries; ``<m>_n`` counts them, and below
        :data:`~sensecf.evaluation.stats.MIN_CLUSTERS` there is no interval.

        >>> clf, data, result = _example()
        >>> row = MetricSuite().fit(clf, data).summarise(result).iloc[0]
        >>> float(row["coverage"]), int(row["viol_total"]), int(row["n_valid"])
        (0.5, 0, 1)
        """
        scored, queries = self._score(result, min_l0, valid_only)
        keys = [] if by is None else [by]
        if by is not None:
            if by not in queries.columns and by not in result.queries.columns:
                raise DataError(
                    f"cannot break down by {by!r}: the queries of {result.method!r} have no such "
                    f"column (they have {list(result.queries.columns)})"
                )
            if by not in queries.columns:
                queries[by] = result.queries[by].to_numpy()
        llm = np.isin(scored["source"].astype(str), LLM_SOURCES).any() or len(result.rejected)

        # A person's queries (days) are not independent: resample people where the queries
        # say who they are, else each query on its own.
        people = result.people()
        clusters = None
        if people is not None:
            clusters = "__person"
            queries[clusters] = people
        # Per-CF metrics and per-query measures: means over queries, with their interval.
        summarised = [m for m in self.catalog.at("cf", "query") if m.level == "cf" or m.interval]
        means = grouped_intervals(
            queries.assign(
                coverage=queries["covered"].astype(float),
                any_valid=queries["any_valid"].astype(float),
                query_validity=queries["validity"],
                validity_first=queries["valid_first"],
                validity_after_repair=queries["valid_after_repair"],
            ),
            [m.name for m in summarised],
            by=keys,
            clusters=clusters,
            kinds={m.name: m.interval_kind for m in summarised},
            seed=self.seed,
        )
        status = queries["min_l0_status"]
        infeasible = (status == "infeasible").to_numpy()
        queries = queries.assign(
            n_certified_infeasible=infeasible.astype(int),
            covered_feasible=(queries["clean_valid"].to_numpy() & ~infeasible).astype(int),
            n_min_l0_certified=(status == "certified").to_numpy().astype(int),
            n_min_l0_bounded=(status == "bounded").to_numpy().astype(int),
        )
        totals = queries.groupby(keys, sort=True, dropna=False) if keys else None
        count_columns = ["n_cfs", "n_valid", "n_rejected", "n_valid_fallback"]
        count_columns += [*VIOLATION_COLUMNS, "n_violating"]
        count_columns += list(COST_COLUMNS)
        count_columns += [
            "n_certified_infeasible",
            "covered_feasible",
            "n_min_l0_certified",
            "n_min_l0_bounded",
        ]
        if "n_valid_margin" in queries:
            count_columns.append("n_valid_margin")
        if totals is not None:
            sums = totals[count_columns].sum().reset_index(drop=True)
            sums.insert(0, "n_queries", totals.size().to_numpy())
        else:
            sums = queries[count_columns].sum().to_frame().T.reset_index(drop=True)
            sums.insert(0, "n_queries", len(queries))
        out = pd.concat([means, sums], axis=1)
        out["n_feasible"] = out["n_queries"] - out["n_certified_infeasible"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["feasible_coverage"] = np.where(
                out["n_feasible"] > 0, out["covered_feasible"] / out["n_feasible"], np.nan
            )
        n_valid = out["n_valid"].to_numpy(dtype=float)
        answers = (out["n_cfs"] + out["n_rejected"]).to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["validity"] = np.where(answers > 0, n_valid / answers, np.nan)
            if "n_valid_margin" in out:
                reached = out.pop("n_valid_margin").to_numpy(dtype=float)
                out["validity_margin"] = np.where(answers > 0, reached / answers, np.nan)
            out["fallback_share"] = (
                np.where(n_valid > 0, out["n_valid_fallback"] / n_valid, np.nan) if llm else np.nan
            )
            for c in COST_COLUMNS:
                out[f"{c}_per_valid_cf"] = np.where(n_valid > 0, out[c] / n_valid, np.nan)
            tokens = out["prompt_tokens"] + out["completion_tokens"]
            out["tokens_per_valid_cf"] = np.where(n_valid > 0, tokens / n_valid, np.nan)
        out.insert(0, "method", result.method)
        counts: tuple[str, ...] = ("n_certified_infeasible", "n_feasible", "covered_feasible")
        counts += ("n_min_l0_certified", "n_min_l0_bounded")
        for column in (
            "n_queries",
            "n_cfs",
            "n_valid",
            "n_rejected",
            *VIOLATION_COLUMNS,
            "n_violating",
            *counts,
        ):
            out[column] = out[column].astype(int)
        ordered = ["method", *keys, "n_queries", "n_cfs", "n_valid", "n_rejected"]
        for name in summary_columns(self.catalog):
            if name in ordered or name not in out:  # validity_margin only with a margin
                continue
            ordered.append(name)
            if f"{name}_ci_low" in out:
                ordered += [f"{name}_ci_low", f"{name}_ci_high", f"{name}_n"]
        return out[ordered]


def evaluate(
    results: CounterfactualResult | Sequence[CounterfactualResult],
    model: TrainedClassifier,
    reference: Dataset,
    *,
    min_l0: pd.Series | CounterfactualResult | None = None,
    by: str | None = None,
    valid_only: bool = True,
    **suite_options: Any,
) -> pd.DataFrame:
    """Fit a :class:`MetricSuite` on ``reference`` (the training rows) and summarise each result.

    ``suite_options`` go to :class:`MetricSuite` (``threshold``, ``seed``, ...). One row per
    method (and group of ``by``), in the order given.

    >>> clf, data, result = _example()
    >>> evaluate([result], clf, data, by="label")[["method", "label", "n_queries"]].to_dict("list")
    {'method': ['demo'], 'label': [1], 'n_queries': [2]}
    """
    suite = MetricSuite(**suite_options).fit(model, reference)
    items = [results] if isinstance(results, CounterfactualResult) else list(results)
    if not items:
        raise SensecfError("evaluate needs at least one CounterfactualResult")
    tables = [suite.summarise(r, min_l0, by, valid_only=valid_only) for r in items]
    return pd.concat(tables, ignore_index=True)


def share_detector(
    generator: CounterfactualGenerator,
    model: TrainedClassifier,
    reference: Dataset,
    calibration: Dataset | None = None,
) -> PlausibilityDetector | None:
    """Hold a generator asked for plausibility (e.g. ``oracle-plausible``), or one that
    chooses by a detector (a fine-tuned model asked in a typical format), to the detector a
    metric suite judges by: fitted on the desired class's rows of ``reference`` (the training
    rows) and calibrated on its rows of ``calibration`` (held-out rows), with the generator's
    own detector settings (``detector_seed``, ``inlier_rate``, ``detector_trees``). Returns the
    detector it is held to; ``None`` where it is not held, and nothing changes where it was
    given a detector of its own.

    >>> from sensecf.generators.oracle import Oracle
    >>> clf, data, _ = _example()
    >>> oracle = Oracle(plausibility="iforest", detector_trees=10)
    >>> share_detector(oracle, clf, data) is oracle.detector, share_detector(Oracle(), clf, data)
    (True, None)
    """
    params = generator.get_params()
    if not generator.reads_detector():
        return None  # not held, or held by means of its own that take no shared detector
    if params["detector"] is not None:
        detector: PlausibilityDetector = params["detector"]
        return detector
    suite = MetricSuite(
        seed=params.get("detector_seed", 0),
        inlier_rate=params.get("inlier_rate", DEFAULT_INLIER_RATE),
        detector_trees=params.get("detector_trees", 100),
    )
    held = calibration if calibration is not None and len(calibration) else None
    suite.fit(model, reference, calibration=held)
    shared = suite.detector(model.spec.desired_class)
    if shared is not None:
        generator.set_params(detector=shared)
    return shared


def minimal_l0(oracle: CounterfactualResult) -> pd.Series:
    """The fewest features any valid CF of each query changed, indexed by ``query_id``.

    Meant for the oracle's result on the same queries (``query_id`` is the query's position
    in the batch, so both results must come from the same query rows in the same order);
    queries without a valid CF are absent (their ratio is NaN).

    >>> _, _, result = _example()
    >>> minimal_l0(result).to_dict()
    {0: 1}
    """
    cfs = oracle.cfs
    if len(cfs) == 0:
        return pd.Series(dtype=int, name="min_l0")
    valid = cfs["valid"].fillna(False).to_numpy(dtype=bool)
    l0 = count_changes(oracle.spec, oracle.query_matrix(), oracle.cf_matrix())
    return (
        pd.Series(l0[valid], index=cfs["query_id"].to_numpy()[valid])
        .groupby(level=0)
        .min()
        .rename("min_l0")
    )


# ---- helpers ----------------------------------------------------------------------------------
def _as_min_l0(min_l0: pd.Series | CounterfactualResult | None) -> pd.Series | None:
    if min_l0 is None:
        return None
    if isinstance(min_l0, CounterfactualResult):
        queries = min_l0.queries
        if "status" in queries and "min_l0" in queries:  # the oracle's own (certified) minimum
            return (
                pd.to_numeric(queries.set_index("query_id")["min_l0"], errors="coerce")
                .dropna()
                .rename("min_l0")
            )
        return minimal_l0(min_l0)
    if not isinstance(min_l0, pd.Series):
        raise SensecfError(
            f"min_l0 must be a pandas Series indexed by query_id or the oracle's result; "
            f"got {type(min_l0).__name__}"
        )
    return min_l0.astype(float)


def _min_l0_status(min_l0: pd.Series | CounterfactualResult | None) -> pd.Series | None:
    """Per query_id, what the oracle proved about the minimal number of changes.

    Only an oracle result (a queries table with ``status``) says it; for anything else None.
    """
    if not isinstance(min_l0, CounterfactualResult) or "status" not in min_l0.queries:
        return None
    queries = min_l0.queries.set_index("query_id")
    certified = (
        queries["min_l0_certified"].fillna(False).astype(bool)
        if "min_l0_certified" in queries
        else pd.Series(False, index=queries.index)
    )
    found = pd.to_numeric(queries["min_l0"], errors="coerce").notna()
    status = np.where(
        queries["status"] == "infeasible",
        "infeasible",
        np.where(certified, "certified", np.where(found, "bounded", "unknown")),
    )
    return pd.Series(status, index=queries.index, name="min_l0_status")


def _copy_provenance(result: CounterfactualResult, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-row copies and example-value shares, where the result records its examples."""
    copies = result_copies(result, C)
    if copies is None:
        return np.full(len(C), np.nan), np.full(len(C), np.nan)
    whole, share = copies
    return whole.astype(float), share


def _count(query_id: pd.Series, mask: np.ndarray, qids: np.ndarray) -> np.ndarray:
    """Rows per query where ``mask`` holds, for every query in ``qids`` (0 where none)."""
    counts = (
        pd.Series(np.asarray(mask, dtype=int), index=query_id.to_numpy()).groupby(level=0).sum()
    )
    return counts.reindex(qids, fill_value=0).to_numpy().astype(int)


def _diversity(query_id: np.ndarray, C: np.ndarray, scale: np.ndarray) -> pd.Series:
    """Mean pairwise scaled L1 among each query's rows, vectorised per group size; a feature
    missing in either row of a pair adds nothing.

    >>> _diversity(np.array([0, 0, 0, 1]), np.array([[0.0], [1.0], [3.0], [5.0]]), np.ones(1))
    0    2.0
    1    NaN
    dtype: float64
    >>> _diversity(np.array([0, 0]), np.array([[0.0, np.nan], [2.0, np.nan]]), np.ones(2)).tolist()
    [2.0]
    """
    if len(query_id) == 0:
        return pd.Series(dtype=float)
    # A feature missing in a CF (its query's unmeasured one) adds nothing to a pair's distance.
    order = np.argsort(query_id, kind="stable")
    X = C[order] / scale
    groups, start, size = np.unique(query_id[order], return_index=True, return_counts=True)
    out = np.full(len(groups), np.nan)
    # Loop over the few distinct group sizes, not the queries: every group of size k has the
    # same k(k-1)/2 pairs, so all of them are one fancy-indexed array.
    for k in np.unique(size[size >= 2]):
        g = np.flatnonzero(size == k)
        i, j = np.triu_indices(int(k), 1)
        a, b = start[g][:, None] + i, start[g][:, None] + j
        out[g] = np.nansum(np.abs(X[a] - X[b]), axis=-1).mean(axis=1)
    return pd.Series(out, index=groups)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    table = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    return table.astype(
        {
            "query_id": int,
            "method": object,
            "rank": int,
            "valid": bool,
            "source": object,
            "first_answer": bool,
        }
    )


def _example() -> tuple[TrainedClassifier, Dataset, CounterfactualResult]:
    """The tiny model, data and one-CF result the docstrings use (the module docstring builds it)."""
    from sensecf.data.spec import infer_spec
    from sensecf.models.classifier import train

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60).round(2), "z": rng.normal(size=60).round(2)})
    df["y"] = (df["x"] > 0).astype(int)
    data = Dataset(df, infer_spec(df, "y"))
    clf = train(data, "logreg", importance_repeats=1)
    queries = pd.DataFrame(
        {
            "query_id": [0, 1],
            "x": [1.0, 2.0],
            "z": [0.0, 0.0],
            "label": [1, 1],
            "n_cfs": [1, 0],
            "seconds": [0.5, 0.25],
            "error": ["", ""],
        }
    )
    cfs = pd.DataFrame(
        {"query_id": [0], "method": ["demo"], "rank": [0], "x": [-1.0], "z": [0.0], "valid": [True]}
    )
    return clf, data, CounterfactualResult("demo", 0, data.spec, queries, cfs)
