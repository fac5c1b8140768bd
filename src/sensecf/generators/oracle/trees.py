"""Tree ensembles as mixed-integer programs (after Parmentier & Vidal, 2021).

The ensemble is read once (:func:`read_trees`): every node of every tree in flat arrays, with
each leaf's contribution to the ensemble's score (a random forest's leaf probability over the
number of trees; a boosted tree's value). Per query, :meth:`TreeEnsemble.program`

1. decides every split the query's admissible values cannot reach both sides of (fixed
   features, directions, bounds) and drops what becomes unreachable;
2. lists, per feature, one candidate value per interval between the remaining thresholds: the
   admissible grain value nearest the query (the query's own value in its interval), so the
   program is exact on the grain: every admissible value behaves like its interval's candidate;
3. writes the program: ``y[j, k] = 1`` when feature ``j`` takes its ``k``-th candidate or a
   larger one (a monotone chain of binaries), each split ``x_j > t`` is one ``y``, a leaf
   variable per reachable leaf with the usual left/right constraints, and the score
   constraint on the leaves.

Splits compare the value as the estimator does: scikit-learn's trees cast to float32, the
histogram booster compares float64. A missing value goes where the fitted tree sends it
(``missing_go_to_left`` of each node: learned where training had gaps there, else the child
that had more training rows); a query's missing feature stays missing in every counterfactual,
so each split on it is decided before the program is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier

from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.admissible import grain_ends, grain_near, interval_starts
from sensecf.generators.oracle.encoding import (
    Link,
    Preprocessing,
    UnsupportedModel,
    positive_column,
)
from sensecf.generators.oracle.milp import Expr, ProgramBuilder
from sensecf.generators.oracle.relations import RelationProgram
from sensecf.models.classifier import TrainedClassifier


@dataclass(frozen=True)
class TreeEnsemble:
    """All nodes of all trees in flat arrays (node ids are global; -1 means none)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    parent: np.ndarray
    is_left: np.ndarray
    depth: np.ndarray
    tree: np.ndarray
    roots: np.ndarray
    offset: float
    link: Link
    dtype: Any
    preprocessing: Preprocessing
    missing_left: np.ndarray  # per node: a missing value goes left

    @property
    def n_trees(self) -> int:
        """How many trees the ensemble has."""
        return len(self.roots)

    def model_space(self, X: np.ndarray) -> np.ndarray:
        """Raw rows → the values the trees compare, in the estimator's precision."""
        Z = self.preprocessing.transform(np.atleast_2d(X))
        return Z.astype(self.dtype).astype(float)

    def leaves(self, Z: np.ndarray) -> np.ndarray:
        """The leaf each model-space row reaches in each tree (rows × trees)."""
        node = np.broadcast_to(self.roots, (len(Z), self.n_trees)).copy()
        rows = np.arange(len(Z))[:, None]
        while True:
            inner = self.feature[node] >= 0
            if not inner.any():
                return node
            z = Z[rows, np.maximum(self.feature[node], 0)]
            go_left = np.where(np.isnan(z), self.missing_left[node], z <= self.threshold[node])
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, step, node)

    def score(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's score of raw rows (P(positive) through :attr:`link`)."""
        return self.offset + self.value[self.leaves(self.model_space(X))].sum(axis=1)

    # ---- one query's program ---------------------------------------------------------
    def program(
        self,
        spec: DatasetSpec,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        scale: np.ndarray,
        bound: tuple[str, float],
        relations: RelationProgram | None = None,
        ratio_pick: str = "inner",
        ratio_levels: int = 0,
        chain_values: Mapping[int, np.ndarray] | None = None,
        companions: Sequence[tuple[TreeEnsemble, tuple[str, float]]] = (),
    ) -> ProgramBuilder:
        """The program for one query: ``low``/``high`` from :func:`.admissible.change_range`,
        ``scale`` the MAD scales, ``bound`` the score constraint (``"<="`` or ``">="``, value),
        ``relations`` the query's relations (splits on a ratio are exact: ``ratio_pick`` is
        for linear models only). ``chain_values``: per feature, the values its chain offers
        (sorted, the query's among them), taken from the program over a wider range so that
        a program over fewer features has the same choices; such a feature gets a chain even
        where none of its splits is open. ``companions``: other tree ensembles over the same
        rows, each with its own score bound (a plausibility detector's trees): their splits
        share the features' chains, so the program holds every bound at once, exactly.
        """
        ends = _extremes(spec, query, low, high)
        linked: frozenset[int] = frozenset()
        derived: tuple[int, ...] = ()
        if relations is not None:
            ends = relations.extremes(ends)
            linked, derived = relations.plan.linked, relations.plan.order
        # Every ensemble's trees (the classifier's, then each companion's) share the chains.
        groups: list[tuple[TreeEnsemble, tuple[str, float]]] = [(self, bound), *companions]
        opened = [ensemble._open(query, ends) for ensemble, _ in groups]

        builder = ProgramBuilder(spec, query, scale)
        # Candidates: one per interval between the open thresholds of each feature (of every
        # ensemble: the joint cells, so that each ensemble is exact on them).
        chains: dict[int, tuple[int, list[np.ndarray]]] = {}
        handles: dict[int, Expr] = {}
        given = {} if chain_values is None else dict(chain_values)
        features = {int(j) for j in given}
        for part in opened:
            features |= {int(j) for j in part.thresholds}
        chosen = [j for j in sorted(features) if j not in derived]
        if chosen:
            cands = {}
            for j in chosen:
                if j in given:
                    cands[j] = given[j]
                    continue
                own = [
                    ensemble._candidates(spec, j, query, low[j], high[j], part.thresholds[j], ends)
                    for (ensemble, _), part in zip(groups, opened, strict=True)
                    if j in part.thresholds
                ]
                cands[j] = np.unique(np.concatenate(own))
            longest = max(len(c) for c in cands.values())
            block = np.repeat(query[None, :], longest, axis=0)
            for j, c in cands.items():
                block[: len(c), j] = c
                block[len(c) :, j] = c[0]
            spaces = [ensemble.model_space(block) for ensemble, _ in groups]
            for j, c in cands.items():
                keys = [
                    np.searchsorted(part.edges(j), Z[: len(c), j], side="left")
                    for part, Z in zip(opened, spaces, strict=True)
                ]
                if j in linked:  # every admissible value stays: the relations read it
                    starts, counts = interval_starts(spec.features[j], query[j], low[j], high[j], c)
                    z_starts = np.repeat(query[None, :], len(starts), axis=0)
                    z_starts[:, j] = starts
                    start_keys = [
                        np.searchsorted(
                            part.edges(j), ensemble.model_space(z_starts)[:, j], side="left"
                        )
                        for (ensemble, _), part in zip(groups, opened, strict=True)
                    ]
                    y, handles[j] = builder.add_intervals(j, starts, counts)
                    chains[j] = (y, start_keys)
                elif j in given:  # a larger program's values: the same choices, fewer splits
                    chains[j] = (builder.add_chain(j, c), keys)
                else:
                    # The sum of the ensembles' keys grows exactly where one of them does.
                    picked = _nearest_per_key(c, np.sum(keys, axis=0), query[j])
                    chains[j] = (builder.add_chain(j, c[picked]), [k[picked] for k in keys])
        if relations is not None:
            for j in sorted(linked - set(handles)):
                if np.isfinite(low[j]):
                    starts, counts = interval_starts(spec.features[j], query[j], low[j], high[j])
                    if len(starts) > 1:
                        handles[j] = builder.add_intervals(j, starts, counts)[1]
            relations.encode(builder, handles)
        # Splits on derived features: binaries (and their rows) before the leaves' open rows.
        derived_y: list[dict[int, int]] = []
        for (ensemble, _), part in zip(groups, opened, strict=True):
            sides: dict[int, int] = {}
            for j in derived:
                nodes = np.flatnonzero(part.open_node & (ensemble.feature == j))
                if len(nodes) and relations is not None:
                    left_max, right_min = ensemble.split_edges(j, ensemble.threshold[nodes])
                    for node, a, b in zip(nodes, left_max, right_min, strict=True):
                        sides[int(node)] = relations.split(builder, j, float(a), float(b))
            derived_y.append(sides)
        for g, ((ensemble, limit), part) in enumerate(zip(groups, opened, strict=True)):
            own_chains = {j: (y, keys[g]) for j, (y, keys) in chains.items()}
            ensemble._attach(builder, part, own_chains, derived_y[g], limit)
        return builder

    def _open(self, query: np.ndarray, ends: tuple[np.ndarray, np.ndarray]) -> _Opened:
        """What the admissible values leave open of this ensemble (see :class:`_Opened`)."""
        inner = self.feature >= 0
        always_left, always_right = self._decided(query, ends)
        reach = self._reachable(always_left, always_right)
        open_node = reach & inner & ~always_left & ~always_right
        open_tree = np.zeros(self.n_trees, dtype=bool)
        open_tree[self.tree[open_node]] = True
        leaf = reach & ~inner
        constant = self.offset + self.value[leaf & ~open_tree[self.tree]].sum()
        thresholds = {
            int(j): np.unique(self.threshold[open_node & (self.feature == j)])
            for j in np.unique(self.feature[open_node])
        }
        return _Opened(open_node, open_tree, leaf, float(constant), thresholds)

    def _attach(
        self,
        builder: ProgramBuilder,
        part: _Opened,
        chains: Mapping[int, tuple[int, np.ndarray]],
        derived_y: Mapping[int, int],
        bound: tuple[str, float],
    ) -> None:
        """The open trees' leaves, the splits above them (each the ``y`` of its feature's
        chain, or of a derived split) and the score row ``bound`` on them."""
        open_node, open_tree, leaf = part.open_node, part.open_tree, part.leaf
        leaf_ids = np.flatnonzero(leaf & open_tree[self.tree])
        z = builder.add_continuous(len(leaf_ids), 0.0, 1.0)
        trees = self.tree[leaf_ids]
        tree_row = {t: builder.n_rows + i for i, t in enumerate(np.unique(trees))}
        rows = np.array([tree_row[t] for t in trees], dtype=int)
        builder.add_rows_coo(rows, z + np.arange(len(leaf_ids)), np.ones(len(leaf_ids)))
        builder.close_rows(len(tree_row), 1.0, 1.0)

        split_ids = np.flatnonzero(open_node)
        split_index = np.full(len(self.feature), -1)
        split_index[split_ids] = np.arange(len(split_ids))
        first_row = builder.n_rows
        entries_row, entries_col = [], []
        current = leaf_ids.copy()
        member = np.arange(len(leaf_ids))
        while len(current):
            parent = self.parent[current]
            alive = parent >= 0
            current, member, parent = current[alive], member[alive], parent[alive]
            side = np.where(self.is_left[current], 0, 1)
            hit = split_index[parent] >= 0
            entries_row.append(first_row + 2 * split_index[parent[hit]] + side[hit])
            entries_col.append(z + member[hit])
            current = parent
        if entries_row:
            r, c = np.concatenate(entries_row), np.concatenate(entries_col)
            builder.add_rows_coo(r, c, np.ones(len(r)))
        # Each split's side: right when the feature's chain has reached the first candidate
        # past the threshold (key above the threshold's position).
        y_cols = np.empty(len(split_ids), dtype=int)
        for i, node in enumerate(split_ids):
            if int(node) in derived_y:
                y_cols[i] = derived_y[int(node)]
        for j, (start, keys) in chains.items():
            mine = self.feature[split_ids] == j
            if not mine.any():
                continue
            pos = np.searchsorted(part.thresholds[j], self.threshold[split_ids[mine]])
            k = np.searchsorted(keys, pos + 1, side="left")
            if np.any((k < 1) | (k >= len(keys))):
                raise RuntimeError(f"an open split on feature {j} has only one side left")
            y_cols[mine] = start + k - 1
        left_rows = first_row + 2 * np.arange(len(split_ids))
        builder.add_rows_coo(left_rows, y_cols, np.ones(len(split_ids)))
        builder.add_rows_coo(left_rows + 1, y_cols, -np.ones(len(split_ids)))
        lower = np.tile([-np.inf, -np.inf], len(split_ids))
        upper = np.tile([1.0, 0.0], len(split_ids))
        builder.close_rows_bounds(lower, upper)

        # The score: constant part plus the open trees' leaves.
        sense, value = bound
        builder.add_rows_coo(
            np.full(len(leaf_ids), builder.n_rows),
            z + np.arange(len(leaf_ids)),
            self.value[leaf_ids],
        )
        rhs = value - part.constant
        builder.close_rows(1, -np.inf if sense == "<=" else rhs, rhs if sense == "<=" else np.inf)

    def score_range(
        self,
        spec: DatasetSpec,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        relations: RelationProgram | None = None,
    ) -> tuple[float, float]:
        """The lowest and highest score any admissible change of ``query`` could reach: each
        tree's lowest and highest leaf among those its admissible values reach (a bound; the
        trees are not held to one row). ``low``/``high`` and ``relations`` as for
        :meth:`program` (the derived features' ranges follow their inputs').
        """
        inner = self.feature >= 0
        ends = _extremes(spec, query, low, high)
        if relations is not None:
            ends = relations.extremes(ends)
        reach = self._reachable(*self._decided(query, ends))
        leaf = reach & ~inner
        top = np.full(self.n_trees, -np.inf)
        bottom = np.full(self.n_trees, np.inf)
        np.maximum.at(top, self.tree[leaf], self.value[leaf])
        np.minimum.at(bottom, self.tree[leaf], self.value[leaf])
        return self.offset + float(bottom.sum()), self.offset + float(top.sum())

    def _decided(
        self, query: np.ndarray, ends: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per node, whether every admissible value goes left (right): the query's values
        where ``ends`` (per feature the smallest and largest admissible value) are NaN."""
        z_min = self.model_space(np.where(np.isnan(ends[0]), query, ends[0]))[0]
        z_max = self.model_space(np.where(np.isnan(ends[1]), query, ends[1]))[0]
        inner = self.feature >= 0
        f = np.maximum(self.feature, 0)
        # A feature the estimator receives missing (the query's, kept missing) takes the
        # tree's missing-value branch at every split on it.
        gap = np.isnan(z_min)[f]
        always_left = inner & np.where(gap, self.missing_left, z_max[f] <= self.threshold)
        always_right = inner & np.where(gap, ~self.missing_left, z_min[f] > self.threshold)
        return always_left, always_right

    def split_edges(self, j: int, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per threshold on feature ``j``, the largest raw value the trees send left and the
        smallest they send right (neighbouring floats), found by bisection on the real
        preprocessing and the estimator's precision."""
        t = np.asarray(thresholds, dtype=float)
        width = len(self.preprocessing.slope)

        def right(values: np.ndarray) -> np.ndarray:
            block = np.zeros((len(values), width))
            block[:, j] = values
            return self.model_space(block)[:, j] > t

        guess = self.preprocessing.inverse(t, j)
        step = np.maximum(1e-6, 1e-6 * np.abs(guess))
        lo, hi = guess - step, guess + step
        for _ in range(200):
            bad_lo, bad_hi = right(lo), ~right(hi)
            if not (bad_lo.any() or bad_hi.any()):
                break
            step = step * 2
            lo, hi = np.where(bad_lo, lo - step, lo), np.where(bad_hi, hi + step, hi)
        for _ in range(200):
            mid = lo + (hi - lo) / 2
            done = (mid <= lo) | (mid >= hi)
            if done.all():
                break
            go = right(mid)
            hi = np.where(~done & go, mid, hi)
            lo = np.where(~done & ~go, mid, lo)
        return lo, hi

    def _reachable(self, always_left: np.ndarray, always_right: np.ndarray) -> np.ndarray:
        reach = np.zeros(len(self.feature), dtype=bool)
        reach[self.roots] = True
        for level in self._levels:
            nodes = level[reach[level] & (self.feature[level] >= 0)]
            reach[self.left[nodes[~always_right[nodes]]]] = True
            reach[self.right[nodes[~always_left[nodes]]]] = True
        return reach

    @property
    def _levels(self) -> list[np.ndarray]:
        cached = self.__dict__.get("_levels_cache")
        if cached is None:
            order = np.argsort(self.depth, kind="stable")
            cuts = np.searchsorted(self.depth[order], np.arange(1, self.depth.max() + 1))
            cached = np.split(order, cuts)
            object.__setattr__(self, "_levels_cache", cached)
        return cached

    def _candidates(
        self,
        spec: DatasetSpec,
        j: int,
        query: np.ndarray,
        low: float,
        high: float,
        thresholds: np.ndarray,
        ends: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        feature = spec.features[j]
        raw = self.preprocessing.inverse(thresholds, j)
        near = grain_near(feature, raw, low, high)
        extra = [ends[0][j], ends[1][j], query[j]]
        values = np.concatenate([near, [v for v in extra if np.isfinite(v)]])
        return np.unique(values)


def _extremes(
    spec: DatasetSpec, query: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the smallest and largest admissible value (NaN where only the query's)."""
    lo = np.full(len(query), np.nan)
    hi = np.full(len(query), np.nan)
    for j, feature in enumerate(spec.features):
        ends = grain_ends(feature, low[j], high[j])
        if len(ends):
            lo[j], hi[j] = min(ends[0], query[j]), max(ends[1], query[j])
    return lo, hi


def _nearest_per_key(values: np.ndarray, keys: np.ndarray, query: float) -> np.ndarray:
    """The positions of one value per key, in key order: the query's own in its key, else the
    one nearest the query."""
    distance = np.abs(values - query)
    order = np.lexsort((distance, keys))
    keys_sorted = keys[order]
    first = np.r_[True, keys_sorted[1:] != keys_sorted[:-1]]
    return order[first]


@dataclass(frozen=True)
class _Opened:
    """One ensemble under one query's admissible values: the splits still open, the trees
    with one, the reachable leaves, the score of the decided trees and, per feature, the
    sorted thresholds of its open splits (model space)."""

    open_node: np.ndarray
    open_tree: np.ndarray
    leaf: np.ndarray
    constant: float
    thresholds: dict[int, np.ndarray]

    def edges(self, j: int) -> np.ndarray:
        """Feature ``j``'s open thresholds (none where it has no open split)."""
        return self.thresholds.get(j, np.empty(0))


# ---- reading scikit-learn's estimators ----------------------------------------------------
def read_trees(
    estimator: Any, model: TrainedClassifier, preprocessing: Preprocessing
) -> TreeEnsemble | None:
    """The flat encoding of a supported tree ensemble; None when the estimator is not one."""
    if isinstance(estimator, (RandomForestClassifier, ExtraTreesClassifier)):
        column = positive_column(estimator, model)
        trees = [e.tree_ for e in estimator.estimators_]
        parts = [_sklearn_tree(t, _leaf_proba(t, column) / len(trees)) for t in trees]
        return _assemble(parts, 0.0, Link("identity"), np.float32, preprocessing)
    if isinstance(estimator, DecisionTreeClassifier):
        column = positive_column(estimator, model)
        tree = estimator.tree_
        part = _sklearn_tree(tree, _leaf_proba(tree, column))
        return _assemble([part], 0.0, Link("identity"), np.float32, preprocessing)
    if isinstance(estimator, GradientBoostingClassifier):
        if estimator.estimators_.shape[1] != 1 or positive_column(estimator, model) != 1:
            raise UnsupportedModel("gradient boosting is encoded for binary targets only")
        factor = 2.0 if estimator.loss == "exponential" else 1.0
        rate = estimator.learning_rate
        parts = [
            _sklearn_tree(e.tree_, e.tree_.value[:, 0, 0] * rate)
            for e in estimator.estimators_[:, 0]
        ]
        encoding = _assemble(parts, 0.0, Link("logistic", factor), np.float32, preprocessing)
        return _with_offset(encoding, estimator)
    if isinstance(estimator, HistGradientBoostingClassifier):
        if getattr(estimator, "n_trees_per_iteration_", 1) != 1:
            raise UnsupportedModel("histogram gradient boosting is encoded for binary targets only")
        if positive_column(estimator, model) != 1:
            raise UnsupportedModel("histogram gradient boosting: unexpected class order")
        if getattr(estimator, "_preprocessor", None) is not None:
            raise UnsupportedModel("histogram gradient boosting with categorical features")
        parts = []
        for predictors in estimator._predictors:
            nodes = predictors[0].nodes
            if nodes["is_categorical"].any():
                raise UnsupportedModel("histogram gradient boosting with categorical splits")
            leaf = nodes["is_leaf"].astype(bool)
            parts.append(
                (
                    np.where(leaf, -1, nodes["feature_idx"].astype(int)),
                    nodes["num_threshold"].astype(float),
                    np.where(leaf, -1, nodes["left"].astype(int)),
                    np.where(leaf, -1, nodes["right"].astype(int)),
                    np.where(leaf, nodes["value"].astype(float), 0.0),
                    nodes["missing_go_to_left"].astype(bool) & ~leaf,
                )
            )
        encoding = _assemble(parts, 0.0, Link("logistic"), np.float64, preprocessing)
        return _with_offset(encoding, estimator)
    return None


def _leaf_proba(tree: Any, column: int) -> np.ndarray:
    values = tree.value[:, 0, :]
    total = values.sum(axis=1)
    return values[:, column] / np.where(total == 0, 1.0, total)


def _sklearn_tree(tree: Any, leaf_value: np.ndarray) -> tuple[np.ndarray, ...]:
    leaf = tree.children_left < 0
    # Before scikit-learn 1.3 trees took no missing values (and have no such array).
    to_left = getattr(tree, "missing_go_to_left", None)
    to_left = np.zeros(len(leaf), bool) if to_left is None else np.asarray(to_left, bool)
    return (
        np.where(leaf, -1, tree.feature),
        tree.threshold.astype(float),
        tree.children_left.astype(int),
        tree.children_right.astype(int),
        np.where(leaf, leaf_value, 0.0),
        to_left & ~leaf,
    )


def _assemble(
    parts: list[tuple[np.ndarray, ...]],
    offset: float,
    link: Link,
    dtype: Any,
    preprocessing: Preprocessing,
) -> TreeEnsemble:
    sizes = np.array([len(p[0]) for p in parts])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    feature = np.concatenate([p[0] for p in parts])
    threshold = np.concatenate([p[1] for p in parts])
    left = np.concatenate(
        [np.where(p[2] >= 0, p[2] + s, -1) for p, s in zip(parts, starts, strict=True)]
    )
    right = np.concatenate(
        [np.where(p[3] >= 0, p[3] + s, -1) for p, s in zip(parts, starts, strict=True)]
    )
    value = np.concatenate([p[4] for p in parts])
    missing_left = np.concatenate([p[5] for p in parts])
    tree = np.repeat(np.arange(len(parts)), sizes)
    n = len(feature)
    parent = np.full(n, -1)
    is_left = np.zeros(n, dtype=bool)
    inner = np.flatnonzero(feature >= 0)
    parent[left[inner]] = inner
    parent[right[inner]] = inner
    is_left[left[inner]] = True
    depth = np.zeros(n, dtype=int)
    frontier = starts
    level = 0
    while len(frontier):
        depth[frontier] = level
        inner_frontier = frontier[feature[frontier] >= 0]
        frontier = np.concatenate([left[inner_frontier], right[inner_frontier]])
        level += 1
    return TreeEnsemble(
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        value=value,
        parent=parent,
        is_left=is_left,
        depth=depth,
        tree=tree,
        roots=starts,
        offset=offset,
        link=link,
        dtype=dtype,
        preprocessing=preprocessing,
        missing_left=missing_left,
    )


def _with_offset(encoding: TreeEnsemble, estimator: Any) -> TreeEnsemble:
    """Boosting starts from a prior score; read it off one probe row of the estimator."""
    width = len(encoding.preprocessing.slope)
    probe = np.zeros((1, width))
    Z = probe.astype(encoding.dtype).astype(float)
    trees_sum = encoding.value[encoding.leaves(Z)].sum(axis=1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a probe without feature names
        raw = float(np.ravel(estimator.decision_function(probe))[0])
    offset = raw - trees_sum
    return replace(encoding, offset=offset)
