"""One query's mixed-integer program, and how it is solved (SciPy's ``milp``, i.e. HiGHS).

A model encoding (:mod:`.trees`, :mod:`.linear`) fills a :class:`ProgramBuilder`: variables,
constraint rows, and for each feature that may change a binary ``changed`` variable, its
MAD-scaled distance from the query as a linear expression, and how to read its value back.

:func:`solve` minimises ``W * changed features + price`` with ``W`` above any possible price, so
the fewest changes come first and the cheapest change breaks ties. The price is the MAD-scaled
L1 (``scale``: the MAD scales), or, where the spec states efforts, each change's effort: the
oracle passes ``scale`` as the inverse of each feature's per-unit price and ``fixed`` as its
price of changing at all (:class:`~sensecf.data.scales.EffortPrices`). With
``objective="cost"`` the price comes first and the number of changes only breaks ties. Further solutions come
from no-good cuts: first "change a set of features that is not a superset of an earlier
solution's set" (different ways to flip the prediction); when no such set is left, "take
another value on some feature" where the encoding lists each feature's values (trees), else
"change another set of features" (supersets allowed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp
from scipy.sparse import coo_matrix

from sensecf.data.constraints import recompute
from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.budget import Budget
from sensecf.generators.oracle.supports import Inconclusive, Support, SupportSearch

logger = logging.getLogger(__name__)

MIP_REL_GAP = 1e-4
# Solves after the first, per solution asked for (no-good cuts; see :func:`solve`).
EXTRA_SOLVES = 3
# A feature with at most this many admissible values lists them all (enumeration proves).
ALL_VALUES_UP_TO = 16
# What the program minimises first: the number of changes, or the price of the change.
OBJECTIVES = ("changes", "cost")
# Under the "cost" objective, each change adds this to the price (fewer changes break ties).
CHANGE_TIE = 1e-3


class NumericalTrouble(Exception):
    """The solver's answer does not flip the real model (it lies within the tolerance)."""


@dataclass
class _Feature:
    changed: int  # column of the binary "changed" variable
    cost_cols: np.ndarray
    cost_vals: np.ndarray
    cost_const: float
    max_cost: float
    decode: Callable[[np.ndarray], float]
    value_cut: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, float]] | None = None
    candidates: np.ndarray | None = None  # every value it may take, where they are few
    samples: np.ndarray | None = None  # some values it may take (a quick search, no proof)
    value: Expr | None = None  # the value it takes, in the program's variables


@dataclass(frozen=True)
class Expr:
    """``const + vals @ v[cols]``, a linear expression of the program's variables, with the
    smallest and largest value it can take (for big-M rows).

    >>> e = Expr.constant(2.0).plus(Expr(0.0, np.array([3]), np.array([1.0]), 0.0, 5.0), -2.0)
    >>> e.const, e.cols.tolist(), e.vals.tolist(), e.lo, e.hi
    (2.0, [3], [-2.0], -8.0, 2.0)
    """

    const: float
    cols: np.ndarray
    vals: np.ndarray
    lo: float
    hi: float

    @staticmethod
    def constant(value: float) -> Expr:
        """A number."""
        return Expr(float(value), np.empty(0, dtype=int), np.empty(0), float(value), float(value))

    def plus(self, other: Expr, factor: float = 1.0) -> Expr:
        """``self + factor * other`` (bounds by interval arithmetic)."""
        ends = (factor * other.lo, factor * other.hi)
        return Expr(
            self.const + factor * other.const,
            np.r_[self.cols, other.cols].astype(int),
            np.r_[self.vals, factor * other.vals],
            self.lo + min(ends),
            self.hi + max(ends),
        )

    def value(self, v: np.ndarray) -> float:
        """Its value at a solution ``v``."""
        return float(self.const + self.vals @ v[self.cols]) if len(self.cols) else self.const


