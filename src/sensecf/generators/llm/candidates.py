"""The values a feature may take in an answer, and how each round narrows them.

A feature's *grid* is its levels (a coded feature) or ``size`` training quantiles rounded to its
step. For one query a value is *admissible* when it lies within what the query allows (bounds,
direction) and differs from the current value by over half a step: a value closer than that
reads back as "unchanged" (:func:`~sensecf.generators.llm.parse.coerce_answer`).

Re-asking a small model with the same context returns the same answer (stack notes, measured),
so each round offers a narrower candidate set (:func:`stage`): round 0 the examples' values and
the whole admissible grid — of a few-shot prompt, only for the features its examples move (a
135M model offered every helpful feature often wrote one no example moves, and one change that
worked for nobody like this person rarely works: first answers valid 0.88 → 1.00 on 50
people); round 1 the examples' values and the values that help on their own
(the probe, :mod:`~sensecf.generators.llm.probe`); round 2 only the examples' values (zero-shot:
the single most helpful value per feature); the last resort obliges the strongest helpful
features to move (:func:`forced_features`). A feature is in play when a value of it helps on
its own or an example shown moves it; the others are not asked (every token of the request
and the answer costs time, and a change that neither helps alone nor appears in an example is
not one a small model finds). Candidate lists hold changes only: an answer is compact (a
feature left out stays as it is), so the current value is never offered. A feature nobody
measured for this person (NaN) is never in play: its value is unknown, so every counterfactual
keeps it missing, as a fixed feature keeps its value.

>>> grid = np.array([300.0, 400.0, 420.0, 500.0])
>>> admissible(grid, current=400.4, lo=400.4, hi=900.0, step=1.0)   # sleep may only increase
array([420., 500.])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators.llm.prompts import Help
from sensecf.generators.llm.schema import plain_number

# Helpful features (strongest first) that the last-resort rounds oblige to move.
FORCED_FEATURES = 3


def feature_grid(feature: FeatureSpec, column: np.ndarray, size: int) -> np.ndarray:
    """A feature's levels, or ``size`` quantiles of its finite training values on its step.

    >>> feature_grid(FeatureSpec(name="x", bounds=(0, 10)), np.array([1.0, 2.0, np.nan, 9.0]), 3)
    array([1., 2., 9.])
    """
    if feature.levels is not None:
        return np.asarray(feature.levels, dtype=float)
    column = column[np.isfinite(column)]
    if not len(column):
        return np.empty(0)
    return np.unique(feature.round(np.quantile(column, np.linspace(0, 1, size))))


def near_current(
    values: np.ndarray, current: float | np.ndarray, step: float | np.ndarray
) -> np.ndarray:
    """Which ``values`` lie within half a ``step`` of ``current`` (broadcast): read as unchanged.

    >>> near_current(np.array([399.6, 400.6, np.nan]), 400.0, 1.0)
    array([ True, False, False])
    """
    return np.abs(np.asarray(values, dtype=float) - current) <= np.asarray(step) / 2 + 1e-9


def admissible_mask(
    values: np.ndarray,
    current: float | np.ndarray,
    lo: float | np.ndarray,
    hi: float | np.ndarray,
    step: float,
) -> np.ndarray:
    """Which ``values`` lie in ``[lo, hi]`` and over half a ``step`` from ``current`` (broadcast).

    A missing current value is far from everything.

    >>> admissible_mask(np.array([[1.0, 2.0, 3.0]]), np.array([[2.0], [np.nan]]), 0.0, 9.0, 1.0)
    array([[ True, False,  True],
           [ True,  True,  True]])
    """
    values = np.asarray(values, dtype=float)
    return (values >= lo) & (values <= hi) & ~near_current(values, current, step)


def admissible(values: np.ndarray, current: float, lo: float, hi: float, step: float) -> np.ndarray:
    """The ``values`` admissible for one query's feature (see :func:`admissible_mask`)."""
    values = np.asarray(values, dtype=float)
    return values[admissible_mask(values, current, lo, hi, step)]


