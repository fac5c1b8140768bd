"""The fewest changes found one set of changed features (a support) at a time.

A forest's program over every feature at once has a weak relaxation: the solver spends its
seconds bounding the number of changes from below. Fixing which features change splits it
into programs over a few features each, most of whose trees are decided before any solve,
and many supports need no solve at all: the score's range over the support's box (each
tree's lowest and highest reachable leaf) already misses the threshold.

:class:`SupportSearch` answers what :func:`.milp.solve` asks of the whole program: the least
counterfactual (fewest changes, then the smallest price: the MAD-scaled distance, or the
effort where the spec states costs), then the least one
whose support is no superset of the earlier ones' (or not one of them, or that differs from
each earlier row in some value). Supports are visited by size; each support's optimum is
solved once and kept, and only the support a new row came from is solved again. A support's
program offers its features the whole program's values and makes each of them change, so
the least of the supports' optima is the whole program's optimum, to the solver's tolerance
(where two rows are equally good, either may come first).

Its work is counted like the oracle's: at most ``max_solves`` programs per query, each with
the budget's node limit. A program that stops at its limit (or too many programs) raises
:class:`Inconclusive`, and the caller goes on with the whole program: the same answer every
time, only slower (for the further solutions only where ``hand_over`` says so).

>>> import numpy as np
>>> search = SupportSearch(
...     universe=(0, 1), build=lambda support: None, possible=lambda support: False,
...     query=np.zeros(2), scale=np.ones(2), budget=None, max_solves=4)
>>> search.next([]) is None  # no support can reach the threshold
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sensecf.generators.oracle.budget import Budget

Support = tuple[int, ...]
MODES = ("support", "exact support", "values")


class Inconclusive(Exception):
    """A support's program stopped at a limit, or the supports would take too many solves."""


@dataclass
class SupportSearch:
    """One query's supports, their optima solved on demand (see the module docstring).

    ``universe``: the features the whole program may change; ``build(support)``: the program
    in which only ``support``'s features may change, over the whole program's values for
    them; ``possible(support)``: whether the score can reach the threshold with changes
    within ``support`` (False proves it cannot).
    """

    universe: tuple[int, ...]
    # The program of a support and the solver come from the caller (the oracle), which owns
    # the whole program's module: this one never imports it back.
    build: Callable[[Support], Any]
    possible: Callable[[Support], bool]
    query: np.ndarray
    scale: np.ndarray
    budget: Budget | None
    max_solves: int
    solve: Callable[..., Any] | None = None
    solver_errors: tuple[type[Exception], ...] = (RuntimeError,)
    fixed: np.ndarray | None = None  # per feature, the price of changing it at all
    # Whether the whole program takes over where the search is inconclusive (False where it
    # is known to be far slower than the budget allows: the search's answers are all then).
    hand_over: bool = True
    solves_: int = 0
    # Every support of this many changes or fewer was searched and none has a counterfactual.
    searched_: int = 0
    best_: dict[tuple[Support, int], tuple[float, np.ndarray] | None] = field(default_factory=dict)

    def next(
        self,
        taken: Sequence[tuple[Support, np.ndarray]],
        mode: str = "support",
        least: int = 1,
        most: int | None = None,
    ) -> tuple[Support, np.ndarray] | None:
        """The least counterfactual with ``least`` to ``most`` changes, and its support, that
        differs from the rows ``taken`` so far (with their supports) as ``mode`` asks; None
        where there is none. Modes, as the whole program's cuts (:func:`.milp.solve`):
        ``support`` (its support no superset of a taken one), ``exact support`` (not a
        taken support), ``values`` (some value differs from each taken row)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}; got {mode!r}")
        supports = [frozenset(s) for s, _ in taken]
        top = len(self.universe) if most is None else min(most, len(self.universe))
        for size in range(max(least, 1), top + 1):
            found: list[tuple[float, Support, np.ndarray]] = []
            for support in itertools.combinations(self.universe, size):
                members = frozenset(support)
                if mode == "support" and any(s <= members for s in supports):
                    continue
                if mode == "exact support" and members in supports:
                    continue
                avoid = [x for s, x in taken if frozenset(s) == members] if mode == "values" else []
                best = self._best(support, avoid)
                if best is not None:
                    found.append((best[0], support, best[1]))
            if found:  # the first of equals: the supports' own order
                _, support, x = min(found, key=lambda entry: entry[0])
                return support, x
            if not taken:  # the sizes from ``least`` on were all empty
                self.searched_ = max(self.searched_, size)
        return None

    def _best(
        self, support: Support, avoid: Sequence[np.ndarray]
    ) -> tuple[float, np.ndarray] | None:
        """The support's optimum away from the rows ``avoid`` (its distance and row), None
        where it has none."""
        key = (support, len(avoid))
        if key not in self.best_:
            # A support the score cannot reach needs no program; one whose optimum is none
            # has none away from rows either.
            unreached = (support, 0) in self.best_ and self.best_[(support, 0)] is None
            if unreached or not self.possible(support):
                self.best_[key] = None
            else:
                self.best_[key] = self._solve(support, avoid)
        return self.best_[key]

    def _solve(
        self, support: Support, avoid: Sequence[np.ndarray]
    ) -> tuple[float, np.ndarray] | None:
        if self.solve is None:
            raise Inconclusive("no solver given for the supports' programs")
        if self.solves_ >= self.max_solves:
            raise Inconclusive(f"more than {self.max_solves} supports to solve")
        self.solves_ += 1
        builder = self.build(support)
        if builder is None or set(builder.features) != set(support):
            raise Inconclusive(f"support {support} has no program of its own")
        # Only the support's features are in the program: each of them changes.
        try:
            outcome = self.solve(
                builder, 1, _budget(self.budget), min_changes=len(support), avoid=avoid
            )
        except self.solver_errors as exc:  # HiGHS gave up: the whole program decides
            raise Inconclusive(f"support {support}: {exc}") from exc
        if outcome.status == "infeasible":
            return None
        if outcome.status != "optimal":
            raise Inconclusive(f"support {support}: {outcome.status}")
        x = outcome.solutions[0]
        keep = list(support)
        distance = float(np.nansum(np.abs(x - self.query)[keep] / self.scale[keep]))
        if self.fixed is not None:
            distance += float(np.asarray(self.fixed, dtype=float)[keep].sum())
        return distance, x


def _budget(budget: Budget | None) -> Budget:
    """The query's budget (a fresh one where none is given)."""
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
