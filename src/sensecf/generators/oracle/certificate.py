"""What the oracle can say about one query: its answer, and how sure it is of the minimum.

Each query gets one :class:`Certificate`, written into the query table as the columns of
:data:`CERTIFICATE_COLUMNS`:

- ``status``: ``optimal`` (the fewest changes are proven), ``feasible`` (counterfactuals found,
  the minimum only bounded), ``infeasible`` (proven: no allowed change flips this prediction),
  ``time_limit`` (the budget ran out before any counterfactual was found: the work budget, or
  the seconds limit where one was set; the name is kept from when the budget was seconds; the
  query table's ``budget`` column says which) or ``not_found`` (the
  search for models without an exact encoding covered its grid and found none; no proof);
- ``solver``: ``milp`` (exact program) or ``search`` (grid, beam and neighbours);
- ``min_l0``: the fewest changes found (NaN when none);
- ``min_l0_bound``: a proven lower bound on the fewest changes (NaN when nothing is proven);
- ``min_l0_certified``: ``min_l0`` is proven minimal over every admissible value;
- ``min_l0_exact``: ``min_l0`` is minimal over the values the solver considered (for the exact
  program the same as certified; for the search, "on its grid").

>>> Certificate("infeasible", "milp", min_l0_bound=float("inf")).message
'infeasible: no allowed change flips this prediction'
>>> Certificate("optimal", "milp", min_l0=2, min_l0_bound=2).query_info()["min_l0_certified"]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

STATUSES = ("optimal", "feasible", "infeasible", "time_limit", "not_found")
SOLVERS = ("milp", "search")
CERTIFICATE_COLUMNS = (
    "status",
    "solver",
    "min_l0",
    "min_l0_bound",
    "min_l0_certified",
    "min_l0_exact",
)
MESSAGES = {
    "optimal": "optimal: no counterfactual changes fewer features",
    "feasible": "feasible: counterfactuals found; the fewest changes are bounded, not proven",
    "infeasible": "infeasible: no allowed change flips this prediction",
    "time_limit": "budget spent: no counterfactual found within the work budget (or the time "
    "limit, where one was set); nothing proven",
    "not_found": "not found: the search found no counterfactual (nothing proven)",
}


@dataclass(frozen=True)
class Certificate:
    """The oracle's answer for one query (see the module docstring for each field)."""

    status: str
    solver: str
    min_l0: float = math.nan
    min_l0_bound: float = math.nan
    exact_on_grid: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}; got {self.status!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {list(SOLVERS)}; got {self.solver!r}")

    @property
    def certified(self) -> bool:
        """The minimal number of changes is proven (over every admissible value)."""
        return self.status == "optimal" and self.min_l0_bound == self.min_l0

    @property
    def message(self) -> str:
        """One line for people: what was found and what is proven."""
        if self.status == "optimal" and not self.certified:
            return "optimal on the search grid: not proven over every admissible value"
        return MESSAGES[self.status]

    def query_info(self) -> dict[str, Any]:
        """The query-table columns of :data:`CERTIFICATE_COLUMNS`."""
        bound = self.min_l0_bound
        return {
            "status": self.status,
            "solver": self.solver,
            "min_l0": float(self.min_l0),
            "min_l0_bound": float(bound) if math.isfinite(bound) else math.nan,
            "min_l0_certified": self.certified,
            "min_l0_exact": self.certified or self.exact_on_grid,
        }
