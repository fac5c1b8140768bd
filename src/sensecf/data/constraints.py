"""The spec's constraints applied to a query: what a counterfactual may change, and what it broke.

One place for the rules every generator obeys and every metric counts: fixed features stay put,
a feature moves only in its allowed direction, values stay within plausible bounds, coded
features take one of their levels (whole numbers for integers), and the spec's relations hold:
derived features equal their formula, checks are met (see :mod:`sensecf.data.relations`).
A person's own limits (:mod:`sensecf.data.limits`: features to keep, tighter bounds, a cap on
changes) are counted as their own kind, ``limits``, where a row's limits are given
(:class:`RowLimits`).

A missing value (NaN) in a query is a feature nobody measured for that person: its value is
unknown, so it is not changeable. Every counterfactual keeps it missing; one that gives it a
value has changed a feature it may not change (counted under ``fixed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensecf.data.relations import derivation_order
from sensecf.data.spec import DatasetSpec

VIOLATION_KINDS = ("fixed", "direction", "bounds", "grain", "relations", "limits")
# Relative tolerance under which a value counts as unchanged (floating-point noise, not a change).
CHANGE_RTOL = 1e-6


@dataclass(frozen=True)
class RowLimits:
    """Each row's person's limits as arrays (rows × features, spec order): ``keep`` (the
    feature must stay as it is), ``lower`` / ``upper`` (a changed value must lie within; -inf /
    inf where the person has no bound) and ``cap`` (per row, the most features a change may
    touch; inf where none). Made by :meth:`sensecf.data.limits.PersonLimits.rows`.

    >>> limits = RowLimits.none(2, 3)
    >>> limits.keep.shape, float(limits.cap[0])
    ((2, 3), inf)
    """

    keep: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cap: np.ndarray

    @classmethod
    def none(cls, n: int, d: int) -> RowLimits:
        """No limits for ``n`` rows of ``d`` features."""
        return cls(
            np.zeros((n, d), dtype=bool),
            np.full((n, d), -np.inf),
            np.full((n, d), np.inf),
            np.full(n, np.inf),
        )

    def take(self, rows: np.ndarray) -> RowLimits:
        """The limits of the given rows (positions), in that order."""
        return RowLimits(self.keep[rows], self.lower[rows], self.upper[rows], self.cap[rows])


def as_matrix(spec: DatasetSpec, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Feature values as a float matrix in spec order (rows × features)."""
    if isinstance(rows, pd.DataFrame):
        return rows[spec.feature_names].to_numpy(dtype=float, copy=True)
    arr = np.array(rows, dtype=float, copy=True)
    return arr.reshape(1, -1) if arr.ndim == 1 else arr


def changed(query: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """Boolean matrix: which features a counterfactual changed relative to its query.

    A value that stays missing is unchanged; a missing value given one, or a value dropped to
    missing, is a change.

    >>> changed(np.array([[1.0, 2.0, np.nan, np.nan]]), np.array([[1.0, 2.5, np.nan, 3.0]])).tolist()
    [[False, True, False, True]]
    """
    query, cf = np.broadcast_arrays(np.asarray(query, float), np.asarray(cf, float))
    scale = np.maximum(1.0, np.abs(query))
    with np.errstate(invalid="ignore"):
        # Written so that a NaN on one side counts as changed.
        same = np.abs(cf - query) <= CHANGE_RTOL * scale
    return ~(same | (np.isnan(query) & np.isnan(cf)))


def count_changes(spec: DatasetSpec, query: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """Per counterfactual, how many features a person changes (L0): derived features are left
    out, they move as consequences of their inputs.

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 900)) for n in ("deep", "light", "total")],
    ...     relations=[Relation(derived="total", formula="deep + light")])
    >>> count_changes(spec, np.array([60.0, 300.0, 360.0]), np.array([[90.0, 300.0, 390.0]])).tolist()
    [1]
    """
    moved = np.atleast_2d(changed(query, cf))
    derived = set(spec.derived_features)
    acted = np.array([name not in derived for name in spec.feature_names], dtype=bool)
    return moved[:, acted].sum(axis=1)


def allowed_ranges(spec: DatasetSpec, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query and feature, the lowest and highest value a counterfactual may take.

    Fixed features are pinned to the query's value; ``increase`` allows from the query's value up
    to the upper bound, ``decrease`` from the lower bound up to it, ``both`` the whole bounds.
    The query's own value is always allowed, even where it lies outside the plausible bounds.
    A feature the query is missing has no range (NaN at both ends): it stays missing.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 100), mutability="fixed"),
    ...     FeatureSpec(name="steps", bounds=(0, 50000), mutability="increase")])
    >>> lo, hi = allowed_ranges(spec, np.array([[50.0, 4000.0]]))
    >>> lo.tolist(), hi.tolist()
    ([[50.0, 4000.0]], [[50.0, 50000.0]])
    >>> allowed_ranges(spec, np.array([[50.0, np.nan]]))[1].tolist()
    [[50.0, nan]]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    lower = np.array([f.bounds[0] for f in spec.features])
    upper = np.array([f.bounds[1] for f in spec.features])
    lo = np.minimum(lower, query)
    hi = np.maximum(upper, query)
    for j, feature in enumerate(spec.features):
        if feature.mutability in ("fixed", "increase"):
            lo[:, j] = query[:, j]
        if feature.mutability in ("fixed", "decrease"):
            hi[:, j] = query[:, j]
    return lo, hi


