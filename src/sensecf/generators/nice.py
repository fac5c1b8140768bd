"""NICE (the ``nicex`` package) as a baseline generator.

NICE (Nearest Instance Counterfactual Explanations) takes the query's nearest reference row of
the target class (HEOM distance: range-scaled L1 on numerical features plus a mismatch count on
categorical ones) and copies its values into the query one feature at a time, best first,
until the model's class flips. Which feature goes next is what ``optimization`` sets:
``sparsity`` (the largest gain in the target class's probability), ``proximity`` (gain per unit
of distance) or ``plausibility`` (gain times the drop in an autoencoder's reconstruction error).
This module runs the real package (``nicex`` 0.2.3, ``from nice import NICE``).

What the package does, and how it is adapted here:

- **Inputs.** NICE is fitted on the reference rows (writable float arrays in spec order: it
  casts columns in place), their labels, and the model's ``predict_proba``. Binary and
  categorical features are its ``cat_feat``; the rest ``num_feat``. With ``justified_cf`` a
  neighbour must be a reference row the model classifies as labelled.
- **Missing values.** NICE cannot take NaN: its min-max scale and every HEOM distance become
  NaN (the "nearest" neighbour is then just the first candidate), and a neighbour with NaN
  keeps its column different from the query forever. So its reference rows have each missing
  value replaced by a stand-in (:func:`~sensecf.generators.base.stand_ins`: the training
  median on the feature's grain, the most frequent level of a coded feature), keeping every
  row; a value NICE copies from a neighbour may therefore be such a stand-in. A query's missing
  feature gets the stand-in too; NICE has no immutable features, so it may copy a neighbour's
  value there, but the model it calls puts NaN back at the query's missing features (and at a
  reference row's own, when it classifies the reference rows), so that copy gains nothing, and
  the counterfactual has NaN there again before the project judges it.
- **Target class.** By default NICE flips the query's predicted class (argmax of the
  probabilities); here it is given the desired class explicitly (its ``target_class``). It
  decides by argmax, i.e. a threshold of 0.5 with a tie going to class 0, while the project's
  rule is a threshold on P(positive class): they can disagree at exactly 0.50, or more widely
  when the threshold is not 0.5. Every answer is re-validated by the model (``valid``). A query
  the model already puts in the desired class is not explained (NICE would still copy at least
  one feature from a neighbour): it is recorded with an error.
- **Constraints.** NICE has no immutable features, bounds or directions. Its values come from
  real rows, so they are always levels of coded features and whole for integer ones, but it
  copies fixed features (age, group) and moves features against their allowed direction. Its
  answers are not repaired; the metrics count the violations.
- **One CF per query**, whatever ``n_cfs`` asks.
- **Plausibility** needs an ``auto_encoder``: a callable that returns each row's
  reconstruction error. The default, :class:`ReconstructionError`, is a small scikit-learn
  ``MLPRegressor`` autoencoder (one ``tanh`` bottleneck layer of about a third of the features,
  seeded) fitted on the standardised reference rows; pass another callable to use your own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal, get_args

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from sensecf.errors import SensecfError
from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    fill_missing,
    stand_ins,
)

Optimization = Literal["sparsity", "proximity", "plausibility"]
OPTIMIZATIONS: tuple[str, ...] = get_args(Optimization)


class NICE(CounterfactualGenerator):
    """Counterfactuals from the ``nicex`` package: nearest unlike neighbour, copied best first.

    ``auto_encoder`` (plausibility only) maps rows in spec order to per-row reconstruction
    errors; by default a :class:`ReconstructionError` seeded with ``seed`` is fitted on the
    reference rows.

    Parameters are stored as given and checked when the generator is fitted (or made with
    :func:`~sensecf.generators.registry.make_generator`). It adds no columns of its own.

    >>> gen = NICE("proximity")
    >>> gen.name, gen
    ('nice-proximity', NICE(optimization='proximity'))
    """

    extra_cf_columns = ()
    # Its library decides validity by its own argmax rule: a margin is measured, not searched.
    searches_margin = False
    query_info_columns = ()

    def __init__(
        self,
        optimization: Optimization = "sparsity",
        *,
        auto_encoder: Callable[[np.ndarray], np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        self.optimization = optimization
        self.auto_encoder = auto_encoder
        self.seed = seed

    @property
    def name(self) -> str:  # type: ignore[override]
        """``nice-sparsity``, ``nice-proximity`` or ``nice-plausibility``."""
        return f"nice-{self.optimization}"

    def _validate_params(self) -> None:
        optimization, auto_encoder, seed = self.optimization, self.auto_encoder, self.seed
        if optimization not in OPTIMIZATIONS:
            raise SensecfError(
                f"NICE optimization must be one of {list(OPTIMIZATIONS)}; got {optimization!r}"
            )
        if auto_encoder is not None and not callable(auto_encoder):
            raise SensecfError(
                "NICE auto_encoder must be a callable returning per-row reconstruction errors; "
                f"got {type(auto_encoder).__name__}"
            )
        if auto_encoder is not None and optimization != "plausibility":
            raise SensecfError(
                f"NICE uses an auto_encoder only with optimization='plausibility', not {optimization!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SensecfError(f"NICE seed must be an integer; got {seed!r}")

    def _fit(self) -> None:
        try:
            from nice import NICE as NiceExplainer
        except ImportError as exc:
            raise SensecfError(
                f"NICE needs the nicex package: pip install --no-deps nicex==0.2.3 ({exc})"
            ) from None
        spec, model = self.spec_, self.model_
        X = self.reference_.X.to_numpy(dtype=float, copy=True)
        labels = self.reference_.y.to_numpy()
        if not len(X):
            raise SensecfError("NICE needs reference rows; the reference data has none")
        self.stand_ins_ = stand_ins(spec, X)
        # NICE casts columns of the arrays it is given in place: a writable copy, no NaN.
        filled = fill_missing(X, self.stand_ins_)
        # NICE compares labels with the argmax column of predict_proba: labels as column indices.
        y = np.searchsorted(model.classes, labels)
        cat = [j for j, f in enumerate(spec.features) if f.levels is not None]
        num = [j for j in range(len(spec.features)) if j not in cat]
        auto_encoder = None
        if self.optimization == "plausibility":
            auto_encoder = self.auto_encoder or ReconstructionError(seed=int(self.seed)).fit(filled)
        self.predict_fn_ = _MissingKept(model)
        # While NICE classifies the reference rows, each keeps its own missing values.
        self.predict_fn_.missing = np.isnan(X)
        try:
            self.explainer_ = NiceExplainer(
                self.predict_fn_,
                filled,
                cat_feat=cat,
                num_feat=num,
                y_train=y,
                optimization=self.optimization,
                justified_cf=True,
                auto_encoder=auto_encoder,
            )
            # Reference rows NICE may copy from, per class: predicted (argmax) as labelled.
            predicted = self.predict_fn_(filled).argmax(axis=1)
        finally:
            self.predict_fn_.missing = None
        self.neighbours_ = {
            c: int(((predicted == i) & (y == i)).sum()) for i, c in enumerate(model.classes)
        }

    def _propose(
        self, query: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator
    ) -> Candidates:
        model = self.model_
        row = query.reshape(1, -1)
        if model.predict(row)[0] == desired:
            raise ValueError(
                f"the model already puts this query in the desired class {desired}; NICE would "
                "still copy a feature from a neighbour, so it is not asked"
            )
        if not self.neighbours_[desired]:
            raise ValueError(
                f"no reference row is both labelled {desired} and predicted as it, so NICE has "
                "no neighbour to copy from"
            )
        target = model.classes.index(desired)
        missing = np.isnan(query)
        self.predict_fn_.missing = missing
        try:
            cf = self.explainer_.explain(fill_missing(row, self.stand_ins_), target_class=[target])
        except _NothingLeft:
            raise ValueError(
                "NICE copied every value of its nearest neighbour of the desired class, and the "
                "model still does not put the result in that class: the query's missing values "
                "stay missing, and without them the neighbour's values do not flip it"
            ) from None
        finally:
            self.predict_fn_.missing = None
        values = np.array(cf, dtype=float).reshape(1, -1)
        values[:, missing] = np.nan  # whatever NICE copied there, the value is still unknown
        return Candidates(values)


class _NothingLeft(Exception):
    """NICE's search ran out of values to copy without reaching the desired class."""


