"""The spec's relations inside the exact program.

:func:`plan_relations` reads the spec once: a derived feature whose formula is affine in its
inputs (:func:`sensecf.data.relations.affine_form`) becomes a continuous variable tied to its
inputs by an equality row; one that is a quotient of two affine forms (a ratio,
:func:`~sensecf.data.relations.ratio_form`) is never a variable, but every condition on it is
linear for a positive denominator: ``num / den <= t`` holds exactly when
``num - t * den <= 0``. Checks whose two sides are affine become inequality rows. Anything else
(``abs``, ``min``, ``max``, products of features, a ratio read by another relation) is named in
:attr:`RelationPlan.unsupported`, and the oracle searches instead.

Per query, :class:`RelationProgram` writes those rows into a program whose encoding (trees or
a linear model) has given every feature that feeds a relation a value that can take each of its
admissible values (:meth:`.milp.ProgramBuilder.add_intervals`). Derived features are never
counted as changed: they move as consequences of their inputs. Each derived feature must stay
within what the query allows it (its bounds and direction), as :func:`~sensecf.data.constraints.project`
demands.

Splits on a derived feature are exact up to a band of ``margin`` around the threshold (the
solver's own tolerance, widened when a solution does not hold in floating point). A linear
model's term in a ratio is bilinear; :meth:`RelationProgram.ratio_value` brackets the ratio
between levels, so the program can be solved as an inner approximation (every solution valid)
and as an outer relaxation (a lower bound on the fewest changes).

>>> from sensecf.data.relations import Relation
>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
...     features=[FeatureSpec(name=n, bounds=(0, 900)) for n in ("deep", "awake", "total", "eff")],
...     relations=[Relation(derived="total", formula="2 * deep"),
...                Relation(derived="eff", formula="100 * total / (total + awake)")])
>>> plan = plan_relations(spec)
>>> sorted(plan.linear), sorted(plan.ratios), sorted(plan.linked), plan.unsupported
([2], [3], [0, 1], ())
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sensecf.data.constraints import allowed_ranges, expand_inputs, recompute, unmet_relations
from sensecf.data.relations import (
    AffineForm,
    affine_form,
    check_form,
    derivation_order,
    ratio_form,
)
from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.admissible import grain_ends
from sensecf.generators.oracle.milp import Expr, ProgramBuilder

# Levels a linear model's ratio term is bracketed by (more when the bounds disagree).
RATIO_LEVELS = 40
# A split on a derived feature keeps this far (relative, at least the solver's row tolerance)
# from the threshold, times the widening of the encoding's tolerance.
SPLIT_MARGIN = 1e-9
ROW_TOLERANCE = 1e-7


@dataclass(frozen=True)
class RelationPlan:
    """How the spec's relations enter the program (feature positions in spec order)."""

    linear: dict[int, AffineForm] = field(default_factory=dict)
    ratios: dict[int, tuple[AffineForm, AffineForm]] = field(default_factory=dict)
    checks: list[tuple[AffineForm, str, float]] = field(default_factory=list)
    order: tuple[int, ...] = ()
    linked: frozenset[int] = frozenset()
    unsupported: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """No relation over a feature that may change."""
        return not (self.linear or self.ratios or self.checks)


def plan_relations(spec: DatasetSpec) -> RelationPlan:
    """Sort the spec's relations over features that may change into what the program encodes
    (linear derived, ratio derived, linear checks) and what it cannot (their labels)."""
    index = {name: j for j, name in enumerate(spec.feature_names)}
    mutable = {f.name for f in spec.mutable_features}
    derived = set(spec.derived_features)
    linear: dict[int, AffineForm] = {}
    ratios: dict[int, tuple[AffineForm, AffineForm]] = {}
    checks: list[tuple[AffineForm, str, float]] = []
    unsupported: list[str] = []
    reads: list[tuple[str, set[str]]] = []  # (label, names read) of each encoded relation
    ordered = [*derivation_order(spec.relations), *(r for r in spec.relations if r.check)]
    for relation in ordered:
        if not mutable & set(expand_inputs(spec, relation.features)):
            continue  # the same for every counterfactual
        if relation.derived is not None:
            j = index[relation.derived]
            form = affine_form(str(relation.formula))
            quotient = None if form is not None else ratio_form(str(relation.formula))
            if form is not None:
                linear[j] = form
                reads.append((relation.label, set(form.coefficients)))
            elif quotient is not None:
                ratios[j] = quotient
                names = set(quotient[0].coefficients) | set(quotient[1].coefficients)
                reads.append((relation.label, names))
            else:
                unsupported.append(relation.label)
        else:
            sides = check_form(relation)
            if sides is None:
                unsupported.append(relation.label)
            else:
                checks.append((sides[0], sides[1], relation.tolerance))
                reads.append((relation.label, set(sides[0].coefficients)))
    # A ratio (or an unencoded derived feature) read by another relation is not linear there.
    opaque = {spec.feature_names[j] for j in ratios} | {
        str(r.derived) for r in spec.relations if r.derived and r.label in unsupported
    }
    for label, names in reads:
        if names & opaque and label not in unsupported:
            unsupported.append(label)
    order = tuple(
        index[str(r.derived)]
        for r in derivation_order(spec.relations)
        if index[str(r.derived)] in linear or index[str(r.derived)] in ratios
    )
    linked = {index[n] for _, names in reads for n in names if n not in derived}
    return RelationPlan(
        linear, ratios, checks, order, frozenset(linked), tuple(dict.fromkeys(unsupported))
    )


