"""How much work the oracle may spend on one query, counted so that its answers repeat.

A wall-clock limit makes an answer depend on the machine and on whatever else runs on it: the
same query may be proven on an idle core and left unproven on a busy one. The oracle's default
budget is therefore counted work, identical on every machine:

- ``node_limit``: branch-and-bound nodes per mixed-integer solve (HiGHS ``mip_max_nodes``;
  HiGHS is deterministic for a given program and options). The root of each solve (presolve,
  cuts) always runs to its end: it is part of every answer, and its seconds vary by machine
  while its result does not;
- ``max_candidates``: candidate rows the search may hand to the model per query;
- the solves themselves are counted: a fixed number per query (the distinct solutions asked
  for, a few repeats when the model rejects one, three brackets of a ratio term).

A seconds limit (``deadline``) may be added on top; where it cuts a query short, that query's
answer is no longer reproducible, and :attr:`Budget.label` says so (``"seconds"``).

>>> budget = Budget(node_limit=10, max_candidates=100)
>>> budget.take_rows(60), budget.take_rows(60), budget.label, budget.spent
(True, False, 'work', True)
>>> Budget(node_limit=10, max_candidates=100, deadline=0.0).out_of_time()
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

# What one query's budget says when nothing stopped the oracle, or counted work did ("work"),
# and when the wall clock cut in ("seconds").
LABELS = ("work", "seconds")


@dataclass
class Budget:
    """One query's allowance and what has been spent of it (see the module docstring)."""

    node_limit: int
    max_candidates: int
    deadline: float | None = None  # a ``time.perf_counter()`` value, or no seconds limit
    rows: int = 0  # candidate rows handed to the model so far
    spent: bool = False  # some part of the answer stopped at a limit
    out_of_seconds: bool = False  # ... and the wall clock was that limit

    def seconds_left(self) -> float | None:
        """Seconds to the deadline (None: no seconds limit)."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def out_of_time(self) -> bool:
        """Whether the seconds limit has passed (recorded as spent when it has).

        >>> Budget(node_limit=1, max_candidates=1).out_of_time()
        False
        """
        left = self.seconds_left()
        if left is not None and left <= 0:
            self.spent = self.out_of_seconds = True
            return True
        return False

    def take_rows(self, count: int) -> bool:
        """Spend ``count`` candidate rows; False (and spent) when they do not fit.

        >>> Budget(node_limit=1, max_candidates=5).take_rows(6)
        False
        """
        if self.rows + count > self.max_candidates:
            self.spent = True
            return False
        self.rows += count
        return True

    def milp_options(self, node_limit: int | None = None) -> dict[str, Any]:
        """The solver's limits for one solve (``node_limit`` overrides the budget's).

        >>> Budget(node_limit=7, max_candidates=1).milp_options()
        {'node_limit': 7}
        """
        nodes = self.node_limit if node_limit is None else node_limit
        options: dict[str, Any] = {"node_limit": nodes}
        left = self.seconds_left()
        if left is not None:
            options["time_limit"] = max(left, 0.05)
        return options

    def ran_out(self, by_clock: bool = False) -> None:
        """A solve stopped at a limit: the clock's (``by_clock``, or the deadline has passed),
        else the node limit's."""
        self.spent = True
        if by_clock or (self.deadline is not None and time.perf_counter() >= self.deadline):
            self.out_of_seconds = True

    @property
    def label(self) -> str:
        """``"seconds"`` when the wall clock cut this query short, else ``"work"``."""
        return LABELS[1] if self.out_of_seconds else LABELS[0]