def violations(
    spec: DatasetSpec, query: np.ndarray, cf: np.ndarray, limits: RowLimits | None = None
) -> pd.DataFrame:
    """Count, per counterfactual, the constraints it breaks (only changed features can break any).

    Columns: ``fixed`` (fixed features changed, or a value given to a feature the query is
    missing), ``direction`` (moved against the allowed direction), ``bounds`` (outside plausible bounds), ``grain`` (not a level of a binary or
    categorical feature, or not whole for an integer one), ``relations`` (relations of the
    spec broken: a derived feature that differs from its formula, a check not met, where the
    counterfactual changed one of the relation's features), ``limits`` (the person's own
    limits broken, where ``limits`` gives each row's: a kept feature changed, a changed value
    outside the person's bounds, each counted only where the spec itself allows it so that no
    break counts twice, and 1 for more changes than the person's cap; 0 without limits) and
    ``total``.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sex", kind="binary", bounds=(0, 1), mutability="fixed"),
    ...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase")])
    >>> violations(spec, np.array([[0, 4000]]), np.array([[0.5, 3000.5]])).iloc[0].tolist()
    [1, 1, 0, 2, 0, 0, 4]
    >>> violations(spec, np.array([[0, np.nan]]), np.array([[0, 5000]])).iloc[0].tolist()
    [1, 0, 0, 0, 0, 0, 1]
    >>> kept = RowLimits.none(1, 2)
    >>> kept.keep[0, 1] = True
    >>> violations(spec, np.array([[0, 4000]]), np.array([[0, 5000]]), kept)["limits"].tolist()
    [1]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    cf = np.atleast_2d(np.asarray(cf, dtype=float))
    moved = changed(query, cf)
    delta = cf - query
    counts = {kind: np.zeros(len(cf), dtype=int) for kind in VIOLATION_KINDS}
    unmeasured = np.isnan(query)
    for j, feature in enumerate(spec.features):
        m = moved[:, j]
        counts["fixed"] += m & ((feature.mutability == "fixed") | unmeasured[:, j])
        if feature.mutability == "increase":
            counts["direction"] += m & (delta[:, j] < 0)
        if feature.mutability == "decrease":
            counts["direction"] += m & (delta[:, j] > 0)
        lower, upper = feature.bounds
        counts["bounds"] += m & ((cf[:, j] < lower) | (cf[:, j] > upper) | np.isnan(cf[:, j]))
        if feature.levels is not None:
            counts["grain"] += m & ~np.isin(cf[:, j], feature.levels)
        elif feature.kind == "integer":
            counts["grain"] += m & (np.abs(cf[:, j] - np.round(cf[:, j])) > 1e-9)
    counts["relations"] += broken_relations(spec, query, cf).sum(axis=1)
    if limits is not None:
        counts["limits"] += limit_breaks(spec, query, cf, limits).sum(axis=1)
    table = pd.DataFrame(counts)
    table["total"] = table[list(VIOLATION_KINDS)].sum(axis=1)
    return table


def limit_breaks(
    spec: DatasetSpec, query: np.ndarray, cf: np.ndarray, limits: RowLimits
) -> np.ndarray:
    """Per counterfactual and feature, whether it breaks its person's limits where the spec
    allows the change (a kept feature changed; a changed value outside the person's bounds but
    within the spec's), plus a last column: more features changed than the person's cap.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sleep", bounds=(0, 900)), FeatureSpec(name="steps", bounds=(0, 5e4))])
    >>> limits = RowLimits(np.array([[True, False]]), np.array([[-np.inf, 0.0]]),
    ...                    np.array([[np.inf, 9000.0]]), np.array([1.0]))
    >>> query, cf = np.array([[400.0, 4000]]), np.array([[430.0, 12000]])
    >>> limit_breaks(spec, query, cf, limits).tolist()
    [[True, True, True]]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    cf = np.atleast_2d(np.asarray(cf, dtype=float))
    moved = changed(query, cf) & ~np.isnan(query)
    lo, hi = allowed_ranges(spec, query)
    lower = np.array([f.bounds[0] for f in spec.features])
    upper = np.array([f.bounds[1] for f in spec.features])
    with np.errstate(invalid="ignore"):
        # What the spec already counts (fixed, direction, bounds) is not counted again here.
        spec_allows = moved & (cf >= np.maximum(lo, lower)) & (cf <= np.minimum(hi, upper))
        outside = (cf < limits.lower) | (cf > limits.upper)
    breaks = spec_allows & (limits.keep | outside)
    over = count_changes(spec, query, cf) > limits.cap
    return np.column_stack([breaks, over])


def project(spec: DatasetSpec, query: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Move candidate values into what the query allows, then onto each feature's grain.

    Fixed features take the query's value, a feature moved the wrong way is put back, values
    are clipped to bounds and rounded to the step or nearest level; derived features are then
    computed from their inputs, and where a relation or a derived feature's own range is still
    broken, the features behind it go back to the query's values. For the project's own
    searches; a baseline's output is never projected, its violations are counted instead.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 100), mutability="fixed"),
    ...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase")])
    >>> project(spec, np.array([[50.0, 4000.0]]), np.array([[60.0, 3000.4]])).tolist()
    [[50.0, 4000.0]]
    >>> project(spec, np.array([[50.0, 4000.3]]), np.array([[50.0, 4000.3]])).tolist()  # kept
    [[50.0, 4000.3]]
    >>> project(spec, np.array([[50.0, np.nan]]), np.array([[50.0, 5000.0]])).tolist()  # unmeasured
    [[50.0, nan]]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    candidate = np.atleast_2d(np.asarray(candidate, dtype=float))
    query = np.broadcast_to(query, candidate.shape)
    lo, hi = allowed_ranges(spec, query)
    out = np.clip(candidate, lo, hi)
    derived = set(spec.derived_features)
    for j, feature in enumerate(spec.features):
        if feature.name in derived:
            continue  # computed below, from inputs already on their grain
        rounded = feature.round(out[:, j])
        # Rounding may step just outside the allowed range (or off the query's own value).
        inside = (rounded >= lo[:, j]) & (rounded <= hi[:, j])
        # A value the candidate left alone stays exactly as measured, even off the grain:
        # snapping it (81.83 bpm -> 81.8) would be a change nobody asked for.
        kept = out[:, j] == query[:, j]
        out[:, j] = np.where(inside & ~kept, rounded, query[:, j])
    if spec.relations:
        out = _repair_relations(spec, query, out)
    return out


def _repair_relations(spec: DatasetSpec, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Recompute derived features; put back the inputs of whatever relation is still broken."""
    index = {name: j for j, name in enumerate(spec.feature_names)}
    derived = spec.derived_features

    def columns_of(names: Sequence[str]) -> np.ndarray:
        return np.asarray([index[n] for n in names], dtype=np.intp)

    behind_derived = {d: columns_of(expand_inputs(spec, [d])) for d in derived}
    behind_relation = [columns_of(expand_inputs(spec, r.features)) for r in spec.relations]
    out = recompute_known(spec, query, rows, otherwise=query)
    for _ in range(len(spec.relations) + 1):
        breaks = broken_relations(spec, query, out)
        outside = _derived_outside(spec, query, out)
        bad = breaks.any(axis=1) | outside.any(axis=1)
        if not bad.any():
            return out
        for k, columns in enumerate(behind_relation):
            hit = breaks[:, k]
            out[np.ix_(hit, columns)] = query[np.ix_(hit, columns)]
        for k, name in enumerate(derived):
            hit = outside[:, k]
            out[np.ix_(hit, behind_derived[name])] = query[np.ix_(hit, behind_derived[name])]
        out = recompute_known(spec, query, out, otherwise=query)
    # Still broken (the query itself may not meet a relation): keep the query's own values.
    bad = broken_relations(spec, query, out).any(axis=1) | _derived_outside(spec, query, out).any(
        axis=1
    )
    out[bad] = query[bad]
    return out


def relations_kept(spec: DatasetSpec, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row: it breaks no relation and no derived feature left the range the query allows
    it (what :func:`project` repairs); rows are taken as they are, nothing is recomputed."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    query = np.broadcast_to(np.atleast_2d(np.asarray(query, dtype=float)), rows.shape)
    if not spec.relations:
        return np.ones(len(rows), dtype=bool)
    bad = broken_relations(spec, query, rows).any(axis=1)
    return np.asarray(~(bad | _derived_outside(spec, query, rows).any(axis=1)), dtype=bool)


def _derived_outside(spec: DatasetSpec, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row and derived feature: it changed and left the range the query allows for it."""
    columns = [spec.feature_names.index(name) for name in spec.derived_features]
    lo, hi = allowed_ranges(spec, query)
    moved = changed(query[:, columns], rows[:, columns])
    values = rows[:, columns]
    with np.errstate(invalid="ignore"):
        inside = (values >= lo[:, columns]) & (values <= hi[:, columns])
    return moved & ~inside


# ---- relations on rows in spec order ----------------------------------------------------------
def _columns(spec: DatasetSpec, X: np.ndarray) -> dict[str, np.ndarray]:
    return {name: X[:, j] for j, name in enumerate(spec.feature_names)}


def derived_features(spec: DatasetSpec) -> list[str]:
    """Names of the spec's derived features, in the order they are computed."""
    return [str(r.derived) for r in derivation_order(spec.relations)]


def recompute(spec: DatasetSpec, X: np.ndarray) -> np.ndarray:
    """A copy of rows (spec order) with every derived feature computed from its inputs.

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 900)) for n in ("deep", "light", "total")],
    ...     relations=[Relation(derived="total", formula="deep + light")])
    >>> recompute(spec, np.array([[60.0, 300.0, 999.0]])).tolist()
    [[60.0, 300.0, 360.0]]
    """
    out = np.atleast_2d(np.array(X, dtype=float, copy=True))
    if not spec.relations:
        return out
    index = {name: j for j, name in enumerate(spec.feature_names)}
    for relation in derivation_order(spec.relations):
        out[:, index[str(relation.derived)]] = relation.compute(_columns(spec, out))
    return out


def recompute_known(
    spec: DatasetSpec, query: np.ndarray, rows: np.ndarray, otherwise: np.ndarray | None = None
) -> np.ndarray:
    """:func:`recompute` where it can be known: a derived feature the query is missing, or one
    whose formula reads a missing input, takes ``otherwise``'s value instead (default: the
    rows' own, as proposed; :func:`project` passes the query's, so nothing moves there).

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 900)) for n in ("deep", "light", "total")],
    ...     relations=[Relation(derived="total", formula="deep + light")])
    >>> query = np.array([[60.0, np.nan, 400.0], [60.0, 300.0, np.nan]])
    >>> recompute_known(spec, query, np.array([[90.0, np.nan, 999.0], [90.0, 300.0, 5.0]])).tolist()
    [[90.0, nan, 999.0], [90.0, 300.0, 5.0]]
    >>> recompute_known(spec, query, np.array([[90.0, np.nan, 999.0], [90.0, 300.0, 5.0]]),
    ...                 otherwise=query).tolist()
    [[90.0, nan, 400.0], [90.0, 300.0, nan]]
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    query = np.broadcast_to(np.atleast_2d(np.asarray(query, dtype=float)), rows.shape)
    fallback = rows if otherwise is None else np.broadcast_to(otherwise, rows.shape)
    computed = recompute(spec, rows)
    unknown = np.isnan(query) | np.isnan(computed)
    return np.where(unknown, fallback, computed)


def unmet_relations(spec: DatasetSpec, X: np.ndarray) -> np.ndarray:
    """Boolean matrix (rows × relations): the row does not meet the relation (data checks).

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 100)) for n in ("low", "very_low")],
    ...     relations=[Relation(check="very_low <= low")])
    >>> unmet_relations(spec, np.array([[5.0, 2.0], [5.0, 7.0]])).ravel().tolist()
    [False, True]
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    columns = _columns(spec, X)
    out = np.zeros((len(X), len(spec.relations)), dtype=bool)
    for k, relation in enumerate(spec.relations):
        out[:, k] = ~relation.holds(columns)
    return out


