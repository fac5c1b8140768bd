"""The fewest changes found one set of changed features (a support) at a time.

A forest's program over every feature at once has a weak relaxation: the solver spends its
seconds bounding the number of changes from below. Fixing which features change splits it
into programs over a few features each, most of whose trees are decided before any solve,
and many supports need no solve at all: the score's range over the support's box (each
tree's lowest and highest reachable leaf) already misses the threshold.

:class:`SupportSearch` answers what :func:`.milp.solve` asks in its support mode: the least
counterfactual (fewest changes, then the smallest MAD-scaled distance) whose support is no
superset of given ones. Supports are visited by size; each support's optimum is solved once
and kept. Its solutions equal the whole program's, to the solver's tolerance: a support's
program forces every feature of it to change, and a support of the smallest feasible size
has no feasible subset, so its best row is the whole program's best row with that support.

Its work is counted like the oracle's: at most ``max_solves`` programs per query, each with
the budget's node limit. A program that stops at its limit (or too many programs) raises
:class:`Inconclusive`, and the caller goes on with the whole program: the same answer every
time, only slower.

>>> import numpy as np
>>> search = SupportSearch(
...     universe=(0, 1), build=lambda support: None, possible=lambda support: False,
...     query=np.zeros(2), scale=np.ones(2), budget=None, max_solves=4)
>>> search.next([]) is None  # no support can reach the threshold
True
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sensecf.generators.oracle.budget import Budget
    from sensecf.generators.oracle.milp import ProgramBuilder

logger = logging.getLogger(__name__)

Support = tuple[int, ...]


class Inconclusive(Exception):
    """A support's program stopped at a limit, or the supports would take too many solves."""


@dataclass
class SupportSearch:
    """One query's supports, their optima solved on demand (see the module docstring).

    ``universe``: the features the whole program may change; ``build(support)``: the program
    in which only ``support``'s features may change (None where a feature of it has no value
    that matters there: that support is never the least); ``possible(support)``: whether the
    score can reach the threshold with changes within ``support`` (False proves it cannot).
    """

    universe: tuple[int, ...]
    build: Callable[[Support], ProgramBuilder | None]
    possible: Callable[[Support], bool]
    query: np.ndarray
    scale: np.ndarray
    budget: Budget | None
    max_solves: int
    solves_: int = 0
    best_: dict[Support, tuple[float, np.ndarray] | None] = field(default_factory=dict)

    def next(
        self, excluded: Sequence[frozenset[int]], least: int = 1, most: int | None = None
    ) -> tuple[Support, np.ndarray] | None:
        """The least counterfactual with ``least`` to ``most`` changes whose support is no
        superset of an ``excluded`` one, and its support; None where there is none."""
        top = len(self.universe) if most is None else min(most, len(self.universe))
        for size in range(max(least, 1), top + 1):
            found: list[tuple[float, Support, np.ndarray]] = []
            for support in itertools.combinations(self.universe, size):
                if any(s <= set(support) for s in excluded):
                    continue
                best = self._best(support)
                if best is not None:
                    found.append((best[0], support, best[1]))
            if found:  # the first of equals: the supports' own order
                _, support, x = min(found, key=lambda entry: entry[0])
                return support, x
        return None

    def _best(self, support: Support) -> tuple[float, np.ndarray] | None:
        """The support's optimum (its distance and row), None where it has none."""
        if support in self.best_:
            return self.best_[support]
        answer = None
        if self.possible(support):
            builder = self.build(support)
            if builder is not None and set(builder.features) == set(support):
                answer = self._solve(builder, support)
        self.best_[support] = answer
        return answer

    def _solve(self, builder: ProgramBuilder, support: Support) -> tuple[float, np.ndarray] | None:
        from sensecf.generators.oracle.milp import solve

        if self.solves_ >= self.max_solves:
            raise Inconclusive(f"more than {self.max_solves} supports to solve")
        self.solves_ += 1
        # Only the support's features are in the program: each of them changes.
        outcome = solve(builder, 1, _budget(self.budget), min_changes=len(support))
        if outcome.status == "infeasible":
            return None
        if outcome.status != "optimal":
            raise Inconclusive(f"support {support}: {outcome.status}")
        x = outcome.solutions[0]
        distance = float(
            np.nansum(np.abs(x - self.query)[list(support)] / self.scale[list(support)])
        )
        return distance, x


def _budget(budget: Any) -> Any:
    """The query's budget (a fresh one where none is given: doctests)."""
    if budget is not None:
        return budget
    from sensecf.generators.oracle.budget import Budget

    return Budget(node_limit=1_000, max_candidates=1)


def support_count(n_features: int, least: int = 1) -> int:
    """How many supports of ``least`` or more of ``n_features`` features there are.

    >>> support_count(7), support_count(7, least=3)
    (127, 99)
    """
    return sum(math.comb(n_features, k) for k in range(max(least, 1), n_features + 1))