class _MissingKept:
    """The model's ``predict_proba`` as NICE calls it, with NaN put back where values are
    ``missing`` (a mask broadcast over the rows; ``None``: rows as given)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.missing: np.ndarray | None = None

    def __call__(self, rows: Any) -> np.ndarray:
        values = np.array(rows, dtype=float)
        if not len(values):
            # NICE asks for no rows once its candidate equals the neighbour: nothing left to copy.
            raise _NothingLeft
        if self.missing is not None:
            values[np.broadcast_to(self.missing, values.shape)] = np.nan
        return np.asarray(self.model.predict_proba(values))


class ReconstructionError:
    """Per-row reconstruction error of a small autoencoder fitted on standardised rows.

    An ``MLPRegressor`` learns to reproduce the standardised rows through one ``tanh`` layer
    narrower than the input (``hidden`` units, by default a third of the features, at least
    2); a row's error is its mean squared reconstruction error. Missing values count as the
    feature's mean. Seeded, and fitted in about a second on a few thousand rows.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 1))
    >>> X = np.hstack([z, 2 * z, -z]) + 0.01 * rng.normal(size=(200, 3))
    >>> ae = ReconstructionError(seed=0).fit(X)
    >>> on, off = ae(np.array([[1.0, 2.0, -1.0], [1.0, -2.0, 1.0]]))
    >>> bool(on < off)
    True
    """

    def __init__(self, hidden: int | None = None, *, seed: int = 0, max_iter: int = 500) -> None:
        self.hidden = hidden
        self.seed = seed
        self.max_iter = max_iter

    def fit(self, X: np.ndarray) -> ReconstructionError:
        """Fit the scaler and the autoencoder on complete rows of ``X``."""
        X = np.asarray(X, dtype=float)
        X = X[~np.isnan(X).any(axis=1)]
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        hidden = self.hidden or max(2, X.shape[1] // 3)
        self.network_ = MLPRegressor(
            hidden_layer_sizes=(hidden,),
            activation="tanh",
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            # An autoencoder need not converge to rank rows by how typical they are.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.network_.fit(Z, Z)
        return self

    def __call__(self, X: Any) -> np.ndarray:
        """Mean squared reconstruction error of each row (in standardised units)."""
        Z = self.scaler_.transform(np.atleast_2d(np.asarray(X, dtype=float)))
        Z = np.nan_to_num(Z, nan=0.0)
        return ((self.network_.predict(Z) - Z) ** 2).mean(axis=1)
