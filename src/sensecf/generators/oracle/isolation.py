"""The plausibility detector's IsolationForest as trees the exact program can hold.

scikit-learn scores a row by its mean path length over the trees: in each tree the leaf's depth
plus ``c(n)`` (the average path length of an unbuilt tree over the leaf's ``n`` training rows),
``score_samples = -2 ** (-S)`` with ``S = Σ_trees (depth + c(n) - 1) / (trees × c(max_samples))``
(its depths count the root as 1). Each leaf's term is a constant, so ``S`` is a tree ensemble's
score like a random forest's (:class:`~.trees.TreeEnsemble`), and the inlier rule
``score_samples ≥ threshold`` is the linear row ``S ≥ -log2(-threshold)``
(:meth:`~sensecf.models.plausibility.PlausibilityDetector.path_length_bound`). Its
preprocessing is the detector's standardisation (a missing value as the training median, an
increasing affine map per feature); its trees compare float32 values, as scikit-learn's do.

>>> import numpy as np
>>> from sensecf.models.plausibility import PlausibilityDetector, Standardiser
>>> X = np.random.default_rng(0).normal(size=(80, 3))
>>> detector = PlausibilityDetector(n_estimators=5).fit(
...     Standardiser.from_reference(X, np.ones(3)), X)
>>> trees = read_isolation_forest(detector)
>>> bool(np.allclose(-(2 ** -trees.score(X)), detector.iforest_scores(X), rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble._iforest import _average_path_length

from sensecf.generators.oracle.encoding import Link, Preprocessing, UnsupportedModel
from sensecf.generators.oracle.trees import TreeEnsemble, _assemble, _sklearn_tree
from sensecf.models.plausibility import PlausibilityDetector

__all__ = ["DETECTOR_ATOL", "read_isolation_forest", "verify_detector"]

# The encoded score_samples must match scikit-learn's this closely on the checked rows.
DETECTOR_ATOL = 1e-9


def read_isolation_forest(detector: PlausibilityDetector) -> TreeEnsemble:
    """The fitted detector's IsolationForest as a :class:`~.trees.TreeEnsemble` whose score is
    ``S`` (see the module docstring)."""
    forest = detector.iforest_
    depth_of_sample = float(_average_path_length([forest._max_samples])[0])
    if depth_of_sample <= 0:
        raise UnsupportedModel("an IsolationForest over a single row has no path lengths")
    n_trees = len(forest.estimators_)
    # The trees see a subset of the columns only where max_features says so.
    subsample = forest._max_features != forest.n_features_in_
    parts = []
    for index, (estimator, columns) in enumerate(
        zip(forest.estimators_, forest.estimators_features_, strict=True)
    ):
        lengths = forest._decision_path_lengths[index] + forest._average_path_length_per_tree[index]
        part = list(_sklearn_tree(estimator.tree_, (lengths - 1.0) / (n_trees * depth_of_sample)))
        if subsample:
            feature = part[0]
            part[0] = np.where(feature >= 0, np.asarray(columns)[np.maximum(feature, 0)], -1)
        parts.append(tuple(part))
    scaler = detector.standardiser_
    d = len(scaler.mean)
    preprocessing = Preprocessing(
        steps=scaler,
        slope=1.0 / scaler.scale,
        shift=-scaler.mean / scaler.scale,
        feature_names=tuple(str(j) for j in range(d)),
        missing=(scaler.median - scaler.mean) / scaler.scale,
    )
    return _assemble(parts, 0.0, Link("identity"), np.float32, preprocessing)


def verify_detector(trees: TreeEnsemble, detector: PlausibilityDetector, rows: np.ndarray) -> float:
    """The largest gap between the encoded and scikit-learn's ``score_samples`` on ``rows``;
    raises :class:`UnsupportedModel` above :data:`DETECTOR_ATOL`."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    if not len(rows):
        return 0.0
    mine = -(2.0 ** -trees.score(rows))
    worst = float(np.max(np.abs(mine - detector.iforest_scores(rows))))
    if not worst <= DETECTOR_ATOL:  # NaN fails too
        raise UnsupportedModel(
            f"the encoded IsolationForest differs from its score_samples by up to {worst:.2g}"
        )
    return worst
