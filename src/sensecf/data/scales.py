"""Per-feature scales and the distances built on them, shared by generators and metrics.

One definition of "how far is a change": the median absolute deviation (MAD) of the reference
rows, without the 1.4826 factor. Many coded or integer features have a MAD of 0; for those the
standard deviation stands in, then the feature's rounding step. Missing values are ignored, and
a column with no values at all falls back to its step.

>>> import numpy as np
>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
...     FeatureSpec(name="x", bounds=(0, 100)), FeatureSpec(name="z", bounds=(0, 1), step=1)])
>>> X = np.array([[1.0, 0], [2, 0], [4, 0], [np.nan, 0]])
>>> scales = FeatureScales.from_reference(spec, X)
>>> scales.scale.tolist(), scales.source.tolist()
([1.0, 1.0], ['mad', 'step'])
>>> float(scales.l1(np.array([1.0, 0]), np.array([3.0, 1]))[0])
3.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from sensecf.data.constraints import changed
from sensecf.data.spec import DatasetSpec


@dataclass(frozen=True)
class FeatureScales:
    """The scale of each feature (spec order) and which statistic it came from."""

    scale: np.ndarray
    source: np.ndarray  # "mad" | "std" | "step" per feature
    mad: np.ndarray
    std: np.ndarray
    median: np.ndarray

    @classmethod
    def from_reference(cls, spec: DatasetSpec, X: np.ndarray) -> FeatureScales:
        """Scales from reference rows ``X`` (n × features, spec order; NaN allowed)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(spec.features):
            raise ValueError(
                f"reference rows must be a 2-D array with {len(spec.features)} columns; "
                f"got shape {X.shape}"
            )
        step = np.array([float(f.step) for f in spec.features])
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns handled below
            median = np.nanmedian(X, axis=0) if len(X) else np.full(X.shape[1], np.nan)
            mad = np.nanmedian(np.abs(X - median), axis=0) if len(X) else median.copy()
            std = np.nanstd(X, axis=0) if len(X) else median.copy()
        has_mad = np.nan_to_num(mad) > 0
        has_std = np.nan_to_num(std) > 0
        scale = np.where(has_mad, mad, np.where(has_std, std, step))
        source = np.where(has_mad, "mad", np.where(has_std, "std", "step"))
        return cls(scale=scale, source=source, mad=mad, std=std, median=median)

    def l1(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scaled L1 distance between rows of ``a`` and ``b`` (broadcast), one value per row."""
        delta = np.abs(np.atleast_2d(np.asarray(b, dtype=float)) - np.asarray(a, dtype=float))
        return (delta / self.scale).sum(axis=1)


# Where a feature's effort has no per-unit part, this share of its MAD price still tells
# nearer values from farther ones (a tie-break only: efforts themselves leave it out).
TIE_SHARE = 1e-3


@dataclass(frozen=True)
class EffortPrices:
    """What a change costs, feature by feature (spec order): ``per_unit`` for each unit of
    change and ``fixed`` for changing the feature at all.

    A feature whose spec states a :class:`~sensecf.data.spec.Cost` is priced by it; any other
    keeps its MAD-based price (one unit costs ``1 / scale``, no fixed part), so a spec without
    costs prices a change at its MAD-scaled L1. One definition for the oracle's objective and
    the metric suite's ``cost`` column.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sleep", bounds=(0, 900), cost={"per_unit": 0.01, "fixed": 1}),
    ...     FeatureSpec(name="hr", bounds=(30, 130))])
    >>> prices = EffortPrices.for_spec(spec, np.array([30.0, 4.0]))
    >>> prices.per_unit.tolist(), prices.fixed.tolist()
    ([0.01, 0.25], [1.0, 0.0])
    >>> prices.effort(np.array([400.0, 70.0]), np.array([[460.0, 70.0], [400.0, 62.0]])).tolist()
    [1.6, 2.0]
    """

    per_unit: np.ndarray
    fixed: np.ndarray
    costed: np.ndarray  # per feature: its spec states a cost

    @classmethod
    def for_spec(cls, spec: DatasetSpec, scale: np.ndarray) -> EffortPrices:
        """Prices from the spec's costs, and ``scale`` (the MAD scales) for the others."""
        scale = np.asarray(scale, dtype=float)
        costs = [f.cost for f in spec.features]
        costed = np.array([c is not None for c in costs])
        per_unit = np.array(
            [c.per_unit if c is not None else 1.0 / s for c, s in zip(costs, scale, strict=True)]
        )
        fixed = np.array([c.fixed if c is not None else 0.0 for c in costs])
        return cls(per_unit=per_unit, fixed=fixed, costed=costed)

    def effort(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The total effort of each row's change from ``query`` (broadcast): a feature the
        query is missing adds nothing (the row keeps it missing; a value given to it has no
        size), as in every distance."""
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        query = np.broadcast_to(np.asarray(query, dtype=float), rows.shape)
        moved = changed(query, rows) & ~np.isnan(query)
        delta = np.where(moved, np.abs(rows - query), 0.0)
        return np.asarray((delta * self.per_unit + moved * self.fixed).sum(axis=1), dtype=float)

    def tie_scale(self, scale: np.ndarray) -> np.ndarray:
        """Per feature, the divisor that turns a change into its per-unit price where a search
        weighs distances (``|delta| / divisor``): ``1 / per_unit``, with a hair of the MAD price
        added where the cost has no per-unit part (so the nearer of two equally costly values
        wins); a feature without a cost keeps its MAD scale.

        >>> EffortPrices(np.array([0.0, 0.5]), np.array([1.0, 0.0]), np.array([True, False])
        ...              ).tie_scale(np.array([2.0, 2.0])).tolist()
        [2000.0, 2.0]
        """
        scale = np.asarray(scale, dtype=float)
        with np.errstate(divide="ignore"):
            priced = 1.0 / (self.per_unit + TIE_SHARE / scale)
        return np.asarray(np.where(self.costed, priced, scale), dtype=float)

    def cheaper(self, names: list[str], scale: np.ndarray, among: list[str]) -> list[str]:
        """The features of ``among`` whose typical change (one MAD: ``fixed + per_unit *
        scale``; 1 for a feature without a cost) costs less than the median of theirs,
        cheapest first; none where they all cost the same (a spec without costs).

        ``names``: every feature, in the order of the prices.

        >>> prices = EffortPrices(np.array([0.01, 0.5, 0.25]), np.array([0.0, 2.0, 0.0]),
        ...                       np.array([True, True, False]))
        >>> prices.cheaper(["sleep", "steps", "hr"], np.array([30.0, 2.0, 4.0]), ["steps", "sleep", "hr"])
        ['sleep']
        """
        scale = np.asarray(scale, dtype=float)
        typical = {
            n: float(self.fixed[j] + self.per_unit[j] * scale[j]) for j, n in enumerate(names)
        }
        costs = [typical[n] for n in among]
        if not costs:
            return []
        middle = float(np.median(costs))
        return sorted((n for n in among if typical[n] < middle), key=lambda n: (typical[n], n))
