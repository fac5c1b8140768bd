"""CFNOW (the ``cfnow`` package) as a baseline generator.

CFNOW searches from the query for a row of the other class (greedy or random moves of one or a
few features at a time), then spends the rest of its time budget pulling changed features back
towards the query while the class holds. This module runs the real package (``cfnow`` 0.0.6)
and puts its answers in the project's result table.

What the package does, and how it is adapted here:

- **Representation.** cfnow moves a numerical feature by ``±10%`` of its current value (plus a
  momentum that grows when stuck), so a numerical feature whose value is 0 never moves; it
  flips a ``"cat"`` feature as ``1 - x``, which is right for 0/1 only. So binary features are
  handed over as ``"cat"``, categorical features with other codes one-hot encoded (cfnow's
  ``has_ohe``; it then swaps one level for another), everything else as ``"num"``. Integer
  features are moved like continuous ones, so CFs carry fractional counts: the metrics count
  them (``grain``).
- **Constraints.** cfnow has no immutable features, bounds or directions, and no way to exclude
  a feature from its search. Its answers are not repaired: fixed features it changed, values
  outside bounds and moves against the allowed direction are left for the metrics to count.
- **Missing values.** Handed NaN, cfnow carries it through its arithmetic (a missing number
  never moves, as ``NaN * 10%`` is NaN) into its distances and objective, which then compare
  NaN. So a query's missing feature gets a stand-in instead, chosen by cfnow's own notion of
  an unmovable feature: 0 for a numerical one (cfnow moves a number by a share of its value,
  so 0 stays 0 and adds no distance); a coded one, which cfnow flips or swaps whatever its
  value, gets the training stand-in (:func:`~sensecf.generators.base.stand_ins`, its most
  frequent level). The model cfnow calls puts NaN back at the query's missing features, so a
  flip there gains nothing, and every CF has NaN there again before the project judges it.
  cfnow sees no reference rows.
- **Target class.** cfnow always flips the query's class under its own rule: it is handed the
  model's probability of the desired class and counts a row with probability ``>= 0.50`` as a
  counterfactual (if the query already scores above 0.5, it searches *down*). The project's
  decision rule (a threshold on P(positive class)) can disagree at exactly 0.50, or more widely
  when the threshold is not 0.5; every answer is re-validated by the model (``valid``). A query
  the model already puts in the desired class, or one that scores above 0.5 for it while not
  in it, is not searched: it is recorded with an error.
- **Time.** ``limit_seconds`` bounds the fine-tuning step, which runs until it is used up: a
  query costs about ``limit_seconds`` whenever a CF is found. cfnow does not bound its first
  search by time (only by 5000 iterations: minutes per query for the random strategy when no
  CF is near), so ``search_seconds`` stops it through the one hook cfnow offers, the predict
  function: called after that long without a CF having been seen, it raises, and the query is
  recorded with a ``TimeoutError``. Worse, the greedy search loops forever, calling nothing,
  once its tabu list (5 features) holds every feature it can still move; a query with 5 or
  fewer movable features (numerical ones at 0 do not count) is therefore refused with an error.
- **Several CFs.** ``n_cfs`` is cfnow's ``count_cf``; it returns every distinct CF it met,
  nearest (L1) first, and the table keeps the first ``n_cfs``.
- **Noise.** Importing cfnow tries to download an nltk corpus (used only by its text
  explainer); that attempt is skipped. Its log records and warnings are silenced during a
  search, and the random strategy's draws from numpy's global generator are seeded from the
  ``generate`` seed, with the global state restored afterwards.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    fill_missing,
    is_number,
    stand_ins,
)

Strategy = Literal["greedy", "random"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


class CFNOW(CounterfactualGenerator):
    """Counterfactuals from the ``cfnow`` package (greedy or random search, then fine-tuning).

    ``limit_seconds`` is cfnow's per-query time limit; it is spent in full whenever a CF is
    found, so it sets the cost of the method (the benchmark chooses it). ``search_seconds``
    caps cfnow's first search, which its own limit does not bound (``None``: no cap).

    Parameters are stored as given and checked when the generator is fitted (or made with
    :func:`~sensecf.generators.registry.make_generator`). It adds no columns of its own.

    >>> gen = CFNOW("random", limit_seconds=0.5)
    >>> gen.name, gen.limit_seconds, gen.search_seconds
    ('cfnow-random', 0.5, 30.0)
    >>> gen
    CFNOW(limit_seconds=0.5, strategy='random')
    """

    extra_cf_columns = ()
    # Its library decides validity by its own 0.5 rule: a margin is measured, not searched.
    searches_margin = False
    query_info_columns = ()

    def __init__(
        self,
        strategy: Strategy = "greedy",
        *,
        limit_seconds: float = 2.0,
        search_seconds: float | None = 30.0,
    ) -> None:
        self.strategy = strategy
        self.limit_seconds = limit_seconds
        self.search_seconds = search_seconds

    @property
    def name(self) -> str:  # type: ignore[override]
        """``cfnow-greedy`` or ``cfnow-random``."""
        return f"cfnow-{self.strategy}"

    def _validate_params(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SensecfError(
                f"CFNOW strategy must be one of {list(STRATEGIES)}; got {self.strategy!r}"
            )
        _seconds("limit_seconds", self.limit_seconds)
        if self.search_seconds is not None:
            _seconds("search_seconds", self.search_seconds)

    def _fit(self) -> None:
        self.cfnow_ = _import_cfnow()
        self.coder_ = _Coder(self.spec_)
        # A numerical feature's stand-in is 0, the value cfnow never moves (module docstring).
        coded = np.array([f.levels is not None for f in self.spec_.features])
        self.stand_ins_ = np.where(coded, stand_ins(self.spec_, self.reference_.X.to_numpy()), 0.0)

    def _propose(
        self, query: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator
    ) -> Candidates:
        model, coder = self.model_, self.coder_
        row = query.reshape(1, -1)
        if model.predict(row)[0] == desired:
            raise ValueError(
                f"the model already puts this query in the desired class {desired}; "
                "cfnow flips a query's class, so it has nothing to search for"
            )
        score = float(model.proba_of(row, desired)[0])
        if score > 0.5:
            raise ValueError(
                f"P(class {desired}) is already {score:.3f} > 0.5, though the model's rule "
                f"(threshold {model.threshold:g}) does not put the query in that class; cfnow "
                "would search for P <= 0.5, away from the desired class"
            )
        missing = np.isnan(query)
        factual = coder.encode(fill_missing(query, self.stand_ins_)[0])
        if self.strategy == "greedy":
            _check_greedy_can_stop(coder, factual)
        predict = _Predictor(model, coder, desired, self.search_seconds, missing)
        seed = int(rng.integers(2**32))

        def find(**tuning: Any) -> Any:
            with _global_numpy_seed(seed), _quiet(self.cfnow_):
                return self.cfnow_.find_tabular(
                    factual=factual,
                    model_predict_proba=predict,
                    count_cf=n_cfs,
                    feat_types=coder.feat_types,
                    cf_strategy=self.strategy,
                    limit_seconds=float(self.limit_seconds),
                    has_ohe=coder.has_ohe,
                    **tuning,
                )

        try:
            found = find()
        except ValueError as exc:
            # cfnow's fine-tuning fails when a step finds only counterfactuals it has seen
            # (it concatenates an empty list); its search's own answers, untuned, still stand.
            if "same number of dimensions" not in str(exc):
                raise
            found = find(ft_it_max=0)
        if len(found.cfs) == 0:
            return Candidates.empty(len(self.spec_.features))
        values = coder.decode(np.asarray(found.cfs, dtype=float))
        values[:, missing] = np.nan  # the stand-ins were never cfnow's to give
        return Candidates(values)


def _check_greedy_can_stop(coder: _Coder, factual: pd.Series) -> None:
    """Refuse a query on which cfnow's greedy search could loop forever.

    When stuck, the greedy search puts the feature it last moved on a tabu list (5 entries,
    or one fewer than the columns when there are fewer than 5). Once that list holds every
    feature it can move, it has no move left and loops without end, calling nothing that could
    stop it: numerical features at 0 cannot move, so few nonzero features are enough.
    """
    n_columns = len(coder.columns)
    tabu = 5 if n_columns >= 5 else n_columns - 1
    movable = coder.movable(factual.to_numpy())
    if movable <= tabu:
        raise ValueError(
            f"cfnow's greedy search can move only {movable} feature(s) of this query "
            "(a numerical feature at 0 never moves) and would loop forever once its tabu list "
            f"({tabu} entries) holds them all; try strategy='random'"
        )


def _seconds(name: str, value: Any) -> float:
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise SensecfError(f"CFNOW {name} must be a positive number of seconds; got {value!r}")
    return float(value)


class _Predictor:
    """The model's probability of the desired class, as cfnow calls it, with a search deadline.

    cfnow counts a row scoring ``>= 0.5`` as a counterfactual; until one has been scored, a
    call more than ``search_seconds`` after the first raises, which ends cfnow's search. (The
    first call never does: cfnow replaces any error there with a bare "Error when using the
    model_predict_proba function".) The query's ``missing`` features are NaN again in every
    row the model scores (cfnow holds stand-ins there).
    """

    def __init__(
        self,
        model: Any,
        coder: _Coder,
        desired: int,
        search_seconds: float | None,
        missing: np.ndarray | None = None,
    ) -> None:
        self.model, self.coder, self.desired = model, coder, desired
        self.search_seconds = search_seconds
        self.missing = missing
        self.start: float | None = None
        self.seen_cf = False

    def __call__(self, rows: Any) -> np.ndarray:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        elif (
            not self.seen_cf
            and self.search_seconds is not None
            and now - self.start > self.search_seconds
        ):
            raise TimeoutError(
                f"cfnow found no counterfactual within search_seconds={self.search_seconds:g}"
            )
        # cfnow passes a one-row DataFrame or a matrix, in its own columns.
        values = self.coder.decode(np.asarray(rows, dtype=float))
        if self.missing is not None:
            values[:, self.missing] = np.nan
        scores = self.model.proba_of(values, self.desired)
        self.seen_cf = self.seen_cf or bool((scores >= 0.5).any())
        return scores


class _Coder:
    """The spec's features in the columns cfnow understands, and back.

    Columns are named ``x0, x1, ...`` because cfnow's one-hot detection groups *every* column
    whose name has an underscore by the text before it (``sleep_min`` and ``sleep_eff`` would
    become one categorical); one-hot columns are ``x{j}_{k}``.
    """

    def __init__(self, spec: DatasetSpec) -> None:
        self.columns: list[str] = []
        self.feat_types: dict[str, str] = {}
        self.one_hot: dict[int, tuple[list[int], np.ndarray]] = {}  # feature → (columns, levels)
        self.plain: list[tuple[int, int]] = []  # (feature, column) for features kept as is
        for j, feature in enumerate(spec.features):
            levels = feature.levels
            if levels is None or tuple(levels) == (0.0, 1.0):
                self.plain.append((j, len(self.columns)))
                self.columns.append(f"x{j}")
                self.feat_types[f"x{j}"] = "num" if levels is None else "cat"
            else:
                start = len(self.columns)
                names = [f"x{j}_{k}" for k in range(len(levels))]
                self.columns += names
                self.feat_types.update(dict.fromkeys(names, "cat"))
                self.one_hot[j] = (list(range(start, len(self.columns))), np.asarray(levels))
        self.n_features = len(spec.features)
        self.has_ohe = bool(self.one_hot)

    def movable(self, encoded: np.ndarray) -> int:
        """How many features cfnow can move from this row: nonzero numbers, flags, one-hots."""
        numbers = [c for _, c in self.plain if self.feat_types[self.columns[c]] == "num"]
        flags = len(self.plain) - len(numbers)
        return int(np.count_nonzero(encoded[numbers])) + flags + len(self.one_hot)

    def encode(self, row: np.ndarray) -> pd.Series:
        out = np.zeros(len(self.columns))
        for j, c in self.plain:
            out[c] = row[j]
        for j, (cols, levels) in self.one_hot.items():
            out[cols] = (levels == row[j]).astype(float)  # a missing value: all zeros
        return pd.Series(out, index=self.columns, dtype=float)

    def decode(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(rows)
        out = np.empty((len(rows), self.n_features))
        for j, c in self.plain:
            out[:, j] = rows[:, c]
        for j, (cols, levels) in self.one_hot.items():
            block = rows[:, cols]
            out[:, j] = np.where(block.max(axis=1) > 0, levels[block.argmax(axis=1)], np.nan)
        return out


def _import_cfnow() -> ModuleType:
    """Import cfnow without its nltk download attempt (only its text explainer needs wordnet)."""
    try:
        import nltk
    except ImportError as exc:
        raise SensecfError(
            f"CFNOW needs the cfnow package: pip install 'sensecf[baselines]' ({exc})"
        ) from None
    real_download = nltk.download
    nltk.download = _no_download  # cfnow calls nltk.download('wordnet') at import time
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import cfnow
    except ImportError as exc:
        raise SensecfError(
            f"CFNOW needs the cfnow package: pip install 'sensecf[baselines]' ({exc})"
        ) from None
    finally:
        nltk.download = real_download
    return cfnow


def _no_download(*args: Any, **kwargs: Any) -> bool:
    return False


class _DropFrom(logging.Filter):
    """Drops log records emitted from files under one folder."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folder)


@contextlib.contextmanager
def _quiet(package: ModuleType) -> Iterator[None]:
    """Silence a package that logs through the root logger and warns while it works."""
    root = logging.getLogger()
    # logging.log() on a root logger without handlers calls basicConfig(), which would leave a
    # stderr handler behind for the whole process: give it a handler for the duration.
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    if package.__file__ is None:  # a namespace package has no folder of its own
        raise SensecfError(f"cannot locate the {package.__name__} package to quieten its logs")
    drop = _DropFrom(str(Path(package.__file__).parent))
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=rf"{package.__name__}(\.|$)")
            yield
    finally:
        root.removeFilter(drop)
        if guard is not None:
            root.removeHandler(guard)


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (cfnow's random search draws from it), then restore it."""
    state = np.random.get_state()  # noqa: NPY002 - the legacy global generator is the point
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
