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


def interval_starts(
    feature: FeatureSpec, query: float, low: float, high: float, cuts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every admissible value of a feature as intervals of its grain: sorted ``starts`` and,
    per interval, how many grain steps it runs past its start.

    The query's value is an interval of its own; ``cuts`` (admissible values) start further
    intervals. A coded feature has one interval per level.

    >>> from sensecf.data.spec import FeatureSpec
    >>> f = FeatureSpec(name="m", bounds=(0, 10), step=1, mutability="both")
    >>> starts, counts = interval_starts(f, 4.5, 0.0, 10.0, np.array([7.0]))
    >>> starts.tolist(), counts.tolist()
    ([0.0, 4.5, 5.0, 7.0], [4, 0, 1, 3])
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.array([query]), np.zeros(1, dtype=int)
    if feature.levels is not None:
        values = np.union1d(grain_near(feature, np.empty(0), low, high), [query])
        return values, np.zeros(len(values), dtype=int)
    step = float(feature.step)
    first, last = math.ceil(low / step - GRAIN_EPS), math.floor(high / step + GRAIN_EPS)
    if first > last:
        return np.array([query]), np.zeros(1, dtype=int)
    above = math.floor(query / step + GRAIN_EPS) + 1
    index = [first] + ([above] if first <= above <= last else [])
    if cuts is not None and len(cuts):
        cut = np.asarray(cuts, dtype=float)
        cut_index = np.round(cut / step)
        on_grain = np.abs(cut_index * step - cut) <= GRAIN_EPS * np.maximum(1.0, np.abs(cut))
        inside = on_grain & (cut_index >= first) & (cut_index <= last) & (cut != query)
        index += cut_index[inside].astype(int).tolist()
    grain = np.unique(np.asarray(index, dtype=int))
    values = feature.round(grain * step)
    keep = ~np.isclose(values, query, rtol=0, atol=GRAIN_EPS * max(1.0, abs(query)))
    starts = np.r_[values[keep], query]
    grain_of = np.r_[grain[keep], -1]  # the query's interval: -1
    order = np.argsort(starts, kind="stable")
    starts, grain_of = starts[order], grain_of[order]
    counts = np.zeros(len(starts), dtype=int)
    for k in range(len(starts)):
        if grain_of[k] < 0:
            continue
        end = last if k + 1 == len(starts) else math.ceil(starts[k + 1] / step - GRAIN_EPS) - 1
        counts[k] = max(0, end - grain_of[k])
    return starts.astype(float), counts
