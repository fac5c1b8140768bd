"""Numbers as a person reads them: durations, separators, round figures, a feature's change.

Minutes read as hours and minutes from 60 on (``6 h 10 min``), counts with thousands separators,
percentages with ``%`` and their changes in percentage points. The size of a change is a round
figure a person would say (nearest 5 or 10 minutes, 100 or 500 steps, whole units, two
significant figures for large numbers), never finer than the feature's step; "about" marks it
only where it differs from the exact change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sensecf.data.spec import FeatureSpec, step_decimals

__all__ = [
    "HOUR_UNITS",
    "MINUTE_UNITS",
    "PERCENT_UNITS",
    "FormattedChange",
    "Quantity",
    "format_change",
    "format_minutes",
    "format_value",
    "lower_first",
    "plain_number",
    "quantity_of",
    "round_figure",
    "upper_first",
]

Quantity = Literal["minutes", "steps", "percent", "number", "coded"]

MINUTE_UNITS = frozenset(
    {"min", "mins", "minute", "minutes", "min/day", "minutes/day", "min/night"}
)
HOUR_UNITS = frozenset(
    {"h", "hr", "hrs", "hour", "hours", "h/day", "hours/day", "h/night", "hours/night"}
)
PERCENT_UNITS = frozenset({"%", "percent", "pct", "percentage"})


def quantity_of(feature: FeatureSpec) -> Quantity:
    """What a feature's values count, as its unit (or, without one, its name) tells.

    ``coded`` for features with levels; ``minutes`` for minute and hour units; ``percent``;
    ``steps`` for a step unit (or a unitless feature named after steps); else ``number``.

    >>> quantity_of(FeatureSpec(name="sleep", unit="h", bounds=(0, 16)))
    'minutes'
    >>> quantity_of(FeatureSpec(name="daily_steps", bounds=(0, 30000)))
    'steps'
    """
    if feature.levels is not None:
        return "coded"
    unit = feature.unit.strip().lower()
    if unit in MINUTE_UNITS or unit in HOUR_UNITS:
        return "minutes"
    if unit in PERCENT_UNITS:
        return "percent"
    if unit.startswith("step") or (not unit and "step" in feature.name.lower()):
        return "steps"
    return "number"


def format_minutes(minutes: float) -> str:
    """Minutes as a person reads them: ``59 min``, ``1 h``, ``1 h 1 min``, ``2 h 5 min``.

    >>> [format_minutes(m) for m in (0, 59, 60, 61, 125, 59.6)]
    ['0 min', '59 min', '1 h', '1 h 1 min', '2 h 5 min', '1 h']
    """
    total = int(math.floor(abs(minutes) + 0.5))
    sign = "-" if minutes < 0 and total else ""
    hours, rest = divmod(total, 60)
    if hours == 0:
        return f"{sign}{rest} min"
    return f"{sign}{hours} h" + (f" {rest} min" if rest else "")


def plain_number(value: float, decimals: int | None = None) -> str:
    """A number with thousands separators and no trailing zeros (at most ``decimals``, default 6).

    >>> plain_number(4200.0), plain_number(6.50), plain_number(-0.0001, 2)
    ('4,200', '6.5', '0')
    """
    if decimals is None:
        decimals = 6
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def round_figure(delta: float, quantity: Quantity | str, step: float) -> float:
    """A round figure near ``delta`` that a person would say, never finer than ``step``.

    >>> round_figure(42, "minutes", 1), round_figure(12, "minutes", 1), round_figure(3217, "steps", 1)
    (40.0, 12.0, 3000.0)
    """
    if delta <= 0:
        return delta
    if quantity == "minutes":
        grain = 1.0 if delta < 10 else 5.0 if delta < 120 else 10.0
    elif quantity == "steps":
        grain = 10.0 if delta < 100 else 100.0 if delta < 3000 else 500.0
    elif delta < 1:
        grain = 10.0 ** math.floor(math.log10(delta))  # one significant figure
    elif delta < 20:
        grain = 1.0
    elif delta < 100:
        grain = 5.0
    elif delta < 1000:
        grain = 10.0
    else:
        grain = 10.0 ** (math.floor(math.log10(delta)) - 1)  # two significant figures
    # Refine a grain that would distort the change by more than 10% (12 min is not "about 10").
    while True:
        grain = max(grain, step)
        nice = math.floor(delta / grain + 0.5) * grain
        if grain <= step or abs(nice - delta) <= 0.1 * delta:
            break
        # 500 → 100 → 50 → 10 ...; below 1, tenths of tenths (0.1 → 0.01, not 0.05).
        grain /= 5.0 if f"{grain:e}".startswith("5") else 2.0 if grain > 1 else 10.0
    return round(nice, 10) if nice > 0 else delta


def upper_first(text: str) -> str:
    """``text`` with its first letter in upper case.

    >>> upper_first("time in range")
    'Time in range'
    """
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, unless it starts an acronym (REM, ST, ECG).

    >>> lower_first("Body fat"), lower_first("REM sleep")
    ('body fat', 'REM sleep')
    """
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


