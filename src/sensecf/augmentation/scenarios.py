"""Scarcity scenarios: a training split with a share of one class's rows taken away.

Only training rows are ever removed; the test split is left as it is. When the spec names a
group column (the person), people are removed, not rows: all of a chosen person's rows of that
class go together, so no one is half in and half out of the scarce set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensecf.data.dataset import Dataset
from sensecf.errors import SensecfError

MIN_KEPT_ROWS = 2  # fewer rows of the scarce class leave nothing to learn it from


@dataclass(frozen=True)
class Scenario:
    """One scarcity level: which class loses which share of its training rows.

    >>> Scenario(share=0.5, scarce_class=1).name
    'class1-50pct'
    """

    share: float
    scarce_class: int

    @property
    def name(self) -> str:
        """A folder-safe label, e.g. ``class1-50pct``."""
        return f"class{self.scarce_class}-{round(self.share * 100):g}pct"


@dataclass(frozen=True)
class ScarceSplit:
    """The rows a scenario keeps and the rows it removed, as positions in the training split."""

    scenario: Scenario
    kept: np.ndarray
    removed: np.ndarray

    @property
    def n_removed(self) -> int:
        """How many rows of the scarce class were taken away."""
        return len(self.removed)


def check_share(share: float) -> float:
    """A share to remove must lie strictly between 0 and 1.

    >>> check_share(0.25)
    0.25
    """
    ok = isinstance(share, (int, float, np.floating)) and not isinstance(share, bool)
    if not ok or not 0 < float(share) < 1:
        raise SensecfError(f"a scarcity share must lie strictly between 0 and 1; got {share!r}")
    return float(share)


def make_scarce(train_rows: Dataset, scenario: Scenario, seed: int) -> ScarceSplit:
    """Remove ``scenario.share`` of the scarce class's rows from a training split.

    The order in which rows (or people) are removed depends on the seed and the class only,
    so at one seed a larger share removes a superset of what a smaller one removes: the
    scenarios are nested and differ only by their scarcity.

    >>> import pandas as pd
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": range(40), "y": [0] * 30 + [1] * 10})
    >>> split = make_scarce(Dataset(df, infer_spec(df, "y")), Scenario(0.5, 1), seed=0)
    >>> split.n_removed, len(split.kept)
    (5, 35)
    """
    share = check_share(scenario.share)
    y = train_rows.y.to_numpy()
    if scenario.scarce_class not in train_rows.spec.classes:
        raise SensecfError(
            f"the scarce class must be one of {sorted(train_rows.spec.classes)}; "
            f"got {scenario.scarce_class!r}"
        )
    of_class = np.flatnonzero(y == scenario.scarce_class)
    rng = np.random.default_rng([seed, int(scenario.scarce_class)])
    target = round(share * len(of_class))
    if train_rows.groups is None:
        removed = np.sort(rng.permutation(of_class)[:target])
    else:
        groups = train_rows.groups.to_numpy()[of_class]
        people = np.unique(groups)
        order = people[rng.permutation(len(people))]
        sizes = np.array([(groups == p).sum() for p in order])
        totals = np.cumsum(sizes)
        # The fewest people whose rows reach the target, or one fewer when that lands closer.
        k = int(np.searchsorted(totals, target)) + 1
        if k > 1 and abs(totals[k - 2] - target) <= abs(totals[min(k, len(totals)) - 1] - target):
            k -= 1
        chosen = order[: min(k, len(order))] if target > 0 else order[:0]
        removed = np.sort(of_class[np.isin(groups, chosen)])
    if len(of_class) - len(removed) < MIN_KEPT_ROWS:
        raise SensecfError(
            f"removing {share:.0%} of class {scenario.scarce_class}'s {len(of_class)} training "
            f"rows leaves {len(of_class) - len(removed)}; at least {MIN_KEPT_ROWS} must remain"
        )
    kept = np.setdiff1d(np.arange(len(train_rows)), removed)
    return ScarceSplit(scenario, kept, removed)
