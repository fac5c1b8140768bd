"""Which single moves help: each feature tried alone on the classifier, for every query at once.

Every admissible grid value of every mutable feature (:mod:`~sensecf.generators.llm.candidates`)
is put into the query on its own, and the classifier scores all these rows in one call. A value
helps when it raises the probability of the desired class by more than :data:`HELP_MIN_GAIN`.
Where the spec derives features from others, they are recomputed in every probe row (more deep
sleep is more total sleep too), so the classifier judges rows that can be true; the derived
features themselves are never tried, as they are never asked. The prompt lists the helpful changes, strongest first ("raise sleep, lower hr"), and the repair
rounds narrow their candidate sets to the values that help. :func:`nearest_flips` finds the
smallest single moves that reach the desired class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensecf.data.constraints import recompute_known
from sensecf.data.spec import DatasetSpec
from sensecf.generators.llm.candidates import admissible_mask
from sensecf.generators.llm.prompts import Help

# A probe move counts as helping when it raises the desired class's probability by this much.
HELP_MIN_GAIN = 0.005


@dataclass
class Probe:
    """Per query: ``helps``, helpful changes as (feature name, direction), strongest first; and
    ``helpful``, feature index → the values that help, best first (empty when none does)."""

    helps: list[list[tuple[str, Help]]]
    helpful: list[dict[int, np.ndarray]]


def probe(
    model: Any,
    X: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    proba: np.ndarray,
    desired: int,
    *,
    grids: Sequence[np.ndarray],
    steps: np.ndarray,
    mutable: np.ndarray,
    names: Sequence[str],
    spec: DatasetSpec | None = None,
) -> Probe:
    """Try each admissible grid value of each mutable feature alone; keep the ones that help.

    A feature a query is missing is not tried (it stays missing in every counterfactual).

    ``model`` has ``predict_with_proba(rows, desired)``; ``X`` holds the queries and ``lo``/
    ``hi`` their allowed ranges (spec order); ``proba`` their current probability of the desired
    class; ``grids`` and ``steps`` per feature; ``mutable`` the indices of the features to try
    (the proposable ones); ``spec``, when given, recomputes its derived features in each row
    before the classifier scores it. A feature's direction is that of its best value; features rank by their best value's gain.

    >>> class Sum:  # the desired class's probability grows with x0 + x1
    ...     def predict_with_proba(self, rows, desired):
    ...         return None, rows.sum(axis=1) / 10
    >>> X = np.array([[1.0, 2.0]])
    >>> found = probe(Sum(), X, np.zeros((1, 2)), np.full((1, 2), 9.0), np.array([0.3]), 0,
    ...               grids=[np.array([0.0, 2.0, 3.0]), np.array([1.0, 5.0])],
    ...               steps=np.ones(2), mutable=np.array([0, 1]), names=["a", "b"])
    >>> found.helps[0], found.helpful[0]
    ([('b', 'raise'), ('a', 'raise')], {0: array([3., 2.]), 1: array([5.])})
    """
    n = len(X)
    owner, feature, value = _moves(X, lo, hi, grids, steps, mutable)
    helps: list[list[tuple[str, Help]]] = [[] for _ in range(n)]
    if not len(owner):
        return Probe(helps, [{} for _ in range(n)])
    _, p = _score_moves(model, X, owner, feature, value, desired, spec)
    gain = p - proba[owner]

    # Helpful moves grouped by (query, feature), best first; ties keep the grid's order.
    good = np.flatnonzero(gain > HELP_MIN_GAIN)
    good = good[np.lexsort((-gain[good], feature[good], owner[good]))]
    pair = owner[good] * X.shape[1] + feature[good]
    _, starts = np.unique(pair, return_index=True)
    helpful: list[dict[int, np.ndarray]] = [{int(j): np.empty(0) for j in mutable} for _ in X]
    ends = [*starts[1:], len(good)] if len(good) else []  # no move helps any query: none
    for start, end in zip(starts, ends, strict=True):
        helpful[owner[good[start]]][int(feature[good[start]])] = value[good[start:end]]

    # Each feature's best move; per query, the strongest first (ties in spec order).
    best = good[starts]
    best = best[np.lexsort((-gain[best], owner[best]))]
    raise_ = value[best] > X[owner[best], feature[best]]
    for k, is_raise in zip(best, raise_, strict=True):
        helps[owner[k]].append((names[feature[k]], "raise" if is_raise else "lower"))
    return Probe(helps, helpful)


def _moves(
    X: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    grids: Sequence[np.ndarray],
    steps: np.ndarray,
    mutable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query, feature, value) to try, query by query, features and values in order.

    A feature a query is missing is never tried: nobody measured it, so it stays missing.
    """
    owners, features, values = [], [], []
    for j in mutable:  # one array operation per feature covers every query
        grid = np.asarray(grids[j], dtype=float)
        ok = admissible_mask(grid[None, :], X[:, j, None], lo[:, j, None], hi[:, j, None], steps[j])
        ok &= np.isfinite(X[:, j, None])
        i, k = np.nonzero(ok)
        owners.append(i)
        features.append(np.full(len(i), int(j)))
        values.append(grid[k])
    if not owners:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    owner, feature, value = np.concatenate(owners), np.concatenate(features), np.concatenate(values)
    order = np.lexsort((feature, owner))  # stable: each feature's values stay in grid order
    return owner[order], feature[order], value[order]


