"""DiCE baselines through the real dice-ml package: random sampling, genetic search, KD-tree.

:class:`DiCE` hands each query to ``dice_ml`` with the spec translated into DiCE's own terms and
hands back what DiCE produced, unrepaired; the base class then re-checks every counterfactual
with the project's decision rule, and the metrics count whatever constraints it broke.

How the spec reaches DiCE
-------------------------
- **Immutables**: fixed features are left out of ``features_to_vary``.
- **Direction and bounds**: ``permitted_range`` per query, from
  :func:`~sensecf.data.constraints.allowed_ranges` (an ``increase`` feature may range from the
  query's value up to its upper bound, and so on).
- **Binary and categorical features** go to DiCE as *categorical* features whose levels are
  the codes written as strings (``"0.0"``, ``"1.0"``), so DiCE proposes only real levels; the
  allowed levels of a query are those inside its allowed range. DiCE knows only the levels it
  saw in the reference rows: it cannot propose a level the reference data lack, and it refuses a
  query holding one (that query is recorded with DiCE's error). What DiCE returns is turned back
  into floats in spec order.
- **Grain** (``continuous_features_precision``, the decimals DiCE rounds to): for ``random`` and
  ``kdtree`` a mutable feature gets the decimals of its spec ``step`` (integers 0), so sampled
  values lie on the spec's grain and DiCE's post-hoc sparsity search moves by one step (with
  finer decimals that linear search takes up to 10,000 model calls per feature: minutes per
  query). ``genetic`` recombines values of reference rows and of the query, and rounds every
  column of its output, including those it left at the query's value, so it gets the reference
  data's own decimals (at most 6) and leaves unchanged values unchanged. Fixed features always
  get 6 decimals: DiCE never varies them, but its final rounding would otherwise move them.

Missing values
--------------
dice-ml takes NaN in its data description but then has no MAD or range for the column
(``genetic`` and ``kdtree`` fail with "Input contains NaN"), and it refuses a query with a
missing value outright. So DiCE's data are the reference rows with each missing value replaced
by a stand-in (:func:`~sensecf.generators.base.stand_ins`: the training median on the feature's
grain, the most frequent level of a coded feature), which keeps every row (a value ``kdtree`` or
``genetic`` takes from a reference row may be such a stand-in). A query's missing
feature gets the same stand-in and is left out of ``features_to_vary``, so DiCE never moves it
(``kdtree`` excepted: it keeps only reference rows equal to the query in every feature it may
not vary, so there it may vary over the reference rows' values, which are discarded);
the model DiCE calls puts NaN back at those features before the classifier scores a row, so its
search sees the verdict the finished counterfactual will get, and every row DiCE returns has
NaN there again before the project judges it. A query with no mutable feature measured is
recorded with an error.

What differs from the project
-----------------------------
- DiCE decides validity by its own rule: for desired class index 0 it accepts P(class 1) <= 0.5,
  for index 1 P(class 1) >= 0.5, whatever the classifier's threshold; the KD-tree takes reference
  rows whose *argmax* class is the desired one. The result's ``valid`` column applies the
  project's rule (P(positive) >= threshold), and ``dice_class`` keeps the class DiCE reported.
- DiCE's output is not clipped, rounded or projected: ``random`` may step one grain past a range
  (it samples up to ``high + 10**-decimals``, and for 0 decimals truncates a fractional lower
  bound), its post-hoc search may overshoot the query's value by one step, and ``genetic``'s
  mutation puts a feature at the lower end of its range.
- ``kdtree`` returns rows of the reference data (moved towards the query by DiCE's post-hoc
  sparsity search, unless ``posthoc_sparsity=0``) whose fixed features equal the query's
  exactly: with a continuous fixed feature (one value per person-day) it finds none.
- "No counterfactual found" (DiCE raises it, or returns nothing) is an empty proposal for that
  query, counted in coverage. DiCE has no time limit of its own and ``genetic`` can sample
  forever when no valid row is reachable, so every model call checks ``time_limit``; a query
  that runs past it is recorded with a :class:`DiceTimeLimitError`.

Randomness comes only from the generator's ``seed``: each query gets a seed drawn from the run's
generator, which seeds ``random`` and ``numpy.random`` (DiCE draws from both global states) for
the length of that query's call; the previous global states are restored afterwards. DiCE's
progress bar (tqdm), prints and warnings are swallowed during the call.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import time
import warnings
from collections.abc import Iterator
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from sensecf.data.constraints import allowed_ranges, as_matrix
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import SensecfError
from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    fill_missing,
    is_number,
    stand_ins,
)
from sensecf.models.classifier import TrainedClassifier

__all__ = ["DiCE", "DiceTimeLimitError", "METHODS"]

Method = Literal["random", "genetic", "kdtree"]
METHODS: tuple[str, ...] = get_args(Method)

# Which DiCE method reads each option (DiCE silently ignores the others).
OPTION_METHODS: dict[str, tuple[str, ...]] = {
    "proximity_weight": ("genetic",),
    "diversity_weight": ("genetic",),
    "sparsity_weight": ("genetic", "kdtree"),
    "sample_size": ("random",),
    "max_iterations": ("genetic",),
    "posthoc_sparsity": ("random", "kdtree"),
}
MAX_DECIMALS = 6  # DiCE rounding at 6 decimals stays inside the 1e-6 "unchanged" tolerance
NO_CF_MESSAGE = "No counterfactuals found"  # how dice-ml 0.12 says it found none


class DiceTimeLimitError(RuntimeError):
    """DiCE ran past the generator's per-query ``time_limit`` (recorded as that query's error)."""


class DiCE(CounterfactualGenerator):
    """DiCE counterfactuals (dice-ml ``random``, ``genetic`` or ``kdtree``) in the shared table.

    Options (``None`` keeps DiCE's default; an option the chosen method ignores is refused):

    - ``proximity_weight`` (genetic; DiCE: 0.2), ``diversity_weight`` (genetic; 5.0) and
      ``sparsity_weight`` (genetic 0.2, kdtree 1.0): weights of DiCE's loss / ranking.
    - ``sample_size`` (random; 1000): random candidates drawn per round.
    - ``max_iterations`` (genetic; 500): generations of the genetic search.
    - ``posthoc_sparsity`` (random, kdtree; 0.1): DiCE's ``posthoc_sparsity_param``, the
      quantile that decides which changed features its post-hoc search moves back towards the
      query; 0 turns that search off.
    - ``time_limit``: seconds per query before the query is given up (checked at each model
      call); default 60.

    The module docstring says how the spec is presented to DiCE and where DiCE's rules differ
    from the project's. Fitting needs the ``dice-ml`` package (``pip install 'sensecf[baselines]'``).

    Parameters are stored as given and checked when the generator is fitted (or made with
    :func:`~sensecf.generators.registry.make_generator`); ``options_`` holds the options given,
    as DiCE gets them.

    >>> gen = DiCE("genetic", diversity_weight=1.0)
    >>> gen.name, gen
    ('dice-genetic', DiCE(diversity_weight=1.0, method='genetic'))
    >>> from sensecf.generators.registry import make_generator
    >>> make_generator("dice-random", diversity_weight=1.0)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: DiCE option diversity_weight applies to method genetic only, not 'random'

    With a trained classifier ``clf`` and its training rows ``train_rows``::

        cfs = DiCE("random").fit(clf, train_rows).generate(queries, n_cfs=3, seed=0)
    """

    extra_cf_columns = ("dice_class",)
    # Its library decides validity by its own 0.5 rule: a margin is measured, not searched.
    searches_margin = False

    def __init__(
        self,
        method: Method = "random",
        *,
        proximity_weight: float | None = None,
        diversity_weight: float | None = None,
        sparsity_weight: float | None = None,
        sample_size: int | None = None,
        max_iterations: int | None = None,
        posthoc_sparsity: float | None = None,
        time_limit: float = 60.0,
    ) -> None:
        self.method = method
        self.proximity_weight = proximity_weight
        self.diversity_weight = diversity_weight
        self.sparsity_weight = sparsity_weight
        self.sample_size = sample_size
        self.max_iterations = max_iterations
        self.posthoc_sparsity = posthoc_sparsity
        self.time_limit = time_limit

    @property
    def name(self) -> str:  # type: ignore[override]
        """``dice-random``, ``dice-genetic`` or ``dice-kdtree``."""
        return f"dice-{self.method}"

    def _validate_params(self) -> None:
        self._options()
        _positive("time_limit", self.time_limit)

    def _options(self) -> dict[str, float | int]:
        """The options given (checked), as DiCE gets them."""
        if self.method not in METHODS:
            raise SensecfError(f"DiCE method must be one of {list(METHODS)}; got {self.method!r}")
        given = {
            "proximity_weight": _weight("proximity_weight", self.proximity_weight),
            "diversity_weight": _weight("diversity_weight", self.diversity_weight),
            "sparsity_weight": _weight("sparsity_weight", self.sparsity_weight),
            "sample_size": _count("sample_size", self.sample_size),
            "max_iterations": _count("max_iterations", self.max_iterations),
            "posthoc_sparsity": _fraction("posthoc_sparsity", self.posthoc_sparsity),
        }
        options = {k: v for k, v in given.items() if v is not None}
        for option in options:
            if self.method not in OPTION_METHODS[option]:
                methods = " and ".join(OPTION_METHODS[option])
                raise SensecfError(
                    f"DiCE option {option} applies to method {methods} only, not {self.method!r}"
                )
        return options

    # ---- fitting ---------------------------------------------------------------------------
    def _fit(self) -> None:
        dice_ml = _import_dice_ml()
        self.options_ = self._options()
        spec = self.spec_
        if not spec.mutable_features:
            raise SensecfError(
                f"DiCE needs a mutable feature; every feature of {spec.name!r} is fixed"
            )
        frame = self.reference_.frame[[*spec.feature_names, spec.target]].reset_index(drop=True)
        if frame.empty:
            raise SensecfError("DiCE needs reference rows; the reference data has none")
        # DiCE's ranges, MADs and KD-tree cannot take missing values: stand-ins keep every row.
        X = as_matrix(spec, frame)
        self.stand_ins_ = stand_ins(spec, X)
        filled = fill_missing(X, self.stand_ins_)
        frame = frame.assign(**{name: filled[:, j] for j, name in enumerate(spec.feature_names)})
        self.categorical_ = [f.name for f in spec.features if f.is_discrete]
        continuous = [f.name for f in spec.features if not f.is_discrete]
        frame = _to_dice_frame(frame, self.categorical_)
        self.reference_levels_ = {name: set(frame[name]) for name in self.categorical_}
        # What a missing feature may take where DiCE must vary it (kdtree): whatever rows hold.
        self.reference_span_: dict[str, list[Any]] = {
            f.name: sorted(self.reference_levels_[f.name])
            if f.is_discrete
            else [float(frame[f.name].min()), float(frame[f.name].max())]
            for f in spec.features
        }
        self.precision_ = _precisions(spec, frame, self.method)
        with _quiet():
            self.dice_data_ = dice_ml.Data(
                dataframe=frame,
                continuous_features=continuous,
                outcome_name=spec.target,
                continuous_features_precision=self.precision_,
            )
            self.dice_model_adapter_ = _DiceModel(self.model_)
            self.dice_model_ = dice_ml.Model(model=self.dice_model_adapter_, backend="sklearn")

    # ---- one query ---------------------------------------------------------------------------
    def _propose(
        self, query: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator
    ) -> Candidates:
        import dice_ml
        from raiutils.exceptions import UserConfigValidationException

        spec = self.spec_
        seed = int(rng.integers(0, 2**32 - 1))  # the range numpy.random.seed accepts
        missing = np.isnan(query)
        features_to_vary, permitted = self._permitted_range(query)
        measured = [f.is_mutable for f, v in zip(spec.features, query, strict=True) if v == v]
        if not any(measured):
            raise ValueError(
                "this query is missing every mutable feature; DiCE has nothing it may vary"
            )
        query_frame = _to_dice_frame(
            pd.DataFrame(fill_missing(query, self.stand_ins_), columns=spec.feature_names),
            self.categorical_,
        )
        kwargs = self._method_kwargs(seed)
        adapter = self.dice_model_adapter_
        adapter.deadline = time.perf_counter() + self.time_limit
        adapter.time_limit = self.time_limit
        adapter.missing = missing
        try:
            with _quiet(), _seeded_global_random(seed):
                # A fresh explainer per query: DiCE keeps per-query state on the explainer.
                explainer = dice_ml.Dice(self.dice_data_, self.dice_model_, method=self.method)
                explanation = explainer.generate_counterfactuals(
                    query_frame,
                    total_CFs=n_cfs,
                    # DiCE's classes are predict_proba columns: an index, and a plain int.
                    desired_class=int(self.model_.classes.index(desired)),
                    features_to_vary=features_to_vary,
                    permitted_range=permitted,
                    **kwargs,
                )
        except UserConfigValidationException as exc:
            if NO_CF_MESSAGE in str(exc):
                return Candidates.empty(len(spec.features))
            raise
        finally:
            adapter.deadline = None
            adapter.missing = None
        examples = explanation.cf_examples_list[0]
        # With post-hoc sparsity on, DiCE's answer is the sparse table (what it displays).
        table = examples.final_cfs_df_sparse
        if table is None or len(table) == 0:
            table = examples.final_cfs_df
        if table is None or len(table) == 0:
            return Candidates.empty(len(spec.features))
        values = _from_dice_frame(table, spec)
        values[:, missing] = np.nan  # the stand-ins were never DiCE's to give
        return Candidates(values, source="search", extra={"dice_class": self._dice_class(table)})

    def _permitted_range(self, query: np.ndarray) -> tuple[list[str], dict[str, list[Any]]]:
        """Features DiCE may vary and, for each, its allowed range (continuous) or levels."""
        lo, hi = allowed_ranges(self.spec_, query)
        features: list[str] = []
        permitted: dict[str, list[Any]] = {}
        for j, feature in enumerate(self.spec_.features):
            unknown = bool(np.isnan(query[j]))
            if unknown and self.method == "kdtree":
                # The KD-tree keeps only rows equal to the query where it may not vary; the
                # value there goes back to NaN, so a neighbour need not match the stand-in.
                features.append(feature.name)
                permitted[feature.name] = self.reference_span_[feature.name]
                continue
            if not feature.is_mutable or unknown:
                continue  # a missing value stays missing: DiCE must not vary its stand-in
            features.append(feature.name)
            if feature.is_discrete:
                # Only levels DiCE saw are accepted; the query's own level is among them if it
                # occurs in the reference rows (DiCE rejects the query otherwise).
                seen = self.reference_levels_[feature.name]
                levels = [_level(v) for v in feature.levels or () if lo[0, j] <= v <= hi[0, j]]
                permitted[feature.name] = [v for v in levels if v in seen]
            else:
                permitted[feature.name] = [float(lo[0, j]), float(hi[0, j])]
        return features, permitted

    def _method_kwargs(self, seed: int) -> dict[str, Any]:
        names = {
            "proximity_weight": "proximity_weight",
            "diversity_weight": "diversity_weight",
            "sparsity_weight": "sparsity_weight",
            "sample_size": "sample_size",
            "max_iterations": "maxiterations",
            "posthoc_sparsity": "posthoc_sparsity_param",
        }
        kwargs: dict[str, Any] = {names[k]: v for k, v in self.options_.items()}
        if self.method == "random":
            kwargs["random_seed"] = seed
        return kwargs

    def _dice_class(self, table: pd.DataFrame) -> list[int]:
        """The class DiCE reported for each row (its argmax index, as the project's label)."""
        classes = self.model_.classes
        target = self.spec_.target
        if target not in table.columns:
            return [-1] * len(table)
        codes = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=float)
        return [
            classes[int(c)] if np.isfinite(c) and 0 <= int(c) < len(classes) else -1 for c in codes
        ]


class _DiceModel:
    """What ``dice_ml.Model(backend="sklearn")`` calls: ``predict_proba`` on DiCE's frames.

    DiCE hands over frames whose categorical columns hold level strings; they go back to floats
    in spec order before the classifier sees them. Each call checks the query's deadline, and
    puts NaN back at the query's ``missing`` features (DiCE holds stand-ins there).
    """

    def __init__(self, model: TrainedClassifier) -> None:
        self.model = model
        self.deadline: float | None = None
        self.time_limit = math.inf
        self.missing: np.ndarray | None = None

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise DiceTimeLimitError(
                f"DiCE ran past time_limit={self.time_limit:g}s on this query (DiCE has no "
                "limit of its own; genetic keeps sampling while no valid row is reachable)"
            )
        names = self.model.feature_names
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X), columns=names)
        values = np.column_stack([_as_float(frame[name]) for name in names])
        if self.missing is not None:
            values[:, self.missing] = np.nan
        return self.model.predict_proba(values)

    def predict(self, X: Any) -> np.ndarray:
        """DiCE's own rule: the index of the most probable class."""
        return self.predict_proba(X).argmax(axis=1)


