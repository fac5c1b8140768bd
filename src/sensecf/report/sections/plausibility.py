"""The benchmark's plausibility parts: the held-out real rows' inlier rates beside every
method's, what plausibility costs, and the frontier of a few people's fewest changes.

Each reads a file the benchmark writes (``plausibility.json``, ``plausibility_price.csv``,
``plausibility_frontier.csv``); a run folder written before them simply has none of these parts.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sensecf.evaluation.price import plausibility_price_summary, price_line, reference_line
from sensecf.report import plots
from sensecf.report.parts import Cell, Plot, Table
from sensecf.report.run_folder import RunData
from sensecf.runs import FRONTIER_CSV, PRICE_CSV

__all__ = [
    "REFERENCE_METHOD",
    "frontier_plot",
    "plausibility_parts",
    "price_table",
    "reference_fact",
    "reference_rates",
    "reference_row",
]

# How the real rows' line is named where methods are listed.
REFERENCE_METHOD = "real held-out rows (reference)"


def reference_rates(data: RunData) -> dict[str, float]:
    """Per detector (``lof``, ``iforest``), the share of held-out real rows of the desired class
    it calls inliers; empty where the benchmark kept none (no held-out rows, an older run)."""
    record = data.plausibility
    if not record:
        return {}
    rates = record.get("reference") or {}
    return {
        k: float(v)
        for k, v in rates.items()
        if isinstance(v, (int, float)) and math.isfinite(float(v))
    }


def reference_fact(data: RunData) -> tuple[str, str] | None:
    """The reference as one fact of the benchmark section (``None`` without one)."""
    record = data.plausibility
    rates = reference_rates(data)
    if not record or not rates:
        return None
    line = reference_line(
        {**rates, "n": float(record.get("n") or 0)},
        str(record.get("desired") or "the desired class"),
        record.get("inlier_rate"),
        record.get("held_rate"),
        record.get("held_neighbours"),
    )
    return ("plausibility reference", line)


def reference_row(data: RunData) -> dict[str, Any] | None:
    """A row to put under the methods in a table of ``lof_inlier`` and ``iforest_inlier``:
    the real rows' own rates, the line every method's are read against."""
    rates = reference_rates(data)
    if not rates:
        return None
    return {"method": REFERENCE_METHOD, **{f"{k}_inlier": v for k, v in rates.items()}}


def price_table(price: pd.DataFrame) -> Table:
    """What plausibility costs, in a few numbers (see
    :func:`~sensecf.evaluation.price.plausibility_price_summary`).

    >>> price = pd.DataFrame({"plain_status": ["optimal"] * 2, "plain_min_l0": [1.0, 2.0],
    ...     "plain_mad_l1": [1.0, 2.0], "plausible_status": ["optimal", "infeasible"],
    ...     "plausible_min_l0": [2.0, None], "plausible_mad_l1": [2.5, None]})
    >>> [c.text for c in price_table(price).rows[0]]
    ['2', '1', '+1.00', '+1.50', '1', '0']
    """
    cost = plausibility_price_summary(price)
    cells = [
        str(cost.n),
        str(cost.both),
        f"{cost.extra_changes:+.2f}" if math.isfinite(cost.extra_changes) else "–",
        f"{cost.extra_mad_l1:+.2f}" if math.isfinite(cost.extra_mad_l1) else "–",
        str(cost.no_plausible),
        str(cost.unknown),
    ]
    return Table(
        [
            "people",
            "answered by both oracles",
            "extra changes",
            "extra MAD-L1",
            "no plausible counterfactual (certified)",
            "unknown (budget ran out)",
        ],
        [[Cell(c) for c in cells]],
        title="What plausibility costs",
        caption="The oracle and the oracle held to the plausibility detector (oracle-plausible) "
        "on the same people, each with its certificate: the mean extra changes and extra "
        "MAD-scaled L1 of the plausible minimum over the people both answered, and the "
        "people for whom no plausible change flips the model (proven). "
        + _sentence(price_line(cost)),
    )


def _sentence(line: str) -> str:
    """``line`` as a sentence: its first letter up, a full stop at the end.

    >>> _sentence("what it costs: +1 MAD-L1")
    'What it costs: +1 MAD-L1.'
    """
    return line[:1].upper() + line[1:] + "."


def frontier_plot(frontier: pd.DataFrame) -> Plot:
    """The frontier figure with its caption (:func:`~sensecf.report.plots.frontier_figure`)."""
    people = frontier["query_id"].nunique()
    return Plot(
        "The plausibility frontier",
        f"{people} people's certified fewest changes as the IsolationForest's threshold "
        "tightens: the oracle re-run held to it, calibrated so that 99%, 95%, 90% and 80% of "
        "the held-out real rows of the desired class are inliers (x: the share it calls "
        "outliers; none: not held). Filled: the minimum is certified; hollow: a bound; ✗: no "
        "plausible change flips the model (certified). Lines are nudged apart where people "
        "share a count.",
        plots.frontier_figure(frontier),
    )


def plausibility_parts(data: RunData) -> tuple[list[Table], list[Plot]]:
    """The price table and the frontier plot, where the benchmark wrote their files."""
    tables: list[Table] = []
    figures: list[Plot] = []
    price = data.benchmark_table(PRICE_CSV)
    if price is not None and len(price):
        tables.append(price_table(price))
    frontier = data.benchmark_table(FRONTIER_CSV)
    if frontier is not None and len(frontier):
        figures.append(frontier_plot(frontier))
    return tables, figures