def stage(rnd: int, repair_rounds: int) -> int:
    """How narrow round ``rnd``'s candidate set is: 0 (full) to 3 (last resort).

    Rounds climb one stage at a time; the final repair round is always the last resort.

    >>> [stage(k, r) for r in (1, 3, 5) for k in range(r + 1)]
    [0, 3, 0, 1, 2, 3, 0, 1, 2, 3, 3, 3]
    """
    if rnd >= 1 and rnd == repair_rounds:
        return 3
    return min(rnd, 3)


def forced_features(helps: Sequence[tuple[str, Help]], rnd: int) -> set[str]:
    """The helpful features (strongest first) that a last-resort round ``rnd`` obliges to move.

    Three in round 3 or earlier, three more with each further round.

    >>> sorted(forced_features([("a", "raise"), ("b", "lower"), ("c", "raise"), ("d", "raise")], 3))
    ['a', 'b', 'c']
    """
    forced = FORCED_FEATURES * (1 + max(0, rnd - 3))
    return {name for name, _ in helps[:forced]}


def round_candidates(
    spec: DatasetSpec,
    query: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    examples: np.ndarray,
    grids: Sequence[np.ndarray],
    helpful: Mapping[int, np.ndarray],
    stage: int,
    few_shot: bool,
    must_move: set[str],
) -> dict[str, list[int | float]]:
    """Per proposable feature, the values one query's answer may give in a round of ``stage``.

    Only :attr:`~sensecf.data.spec.DatasetSpec.proposable_features` are offered: a derived
    feature is never asked, it follows from its inputs. ``lo``/``hi``: the query's allowed range per feature; ``examples``: the rows shown (spec
    order); ``grids``: per feature its grid; ``helpful``: feature index → values that help on
    their own, best first. A feature with nothing admissible besides its current value is left
    out: it is not in play, so it is not asked and stays as it is. So is a feature the query is
    missing (NaN), whatever ``lo``/``hi`` say: it stays missing.

    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name="sleep", bounds=(0, 900), mutability="increase")])
    >>> kwargs = dict(examples=np.array([[450.0]]), grids=[np.array([300.0, 420.0, 480.0])],
    ...               helpful={0: np.array([480.0])}, few_shot=True, must_move=set())
    >>> [round_candidates(spec, np.array([400.0]), np.array([400.0]), np.array([900.0]),
    ...                   stage=s, **kwargs)["sleep"] for s in (0, 1, 2)]
    [[420, 450, 480], [450, 480], [450]]
    >>> round_candidates(spec, np.array([np.nan]), np.array([0.0]), np.array([900.0]),
    ...                  stage=0, **kwargs)
    {}
    """
    candidates: dict[str, list[int | float]] = {}
    proposable = {f.name for f in spec.proposable_features}
    for j, feature in enumerate(spec.features):
        if feature.name not in proposable or not np.isfinite(query[j]):
            continue
        step = float(feature.step)
        own = admissible(examples[:, j], query[j], lo[j], hi[j], step)
        if not len(own) and feature.name not in must_move:
            if few_shot and stage == 0 and len(examples):
                continue  # a first answer of a few-shot prompt: the features its examples move
            if not len(helpful.get(j, ())):
                continue  # neither helps alone nor moves in an example: not in play
        if stage == 0:
            extra = admissible(grids[j], query[j], lo[j], hi[j], step)
        elif stage == 1:
            extra = helpful.get(j, np.empty(0))
        elif few_shot:
            extra = np.empty(0)  # only the examples' values
        else:
            extra = helpful.get(j, np.empty(0))[:1]
        values = [plain_number(v, step) for v in np.unique(np.concatenate([own, extra]))]
        if values:
            candidates[feature.name] = values
    return candidates