# ---- conversions --------------------------------------------------------------------------
def _level(value: float) -> str:
    """A level code as DiCE sees it (``1.0`` → ``"1.0"``)."""
    return repr(float(value))


def _to_dice_frame(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for name in categorical:
        out[name] = [_level(v) for v in out[name].to_numpy(dtype=float)]
    return out


def _as_float(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(column):
        return np.asarray([float(v) for v in column.astype(str)], dtype=float)
    return column.to_numpy(dtype=float)


def _from_dice_frame(table: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """DiCE's rows as floats in spec order (categorical level strings back to their codes)."""
    return np.column_stack([_as_float(table[name]) for name in spec.feature_names])


# ---- DiCE's grain ---------------------------------------------------------------------------
def _decimals(values: np.ndarray) -> int:
    """The fewest decimals (at most :data:`MAX_DECIMALS`) that represent every value."""
    values = values[np.isfinite(values)]
    for decimals in range(MAX_DECIMALS):
        scale = np.maximum(1.0, np.abs(values))
        if np.all(np.abs(np.round(values, decimals) - values) <= 1e-9 * scale):
            return decimals
    return MAX_DECIMALS


def _precisions(spec: DatasetSpec, frame: pd.DataFrame, method: str) -> dict[str, int]:
    """``continuous_features_precision`` for DiCE (see the module docstring for the rule)."""
    out: dict[str, int] = {}
    for feature in spec.features:
        if feature.is_discrete:
            continue
        out[feature.name] = _feature_decimals(feature, frame[feature.name], method)
    return out


def _feature_decimals(feature: FeatureSpec, values: pd.Series, method: str) -> int:
    if not feature.is_mutable:
        return MAX_DECIMALS
    if method == "genetic":
        return _decimals(values.to_numpy(dtype=float))
    return _decimals(np.array([float(feature.step)]))


# ---- quiet, seeded calls --------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow DiCE's tqdm bar (stderr), its prints (stdout) and its warnings."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _seeded_global_random(seed: int) -> Iterator[None]:
    """Seed ``random`` and ``numpy.random`` for one DiCE call, then put their states back."""
    # Legacy global state on purpose: it is what DiCE draws from.
    numpy_state = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)


# ---- option checks ---------------------------------------------------------------------------
def _import_dice_ml() -> Any:
    try:
        import dice_ml
    except ImportError as exc:
        raise SensecfError(
            f"the DiCE generator needs the dice-ml package ({exc}); "
            "install it with: pip install 'sensecf[baselines]'"
        ) from None
    return dice_ml


def _weight(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not math.isfinite(value) or value < 0:
        raise SensecfError(f"DiCE option {name} must be a non-negative number; got {value!r}")
    return float(value)


def _fraction(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value) or not 0 <= value <= 1:
        raise SensecfError(f"DiCE option {name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise SensecfError(f"DiCE option {name} must be a positive integer; got {value!r}")
    return int(value)


def _positive(name: str, value: Any) -> float:
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise SensecfError(
            f"DiCE option {name} must be a positive number of seconds; got {value!r}"
        )
    return float(value)