@dataclass
class ProgramBuilder:
    """Variables and rows of one query's program, added block by block."""

    spec: DatasetSpec
    query: np.ndarray
    scale: np.ndarray
    n_vars: int = 0
    n_rows: int = 0
    features: dict[int, _Feature] = field(default_factory=dict)
    relaxed: bool = False  # a ratio term was bracketed, not encoded exactly
    fixed: np.ndarray | None = None  # per feature, the price of changing it at all
    objective: str = "changes"  # what comes first: the number of changes, or the price
    _lb: list[np.ndarray] = field(default_factory=list)
    _ub: list[np.ndarray] = field(default_factory=list)
    _int: list[np.ndarray] = field(default_factory=list)
    _rows: list[np.ndarray] = field(default_factory=list)
    _cols: list[np.ndarray] = field(default_factory=list)
    _vals: list[np.ndarray] = field(default_factory=list)
    _row_lb: list[np.ndarray] = field(default_factory=list)
    _row_ub: list[np.ndarray] = field(default_factory=list)

    # ---- variables and rows ------------------------------------------------------------
    def add_vars(
        self, n: int, lb: float | np.ndarray, ub: float | np.ndarray, integer: bool
    ) -> int:
        """``n`` new variables; returns the first one's column."""
        start = self.n_vars
        self._lb.append(np.broadcast_to(np.asarray(lb, float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, float), (n,)).copy())
        self._int.append(np.full(n, 1 if integer else 0))
        self.n_vars += n
        return start

    def add_continuous(self, n: int, lb: float, ub: float) -> int:
        """``n`` continuous variables in ``[lb, ub]``."""
        return self.add_vars(n, lb, ub, integer=False)

    def add_rows_coo(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        """Coefficients of rows not yet closed (row ids from :attr:`n_rows` on)."""
        self._rows.append(np.asarray(rows, dtype=int))
        self._cols.append(np.asarray(cols, dtype=int))
        self._vals.append(np.asarray(vals, dtype=float))

    def close_rows(self, count: int, lb: float, ub: float) -> None:
        """The next ``count`` rows hold values in ``[lb, ub]``."""
        self.close_rows_bounds(np.full(count, lb, float), np.full(count, ub, float))

    def close_rows_bounds(self, lb: np.ndarray, ub: np.ndarray) -> None:
        """The next ``len(lb)`` rows, each with its own bounds."""
        self._row_lb.append(np.asarray(lb, float))
        self._row_ub.append(np.asarray(ub, float))
        self.n_rows += len(lb)

    def add_row(self, expr: Expr, lb: float, ub: float) -> None:
        """One row: ``lb <= expr <= ub``."""
        self.add_rows_coo(np.full(len(expr.cols), self.n_rows), expr.cols, expr.vals)
        self.close_rows(1, lb - expr.const, ub - expr.const)

    def add_indicator(self, expr: Expr, left_max: float, right_min: float) -> int:
        """A binary ``y``: ``expr <= left_max`` when 0, ``expr >= right_min`` when 1.

        The side a split on a derived value takes; returns ``y``'s column (the caller has
        checked that both sides can be reached).
        """
        y = self.add_vars(1, 0.0, 1.0, integer=True)
        ycol = Expr(0.0, np.array([y]), np.array([1.0]), 0.0, 1.0)
        # expr - (hi - left_max) y <= left_max;  expr - (right_min - lo) y >= lo
        self.add_row(expr.plus(ycol, -(max(expr.hi, left_max) - left_max)), -np.inf, left_max)
        self.add_row(expr.plus(ycol, -(right_min - min(expr.lo, right_min))), expr.lo, np.inf)
        return y

    def chain_point(self, x: np.ndarray) -> np.ndarray | None:
        """The binaries of every feature's chain at row ``x`` (what a value cut reads; other
        columns 0), None where a feature is no chain or ``x``'s value is none of its values."""
        v = np.zeros(self.n_vars)
        for j, feature in self.features.items():
            if feature.value_cut is None or feature.candidates is None:
                return None
            at = np.flatnonzero(np.isclose(feature.candidates, x[j], rtol=0, atol=1e-9))
            if not len(at):
                return None
            v[feature.cost_cols[: at[0]]] = 1.0  # y[k] = 1 up to the value's position
        return v

    def register(self, j: int, feature: _Feature) -> None:
        """Feature ``j`` may change: its changed variable, distance and decoder."""
        self.features[j] = feature

    # ---- a feature as a chain of candidate values ----------------------------------------
    def add_chain(self, j: int, values: np.ndarray) -> int:
        """Feature ``j`` takes one of ``values`` (sorted, the query's among them).

        Binaries ``y[k] = 1`` when the value is ``values[k]`` or larger (``k = 1..m-1``);
        returns the column of ``y[1]``.
        """
        m = len(values)
        q = int(np.flatnonzero(values == self.query[j])[0])
        y = self._ordered_binaries(m)
        changed = self._changed_indicator(y, m, q)
        cost = np.abs(values - self.query[j]) / self.scale[j]

        def decode(v: np.ndarray) -> float:
            return float(values[int(round(v[y : y + m - 1].sum()))])

        def value_cut(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            # u[s] = y[s] - y[s+1] for the value s taken; returns (cols, vals, constant).
            s = int(round(v[y : y + m - 1].sum()))
            cut_cols, cut_vals, constant = [], [], 0.0
            if s >= 1:
                cut_cols.append(y + s - 1)
                cut_vals.append(1.0)
            else:
                constant += 1.0
            if s + 1 <= m - 1:
                cut_cols.append(y + s)
                cut_vals.append(-1.0)
            return np.array(cut_cols, dtype=int), np.array(cut_vals), constant

        self.register(
            j,
            _Feature(
                changed=changed,
                cost_cols=y + np.arange(m - 1),
                cost_vals=np.diff(cost),
                cost_const=float(cost[0]),
                max_cost=float(cost.max()),
                decode=decode,
                value_cut=value_cut,
                candidates=values,
                value=Expr(
                    float(values[0]),
                    y + np.arange(m - 1),
                    np.diff(values).astype(float),
                    float(values.min()),
                    float(values.max()),
                ),
            ),
        )
        return y

    # ---- a feature as intervals of its grain -----------------------------------------------
    def _ordered_binaries(self, m: int) -> int:
        """``m - 1`` binaries ``y[1..m-1]`` with ``y[k] >= y[k+1]`` (a value's position among
        ``m`` ordered choices); returns the first column."""
        y = self.add_vars(m - 1, 0.0, 1.0, integer=True)
        if m > 2:
            k = np.arange(m - 2)
            rows = self.n_rows + k
            self.add_rows_coo(
                np.r_[rows, rows], np.r_[y + k, y + k + 1], np.r_[np.ones(m - 2), -np.ones(m - 2)]
            )
            self.close_rows(m - 2, 0.0, np.inf)
        return y

    def _changed_indicator(self, y: int, m: int, q: int) -> int:
        """A binary that is 1 unless the ordered binaries at ``y`` pick position ``q`` (the
        query's own): changed = 1 - (y[q] - y[q+1]), with y[0] = 1 and y[m] = 0."""
        changed = self.add_vars(1, 0.0, 1.0, integer=True)
        cols, vals, const = [changed], [1.0], 1.0
        if q >= 1:
            cols.append(y + q - 1)
            vals.append(1.0)
        else:
            const -= 1.0
        if q + 1 <= m - 1:
            cols.append(y + q)
            vals.append(-1.0)
        self.add_rows_coo(np.full(len(cols), self.n_rows), np.array(cols), np.array(vals))
        self.close_rows(1, const, const)
        return changed

    def add_intervals(self, j: int, starts: np.ndarray, counts: np.ndarray) -> tuple[int, Expr]:
        """Feature ``j`` takes ``starts[k] + step * i`` for one interval ``k`` and ``i`` in
        ``0..counts[k]`` (``starts`` sorted, the query's value one of them with count 0).

        Unlike :meth:`add_chain` every admissible value stays available, so the value can feed
        relations. Binaries ``y[k] = 1`` when the value lies in interval ``k`` or a later one
        (``k = 1..m-1``); returns the column of ``y[1]`` and the value as an :class:`Expr`.
        """
        feature = self.spec.features[j]
        step = float(feature.step) if feature.levels is None else 0.0
        q = float(self.query[j])
        m = len(starts)
        qi = int(np.flatnonzero(starts == q)[0])
        y = self._ordered_binaries(m)
        top = float(starts[-1] + step * counts[-1])
        x = Expr(float(starts[0]), y + np.arange(m - 1), np.diff(starts), float(starts[0]), top)
        if counts.max() > 0:
            i = self.add_vars(1, 0.0, float(counts.max()), integer=True)
            # i <= counts[current interval]
            self.add_rows_coo(
                np.full(m, self.n_rows),
                np.r_[i, y + np.arange(m - 1)],
                np.r_[1.0, -np.diff(counts)],
            )
            self.close_rows(1, -np.inf, float(counts[0]))
            x = x.plus(Expr(0.0, np.array([i]), np.array([step]), 0.0, 0.0))
            x = Expr(x.const, x.cols, x.vals, float(starts[0]), top)
        changed = self._changed_indicator(y, m, qi)
        # |x - q| = p + n with p only above the query's interval, n only below it.
        up, down = max(top - q, 0.0), max(q - float(starts[0]), 0.0)
        p = self.add_vars(2, 0.0, np.array([up, down]), integer=False)
        self.add_row(
            Expr(0.0, np.array([p, p + 1]), np.array([1.0, -1.0]), -down, up).plus(x, -1.0),
            -q,
            -q,
        )
        if qi + 1 <= m - 1:  # p <= up * y[qi+1]
            self.add_rows_coo(np.full(2, self.n_rows), np.array([p, y + qi]), np.array([1.0, -up]))
            self.close_rows(1, -np.inf, 0.0)
        if qi >= 1:  # n <= down * (1 - y[qi])
            self.add_rows_coo(
                np.full(2, self.n_rows), np.array([p + 1, y + qi - 1]), np.array([1.0, down])
            )
            self.close_rows(1, -np.inf, down)
        ends = starts + step * counts
        samples = np.unique(np.r_[starts, ends])
        samples = samples[samples != q]
        candidates = None
        if int((counts + 1).sum()) <= ALL_VALUES_UP_TO:  # few: the enumeration may prove
            every = [starts[k] + step * np.arange(counts[k] + 1) for k in range(m)]
            candidates = np.unique(feature.round(np.concatenate(every)))
            candidates = np.unique(np.r_[candidates[~np.isclose(candidates, q, rtol=0)], q])

        def decode(v: np.ndarray) -> float:
            k = int(round(v[y : y + m - 1].sum())) if m > 1 else 0
            if k == qi:
                return q
            return float(feature.round([x.value(np.round(v))])[0])

        self.register(
            j,
            _Feature(
                changed=changed,
                cost_cols=np.array([p, p + 1]),
                cost_vals=np.array([1.0, 1.0]) / self.scale[j],
                cost_const=0.0,
                max_cost=max(up, down) / self.scale[j],
                decode=decode,
                candidates=candidates,
                samples=samples,
                value=x,
            ),
        )
        return y, x


@dataclass
class Outcome:
    """What the solver proved and found for one query."""

    solutions: list[np.ndarray]
    status: str  # optimal | feasible | infeasible | time_limit (a budget ran out)
    min_l0: float = math.nan
    bound: float = math.nan
    capped: bool = False  # infeasible only under the given cap on changes


def solve(
    builder: ProgramBuilder,
    n_solutions: int,
    budget: Budget,
    *,
    l0_cap: int | None = None,
    min_changes: int = 0,
    found: Sequence[np.ndarray] = (),
    accept: Callable[[np.ndarray], bool] = lambda x: True,
    extra_nodes: int | None = None,
    by_support: SupportSearch | None = None,
    avoid: Sequence[np.ndarray] = (),
    max_changes: int | None = None,
) -> Outcome:
    """Up to ``n_solutions`` counterfactuals: the optimum first, then by no-good cuts.

    ``l0_cap`` bounds the number of changes (a known counterfactual's), ``min_changes`` is a
    proven lower bound; ``found`` are optimal solutions already known (in order: the program
    only adds distinct ones after them). ``accept`` checks each solution with the real model
    (a rejected first solution raises :class:`NumericalTrouble`). Each solve stops at the
    ``budget``'s node limit (and its deadline, if any); the solves after the first get
    ``extra_nodes`` nodes each (default: the budget's), and at most :data:`EXTRA_SOLVES` of
    them per solution asked for, so the work is counted, not timed.

    ``by_support`` (a :class:`.supports.SupportSearch` of the same query) answers the first
    solve and the support cuts one support at a time: the same solutions, to the solver's
    tolerance, in far fewer seconds on a forest. Where it is inconclusive, the whole program
    takes over from that solve on (for the further solutions only where the search's
    ``hand_over`` allows it; else the search's answers are all: an inconclusive first solve
    ends as ``time_limit``, bounded by the sizes it searched, and the further solutions make
    as many changes as the first). ``avoid``: rows the first solution must differ from in
    some value (every feature a chain of values). ``max_changes``: a cap every solution keeps
    (the rules' or the person's), the further ones included; ``l0_cap`` bounds the first.
    """
    features = builder.features
    n = builder.n_vars
    order = sorted(features)
    ch_cols = np.array([features[j].changed for j in order], dtype=int)
    # The MAD-L1 as one continuous variable t: t - sum(cost terms) = sum(constants).
    t = builder.add_continuous(1, 0.0, np.inf)
    n = builder.n_vars
    cost_cols = np.concatenate([features[j].cost_cols for j in order] + [np.array([t])])
    cost_vals = np.concatenate([-features[j].cost_vals for j in order] + [np.array([1.0])])
    const = sum(features[j].cost_const for j in order)
    builder.add_rows_coo(np.full(len(cost_cols), builder.n_rows), cost_cols, cost_vals)
    builder.close_rows(1, const, const)
    fixed = np.zeros(len(order))
    if builder.fixed is not None and len(order):
        fixed = np.asarray(builder.fixed, dtype=float)[order]
    by_cost = builder.objective == "cost"
    weight = 1.0 + sum(features[j].max_cost for j in order) + float(fixed.sum())

    A = coo_matrix(
        (
            np.concatenate(builder._vals) if builder._vals else np.empty(0),
            (
                np.concatenate(builder._rows) if builder._rows else np.empty(0, int),
                np.concatenate(builder._cols) if builder._cols else np.empty(0, int),
            ),
        ),
        shape=(builder.n_rows, n),
    ).tocsr()
    row_lb = np.concatenate(builder._row_lb)
    row_ub = np.concatenate(builder._row_ub)
    c = np.zeros(n)
    c[ch_cols] = fixed + (CHANGE_TIE if by_cost else weight)
    c[t] = 1.0
    bounds = Bounds(np.concatenate(builder._lb), np.concatenate(builder._ub))
    integrality = np.concatenate(builder._int)
    base = LinearConstraint(A, row_lb, row_ub)

    nodes = {"limit": budget.node_limit}

    def run(extra: list[tuple[np.ndarray, float]]) -> OptimizeResult | None:
        if budget.out_of_time():
            return None
        constraints = [base]
        if extra:
            rows = np.vstack([r for r, _ in extra])
            constraints.append(LinearConstraint(rows, -np.inf, np.array([u for _, u in extra])))
        res = milp(
            c,
            integrality=integrality,
            bounds=bounds,
            constraints=constraints,
            options={**budget.milp_options(nodes["limit"]), "mip_rel_gap": MIP_REL_GAP},
        )
        if _ran_out(res):
            budget.ran_out(by_clock="time limit" in str(res.message).lower())
        return res

    def decode(v: np.ndarray) -> np.ndarray:
        x = builder.query.copy()
        for j in order:
            x[j] = features[j].decode(v)
        if builder.spec.relations:  # derived features follow their inputs
            x = recompute(builder.spec, x[None, :])[0]
        return x

    def l0_bound(res: object) -> float:
        dual = getattr(res, "mip_dual_bound", None)
        if dual is None or not np.isfinite(dual) or by_cost:  # a price bounds no count
            return 0.0
        return float(max(0, math.ceil((dual - (weight - 1.0)) / weight - 1e-9)))

    position = {j: i for i, j in enumerate(order)}
    settled = False  # the support search ended the further solutions
    values_ok = all(features[j].value_cut is not None for j in order)

    def by_support_next(
        mode: str, least: int = 1, most: int | None = None
    ) -> tuple[Support, np.ndarray] | None | Literal[False]:
        """The support search's next row and its support (None: there is none; False: the
        search is inconclusive, and the whole program answers from now on)."""
        nonlocal by_support, settled
        assert by_support is not None
        if rows_taken and not by_support.hand_over:  # no more changes than the first
            most = len(rows_taken[0][0]) if most is None else min(most, len(rows_taken[0][0]))
        try:
            return by_support.next(rows_taken, mode, least, most)
        except Inconclusive as exc:
            # Past the first solution, a search that may not hand over ends the solves.
            settled = bool(rows_taken) and not by_support.hand_over
            logger.debug(f"support search inconclusive ({exc}); settled: {settled}")
            by_support = None
            return False

    def whole_next(mode: str) -> tuple[np.ndarray, Support, np.ndarray] | None | Literal[False]:
        """The whole program's next row under ``mode``'s cuts: its solution, support and row
        (None: there is none; False: the solve stopped without one)."""
        if mode in ("support", "exact support"):
            cuts = []
            for s in supports:
                row = np.zeros(n)
                if mode == "exact support":  # another set of changed features, supersets too
                    row[ch_cols] = -1.0
                row[ch_cols[list(s)]] = 1.0
                cuts.append((row, len(s) - 1.0))
        else:
            cuts = [_value_cut(features, order, n, w) for w in values_taken]
        if max_changes is not None and len(ch_cols):  # the further solutions keep it too
            row = np.zeros(n)
            row[ch_cols] = 1.0
            cuts.append((row, float(max_changes)))
        res = run(cuts)
        if res is None or res.x is None:
            return None if res is not None and res.status == 2 else False
        v = res.x
        return v, tuple(order[i] for i in np.flatnonzero(np.round(v[ch_cols]) > 0)), decode(v)

    def take(v: np.ndarray | None, support: Support, x: np.ndarray) -> None:
        """Record a row the solver gave (``v``: its solution, where the whole program's)."""
        v = builder.chain_point(x) if v is None and values_ok else v
        if v is not None:
            values_taken.append(v)
        supports.append(frozenset(position[j] for j in support))
        rows_taken.append((support, x))

    supports: list[frozenset[int]] = []
    values_taken: list[np.ndarray] = []
    rows_taken: list[tuple[Support, np.ndarray]] = []
    if found:
        moved = [np.flatnonzero(~np.isclose(x[order], builder.query[order])) for x in found]
        l0 = len(moved[0])
        outcome = Outcome(list(found), "optimal", min_l0=l0, bound=l0)
        supports = [frozenset(m.tolist()) for m in moved]
        rows_taken = [(tuple(order[i] for i in m), x) for m, x in zip(moved, found, strict=True)]
        can_use_values = False
    else:
        search = by_support
        first = False if by_support is None else by_support_next("support", min_changes, l0_cap)
        if first is None:
            return Outcome([], "infeasible", bound=math.inf, capped=l0_cap is not None)
        if first is False and search is not None and not search.hand_over:
            # Its budget spent: the supports visited bound the fewest changes from below.
            return Outcome([], "time_limit", bound=float(max(min_changes, search.searched_ + 1)))
        if first is not False:
            support, x = first
            if not accept(x):
                raise NumericalTrouble("the solver's optimum does not flip the model")
            outcome = Outcome([x], "optimal", min_l0=len(support), bound=len(support))
            take(None, support, x)
        else:
            cap_rows: list[tuple[np.ndarray, float]] = []
            if len(ch_cols):
                row = np.zeros(n)
                row[ch_cols] = 1.0
                if l0_cap is not None:
                    cap_rows.append((row, float(l0_cap)))
                if min_changes > 0:
                    cap_rows.append((-row, -float(min_changes)))
            for x in avoid:
                w = builder.chain_point(x)
                if w is None:
                    raise ValueError("rows to avoid need every feature as a chain of values")
                cap_rows.append(_value_cut(features, order, n, w))
            res = run(cap_rows)
            if res is None:
                return Outcome([], "time_limit", bound=float(min_changes))
            if res.status == 2:
                return Outcome([], "infeasible", bound=math.inf, capped=l0_cap is not None)
            if res.x is None:
                if _ran_out(res):
                    return Outcome([], "time_limit", bound=max(l0_bound(res), min_changes))
                raise RuntimeError(f"the solver failed: {res.message}")
            v = res.x
            x = decode(v)
            if not accept(x):
                raise NumericalTrouble("the solver's optimum does not flip the model")
            l0 = int(round(v[ch_cols].sum()))
            status = "optimal" if res.status == 0 else "feasible"
            bound = l0 if status == "optimal" else max(l0_bound(res), min_changes)
            outcome = Outcome([x], status, min_l0=l0, bound=bound)
            take(v, tuple(order[i] for i in np.flatnonzero(np.round(v[ch_cols]) > 0)), x)
        can_use_values = True
    if extra_nodes is not None:
        nodes["limit"] = extra_nodes
    mode = "support"
    # Each solve adds a solution or ends the loop, except a solution the model rejects (within
    # the solver's tolerance) or a switch of cut: a count, not a clock, bounds the repeats.
    solves = EXTRA_SOLVES * n_solutions
    while len(outcome.solutions) < n_solutions and solves > 0:
        solves -= 1
        if mode in ("support", "exact support") and any(len(s) == 0 for s in supports):
            break
        split = False if by_support is None else by_support_next(mode, most=max_changes)
        answer: tuple[np.ndarray | None, Support, np.ndarray] | None | Literal[False]
        if settled:
            break
        if split is False:
            answer = whole_next(mode)
        else:
            answer = None if split is None else (None, split[0], split[1])
        if answer is None and mode == "support":  # no support is left: another kind of cut
            mode = "values" if can_use_values and values_ok else "exact support"
            continue
        if answer is None or answer is False:
            break
        v, support, x = answer
        take(v, support, x)
        if accept(x):
            outcome.solutions.append(x)
    return outcome


def _ran_out(res: OptimizeResult) -> bool:
    """Whether a solve stopped at a limit: SciPy says 1 for the time limit; HiGHS's node limit
    comes back as status 4, "Solution limit reached"."""
    return res.status == 1 or (res.status == 4 and "limit" in str(res.message).lower())


def _value_cut(
    features: dict[int, _Feature], order: list[int], n: int, v: np.ndarray
) -> tuple[np.ndarray, float]:
    """Not every feature may keep the value it has in solution ``v``."""
    row = np.zeros(n)
    constant = 0.0
    for j in order:
        cut = features[j].value_cut
        assert cut is not None
        cols, vals, const = cut(v)
        row[cols] += vals
        constant += const
    return row, len(order) - 1.0 - constant
