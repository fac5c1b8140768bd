"""Gaps in a synthetic cohort, as real downloads have them: streams left out, a CGM that stops.

A share of (person, stream) pairs has no file at all (the manifest says ``None``), and a share
of persons has a CGM that stops partway through the study. Each person's gaps are drawn from
their own seed stream, so they depend only on the seed and the person's index.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sensecf.data.aireadi.layout import MODALITIES

#: The streams a cohort writes, by the names the AI-READI reader gives them.
STREAMS: tuple[str, ...] = tuple(MODALITIES)
#: Shorter names accepted for some streams.
STREAM_ALIASES: dict[str, str] = {
    "spo2": "oxygen_saturation",
    "hr": "heart_rate",
    "activity": "physical_activity",
    "calories": "calorie",
    "resp": "respiratory_rate",
}
#: The manifest column of each stream's file (the reader's layout names them).
MANIFEST_COLUMNS: dict[str, str] = {name: m.manifest_column for name, m in MODALITIES.items()}
# Where a stopping CGM stops: between these shares of its readings.
STOP_RANGE = (0.25, 0.75)


def check_share(name: str, value: object) -> float:
    """A share in [0, 1) as a float, or a ValueError naming ``name``.

    >>> check_share("cgm_stops", 0.2)
    0.2
    >>> check_share("cgm_stops", 1)
    Traceback (most recent call last):
    ...
    ValueError: cgm_stops must be a share from 0 to below 1; got 1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a share from 0 to below 1; got {value!r}")
    share = float(value)
    if not (math.isfinite(share) and 0.0 <= share < 1.0):
        raise ValueError(f"{name} must be a share from 0 to below 1; got {value!r}")
    return share


def stream_shares(value: float | Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """Each stream's share of persons without its file: one share for all, or per stream.

    Streams not named get 0; names may be aliases (``spo2``). The result lists every stream in
    :data:`STREAMS` order.

    >>> dict(stream_shares({"spo2": 0.2, "cgm": 0.1}))["oxygen_saturation"]
    0.2
    >>> set(dict(stream_shares(0.1)).values())
    {0.1}
    >>> stream_shares({"glucose": 0.1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: missing_streams: unknown stream 'glucose'; the streams are cgm, heart_rate (hr), ...
    """
    if isinstance(value, Mapping):
        shares = dict.fromkeys(STREAMS, 0.0)
        for key, share in value.items():
            stream = STREAM_ALIASES.get(str(key).strip(), str(key).strip())
            if stream not in shares:
                raise ValueError(
                    f"missing_streams: unknown stream {key!r}; the streams are {_known()}"
                )
            shares[stream] = check_share(f"missing_streams[{key!r}]", share)
        return tuple(shares.items())
    share = check_share("missing_streams", value)
    return tuple((stream, share) for stream in STREAMS)


def parse_stream_shares(text: str) -> float | dict[str, float]:
    """The ``--missing-streams`` text: ``0.1`` (every stream) or ``spo2=0.2,cgm=0.1``.

    >>> parse_stream_shares("0.1"), parse_stream_shares("spo2=0.2, cgm=0.1")
    (0.1, {'spo2': 0.2, 'cgm': 0.1})
    """
    text = text.strip()
    if "=" not in text:
        try:
            return float(text)
        except ValueError:
            raise ValueError(
                f"expected a share (0.1) or stream=share pairs (spo2=0.2,cgm=0.1); got {text!r}"
            ) from None
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = part.partition("=")
        try:
            shares[name.strip()] = float(number)
        except ValueError:
            raise ValueError(
                f"expected stream=share (spo2=0.2); got {part!r} in {text!r}"
            ) from None
    return shares


def _known() -> str:
    names = {v: k for k, v in STREAM_ALIASES.items()}
    return ", ".join(f"{s} ({names[s]})" if s in names else s for s in STREAMS)


@dataclass(frozen=True)
class GapPlan:
    """One person's gaps: the streams without a file, and where the CGM stops (a share of its
    readings; ``None`` when it runs to the end)."""

    absent: frozenset[str] = frozenset()
    cgm_stop: float | None = None


def plan_gaps(
    shares: tuple[tuple[str, float], ...], cgm_stops: float, rng: np.random.Generator
) -> GapPlan:
    """Draw one person's gaps; as many draws whatever the shares, so zero shares change nothing.

    >>> plan_gaps(stream_shares(0.0), 0.0, np.random.default_rng(0))
    GapPlan(absent=frozenset(), cgm_stop=None)
    >>> plan_gaps(stream_shares({"sleep": 0.99}), 0.0, np.random.default_rng(0)).absent
    frozenset({'sleep'})
    """
    draws = rng.random(len(shares))
    absent = frozenset(
        stream for (stream, share), u in zip(shares, draws, strict=True) if u < share
    )
    stops, where = rng.random(), rng.uniform(*STOP_RANGE)
    cgm_stop = where if stops < cgm_stops and "cgm" not in absent else None
    return GapPlan(absent=absent, cgm_stop=cgm_stop)
