"""Which person-days are kept: :class:`DayRules` and :func:`apply_day_rules`.

A day is kept only with enough CGM, heart-rate, sleep and stress data (each rule relaxable for
short recordings), and then only if every feature is known; the rest are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.aireadi.daily import FEATURES, HR_SLEEP_COLUMNS, QUALITY_COLUMNS, SLEEP_COLUMNS
from sensecf.errors import SpecError

CGM_MIN_COVERAGE = 0.70  # share of the expected CGM readings a kept day needs
HR_MIN_HOURS = 18  # clock hours with heart-rate data a kept day needs

DROP_CGM = "CGM below 70% of the expected readings"
DROP_HR = "heart rate in fewer than 18 hours"
DROP_SLEEP = "no sleep record for the night"
DROP_STRESS = "no valid stress values"
DROP_UNLABELLED = "no valid stress values (the high_stress target needs them)"
# Night-time features that exist only with a sleep record (left out when sleep is not required).
NIGHT_FEATURES: tuple[str, ...] = (
    *HR_SLEEP_COLUMNS,
    *(c for c in SLEEP_COLUMNS if c not in QUALITY_COLUMNS),
)


@dataclass(frozen=True)
class DayRules:
    """Which person-days are kept: today's rules by default, each one relaxable.

    - ``min_cgm_coverage``: share (0-1) of the expected CGM readings a day needs;
    - ``min_hr_hours``: clock hours (0-24) with heart-rate data a day needs;
    - ``require_sleep``: a day needs a sleep record for its night; ``False`` leaves the
      night-time features (sleep stages, efficiency, heart rate during sleep) out of the table
      and the spec, so days without one are kept;
    - ``require_stress``: a day needs valid stress values; ``False`` keeps a day without them
      unless the target needs them (``high_stress`` is labelled from stress).

    ``DayRules(min_cgm_coverage=0, min_hr_hours=0)`` keeps every day that has data of each
    kind, with features computed from what is there.

    >>> DayRules().reasons()[:2]
    ['CGM below 70% of the expected readings', 'heart rate in fewer than 18 hours']
    >>> DayRules(min_hr_hours=-1)
    Traceback (most recent call last):
    ...
    sensecf.errors.SpecError: min_hr_hours must be a number of hours from 0 to 24; got -1
    """

    min_cgm_coverage: float = CGM_MIN_COVERAGE
    min_hr_hours: float = HR_MIN_HOURS
    require_sleep: bool = True
    require_stress: bool = True

    def __post_init__(self) -> None:
        coverage, hours = self.min_cgm_coverage, self.min_hr_hours
        if (
            isinstance(coverage, bool)
            or not isinstance(coverage, (int, float))
            or not (0.0 <= coverage <= 1.0)
        ):
            raise SpecError(f"min_cgm_coverage must be a share from 0 to 1; got {coverage!r}")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours <= 24:
            raise SpecError(f"min_hr_hours must be a number of hours from 0 to 24; got {hours!r}")
        for name in ("require_sleep", "require_stress"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name} must be True or False; got {getattr(self, name)!r}")

    def reasons(self) -> list[str]:
        """The drop reasons of the four rules, worded with these values."""
        cgm = (
            DROP_CGM
            if self.min_cgm_coverage == CGM_MIN_COVERAGE
            else f"CGM below {100 * self.min_cgm_coverage:g}% of the expected readings"
        )
        hr = (
            DROP_HR
            if self.min_hr_hours == HR_MIN_HOURS
            else f"heart rate in fewer than {self.min_hr_hours:g} hours"
        )
        return [cgm, hr, DROP_SLEEP, DROP_STRESS]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as recorded in a feature folder's ``info.json``."""
        return asdict(self)

    def features(self) -> tuple[str, ...]:
        """The feature columns a table read under these rules has."""
        if self.require_sleep:
            return FEATURES
        return tuple(c for c in FEATURES if c not in NIGHT_FEATURES)


def apply_day_rules(
    days: pd.DataFrame, rules: DayRules | None = None
) -> tuple[pd.DataFrame, Counter]:
    """Keep the days with enough data and every feature known; count the rest by reason.

    Each dropped day is counted once, under the first rule it fails, in this order (the
    defaults of :class:`DayRules`): CGM ≥ 70% of the expected readings, heart rate in ≥ 18
    clock hours, a sleep record for the night, valid stress values, then ``missing <feature>``
    for the first feature that is NaN. A rule that ``rules`` switches off is not applied.
    """
    rules = DayRules() if rules is None else rules
    cgm, hr, sleep, stress = rules.reasons()
    dropped: Counter = Counter()
    keep = np.ones(len(days), dtype=bool)
    never = np.zeros(len(days), dtype=bool)
    checks = [
        (cgm, days["cgm_coverage"].to_numpy() < rules.min_cgm_coverage),
        (hr, days["hr_hours"].to_numpy() < rules.min_hr_hours),
        (sleep, days["sleep_records"].to_numpy() < 1 if rules.require_sleep else never),
        (stress, days["stress_n"].to_numpy() < 1 if rules.require_stress else never),
        *((f"missing {c}", days[c].isna().to_numpy()) for c in rules.features()),
    ]
    for reason, fails in checks:
        hit = keep & fails
        if hit.any():
            dropped[reason] += int(hit.sum())
            keep &= ~hit
    return days[keep], dropped
