"""The few-shot examples: desired-class people like this one, moved onto what this one may change.

A small model copies what its context offers (stack notes, measured), so the examples carry the
knowledge: each is a training row that the classifier puts in the desired class (and, where the
reference carries labels, that is labelled so), *projected* onto what this person may change
(fixed features copied, no move against a feature's direction, bounds, step) and verified again
by the classifier, so copying one is a valid answer. They come nearest first, by the MAD-scaled
distance of the change plus how far the example's own fixed features are from this person's,
over the features both have measured (:meth:`ExampleBank.distance`). What this person is
missing stays missing in every example, as in every counterfactual.
Each is then *sparsified* towards this person (``sparse``, the default): a whole neighbour
differs in ten or more features, and a small model copies the length of what it is shown, so
sparse examples make both the prompt and the answer several times shorter (measured:
``benchmarks/bench_prompt.py``, ``benchmarks/bench_llm.py``).

``worked`` pairs instead show another flagged person and a verified counterfactual of theirs
(their nearest projected desired-class row, sparsified): measured to be worse with a small
model, which copies their answers, not their edits.

Each round and each sample sees its own window of examples: the next ones in line (:func:`window`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from sensecf.data.constraints import count_changes, project
from sensecf.data.scales import FeatureScales
from sensecf.data.spec import DatasetSpec
from sensecf.generators.llm.candidates import near_current
from sensecf.generators.sparsify import sparsify

if TYPE_CHECKING:
    from sensecf.data.dataset import Dataset
    from sensecf.models import TrainedClassifier

# Projected desired-class rows tried per worked-pair person, nearest first.
WORKED_NEIGHBOURS = 40
# Nearest candidates checked per example wanted (projection can make a neighbour invalid).
CANDIDATES_PER_EXAMPLE = 4
# The distance a differing fixed category adds: same-group people come first.
OTHER_GROUP = 10.0
# Verified candidates sparsified per example wanted (two may shrink to the same change).
SPARSIFIED_PER_EXAMPLE = 2


@dataclass(frozen=True, eq=False)
class ExampleBank:
    """The reference rows examples are drawn from, with the classifier that verifies them.

    ``X``: the rows (spec order); ``predicted``: the classifier's class for each; ``labels``:
    their true class, or ``None`` when the reference carries no target; ``scale``: the
    per-feature MAD scale of distances; ``least``: how many desired-class rows the labelled
    pool must hold to be used (else the predicted ones are); ``sparse``: whether an example
    keeps only the changes it needs (:meth:`nearest`).
    """

    spec: DatasetSpec
    model: TrainedClassifier
    X: np.ndarray
    predicted: np.ndarray
    labels: np.ndarray | None
    scale: np.ndarray
    least: int = 1
    sparse: bool = True

    @classmethod
    def from_reference(
        cls, model: TrainedClassifier, reference: Dataset, least: int = 1, sparse: bool = True
    ) -> ExampleBank:
        """The bank of a fitted generator: the reference rows, their predicted and (where the
        reference carries them) true classes, and the MAD scale of distances."""
        spec = model.spec
        X = reference.X.to_numpy(dtype=float)
        frame = reference.frame
        labels = frame[spec.target].to_numpy() if spec.target in frame.columns else None
        scale = FeatureScales.from_reference(spec, X).scale
        return cls(spec, model, X, model.predict(X), labels, scale, least=least, sparse=sparse)

    @cached_property
    def steps(self) -> np.ndarray:
        """Each feature's step, spec order."""
        return np.array([float(f.step) for f in self.spec.features])

    @cached_property
    def mutable(self) -> np.ndarray:
        """Indices of the features an intervention may change."""
        return np.array([j for j, f in enumerate(self.spec.features) if f.is_mutable], int)

    @cached_property
    def fixed(self) -> np.ndarray:
        """Indices of the fixed features (age, diagnoses)."""
        return np.array([j for j, f in enumerate(self.spec.features) if not f.is_mutable], int)

    def pool(self, desired: int) -> np.ndarray:
        """Rows of the desired class: labelled so and predicted so (or predicted so)."""
        predicted = self.predicted == desired
        if self.labels is not None:
            both = predicted & (self.labels == desired)
            if both.sum() >= self.least:
                return self.X[both]
        return self.X[predicted]

    def distance(self, query: np.ndarray, rows: np.ndarray, originals: np.ndarray) -> np.ndarray:
        """MAD-scaled L1 of the change, plus how far the rows' own fixed features are.

        A person whose fixed features (age, diabetes status) differ is a worse example; a
        differing category counts as a large distance, so same-group people come first.

        ``rows`` are the candidates (projected onto the query), ``originals`` the people they
        came from. Missing values: only the features both the query and the original have are
        compared, and their sum is scaled by how many the query has over how many were
        compared (the mean difference of a compared feature stands in for the others, as in
        a NaN-aware Euclidean distance). Counting a missing value as no difference would
        make a person nearer the less of them was measured, and a projected row carries the
        query's own value where its person has none; a row with nothing to compare is
        infinitely far. Complete rows get the plain sum.

        >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
        >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
        ...     features=[FeatureSpec(name=n, bounds=(0, 10)) for n in ("a", "b")])
        >>> bank = ExampleBank(spec, None, np.empty((0, 2)), np.empty(0), None, np.ones(2))
        >>> rows = np.array([[2.0, 2.0], [1.0, 4.0], [np.nan, 4.0]])
        >>> bank.distance(np.array([1.0, 2.0]), rows, rows).tolist()
        [1.0, 2.0, 4.0]
        """
        terms = np.abs(rows - query) / self.scale
        fixed = self.fixed
        if len(fixed):
            apart = np.abs(originals[:, fixed] - query[fixed]) / self.scale[fixed]
            discrete = np.array([self.spec.features[j].levels is not None for j in fixed])
            terms[:, fixed] += np.where(discrete & (apart > 0), OTHER_GROUP, apart)
        compared = np.isfinite(originals) & np.isfinite(query)
        total = np.where(compared, terms, 0.0).sum(axis=1)
        count = compared.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = total * (np.isfinite(query).sum() / count)
        return np.where(count > 0, scaled, np.inf)

    def snap(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Values within half a step of the query's are the query's (as answers are read back)."""
        return np.where(near_current(rows, query, self.steps), query, rows)

    def nearest(
        self, X: np.ndarray, desired: int, count: int, max_changes: int | None = None
    ) -> list[np.ndarray]:
        """Per query, up to ``count`` distinct projected desired-class rows the model verifies.

        With ``sparse`` each row is then sparsified towards the query (changes the model does
        not need are undone one at a time while it still grants the desired class), so an
        example shows a few changes, not the ten or more a whole neighbour differs by: a small
        model copies the length of what it sees, and every shown or written token costs time.
        Rows that shrink to the same change are kept once, in the order of the nearest.
        With ``max_changes``, the rows that change at most that many features come first (an
        answer capped at that many cannot copy the others).
        """
        spec = self.spec
        pool = self.pool(desired)
        d = X.shape[1]
        if not len(pool):
            return [np.empty((0, d)) for _ in X]
        candidates, owners = [], []
        for i, query in enumerate(X):
            # Projection keeps what this person is missing missing (nobody measured it), and
            # where the example's person is missing a value, this person's own one stands.
            projected = self.snap(query, project(spec, np.broadcast_to(query, pool.shape), pool))
            order = np.argsort(self.distance(query, projected, pool), kind="stable")
            picked = projected[order[: CANDIDATES_PER_EXAMPLE * count]]
            # NaN (what this person is missing) never equals itself: compare it as a number
            _, first = np.unique(np.nan_to_num(picked, nan=np.inf), axis=0, return_index=True)
            picked = picked[np.sort(first)]
            candidates.append(picked)
            owners.append(np.full(len(picked), i))
        stacked = np.vstack(candidates)
        verified = self.model.predict(stacked) == desired  # one call for every query
        owner = np.concatenate(owners)
        if not self.sparse:
            return [stacked[(owner == i) & verified][:count] for i in range(len(X))]
        kept = [
            stacked[(owner == i) & verified][: SPARSIFIED_PER_EXAMPLE * count]
            for i in range(len(X))
        ]
        rows = np.vstack(kept)
        owner = np.repeat(np.arange(len(X)), [len(k) for k in kept])
        if len(rows):  # one batched reversion for every query
            rows = sparsify(self.model, X[owner], rows, desired)
        out = []
        for i in range(len(X)):
            mine = rows[owner == i]
            _, first = np.unique(np.nan_to_num(mine, nan=np.inf), axis=0, return_index=True)
            mine = mine[np.sort(first)]
            if max_changes is not None and len(mine):
                over = count_changes(spec, X[i], mine) > max_changes
                mine = mine[np.argsort(over, kind="stable")]
            out.append(mine[:count])
        return out

    def worked(
        self, X: np.ndarray, desired: int, count: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per query: other people the model flags, nearest first, and a verified CF of each.

        Each worked CF is the person's nearest desired-class row, moved onto what *they* may
        change and sparsified (the oracle's neighbour stage).
        """
        spec, model = self.spec, self.model
        d = X.shape[1]
        pool = self.pool(desired)
        others = self.X[self.predicted != desired]
        if not len(pool) or not len(others):
            empty = [np.empty((0, d)) for _ in X]
            return empty, list(empty)
        # Candidate people per query, nearest first; each one's CF is worked out once.
        nearest = [
            np.argsort(self.distance(query, others, others), kind="stable")[: 2 * count]
            for query in X
        ]
        people = np.unique(np.concatenate(nearest))
        blocks = []
        for p in people:
            projected = project(spec, np.broadcast_to(others[p], pool.shape), pool)
            order = np.argsort(self.distance(others[p], projected, pool), kind="stable")
            blocks.append(projected[order[:WORKED_NEIGHBOURS]])
        stacked = np.vstack(blocks)
        ok = (model.predict(stacked) == desired).reshape(len(people), -1)
        has_cf = ok.any(axis=1)
        first_ok = stacked.reshape(len(people), -1, d)[np.arange(len(people)), ok.argmax(axis=1)]
        worked = np.full((len(people), d), np.nan)
        worked[has_cf] = sparsify(model, others[people[has_cf]], first_ok[has_cf], desired)
        where = {int(p): k for k, p in enumerate(people)}
        factual_out, cf_out = [], []
        for chosen in nearest:
            keep = [where[int(p)] for p in chosen if has_cf[where[int(p)]]][:count]
            factual_out.append(others[people[keep]].reshape(-1, d))
            cf_out.append(worked[keep].reshape(-1, d))
        return factual_out, cf_out


def window(rows: np.ndarray, size: int, index: int) -> np.ndarray:
    """The ``index``-th block of ``size`` rows, wrapping around when the rows run out.

    >>> window(np.arange(5.0)[:, None], 2, 2).ravel()   # blocks [0 1], [2 3], [4]
    array([4.])
    >>> window(np.arange(5.0)[:, None], 2, 3).ravel()
    array([0., 1.])
    """
    if size == 0 or not len(rows):
        return rows[:0]
    blocks = max(1, -(-len(rows) // size))
    start = (index % blocks) * size
    return rows[start : start + size]
