"""The spec's constraints applied to a query: what a counterfactual may change, and what it broke.

One place for the rules every generator obeys and every metric counts: fixed features stay put,
a feature moves only in its allowed direction, values stay within plausible bounds, and coded
features take one of their levels (whole numbers for integers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sensecf.data.spec import DatasetSpec

VIOLATION_KINDS = ("fixed", "direction", "bounds", "grain")
# Relative tolerance under which a value counts as unchanged (floating-point noise, not a change).
CHANGE_RTOL = 1e-6


def as_matrix(spec: DatasetSpec, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Feature values as a float matrix in spec order (rows × features)."""
    if isinstance(rows, pd.DataFrame):
        return rows[spec.feature_names].to_numpy(dtype=float, copy=True)
    arr = np.array(rows, dtype=float, copy=True)
    return arr.reshape(1, -1) if arr.ndim == 1 else arr


def changed(query: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """Boolean matrix: which features a counterfactual changed relative to its query.

    >>> changed(np.array([[1.0, 2.0]]), np.array([[1.0, 2.5]])).tolist()
    [[False, True]]
    """
    query, cf = np.broadcast_arrays(np.asarray(query, float), np.asarray(cf, float))
    scale = np.maximum(1.0, np.abs(query))
    return ~(np.abs(cf - query) <= CHANGE_RTOL * scale)  # written so that NaN counts as changed


def allowed_ranges(spec: DatasetSpec, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query and feature, the lowest and highest value a counterfactual may take.

    Fixed features are pinned to the query's value; ``increase`` allows from the query's value up
    to the upper bound, ``decrease`` from the lower bound up to it, ``both`` the whole bounds.
    The query's own value is always allowed, even where it lies outside the plausible bounds.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 100), mutability="fixed"),
    ...     FeatureSpec(name="steps", bounds=(0, 50000), mutability="increase")])
    >>> lo, hi = allowed_ranges(spec, np.array([[50.0, 4000.0]]))
    >>> lo.tolist(), hi.tolist()
    ([[50.0, 4000.0]], [[50.0, 50000.0]])
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


def violations(spec: DatasetSpec, query: np.ndarray, cf: np.ndarray) -> pd.DataFrame:
    """Count, per counterfactual, the constraints it breaks (only changed features can break any).

    Columns: ``fixed`` (fixed features changed), ``direction`` (moved against the allowed
    direction), ``bounds`` (outside plausible bounds), ``grain`` (not a level of a binary or
    categorical feature, or not whole for an integer one), and ``total``.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sex", kind="binary", bounds=(0, 1), mutability="fixed"),
    ...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase")])
    >>> violations(spec, np.array([[0, 4000]]), np.array([[0.5, 3000.5]])).iloc[0].tolist()
    [1, 1, 0, 2, 4]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    cf = np.atleast_2d(np.asarray(cf, dtype=float))
    moved = changed(query, cf)
    delta = cf - query
    counts = {kind: np.zeros(len(cf), dtype=int) for kind in VIOLATION_KINDS}
    for j, feature in enumerate(spec.features):
        m = moved[:, j]
        if feature.mutability == "fixed":
            counts["fixed"] += m
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
    table = pd.DataFrame(counts)
    table["total"] = table[list(VIOLATION_KINDS)].sum(axis=1)
    return table


def project(spec: DatasetSpec, query: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Move candidate values into what the query allows, then onto each feature's grain.

    Fixed features take the query's value, a feature moved the wrong way is put back, values
    are clipped to bounds and rounded to the step or nearest level. For the project's own
    searches; a baseline's output is never projected, its violations are counted instead.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="age", bounds=(18, 100), mutability="fixed"),
    ...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase")])
    >>> project(spec, np.array([[50.0, 4000.0]]), np.array([[60.0, 3000.4]])).tolist()
    [[50.0, 4000.0]]
    """
    query = np.atleast_2d(np.asarray(query, dtype=float))
    candidate = np.atleast_2d(np.asarray(candidate, dtype=float))
    lo, hi = allowed_ranges(spec, query)
    out = np.clip(candidate, lo, hi)
    for j, feature in enumerate(spec.features):
        rounded = feature.round(out[:, j])
        # Rounding may step just outside the allowed range (or off the query's own value).
        inside = (rounded >= lo[:, j]) & (rounded <= hi[:, j])
        out[:, j] = np.where(inside, rounded, query[:, j])
    return out
