"""The oracle search: plain, exact-enough counterfactuals of the project's own.

Three roles: the fallback of the LLM generator, the teacher for fine-tuning, and the
"minimal number of changes" reference every method's sparsity is held against.

For each query it

1. takes the training rows the model puts in the desired class, projects each onto what the
   query allows (fixed features copied, no move against a feature's direction, bounds, step),
   keeps the nearest ones that are still valid, and sparsifies them (greedy reversion);
2. searches exhaustively over subsets of 1..``max_changes`` mutable features, each set to values
   from a grid of training quantiles within the allowed range, smallest subsets first, and stops
   at the first size that flips the prediction.

The smallest size found is the query's minimal L0 (``min_l0`` in the query table, with
``min_l0_exact`` telling whether the exhaustive search proved it, on its grid). The
counterfactuals returned are the valid candidates with the fewest changes, then the smallest
MAD-scaled distance. Every model call is batched: one per query and subset size.
"""

from __future__ import annotations

import itertools

import numpy as np

from sensecf.data.constraints import allowed_ranges, changed, project
from sensecf.data.scales import FeatureScales
from sensecf.generators.base import Candidates, CounterfactualGenerator
from sensecf.generators.sparsify import sparsify

# Keeps one exhaustive model call near a few hundred thousand rows on a 2-core machine.
MAX_ROWS_PER_CALL = 200_000


class Oracle(CounterfactualGenerator):
    """Nearest-unlike-neighbour + greedy reversion, and exhaustive search over small subsets.

    ``grid_size`` candidate values per feature (training quantiles) for subsets of one or two
    features; ``grid_size_large`` for larger subsets, which grow combinatorially. ``neighbors``
    is how many projected desired-class training rows are sparsified per query.

    >>> Oracle(max_changes=2).name
    'oracle'
    """

    name = "oracle"
    keeps_relations = True

    def __init__(
        self,
        *,
        max_changes: int = 3,
        grid_size: int = 9,
        grid_size_large: int = 4,
        neighbors: int = 10,
    ) -> None:
        for label, value, least in (
            ("max_changes", max_changes, 0),
            ("grid_size", grid_size, 2),
            ("grid_size_large", grid_size_large, 2),
            ("neighbors", neighbors, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"`{label}` must be an integer ≥ {least}; got {value!r}")
        self.max_changes = max_changes
        self.grid_size = grid_size
        self.grid_size_large = grid_size_large
        self.neighbors = neighbors

    def _fit(self) -> None:
        spec = self.spec_
        X = self.reference_.X.to_numpy(dtype=float)
        self.reference_X_ = X
        self.reference_pred_ = self.model_.predict(X)
        self.scale_ = FeatureScales.from_reference(spec, X).scale
        # Derived features follow their inputs: the search moves only what may be proposed.
        proposable = {f.name for f in spec.proposable_features}
        self.mutable_ = np.array([j for j, f in enumerate(spec.features) if f.name in proposable])
        self.grid_ = [self._grid(j, self.grid_size) for j in range(len(spec.features))]
        self.grid_large_ = [self._grid(j, self.grid_size_large) for j in range(len(spec.features))]

    def _grid(self, j: int, size: int) -> np.ndarray:
        feature = self.spec_.features[j]
        if feature.levels is not None:
            return np.asarray(feature.levels, dtype=float)
        values = np.quantile(self.reference_X_[:, j], np.linspace(0, 1, size))
        return np.unique(feature.round(values))

    # ---- search -------------------------------------------------------------------------
    def _propose(
        self, query: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator
    ) -> Candidates:
        neighbours = self._neighbour_candidates(query, desired)
        best_known = int(changed(query, neighbours).sum(axis=1).min()) if len(neighbours) else None
        # Only sizes below what the neighbours already reach need searching, to prove minimality.
        limit = self.max_changes if best_known is None else min(self.max_changes, best_known - 1)
        exhaustive = self._exhaustive(query, desired, limit)
        pool = np.vstack([exhaustive, neighbours])
        if not len(pool):
            return Candidates(
                np.empty((0, len(query))), query_info={"min_l0": np.nan, "min_l0_exact": False}
            )
        l0 = changed(query, pool).sum(axis=1)
        distance = (np.abs(pool - query) / self.scale_).sum(axis=1)
        order = np.lexsort((distance, l0))
        pool = pool[order]
        _, first = np.unique(pool, axis=0, return_index=True)
        chosen = pool[np.sort(first)][:n_cfs]
        min_l0 = int(l0.min())
        # Exact (on the grid) when every smaller subset size was searched without success.
        exact = min_l0 - 1 <= limit
        return Candidates(
            chosen, source="search", query_info={"min_l0": min_l0, "min_l0_exact": exact}
        )

    def _neighbour_candidates(self, query: np.ndarray, desired: int) -> np.ndarray:
        """Desired-class training rows moved into what the query allows, valid, sparsified."""
        pool = self.reference_X_[self.reference_pred_ == desired]
        if not len(pool):
            return np.empty((0, len(query)))
        projected = project(self.spec_, np.broadcast_to(query, pool.shape), pool)
        distance = (np.abs(projected - query) / self.scale_).sum(axis=1)
        nearest = projected[np.argsort(distance, kind="stable")[: max(4 * self.neighbors, 40)]]
        valid = nearest[self.model_.predict(nearest) == desired][: self.neighbors]
        if not len(valid):
            return valid
        return sparsify(self.model_, np.broadcast_to(query, valid.shape), valid, desired)

    def _exhaustive(self, query: np.ndarray, desired: int, limit: int) -> np.ndarray:
        """Valid candidates at the smallest subset size up to ``limit`` that has any."""
        lo, hi = allowed_ranges(self.spec_, query[None, :])
        for size in range(1, limit + 1):
            grids = self.grid_ if size <= 2 else self.grid_large_
            options = {}
            for j in self.mutable_:
                values = grids[j]
                values = values[(values >= lo[0, j]) & (values <= hi[0, j]) & (values != query[j])]
                if len(values):
                    options[int(j)] = values
            found = []
            for rows in _subset_rows(query, options, size):
                if self.spec_.relations:  # derived values recomputed, broken relations undone
                    rows = project(self.spec_, np.broadcast_to(query, rows.shape), rows)
                keep = self.model_.predict(rows) == desired
                if keep.any():
                    found.append(rows[keep])
            if found:
                return np.vstack(found)
        return np.empty((0, len(query)))


def _subset_rows(query: np.ndarray, options: dict[int, np.ndarray], size: int):
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
