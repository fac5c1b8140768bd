"""Linear models as mixed-integer programs.

The score is ``sum_j w_j x_j + b`` in raw units (a scaler's affine map folded into ``w`` and
``b``) and P(positive) is its logistic function. Moving a feature against the direction that
helps never helps, so each feature that may change gets, in the helping direction only:

- a step feature (integer or continuous): ``x = q (1 - c) + step * k`` with ``c`` binary
  (changed) and ``k`` an integer grain index, ``k = 0`` when unchanged;
- a coded feature (binary or categorical levels): one binary per admissible level.

Its MAD-scaled distance is linear in these variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier

from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.admissible import GRAIN_EPS, grain_near, interval_starts
from sensecf.generators.oracle.encoding import (
    Link,
    Preprocessing,
    UnsupportedModel,
    positive_column,
)
from sensecf.generators.oracle.milp import Expr, ProgramBuilder, _Feature
from sensecf.generators.oracle.relations import RATIO_LEVELS, RelationProgram
from sensecf.models.classifier import TrainedClassifier


@dataclass(frozen=True)
class LinearEncoding:
    """``score(x) = weights @ x + intercept`` in raw units; P(positive) = link(score).

    ``model_weights`` and ``model_intercept`` are the same score on what the estimator sees.
    """

    weights: np.ndarray
    intercept: float
    model_weights: np.ndarray
    model_intercept: float
    link: Link
    preprocessing: Preprocessing

    def score(self, X: np.ndarray) -> np.ndarray:
        """The score of raw rows, computed as the estimator does (after the real steps)."""
        Z = self.preprocessing.transform(np.atleast_2d(X))
        return Z @ self.model_weights + self.model_intercept

    def program(
        self,
        spec: DatasetSpec,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        scale: np.ndarray,
        bound: tuple[str, float],
        relations: RelationProgram | None = None,
        ratio_pick: str = "inner",
        ratio_levels: int = RATIO_LEVELS,
    ) -> ProgramBuilder:
        """The program for one query (arguments as for the tree ensembles' ``program``).

        A feature that feeds a relation may move either way its spec allows (a check may ask
        it to); a ratio's term is bracketed (:meth:`.relations.RelationProgram.ratio_value`):
        ``ratio_pick="inner"`` takes the end that helps least (every solution valid),
        ``"outer"`` any value in the bracket (a relaxation: its optimum bounds the fewest
        changes). ``builder.relaxed`` says whether any bracket was used.
        """
        sense, target = bound
        builder = ProgramBuilder(spec, query, scale)
        score_cols: list[int] = []
        score_vals: list[float] = []
        constant = self._constant(query)
        linked = relations.plan.linked if relations is not None else frozenset()
        handles: dict[int, Expr] = {}
        for j, feature in enumerate(spec.features):
            w = float(self.weights[j])
            if j in linked:
                if math.isfinite(low[j]):
                    starts, counts = interval_starts(feature, query[j], low[j], high[j])
                    if len(starts) > 1:
                        handles[j] = builder.add_intervals(j, starts, counts)[1]
                        constant += w * (handles[j].const - query[j])
                        score_cols += handles[j].cols.tolist()
                        score_vals += (w * handles[j].vals).tolist()
                continue
            if w == 0 or not math.isfinite(low[j]):
                continue
            # Lowering the score helps when the desired side is "<=".
            up = (w < 0) if sense == "<=" else (w > 0)
            lo, hi = (max(low[j], query[j]), high[j]) if up else (low[j], min(high[j], query[j]))
            if feature.levels is not None:
                levels = grain_near(feature, np.empty(0), lo, hi)
                levels = levels[levels != query[j]]
                if not len(levels):
                    continue
                cols, vals = self._levels(builder, j, levels, scale[j])
            else:
                step = float(feature.step)
                q_index = query[j] / step
                if up:
                    first = math.floor(q_index + GRAIN_EPS) + 1
                    first = max(first, math.ceil(lo / step - GRAIN_EPS))
                    last = math.floor(hi / step + GRAIN_EPS)
                else:
                    first = math.ceil(lo / step - GRAIN_EPS)
                    last = math.ceil(q_index - GRAIN_EPS) - 1
                    last = min(last, math.floor(hi / step + GRAIN_EPS))
                if first > last:
                    continue
                cols, vals = self._steps(builder, j, first, last, step, up, scale[j])
            score_cols += cols
            score_vals += [w * v for v in vals]
        if relations is not None:
            relations.encode(builder, handles)
            up = sense == ">="
            for j in relations.plan.order:
                w = float(self.weights[j])
                if w == 0:
                    continue
                if j in relations.values:
                    term = relations.values[j]
                else:
                    helps_up = (w > 0) == up  # a larger ratio helps
                    least = "low" if helps_up else "high"  # the bracket's end that helps least
                    pick = "free" if ratio_pick == "outer" else least
                    term = relations.ratio_value(builder, j, pick, ratio_levels)
                    builder.relaxed = True
                constant += w * (term.const - query[j])
                score_cols += term.cols.tolist()
                score_vals += (w * term.vals).tolist()
        builder.add_rows_coo(
            np.full(len(score_cols), builder.n_rows),
            np.asarray(score_cols, dtype=np.intp),
            np.asarray(score_vals, dtype=float),
        )
        rhs = target - constant
        builder.close_rows(1, -np.inf if sense == "<=" else rhs, rhs if sense == "<=" else np.inf)
        return builder

    def _constant(self, query: np.ndarray) -> float:
        """The query's score in raw units; a missing feature (kept missing in every
        counterfactual) counts with the value the preprocessing gives it (an imputer's)."""
        gaps = np.isnan(query)
        if not gaps.any():
            return self.intercept + float(self.weights @ query)
        missing = self.preprocessing.missing
        filled = np.full(int(gaps.sum()), np.nan) if missing is None else missing[gaps]
        if not np.isfinite(filled).all():
            names = [self.preprocessing.feature_names[j] for j in np.flatnonzero(gaps)]
            raise UnsupportedModel(
                f"the query is missing {names} and the linear model has no imputer to fill "
                "them; it cannot score the query"
            )
        present = ~gaps
        return (
            self.model_intercept
            + float(self.weights[present] @ query[present])
            + float(self.model_weights[present] @ self.preprocessing.shift[present])
            + float(self.model_weights[gaps] @ filled)
        )

    @staticmethod
    def _steps(
        builder: ProgramBuilder, j: int, first: int, last: int, step: float, up: bool, scale: float
    ) -> tuple[list[int], list[float]]:
        """x = q (1 - c) + step k: returns the columns and coefficients of x - q."""
        feature = builder.spec.features[j]
        q = float(builder.query[j])
        c = builder.add_vars(1, 0.0, 1.0, integer=True)
        k = builder.add_vars(1, min(first, 0), max(last, 0), integer=True)
        # first * c <= k <= last * c
        row = builder.n_rows
        builder.add_rows_coo(
            np.array([row, row, row + 1, row + 1]),
            np.array([k, c, k, c]),
            np.array([1.0, -first, 1.0, -last]),
        )
        builder.close_rows_bounds(np.array([0.0, -np.inf]), np.array([np.inf, 0.0]))
        sign = 1.0 if up else -1.0
        far = (last * step - q) if up else (q - first * step)

        def decode(v: np.ndarray) -> float:
            if round(v[c]) == 0:
                return q
            return float(feature.round([round(v[k]) * step])[0])

        builder.register(
            j,
            _Feature(
                changed=c,
                cost_cols=np.array([k, c]),
                cost_vals=np.array([sign * step, -sign * q]) / scale,
                cost_const=0.0,
                max_cost=abs(far) / scale,
                decode=decode,
            ),
        )
        return [k, c], [step, -q]

    @staticmethod
    def _levels(
        builder: ProgramBuilder, j: int, levels: np.ndarray, scale: float
    ) -> tuple[list[int], list[float]]:
        """One binary per level; changed = their sum. Returns columns and coefficients of x - q."""
        q = float(builder.query[j])
        c = builder.add_vars(1, 0.0, 1.0, integer=True)
        u = builder.add_vars(len(levels), 0.0, 1.0, integer=True)
        cols = u + np.arange(len(levels))
        builder.add_rows_coo(
            np.full(len(levels) + 1, builder.n_rows),
            np.r_[cols, c],
            np.r_[np.ones(len(levels)), -1.0],
        )
        builder.close_rows(1, 0.0, 0.0)
        delta = levels - q

        def decode(v: np.ndarray) -> float:
            picked = np.flatnonzero(np.round(v[cols]) > 0)
            return float(levels[picked[0]]) if len(picked) else q

        builder.register(
            j,
            _Feature(
                changed=c,
                cost_cols=cols,
                cost_vals=np.abs(delta) / scale,
                cost_const=0.0,
                max_cost=float(np.abs(delta).max() / scale),
                decode=decode,
            ),
        )
        return list(cols), list(delta)


def read_linear(
    estimator: Any, model: TrainedClassifier, preprocessing: Preprocessing
) -> LinearEncoding | None:
    """The encoding of a binary logistic model; None when the estimator is not one."""
    logistic = isinstance(estimator, (LogisticRegression, LogisticRegressionCV)) or (
        isinstance(estimator, SGDClassifier) and estimator.loss in ("log_loss", "log")
    )
    if not logistic:
        return None
    coef = np.asarray(estimator.coef_, dtype=float)
    if coef.shape[0] != 1:
        return None
    sign = 1.0 if positive_column(estimator, model) == 1 else -1.0
    w_model = sign * coef[0]
    b_model = sign * float(np.ravel(estimator.intercept_)[0])
    weights = w_model * preprocessing.slope
    intercept = b_model + float(w_model @ preprocessing.shift)
    return LinearEncoding(weights, intercept, w_model, b_model, Link("logistic"), preprocessing)
