"""Which person-days are kept: :class:`DayRules` and :func:`apply_day_rules`.

A day is dropped, and counted by reason, when the watch was not worn (heart rate in too few
hours: heart rate, stress, steps and sleep all come from the watch, so such a day has no
Garmin data to speak of), when it has no valid stress values and the target or the rules need
them (``high_stress`` is labelled from stress), or when it misses a feature named
``required``.

The CGM and sleep rules empty rather than drop by default: a day whose CGM covers too few of
the expected readings keeps its row with its CGM features NaN (few readings give unreliable
glucose statistics), and a night without a sleep record keeps the day with its night-time
features NaN. Both streams are separate from the label and from wearing the watch, so dropping
the day for them would throw away good Garmin data (a CGM that stopped mid-study would lose
every later day of the person) and leave fewer of the person's days to explain.
``require_cgm`` and ``require_sleep`` drop such days instead; :func:`emptied_days` counts the
kept days a rule emptied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.aireadi.daily import CGM_COLUMNS, FEATURES, QUALITY_COLUMNS
from sensecf.errors import SpecError

CGM_MIN_COVERAGE = 0.70  # share of the expected CGM readings a day's CGM features need
HR_MIN_HOURS = 18  # clock hours with heart-rate data a kept day needs

DROP_CGM = "CGM below 70% of the expected readings"
DROP_HR = "heart rate in fewer than 18 hours"
DROP_SLEEP = "no sleep record for the night"
DROP_STRESS = "no valid stress values"
DROP_UNLABELLED = "no valid stress values (the high_stress target needs them)"

# The features a failed CGM rule empties: all computed from the CGM stream.
CGM_FEATURES: tuple[str, ...] = tuple(c for c in CGM_COLUMNS if c not in QUALITY_COLUMNS)


@dataclass(frozen=True)
class DayRules:
    """Which person-days are kept, and which streams of a kept day are emptied.

    - ``min_cgm_coverage``: share (0-1) of the expected CGM readings a day's CGM features
      need; a day below it keeps its row with every CGM feature (``CGM_FEATURES``) NaN;
    - ``min_hr_hours``: clock hours (0-24) with heart-rate data a day needs;
    - ``require_cgm``: a day below ``min_cgm_coverage`` is dropped instead of emptied
      (default ``False``; requiring any CGM feature in ``required`` drops it too);
    - ``require_sleep``: a day needs a sleep record for its night; ``False`` (the default)
      keeps a day without one, its night-time features (sleep stages, efficiency, heart rate
      during sleep) empty (NaN);
    - ``require_stress``: a day needs valid stress values; ``False`` keeps a day without them
      unless the target needs them (``high_stress`` is labelled from stress);
    - ``required``: features a day must have a value for (``missing <feature>`` otherwise);
      any other feature may be NaN, e.g. for a person without an SpO2 file.

    ``DayRules(min_cgm_coverage=0, min_hr_hours=0)`` keeps every day that has heart rate,
    with features computed from what is there (CGM statistics from however few readings).

    >>> DayRules().reasons()[:2]
    ['CGM below 70% of the expected readings', 'heart rate in fewer than 18 hours']
    >>> DayRules(min_hr_hours=-1)
    Traceback (most recent call last):
    ...
    sensecf.errors.SpecError: min_hr_hours must be a number of hours from 0 to 24; got -1
    >>> DayRules(required=("spo2_mean",)).reasons()[-1]
    'missing spo2_mean'
    >>> DayRules().require_cgm, DayRules().require_sleep, DayRules().require_stress
    (False, False, True)
    """

    min_cgm_coverage: float = CGM_MIN_COVERAGE
    min_hr_hours: float = HR_MIN_HOURS
    require_sleep: bool = False
    require_stress: bool = True
    required: tuple[str, ...] = ()
    # Last, so that positional construction of the older fields still works.
    require_cgm: bool = False

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
        for name in ("require_cgm", "require_sleep", "require_stress"):
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
        """The reasons of the rules, worded with these values (the four quality rules, then
        ``missing <feature>`` for each required feature): a day failing one is dropped, or
        for the CGM and sleep rules when not required, kept with that stream emptied."""
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
    defaults of :class:`DayRules`): CGM ≥ 70% of the expected readings (only when
    ``require_cgm``), heart rate in ≥ 18 clock hours, a sleep record for the night (only when
    ``require_sleep``), valid stress values, then ``missing <feature>`` for the first required
    feature that is NaN. A kept day below the CGM coverage has its CGM features emptied
    (NaN), so a required CGM feature drops it; features that are not required may be NaN in
    a kept day. :func:`emptied_days` counts the kept days a rule emptied.

    >>> days = pd.DataFrame({"cgm_coverage": [1.0, 0.5], "hr_hours": [24, 24],
    ...                      "sleep_records": [3, 3], "stress_n": [40, 40],
    ...                      "cgm_mean": [110.0, 120.0], "spo2_mean": [95.0, np.nan]})
    >>> kept, dropped = apply_day_rules(days)
    >>> kept["cgm_mean"].tolist(), dict(dropped)
    ([110.0, nan], {})
    >>> len(apply_day_rules(days, DayRules(require_cgm=True))[0])
    1
    >>> dict(apply_day_rules(days, DayRules(required=("spo2_mean",)))[1])
    {'missing spo2_mean': 1}
    """
    rules = DayRules() if rules is None else rules
    cgm, hr, sleep, stress, *missing = rules.reasons()
    dropped: Counter = Counter()
    keep = np.ones(len(days), dtype=bool)
    never = np.zeros(len(days), dtype=bool)
    cgm_low = days["cgm_coverage"].to_numpy() < rules.min_cgm_coverage
    if not rules.require_cgm and cgm_low.any():
        # Too few readings give unreliable glucose statistics: empty them, keep the day.
        days = days.copy()
        days.loc[cgm_low, [c for c in CGM_FEATURES if c in days.columns]] = np.nan
    checks = [
        (cgm, cgm_low if rules.require_cgm else never),
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


def emptied_days(kept: pd.DataFrame, rules: DayRules | None = None) -> Counter:
    """How many kept days each stream rule that empties rather than drops left empty.

    ``kept`` are person-day rows kept by :func:`apply_day_rules` with ``rules``. Counted under
    the rule's reason: the days below the CGM coverage (their CGM features NaN; none when
    ``require_cgm`` or a coverage of 0), and the days without a sleep record for the night
    (their night-time features NaN; none when ``require_sleep``). The CGM count is read from
    the features (a kept day with any CGM reading above a positive coverage has a mean, an
    emptied one has none), so it works on a feature table without the quality columns too.

    >>> kept = pd.DataFrame({"cgm_mean": [110.0, np.nan, np.nan],
    ...                      "sleep_total_min": [400.0, np.nan, 380.0]})
    >>> dict(emptied_days(kept))
    {'CGM below 70% of the expected readings': 2, 'no sleep record for the night': 1}
    >>> dict(emptied_days(kept, DayRules(min_cgm_coverage=0, require_sleep=True)))
    {}
    """
    rules = DayRules() if rules is None else rules
    cgm, _, sleep, *_ = rules.reasons()
    counts: Counter = Counter()
    if not rules.require_cgm and rules.min_cgm_coverage > 0:
        counts[cgm] = int(kept["cgm_mean"].isna().sum())
    if not rules.require_sleep:
        # A night with any sleep record has a total (0 or more); one without has none.
        counts[sleep] = int(kept["sleep_total_min"].isna().sum())
    return Counter({k: v for k, v in counts.items() if v})
