"""The values a counterfactual of one query may give each feature: range, then grain.

A changed value must lie in what the query allows (fixed features stay, directions, the
plausible bounds) and on the feature's grain (a level of a coded feature, a multiple of the
step otherwise). The query's own value is always admissible, even off-grain or out of bounds.

>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase"),
...     FeatureSpec(name="hr", bounds=(40, 120), step=0.5, mutability="decrease")])
>>> low, high = change_range(spec, np.array([4000.0, 70.2]))
>>> low.tolist(), high.tolist()
([4000.0, 40.0], [50000.0, 70.2])
>>> grain_ends(spec.features[1], 40.0, 70.2).tolist()
[40.0, 70.0]
"""

from __future__ import annotations

import math

import numpy as np

from sensecf.data.constraints import allowed_ranges
from sensecf.data.spec import DatasetSpec, FeatureSpec

# Grain points are compared with this slack so that 0.1 * 3 counts as the grain point 0.3.
GRAIN_EPS = 1e-9


def change_range(spec: DatasetSpec, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest value a *changed* feature may take (NaN where it may not change).

    The allowed range of :func:`~sensecf.data.constraints.allowed_ranges` within the plausible
    bounds; a fixed feature, or one whose range holds no other value, gets NaN.
    """
    query = np.asarray(query, dtype=float)
    lo, hi = allowed_ranges(spec, query[None, :])
    lower = np.array([f.bounds[0] for f in spec.features], dtype=float)
    upper = np.array([f.bounds[1] for f in spec.features], dtype=float)
    low, high = np.maximum(lo[0], lower), np.minimum(hi[0], upper)
    frozen = np.array([not f.is_mutable for f in spec.features]) | (low > high)
    frozen |= ~np.isfinite(query)
    low[frozen], high[frozen] = np.nan, np.nan
    return low, high


def grain_ends(feature: FeatureSpec, low: float, high: float) -> np.ndarray:
    """The smallest and largest grain value in ``[low, high]`` (empty when there is none)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.empty(0)
    if feature.levels is not None:
        levels = np.asarray(feature.levels, dtype=float)
        inside = levels[(levels >= low) & (levels <= high)]
        return inside[[0, -1]] if len(inside) else inside
    step = float(feature.step)
    first, last = math.ceil(low / step - GRAIN_EPS), math.floor(high / step + GRAIN_EPS)
    if first > last:
        return np.empty(0)
    return feature.round(np.array([first, last], dtype=float) * step)


def grain_near(feature: FeatureSpec, values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Grain values within two steps of each of ``values``, inside ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.empty(0)
    if feature.levels is not None:
        levels = np.asarray(feature.levels, dtype=float)
        return levels[(levels >= low) & (levels <= high)]
    step = float(feature.step)
    base = np.floor(np.asarray(values, dtype=float) / step)
    index = np.unique((base[:, None] + np.arange(-2, 3)).ravel())
    first, last = math.ceil(low / step - GRAIN_EPS), math.floor(high / step + GRAIN_EPS)
    index = index[(index >= first) & (index <= last)]
    return _tidy(feature, index * step)


def grain_count(feature: FeatureSpec, low: float, high: float) -> int:
    """How many grain values lie in ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0
    if feature.levels is not None:
        levels = np.asarray(feature.levels, dtype=float)
        return int(((levels >= low) & (levels <= high)).sum())
    step = float(feature.step)
    return max(0, math.floor(high / step + GRAIN_EPS) - math.ceil(low / step - GRAIN_EPS) + 1)


def grain_all(feature: FeatureSpec, low: float, high: float) -> np.ndarray:
    """Every grain value in ``[low, high]`` (call only where :func:`grain_count` is small)."""
    if feature.levels is not None:
        return grain_near(feature, np.empty(0), low, high)
    ends = grain_ends(feature, low, high)
    if not len(ends):
        return ends
    step = float(feature.step)
    index = np.arange(round(ends[0] / step), round(ends[1] / step) + 1, dtype=float)
    return _tidy(feature, index * step)


def _tidy(feature: FeatureSpec, values: np.ndarray) -> np.ndarray:
    """Grain values written as a person would (0.30000000000000004 → 0.3)."""
    return np.unique(feature.round(values)) if len(values) else values
