"""The search for models without an exact encoding (any ``predict_proba``), and the neighbours.

**Neighbours** (:func:`neighbour_candidates`, used by both paths, batched over all queries):
the training rows the model puts in the desired class, projected onto what each query allows
(fixed features copied, no move against a feature's direction, bounds, grain), the nearest
ones still valid, sparsified by greedy reversion.

**Search** (:func:`search`), per query, over growing subsets of the mutable features, each set
to values of its grid (every admissible value where there are few, else training quantiles,
plus the neighbours' values). Only proposable features are moved: a derived feature follows
its inputs, and every candidate row is projected (derived features recomputed, a broken
relation undone) before the model judges it:

1. exhaustively, size by size, while a size's rows fit ``max_rows``; the first size with a
   valid row is the minimum on the grid;
2. beyond that, a beam: the ``beam_width`` rows most likely to be in the desired class at one
   size are grown by one more feature, up to every mutable feature.

Its answer is ``optimal`` only when every smaller size was searched exhaustively (on the grid;
certified when the grid holds every admissible value), ``infeasible`` only when the whole
admissible space was enumerated. Its work is counted in candidate rows (the query's
:class:`.budget.Budget`), never in seconds unless a time limit is asked for. A query's missing feature is never one of the features moved:
it stays missing in every row.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sensecf.data.constraints import changed, count_changes, project
from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.admissible import change_range, grain_all, grain_count
from sensecf.generators.oracle.budget import Budget
from sensecf.generators.oracle.certificate import Certificate
from sensecf.generators.sparsify import sparsify
from sensecf.models.classifier import TrainedClassifier

# Keeps one model call near a few hundred thousand rows on a 2-core machine.
MAX_ROWS_PER_CALL = 200_000
# Projected rows held at once by the batched neighbour stage (queries x reference rows).
NEIGHBOUR_BLOCK = 2_000_000


def neighbour_candidates(
    model: TrainedClassifier,
    spec: DatasetSpec,
    scale: np.ndarray,
    pool: np.ndarray,
    queries: np.ndarray,
    desired: int,
    neighbors: int,
) -> list[np.ndarray]:
    """For each query, up to ``neighbors`` valid, sparsified projections of ``pool`` rows.

    All queries go through one projection, one model call and one sparsify per block of
    queries (no loop over queries).
    """
    n, d = queries.shape
    out: list[np.ndarray] = [np.empty((0, d)) for _ in range(n)]
    if not len(pool) or not n:
        return out
    keep = min(len(pool), max(4 * neighbors, 40))
    per_block = max(1, NEIGHBOUR_BLOCK // max(1, len(pool) * d))
    for start in range(0, n, per_block):
        Q = queries[start : start + per_block]
        b = len(Q)
        repeated = np.repeat(Q, len(pool), axis=0)
        projected = project(spec, repeated, np.tile(pool, (b, 1))).reshape(b, len(pool), d)
        distance = np.nansum(np.abs(projected - Q[:, None, :]) / scale, axis=2)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, :keep]
        rows = projected[np.arange(b)[:, None], nearest].reshape(b * keep, d)
        # Projection keeps a query's missing values missing, and only those.
        gaps = np.repeat(np.isnan(Q), keep, axis=0)
        finite = (np.isfinite(rows) | gaps).all(axis=1)
        valid = np.zeros(len(rows), dtype=bool)
        if finite.any():
            valid[finite] = model.predict(rows[finite]) == desired
        valid_grid = valid.reshape(b, keep)
        chosen = valid_grid & (np.cumsum(valid_grid, axis=1) <= neighbors)
        owner, slot = np.nonzero(chosen)
        if not len(owner):
            continue
        picked = rows.reshape(b, keep, d)[owner, slot]
        sparse = sparsify(model, Q[owner], picked, desired)
        for i in range(b):
            out[start + i] = sparse[owner == i]
    return out


@dataclass(frozen=True)
class SearchSettings:
    """How far the search goes for one query."""

    grid: list[np.ndarray]  # per feature, training quantiles
    max_changes: int | None
    beam_width: int
    max_rows: int
    complete_up_to: int  # a feature with at most this many admissible values uses them all


def search(
    model: TrainedClassifier,
    spec: DatasetSpec,
    query: np.ndarray,
    desired: int,
    neighbours: np.ndarray,
    settings: SearchSettings,
    budget: Budget,
) -> tuple[np.ndarray, Certificate]:
    """Valid rows for one query (fewest changes found first, unsorted) and the answer.

    The rows handed to the model are counted against ``budget.max_candidates`` (a subset
    size, or a beam level, that does not fit is not started), so the answer does not depend on
    the machine; the budget's deadline, if any, also stops it.
    """
    d = len(query)
    if model.predict(query[None, :])[0] == desired:
        return query[None, :].copy(), Certificate("optimal", "search", 0, 0)
    options, complete = _options(spec, query, neighbours, settings)
    n_options = len(options)
    best_known = int(count_changes(spec, query, neighbours).min()) if len(neighbours) else None
    cap = n_options if settings.max_changes is None else min(settings.max_changes, n_options)
    limit = cap if best_known is None else min(cap, best_known - 1)

    found = np.empty((0, d))
    proven = 0  # every subset size up to this one was searched exhaustively without success
    searched = 0  # every subset size up to this one was searched exhaustively
    best = math.inf  # the fewest changes (derived features left out) among the hits
    timed_out = False
    size = 1
    # A row moving ``size`` proposable features changes at least ``size`` features: once a
    # hit changes no more than that, no larger subset can beat it.
    while size <= limit and size < best:
        rows_at_size = count_rows(options, size)
        if rows_at_size > settings.max_rows:
            break
        if budget.out_of_time() or not budget.take_rows(int(rows_at_size)):
            timed_out = True
            break
        hits = [
            _valid(model, spec, query, rows, desired) for rows in subset_rows(query, options, size)
        ]
        hits = [h for h in hits if len(h)]
        searched = size
        if hits:
            found = np.vstack([found, *hits])
            best = min(best, int(count_changes(spec, query, found).min()))
        elif not len(found):
            proven = size
        size += 1
    if not len(found) and size <= limit and not timed_out:
        found, timed_out = _beam(
            model, spec, query, desired, options, size, limit, settings, budget
        )
        if len(found):
            found = sparsify(model, np.broadcast_to(query, found.shape), found, desired)

    pool = np.vstack([found, neighbours]) if len(neighbours) else found
    if len(pool):
        l0 = int(count_changes(spec, query, pool).min())
        # Every row moving at most ``searched`` proposable features was tried; a row moving
        # more changes more features than that (derived ones follow, never the other way).
        exact = l0 <= searched + 1
        if exact and complete:
            return pool, Certificate("optimal", "search", l0, l0)
        status = "optimal" if exact else "feasible"
        bound = proven + 1 if complete else math.nan
        return pool, Certificate(status, "search", l0, bound, exact_on_grid=exact)
    if complete and proven >= cap:  # none within the changes the rules allow: proven
        return pool, Certificate("infeasible", "search", min_l0_bound=math.inf)
    status = "time_limit" if timed_out else "not_found"
    return pool, Certificate(status, "search", min_l0_bound=proven + 1 if complete else math.nan)


def _options(
    spec: DatasetSpec, query: np.ndarray, neighbours: np.ndarray, settings: SearchSettings
) -> tuple[dict[int, np.ndarray], bool]:
    """Per changeable feature, the values to try (never the query's); and whether they are
    every admissible value."""
    low, high = change_range(spec, query)
    options: dict[int, np.ndarray] = {}
    complete = True
    derived = set(spec.derived_features)
    for j, feature in enumerate(spec.features):
        if not math.isfinite(low[j]) or feature.name in derived:
            continue
        if grain_count(feature, low[j], high[j]) <= settings.complete_up_to:
            values = grain_all(feature, low[j], high[j])
        else:
            complete = False
            grid = settings.grid[j]
            values = grid[(grid >= low[j]) & (grid <= high[j])]
            if len(neighbours):
                values = np.union1d(values, neighbours[:, j])
        values = values[changed(query[j], values)]
        if len(values):
            options[j] = values
    return options, complete


def count_rows(options: dict[int, np.ndarray], size: int) -> float:
    """Rows of an exhaustive search at one subset size (as a float; it can be huge)."""
    sizes = [len(v) for v in options.values()]
    if size > len(sizes):
        return 0.0
    # Elementary symmetric polynomial of the option counts.
    e = np.zeros(size + 1)
    e[0] = 1.0
    for s in sizes:
        e[1:] = e[1:] + s * e[:-1]
    return float(e[size])


def _valid(
    model: TrainedClassifier, spec: DatasetSpec, query: np.ndarray, rows: np.ndarray, desired: int
) -> np.ndarray:
    """The candidate rows, projected onto what the query and the relations allow, that the
    model puts in the desired class."""
    if spec.relations:
        rows = project(spec, query, rows)
    return rows[model.predict(rows) == desired]


def _beam(
    model: TrainedClassifier,
    spec: DatasetSpec,
    query: np.ndarray,
    desired: int,
    options: dict[int, np.ndarray],
    size: int,
    limit: int,
    settings: SearchSettings,
    budget: Budget,
) -> tuple[np.ndarray, bool]:
    """Grow the likeliest rows one feature at a time, from ``size`` up to ``limit`` changes."""
    beam = query[None, :].copy()
    features = sorted(options)
    for level in range(1, limit + 1):
        if budget.out_of_time():
            return np.empty((0, len(query))), True
        children = []
        for row in beam:
            free = [j for j in features if not changed(query[j], row[j])]
            for j in free:
                block = np.repeat(row[None, :], len(options[j]), axis=0)
                block[:, j] = options[j]
                children.append(block)
        if not children:
            break
        rows = np.vstack(children)
        if spec.relations:
            rows = project(spec, query, rows)
        rows = _unique(rows)
        if not budget.take_rows(len(rows)):
            return np.empty((0, len(query))), True
        labels, proba = model.predict_with_proba(rows, desired)
        hits = rows[labels == desired]
        if level >= size and len(hits):
            return hits, False
        beam = rows[np.argsort(-proba, kind="stable")[: settings.beam_width]]
    return np.empty((0, len(query))), False


def _unique(rows: np.ndarray) -> np.ndarray:
    """Distinct rows, sorted; a query's missing values (in every row alike) set aside."""
    gaps = np.isnan(rows).all(axis=0)
    if not gaps.any():
        return np.unique(rows, axis=0)
    distinct = np.unique(rows[:, ~gaps], axis=0)
    out = np.full((len(distinct), rows.shape[1]), np.nan)
    out[:, ~gaps] = distinct
    return out


def subset_rows(
    query: np.ndarray, options: dict[int, np.ndarray], size: int
) -> Iterator[np.ndarray]:
    """Yield blocks of candidate rows: ``query`` with ``size`` features set to grid values."""
    block: list[np.ndarray] = []
    rows_in_block = 0
    for subset in itertools.combinations(sorted(options), size):
        grids = np.meshgrid(*(options[j] for j in subset), indexing="ij")
        combos = np.stack([g.ravel() for g in grids], axis=1)
        rows = np.repeat(query[None, :], len(combos), axis=0)
        rows[:, list(subset)] = combos
        block.append(rows)
        rows_in_block += len(rows)
        if rows_in_block >= MAX_ROWS_PER_CALL:
            yield np.vstack(block)
            block, rows_in_block = [], 0
    if block:
        yield np.vstack(block)