def nearest_flips(
    model: Any,
    X: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    desired: int,
    *,
    grids: Sequence[np.ndarray],
    steps: np.ndarray,
    mutable: np.ndarray,
    spec: DatasetSpec | None = None,
    refine: int = 8,
) -> list[dict[int, np.ndarray]]:
    """Per query, feature index → the values that reach the desired class on their own,
    nearest first (only features with at least one).

    The grid says where a single move starts to flip the prediction; the first value is then
    refined by bisection (``refine`` classifier calls for all queries at once, on the feature's
    step) between the nearest flipping grid value and the last one before it that does not
    flip (or the current value), so it is the smallest such move the step allows — what a
    minimal counterfactual changes. The farther flipping grid values on the same side follow.
    Features whose current value is missing are left out (they stay missing).
    ``model`` has ``predict_with_proba(rows, desired)``; other arguments as :func:`probe`.

    >>> class Above:  # the desired class once x0 reaches 6.5
    ...     def predict_with_proba(self, rows, desired):
    ...         return (rows[:, 0] >= 6.5).astype(int), rows[:, 0] / 10
    >>> flips = nearest_flips(Above(), np.array([[1.0]]), np.zeros((1, 1)), np.full((1, 1), 9.0),
    ...                       1, grids=[np.array([0.0, 3.0, 8.0, 9.0])], steps=np.ones(1),
    ...                       mutable=np.array([0]))
    >>> flips[0][0].tolist()
    [7.0, 8.0, 9.0]
    """
    n = len(X)
    found: list[dict[int, np.ndarray]] = [{} for _ in range(n)]
    owner, feature, value = _moves(X, lo, hi, grids, steps, mutable)
    if not len(owner):
        return found
    flips = _reaches(model, X, owner, feature, value, desired, spec)
    current = X[owner, feature]
    dist = np.abs(value - current)
    side = np.sign(value - current)

    # Per (query, feature): the nearest flipping value and the nearest non-flip inside it.
    pairs, inner, outer, farther = [], [], [], []
    key = owner * X.shape[1] + feature  # moves come grouped by query, then feature
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    for begin, end in zip(starts, [*starts[1:], len(key)], strict=True):
        group = np.arange(begin, end)
        hit = group[flips[group]]
        if not len(hit):
            continue
        best = hit[np.argmin(dist[hit])]
        same = group[side[group] == side[best]]
        below = same[~flips[same] & (dist[same] < dist[best])]
        start = value[below[np.argmax(dist[below])]] if len(below) else current[best]
        beyond = same[flips[same] & (dist[same] > dist[best])]
        pairs.append(best)
        inner.append(start)
        outer.append(value[best])
        farther.append(value[beyond[np.argsort(dist[beyond], kind="stable")]])
    idx = np.array(pairs)
    a, b = np.array(inner, dtype=float), np.array(outer, dtype=float)
    step = steps[feature[idx]]
    for _ in range(refine):
        mid = np.round((a + b) / 2 / step) * step
        open_ = (np.abs(mid - a) >= step / 2) & (np.abs(mid - b) >= step / 2)
        open_ &= np.abs(mid - current[idx]) > step / 2
        if not open_.any():
            break
        sel = np.flatnonzero(open_)
        ok = _reaches(model, X, owner[idx[sel]], feature[idx[sel]], mid[sel], desired, spec)
        b[sel[ok]] = mid[sel[ok]]
        a[sel[~ok]] = mid[sel[~ok]]
    for t, k in enumerate(idx):
        values = np.concatenate([[b[t], outer[t]], farther[t]])
        found[int(owner[k])][int(feature[k])] = values[
            np.sort(np.unique(values, return_index=True)[1])
        ]
    return found


def _score_moves(
    model: Any,
    X: np.ndarray,
    owner: np.ndarray,
    feature: np.ndarray,
    value: np.ndarray,
    desired: int,
    spec: DatasetSpec | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's labels and probability of the desired class for each single move
    (query ``owner`` with ``feature`` set to ``value``; derived features recomputed first)."""
    rows = X[owner].copy()
    rows[np.arange(len(rows)), feature] = value
    if spec is not None and spec.relations:  # a derived value that cannot be known stays put
        rows = recompute_known(spec, X[owner], rows)
    labels, p = model.predict_with_proba(rows, desired)
    return np.asarray(labels), np.asarray(p)


def _reaches(
    model: Any,
    X: np.ndarray,
    owner: np.ndarray,
    feature: np.ndarray,
    value: np.ndarray,
    desired: int,
    spec: DatasetSpec | None,
) -> np.ndarray:
    """Whether each single move is predicted as the desired class."""
    labels, _ = _score_moves(model, X, owner, feature, value, desired, spec)
    return labels == desired