def broken_relations(spec: DatasetSpec, query: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """Boolean matrix (rows × relations): the counterfactual breaks the relation.

    A relation counts as broken by a counterfactual only where it changed one of the relation's
    features: a relation the data itself does not meet is not the counterfactual's doing.
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    cf = np.atleast_2d(np.asarray(cf, dtype=float))
    out = np.zeros((len(cf), len(spec.relations)), dtype=bool)
    if not spec.relations or not len(cf):
        return out
    moved = changed(query, cf)
    unmet = unmet_relations(spec, cf)
    index = {name: j for j, name in enumerate(spec.feature_names)}
    for k, relation in enumerate(spec.relations):
        out[:, k] = moved[:, [index[n] for n in relation.features]].any(axis=1) & unmet[:, k]
    return out


def expand_inputs(spec: DatasetSpec, names: Sequence[str]) -> list[str]:
    """The features a person changes to move ``names``: derived ones replaced by their inputs,
    transitively.

    >>> from sensecf.data.relations import Relation
    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name=n, bounds=(0, 900)) for n in ("a", "b", "t", "e")],
    ...     relations=[Relation(derived="t", formula="a + b"), Relation(derived="e", formula="t / 2")])
    >>> expand_inputs(spec, ["e"])
    ['a', 'b']
    """
    by_name = {r.derived: r for r in spec.relations if r.derived is not None}
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in by_name:
            todo.extend(by_name[name].inputs)
        else:
            found.add(name)
    return sorted(found)
