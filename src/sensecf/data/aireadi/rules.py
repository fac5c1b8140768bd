"""Which person-days are kept: :class:`DayRules` and :func:`apply_day_rules`.

A day is kept only with enough CGM, heart-rate, sleep and stress data (each rule relaxable for
short recordings) and a value for each feature named ``required``; the rest are counted by
reason. Any other feature a day has no data for (a stream absent for that person, a night
without a sleep record when sleep is not required) stays in its row as NaN.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.aireadi.daily import FEATURES
from sensecf.errors import SpecError

CGM_MIN_COVERAGE = 0.70  # share of the expected CGM readings a kept day needs
HR_MIN_HOURS = 18  # clock hours with heart-rate data a kept day needs

DROP_CGM = "CGM below 70% of the expected readings"
DROP_HR = "heart rate in fewer than 18 hours"
DROP_SLEEP = "no sleep record for the night"
DROP_STRESS = "no valid stress values"
DROP_UNLABELLED = "no valid stress values (the high_stress target needs them)"


@dataclass(frozen=True)
class DayRules:
    """Which person-days are kept: today's rules by default, each one relaxable.

    - ``min_cgm_coverage``: share (0-1) of the expected CGM readings a day needs;
    - ``min_hr_hours``: clock hours (0-24) with heart-rate data a day needs;
    - ``require_sleep``: a day needs a sleep record for its night; ``False`` keeps a day
      without one, its night-time features (sleep stages, efficiency, heart rate during sleep)
      empty (NaN);
    - ``require_stress``: a day needs valid stress values; ``False`` keeps a day without them
      unless the target needs them (``high_stress`` is labelled from stress);
    - ``required``: features a day must have a value for (``missing <feature>`` otherwise);
      any other feature may be NaN, e.g. for a person without an SpO2 file.

    ``DayRules(min_cgm_coverage=0, min_hr_hours=0)`` keeps every day that has CGM and heart
    rate, with features computed from what is there.

    >>> DayRules().reasons()[:2]
    ['CGM below 70% of the expected readings', 'heart rate in fewer than 18 hours']
    >>> DayRules(min_hr_hours=-1)
    Traceback (most recent call last):
    ...
    sensecf.errors.SpecError: min_hr_hours must be a number of hours from 0 to 24; got -1
    >>> DayRules(required=("spo2_mean",)).reasons()[-1]
    'missing spo2_mean'
    """

    min_cgm_coverage: float = CGM_MIN_COVERAGE
    min_hr_hours: float = HR_MIN_HOURS
    require_sleep: bool = True
    require_stress: bool = True
    required: tuple[str, ...] = ()

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
        if isinstance(self.required, str):
            raise SpecError(f"required must be a list of feature names; got {self.required!r}")
        required = tuple(dict.fromkeys(self.required))  # listed once each, in the given order
        unknown = [n for n in required if n not in FEATURES]
        if unknown:
            raise SpecError(
                f"required names unknown feature(s) {unknown}; the features are {list(FEATURES)}"
            )
        object.__setattr__(self, "required", required)

    def reasons(self) -> list[str]:
        """The drop reasons of the rules, worded with these values (the four quality rules,
        then ``missing <feature>`` for each required feature)."""
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
        return [cgm, hr, DROP_SLEEP, DROP_STRESS, *(f"missing {c}" for c in self.required)]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as recorded in a feature folder's ``info.json``."""
        data = asdict(self)
        data["required"] = list(self.required)
        return data


def apply_day_rules(
    days: pd.DataFrame, rules: DayRules | None = None
) -> tuple[pd.DataFrame, Counter]:
    """Keep the days with enough data and every required feature; count the rest by reason.

    Each dropped day is counted once, under the first rule it fails, in this order (the
    defaults of :class:`DayRules`): CGM ≥ 70% of the expected readings, heart rate in ≥ 18
    clock hours, a sleep record for the night, valid stress values, then ``missing <feature>``
    for the first required feature that is NaN. A rule that ``rules`` switches off is not
    applied; features that are not required may be NaN in a kept day.

    >>> days = pd.DataFrame({"cgm_coverage": [1.0, 1.0], "hr_hours": [24, 24],
    ...                      "sleep_records": [3, 3], "stress_n": [40, 40],
    ...                      "spo2_mean": [95.0, np.nan]})
    >>> kept, dropped = apply_day_rules(days, DayRules(required=("spo2_mean",)))
    >>> len(kept), dict(dropped)
    (1, {'missing spo2_mean': 1})
    >>> len(apply_day_rules(days)[0])
    2
    """
    rules = DayRules() if rules is None else rules
    cgm, hr, sleep, stress, *missing = rules.reasons()
    dropped: Counter = Counter()
    keep = np.ones(len(days), dtype=bool)
    never = np.zeros(len(days), dtype=bool)
    checks = [
        (cgm, days["cgm_coverage"].to_numpy() < rules.min_cgm_coverage),
        (hr, days["hr_hours"].to_numpy() < rules.min_hr_hours),
        (sleep, days["sleep_records"].to_numpy() < 1 if rules.require_sleep else never),
        (stress, days["stress_n"].to_numpy() < 1 if rules.require_stress else never),
        *(
            (reason, days[c].isna().to_numpy())
            for reason, c in zip(missing, rules.required, strict=True)
        ),
    ]
    for reason, fails in checks:
        hit = keep & fails
        if hit.any():
            dropped[reason] += int(hit.sum())
            keep &= ~hit
    return days[keep], dropped