class RelationProgram:
    """One query's relations: ranges of derived features, and their rows in a program.

    ``low``/``high`` come from :func:`.admissible.change_range` (NaN where a feature may not
    change); ``widen`` scales the margin kept around splits on derived features.
    """

    def __init__(
        self,
        plan: RelationPlan,
        spec: DatasetSpec,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        widen: float = 1.0,
    ) -> None:
        self.plan = plan
        self.spec = spec
        self.query = query
        self.widen = widen
        self.lo = query.astype(float).copy()
        self.hi = query.astype(float).copy()
        for j in plan.linked:
            if math.isfinite(low[j]):
                ends = grain_ends(spec.features[j], low[j], high[j])
                if len(ends):
                    self.lo[j], self.hi[j] = min(ends[0], query[j]), max(ends[1], query[j])
        allowed_lo, allowed_hi = (a[0] for a in allowed_ranges(spec, query[None, :]))
        self.usable = bool(
            np.allclose(
                recompute(spec, query[None, :])[0], query, rtol=1e-9, atol=1e-9, equal_nan=True
            )
            and not unmet_relations(spec, query[None, :]).any()
        )
        names = spec.feature_names
        for j in plan.order:
            if j in plan.linear:
                lo, hi = self._range(plan.linear[j])
            else:
                num, den = plan.ratios[j]
                n_lo, n_hi = self._range(num)
                d_lo, d_hi = self._range(den)
                if den.value(dict(zip(names, query, strict=True))) <= 0:
                    self.usable = False  # the query's own ratio is not defined
                d_lo = max(d_lo, self._floor(den))
                if d_hi < d_lo:
                    self.usable = False
                corners = [n / dd for n in (n_lo, n_hi) for dd in (d_lo, d_hi)]
                lo, hi = min(corners), max(corners)
            self.lo[j] = max(lo, allowed_lo[j])
            self.hi[j] = min(hi, allowed_hi[j])
            if self.lo[j] > self.hi[j]:
                self.lo[j] = self.hi[j] = query[j]
        self.values: dict[int, Expr] = {}
        self.quotients: dict[int, tuple[Expr, Expr]] = {}

    def _range(self, form: AffineForm) -> tuple[float, float]:
        names = self.spec.feature_names
        lo = hi = form.constant
        for name, a in form.coefficients.items():
            j = names.index(name)
            ends = (a * self.lo[j], a * self.hi[j])
            lo, hi = lo + min(ends), hi + max(ends)
        return lo, hi

    def _floor(self, den: AffineForm) -> float:
        """The smallest denominator the program allows (it must stay positive)."""
        q = float(den.value(dict(zip(self.spec.feature_names, self.query, strict=True))))
        return 1e-9 * max(1.0, abs(q))

    def extremes(self, ends: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per feature smallest and largest value, derived features' filled in."""
        lo, hi = ends[0].copy(), ends[1].copy()
        for j in self.plan.order:
            lo[j], hi[j] = self.lo[j], self.hi[j]
        return lo, hi

    def _expr(self, form: AffineForm) -> Expr:
        out = Expr.constant(form.constant)
        for name, a in form.coefficients.items():
            j = self.spec.feature_names.index(name)
            out = out.plus(self.values.get(j, Expr.constant(float(self.query[j]))), a)
        return out

    def encode(self, builder: ProgramBuilder, handles: dict[int, Expr]) -> None:
        """The relations' rows, given each linked feature's value (``handles``; a feature
        without one keeps the query's value)."""
        plan = self.plan
        self.values = dict(handles)
        for j in plan.order:
            if j in plan.linear:
                expr = self._expr(plan.linear[j])
                lo, hi = self.lo[j], self.hi[j]
                col = builder.add_continuous(1, lo, hi)
                value = Expr(0.0, np.array([col]), np.array([1.0]), lo, hi)
                builder.add_row(value.plus(expr, -1.0), 0.0, 0.0)
                self.values[j] = value
            else:
                num, den = (self._expr(f) for f in plan.ratios[j])
                builder.add_row(den, self._floor(plan.ratios[j][1]), np.inf)
                # Within its range: num - lo * den >= 0 and num - hi * den <= 0.
                builder.add_row(num.plus(den, -self.lo[j]), 0.0, np.inf)
                builder.add_row(num.plus(den, -self.hi[j]), -np.inf, 0.0)
                self.quotients[j] = (num, den)
        for form, op, tolerance in plan.checks:
            expr = self._expr(form)
            lb = -np.inf if op == "<=" else -tolerance
            ub = np.inf if op == ">=" else tolerance
            builder.add_row(expr, lb, ub)

    def split(self, builder: ProgramBuilder, j: int, left_max: float, right_min: float) -> int:
        """The binary of a split on derived feature ``j``: 0 when its value is at most
        ``left_max``, 1 when at least ``right_min`` (raw units, a margin kept from both)."""
        margin = self.widen * max(ROW_TOLERANCE, SPLIT_MARGIN * abs(right_min))
        left, right = left_max - margin, right_min + margin
        if j in self.values:
            return builder.add_indicator(self.values[j], left, right)
        num, den = self.quotients[j]
        return _ratio_indicator(builder, num, den, left, right)

    def ratio_value(self, builder: ProgramBuilder, j: int, pick: str, levels: int) -> Expr:
        """A linear model's view of ratio ``j``: its value bracketed between ``levels`` levels.

        ``pick``: ``"low"`` or ``"high"`` (the bracket's lower or upper end, an inner
        approximation of the score when it is the end that helps least) or ``"free"``
        (anywhere in the bracket: an outer relaxation).
        """
        num, den = self.quotients[j]
        lo, hi = self.lo[j], self.hi[j]
        inner = np.linspace(lo, hi, levels + 2)[1:-1]
        q = float(self.query[j])
        if lo < q < hi:
            inner = np.union1d(inner, [q])
        if hi <= lo or not len(inner):
            return Expr.constant(lo if pick != "high" else hi)
        ts = np.r_[lo, inner, hi]
        z = [_ratio_indicator(builder, num, den, t, t) for t in inner]
        for a, b in zip(z[:-1], z[1:], strict=True):  # z[k] >= z[k+1]
            builder.add_rows_coo(
                np.full(2, builder.n_rows), np.array([a, b]), np.array([1.0, -1.0])
            )
            builder.close_rows(1, 0.0, np.inf)
        cols = np.array(z, dtype=int)
        low = Expr(float(ts[0]), cols, np.diff(ts)[:-1], float(lo), float(inner[-1]))
        high = Expr(float(ts[1]), cols, np.diff(ts)[1:], float(inner[0]), float(hi))
        if pick == "low":
            return low
        if pick == "high":
            return high
        e = builder.add_continuous(1, lo, hi)
        value = Expr(0.0, np.array([e]), np.array([1.0]), lo, hi)
        builder.add_row(value.plus(low, -1.0), 0.0, np.inf)
        builder.add_row(value.plus(high, -1.0), -np.inf, 0.0)
        return value


def _ratio_indicator(
    builder: ProgramBuilder, num: Expr, den: Expr, left: float, right: float
) -> int:
    """Binary ``y``: ``num <= left * den`` when 0, ``num >= right * den`` when 1 (den > 0)."""
    y = builder.add_vars(1, 0.0, 1.0, integer=True)
    ycol = Expr(0.0, np.array([y]), np.array([1.0]), 0.0, 1.0)
    below = num.plus(den, -left)  # <= 0 unless y
    builder.add_row(below.plus(ycol, -max(below.hi, 0.0)), -np.inf, 0.0)
    above = num.plus(den, -right)  # >= 0 if y
    floor = min(above.lo, 0.0)
    builder.add_row(above.plus(ycol, floor), floor, np.inf)
    return y