@dataclass(frozen=True)
class FormattedChange:
    """A numeric feature's change, ready for a sentence.

    ``before``/``after`` are the values at the feature's step (durations as hours and minutes,
    percentages with ``%``); ``before_full``/``after_full`` add the unit where the values alone
    do not carry it; ``amount`` is the round size of the change with its unit and ``number`` the
    figure alone, each with "about " when it differs from the exact change.
    """

    rising: bool
    before: str
    after: str
    before_full: str
    after_full: str
    amount: str
    number: str


def format_change(
    feature: FeatureSpec, quantity: Quantity | str, before: float, after: float
) -> FormattedChange:
    """Display strings for a change of a numeric ``feature`` from ``before`` to ``after``.

    >>> sleep = FeatureSpec(name="sleep", unit="min", bounds=(0, 960))
    >>> f = format_change(sleep, "minutes", 370, 412)
    >>> f.before, f.after, f.amount
    ('6 h 10 min', '6 h 52 min', 'about 40 minutes')
    """
    # Hours display as hours and minutes, like minutes.
    scale = 60.0 if feature.unit.strip().lower() in HOUR_UNITS else 1.0
    step = float(feature.step) * scale
    if quantity == "minutes":
        step = max(step, 1.0)  # minutes display whole
    decimals = step_decimals(step)
    b = _to_grain(before * scale, step, decimals)
    a = _to_grain(after * scale, step, decimals)
    while b == a and decimals < 6:  # changed, but below the grain: show what changed
        decimals += 1
        b, a = round(before * scale, decimals), round(after * scale, decimals)
    rising = a > b
    delta = round(abs(a - b), decimals)
    about = round_figure(delta, quantity, step)
    prefix = "about " if not math.isclose(about, delta, rel_tol=1e-9, abs_tol=1e-12) else ""
    amount_decimals = max(decimals, step_decimals(about))
    unit = feature.unit.strip()
    if quantity == "minutes" and decimals == 0:
        shown_before, shown_after = format_minutes(b), format_minutes(a)
        if about < 60:
            word = "minute" if about == 1 else "minutes"
            amount = f"{prefix}{plain_number(about, amount_decimals)} {word}"
        else:
            amount = prefix + format_minutes(about)
        number = prefix + plain_number(about, amount_decimals)
        return FormattedChange(
            rising, shown_before, shown_after, shown_before, shown_after, amount, number
        )
    if quantity == "minutes":
        unit = "min"
    shown_before, shown_after = plain_number(b, decimals), plain_number(a, decimals)
    number = prefix + plain_number(about, amount_decimals)
    if quantity == "percent":
        shown_before, shown_after = f"{shown_before}%", f"{shown_after}%"
        points = "percentage point" if about == 1 else "percentage points"
        return FormattedChange(
            rising,
            shown_before,
            shown_after,
            shown_before,
            shown_after,
            f"{number} {points}",
            number,
        )
    if quantity == "steps":
        unit = "steps"
    suffix = f" {unit}" if unit else ""
    return FormattedChange(
        rising,
        shown_before,
        shown_after,
        shown_before + suffix,
        shown_after + suffix,
        number + suffix,
        number,
    )


def format_value(feature: FeatureSpec, value: float) -> str:
    """One value of a numeric ``feature`` as a sentence shows it, on its step, with its unit.

    >>> format_value(FeatureSpec(name="sleep", unit="min", bounds=(0, 960)), 412.4)
    '6 h 52 min'
    >>> format_value(FeatureSpec(name="hr", unit="bpm", bounds=(30, 130), step=0.1), 61.04)
    '61 bpm'
    >>> format_value(FeatureSpec(name="tir", unit="%", bounds=(0, 100), step=0.1), 71.24)
    '71.2%'
    """
    quantity = quantity_of(feature)
    scale = 60.0 if feature.unit.strip().lower() in HOUR_UNITS else 1.0
    step = float(feature.step) * scale
    if quantity == "minutes":
        step = max(step, 1.0)
    decimals = step_decimals(step)
    shown = _to_grain(value * scale, step, decimals)
    if quantity == "minutes" and decimals == 0:
        return format_minutes(shown)
    text = plain_number(shown, decimals)
    if quantity == "percent":
        return f"{text}%"
    unit = "min" if quantity == "minutes" else "steps" if quantity == "steps" else feature.unit
    return f"{text} {unit.strip()}" if unit.strip() else text


def _to_grain(value: float, step: float, decimals: int) -> float:
    return round(math.floor(value / step + 0.5) * step, decimals)
