"""The neighbour bar as rows of the exact program: near real people of the desired class.

A :class:`~sensecf.models.plausibility.NeighbourBar` asks that a row's mean L1 distance (in
standard units) to its ``k`` nearest real rows be at most ``r``, and that some ``k`` real rows
be on average no further from it than ``c`` times their own mean distance ``ρ_a`` to their
``k`` nearest. Over a set of anchors (real rows) both hold where "some ``k`` anchors have
distances summing to at most ``k r`` and to at most ``c Σ ρ_a``", and each piece is linear in
the program's variables:

- the distance to anchor ``a`` on a feature held as a chain of values is a constant per value,
  so a sum over the chain's binaries; on a feature held as intervals (every admissible value)
  a variable ``d ≥ ±(x - a) / s``; on a feature the program does not move, a constant;
- a binary ``z_a`` picks the anchors, ``e_a ≥ dist_a - M_a (1 - z_a)`` with ``M_a`` the largest
  distance the program can reach, ``Σ z_a = k``, ``Σ e_a ≤ k r`` and
  ``Σ e_a - c Σ ρ_a z_a ≤ 0``.

Both parts are asked of one choice of anchors, among the anchors given (the real rows nearest
the person, not every real row), so the rows are a sufficient condition: a counterfactual that meets
them meets the bar over every real row (the ``k`` nearest of all rows are at least as near, and
the bar's second part asks for some ``k`` rows, any), so every answer passes the bar; "none
found" is then over those anchors and the program's values.

>>> import numpy as np, pandas as pd
>>> from sensecf.data.spec import infer_spec
>>> from sensecf.models.plausibility import NeighbourBar
>>> spec = infer_spec(pd.DataFrame({"x": np.arange(11.0), "y": [0, 1] * 5 + [0]}), "y")
>>> builder = ProgramBuilder(spec, np.array([0.0]), np.ones(1))
>>> y = builder.add_chain(0, np.array([0.0, 4.0, 8.0]))
>>> bar = NeighbourBar(np.array([0]), np.ones(1), np.zeros(1), np.array([[8.0], [9.0]]), 2, 1.0, 0.9)
>>> rows = builder.n_rows
>>> hold_near(builder, bar, np.arange(2))
>>> builder.n_rows - rows  # a selection row per anchor, then Σ z = k and Σ e ≤ k r
4
"""

from __future__ import annotations

import numpy as np

from sensecf.generators.oracle.encoding import UnsupportedModel
from sensecf.generators.oracle.milp import ProgramBuilder
from sensecf.models.plausibility import NeighbourBar

__all__ = ["ANCHORS_PER_NEIGHBOUR", "hold_near"]

# Anchors handed to the program per neighbour the bar counts: the nearest real rows to the
# person, a few times k, so the counterfactual's own nearest rows are among them.
ANCHORS_PER_NEIGHBOUR = 3


def hold_near(
    builder: ProgramBuilder, bar: NeighbourBar, index: np.ndarray, slack: float = 0.0
) -> None:
    """Add the rows that keep the program's row within ``bar``, measured to the anchors at
    positions ``index`` of ``bar.anchors`` (at least ``bar.k`` of them); ``slack`` keeps each
    sum that much inside the bar (the solver's tolerance)."""
    index = np.asarray(index, dtype=int)
    anchors = bar.anchors[index]
    n = len(anchors)
    if n < bar.k:
        raise ValueError(f"the neighbour bar needs at least k={bar.k} anchors; got {n}")
    query = np.where(np.isnan(builder.query), bar.median, builder.query)
    const = np.zeros(n)
    reach = np.zeros(n)  # the largest distance to each anchor the program can reach
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    base_row = builder.n_rows  # anchor i's selection row is base_row + i
    # Per interval feature: the anchors' values, the value's columns and coefficients and its
    # constant, all over the feature's scale.
    extra: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
    for i, j in enumerate(bar.columns):
        a, s = anchors[:, i], float(bar.scale[i])
        feature = builder.features.get(int(j))
        if feature is None:  # the program keeps the person's value
            d = np.abs(query[j] - a) / s
            const += d
            reach += d
            continue
        if feature.value_cut is not None and feature.candidates is not None:  # a chain
            gaps = np.abs(feature.candidates[None, :] - a[:, None]) / s
            const += gaps[:, 0]
            reach += gaps.max(axis=1)
            steps = np.diff(gaps, axis=1)
            rows.append(np.repeat(base_row + np.arange(n), steps.shape[1]))
            cols.append(np.tile(feature.cost_cols, n))
            vals.append(-steps.ravel())
            continue
        x = feature.value
        if x is None:
            raise UnsupportedModel(f"feature {int(j)}'s value is not held by the program")
        reach += np.maximum(np.abs(x.lo - a), np.abs(x.hi - a)) / s
        extra.append((a / s, x.cols, x.vals / s, x.const / s))
    # Interval features: d ≥ (x - a)/s and d ≥ (a - x)/s, one d per anchor and feature.
    d_cols = [builder.add_continuous(n, 0.0, np.inf) for _ in extra]
    z = builder.add_vars(n, 0.0, 1.0, integer=True)
    e = builder.add_continuous(n, 0.0, np.inf)
    # Selection rows: e_a - Σ dist terms - reach_a z_a ≥ const_a - reach_a.
    anchor_rows = base_row + np.arange(n)
    rows.append(np.r_[anchor_rows, anchor_rows])
    cols.append(np.r_[e + np.arange(n), z + np.arange(n)])
    vals.append(np.r_[np.ones(n), -reach])
    for d in d_cols:
        rows.append(anchor_rows)
        cols.append(d + np.arange(n))
        vals.append(-np.ones(n))
    builder.add_rows_coo(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals))
    builder.close_rows_bounds(const - reach, np.full(n, np.inf))
    for (a, x_cols, x_vals, x_const), d in zip(extra, d_cols, strict=True):
        # sign +1: d - x/s ≥ -a/s; sign -1: d + x/s ≥ a/s (x/s = x_const + x_vals·v).
        for sign in (1.0, -1.0):
            first = builder.n_rows
            r = np.repeat(first + np.arange(n), len(x_cols) + 1)
            c = np.concatenate([np.r_[d + i, x_cols] for i in range(n)])
            v = np.tile(np.r_[1.0, -sign * x_vals], n)
            builder.add_rows_coo(r, c, v)
            builder.close_rows_bounds(sign * (x_const - a), np.full(n, np.inf))
    # Σ z = k and Σ e ≤ k r; with the bar's second part, Σ e - factor Σ ρ_a z_a ≤ 0 over the
    # same k anchors (exactly k: a further anchor with a larger own distance would loosen it).
    builder.add_rows_coo(np.full(n, builder.n_rows), z + np.arange(n), np.ones(n))
    builder.close_rows(1, float(bar.k), float(bar.k))
    builder.add_rows_coo(np.full(n, builder.n_rows), e + np.arange(n), np.ones(n))
    builder.close_rows(1, -np.inf, bar.k * bar.threshold - slack)
    if bar.densities is not None and np.isfinite(bar.factor):
        own = bar.factor * bar.densities[index]
        row = np.full(2 * n, builder.n_rows)
        builder.add_rows_coo(
            row, np.r_[e + np.arange(n), z + np.arange(n)], np.r_[np.ones(n), -own]
        )
        builder.close_rows(1, -np.inf, -slack)
