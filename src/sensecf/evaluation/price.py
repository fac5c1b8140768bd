"""What plausibility costs, person by person, and the real rows' reference line.

The oracle and the oracle held to plausibility (``oracle-plausible``) answer the same queries,
each with its certificate: per query the unconstrained minimum and the plausible minimum
(changes, and the MAD-scaled L1 of the best counterfactual), or "no plausible change flips
this" where the plausible oracle proved it infeasible. :func:`plausibility_price` pairs them;
:func:`price_line` says it in one sentence for the benchmark's summary and the report.
:func:`plausibility_frontier` follows a few people as the detector's threshold tightens: the
certified fewest changes at each calibration rate.

>>> table = pd.DataFrame({"plain_status": ["optimal"] * 3, "plain_min_l0": [1.0, 2.0, 1.0],
...     "plain_mad_l1": [1.0, 2.0, 0.5], "plausible_status": ["optimal", "optimal", "infeasible"],
...     "plausible_min_l0": [2.0, 2.0, None], "plausible_mad_l1": [2.0, 2.5, None]})
>>> print(price_line(plausibility_price_summary(table)))
what plausibility costs: +0.50 changes, +0.75 MAD-L1 on average over the 2 people both answered; 1 of 3 people have no plausible counterfactual (certified)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import count_changes
from sensecf.data.dataset import Dataset
from sensecf.errors import SensecfError
from sensecf.models.classifier import TrainedClassifier
from sensecf.results import CounterfactualResult

__all__ = [
    "FRONTIER_RATES",
    "PlausibilityPrice",
    "plausibility_frontier",
    "plausibility_price",
    "plausibility_price_summary",
    "price_line",
    "reference_line",
]

ANSWERED = ("optimal", "feasible")
# The frontier's calibration rates: the share of held-out real rows the detector calls inliers
# (0: the oracle not held at all).
FRONTIER_RATES = (0.0, 0.80, 0.90, 0.95, 0.99)
FRONTIER_COLUMNS = (
    "query_id",
    "inlier_rate",
    "threshold",
    "status",
    "min_l0",
    "min_l0_certified",
    "seconds",
)


@dataclass(frozen=True)
class PlausibilityPrice:
    """The price over the queries: ``n`` queries, ``both`` answered by both oracles,
    ``extra_changes`` and ``extra_mad_l1`` (means over ``both``), ``no_plausible`` (certified:
    no plausible change flips it, where some change does), ``unknown`` (neither certified nor
    answered), ``certified_plain`` / ``certified_plausible`` (minimum proven)."""

    n: int
    both: int
    extra_changes: float
    extra_mad_l1: float
    no_plausible: int
    unknown: int
    certified_plain: int
    certified_plausible: int


def plausibility_price(
    plain: CounterfactualResult, plausible: CounterfactualResult, scale: np.ndarray
) -> pd.DataFrame:
    """Per query: each oracle's certificate (``*_status``, ``*_certified``), minimum number of
    changes (``*_min_l0``) and the MAD-L1 of its best counterfactual (``*_mad_l1``; ``scale``:
    the MAD scales), and the differences (``extra_changes``, ``extra_mad_l1``)."""
    rows = []
    for tag, result in (("plain", plain), ("plausible", plausible)):
        queries = result.queries.set_index("query_id")
        Q = result.query_matrix()
        C = result.cf_matrix()
        cfs = result.cfs.reset_index(drop=True)
        best = pd.Series(np.nan, index=queries.index)
        changes = pd.Series(np.nan, index=queries.index)
        if len(cfs):
            distance = np.nansum(np.abs(C - Q) / scale, axis=1)
            l0 = count_changes(result.spec, Q, C)
            frame = pd.DataFrame({"query_id": cfs["query_id"], "l0": l0, "d": distance})
            frame = frame[cfs["valid"].to_numpy(dtype=bool)]
            first = frame.sort_values(["query_id", "l0", "d"]).groupby("query_id").first()
            best = first["d"].reindex(queries.index)
            changes = first["l0"].reindex(queries.index).astype(float)
        status = queries.get("status", pd.Series("", index=queries.index))
        certified = queries.get("min_l0_certified", pd.Series(False, index=queries.index))
        min_l0 = queries.get("min_l0", changes)
        rows.append(
            pd.DataFrame(
                {
                    f"{tag}_status": status,
                    f"{tag}_certified": certified.fillna(False).astype(bool),
                    f"{tag}_min_l0": pd.to_numeric(min_l0, errors="coerce"),
                    f"{tag}_mad_l1": best,
                }
            )
        )
    table = rows[0].join(rows[1], how="outer")
    table["extra_changes"] = table["plausible_min_l0"] - table["plain_min_l0"]
    table["extra_mad_l1"] = table["plausible_mad_l1"] - table["plain_mad_l1"]
    return table.reset_index()


def plausibility_price_summary(table: pd.DataFrame) -> PlausibilityPrice:
    """The per-query table of :func:`plausibility_price` in a few numbers."""
    plain_ok = table["plain_status"].isin(ANSWERED) & table["plain_min_l0"].notna()
    plausible_ok = table["plausible_status"].isin(ANSWERED) & table["plausible_min_l0"].notna()
    both = plain_ok & plausible_ok
    extra = table["plausible_min_l0"] - table["plain_min_l0"]
    extra_l1 = table["plausible_mad_l1"] - table["plain_mad_l1"]
    certified = {
        tag: int(table[f"{tag}_certified"].sum()) if f"{tag}_certified" in table else 0
        for tag in ("plain", "plausible")
    }
    return PlausibilityPrice(
        n=len(table),
        both=int(both.sum()),
        extra_changes=float(extra[both].mean()) if both.any() else math.nan,
        extra_mad_l1=float(extra_l1[both].mean()) if both.any() else math.nan,
        no_plausible=int((plain_ok & (table["plausible_status"] == "infeasible")).sum()),
        unknown=int((~plausible_ok & (table["plausible_status"] != "infeasible")).sum()),
        certified_plain=certified["plain"],
        certified_plausible=certified["plausible"],
    )


def price_line(price: PlausibilityPrice) -> str:
    """The price in one sentence (see the module docstring)."""
    line = (
        f"what plausibility costs: {price.extra_changes:+.2f} changes, "
        f"{price.extra_mad_l1:+.2f} MAD-L1 on average over the {price.both} people both "
        f"answered; {price.no_plausible} of {price.n} people have no plausible counterfactual "
        "(certified)"
    )
    if price.unknown:
        line += f"; {price.unknown} unknown (budget ran out)"
    return line


def reference_line(
    rates: dict[str, float],
    desired: str,
    rate: float | None = 0.95,
    held_rate: float | None = None,
    held_neighbours: int | None = None,
) -> str:
    """The held-out real rows' inlier rates, the reference beside every method's, and the
    stricter bar the held methods meet where there is one (``held_rate``; ``held_neighbours``:
    a neighbour bar over that many nearest real rows).

    >>> reference_line({"lof": 0.95, "iforest": 0.96, "n": 100.0}, "not high stress")
    'real held-out rows of the desired class (not high stress, n=100): LOF inliers 0.95, IsolationForest inliers 0.96 (each detector calibrated to call 95% of them inliers)'
    >>> reference_line({"lof": 0.95, "iforest": 0.95, "n": 100.0}, "healthy", held_rate=0.8).split("; ")[1]
    'the plausible methods held to the IsolationForest bar that 80% of them reach instead'
    >>> reference_line({"lof": 0.95, "iforest": 0.95, "n": 9.0}, "healthy", held_neighbours=20).split("; ")[1]
    'the oracle also held as near to its 20 nearest real rows as 95% of them are, in distance and relative to how near those rows sit to their own (each part)'
    """
    n = int(rates.get("n", 0))
    if not n:
        return (
            "no held-out real rows of the desired class: the detectors keep scikit-learn's "
            "default thresholds"
        )
    line = (
        f"real held-out rows of the desired class ({desired}, n={n}): LOF inliers "
        f"{rates['lof']:.2f}, IsolationForest inliers {rates['iforest']:.2f}"
    )
    if rate is None:
        return line + " (scikit-learn's default thresholds)"
    line += f" (each detector calibrated to call {rate:.0%} of them inliers)"
    if held_rate is not None:
        line += (
            f"; the plausible methods held to the IsolationForest bar that {held_rate:.0%} of "
            "them reach instead"
        )
    if held_neighbours is not None:
        share = rate if held_rate is None else held_rate
        line += (
            f"; the oracle also held as near to its {held_neighbours} nearest real rows as "
            f"{share:.0%} of them are, in distance and relative to how near those rows sit to "
            "their own (each part)"
        )
    return line


def plausibility_frontier(
    model: TrainedClassifier,
    reference: Dataset,
    queries: Dataset,
    *,
    calibration: Dataset,
    rates: tuple[float, ...] = FRONTIER_RATES,
    seed: int = 0,
    options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The certified fewest changes of each query as the detector's threshold tightens.

    For each of ``rates``, the oracle (``options`` go to it) is held to the IsolationForest the
    metric suite judges by (fitted on the desired class's ``reference`` rows, seed ``seed``),
    its threshold calibrated so that that share of the desired class's ``calibration`` rows
    (held-out real rows) are inliers; rate 0 is the oracle not held. A few certified oracle
    runs a rate: meant for a handful of queries.

    One row per query and rate: ``query_id`` (the query's position in ``queries``),
    ``inlier_rate``, ``threshold`` (the IsolationForest's score threshold; NaN at 0),
    ``status``, ``min_l0``, ``min_l0_certified`` (the oracle's certificate) and ``seconds``.

    >>> import numpy as np, sensecf as scf
    >>> df = pd.DataFrame({"a": np.arange(60.0) % 13, "b": np.arange(60.0) % 7,
    ...                    "y": (np.arange(60) % 13 > 6).astype(int)})
    >>> data = scf.Dataset(df, scf.infer_spec(df, "y"))
    >>> model = scf.train(data, "logreg", importance_repeats=1)
    >>> flagged = data.subset(np.flatnonzero(model.predict(data.X) == 1)[:1])
    >>> table = plausibility_frontier(model, data, flagged, calibration=data, rates=(0.0, 0.9),
    ...                               options={"detector_trees": 10})
    >>> table[["inlier_rate", "status"]].values.tolist()
    [[0.0, 'optimal'], [0.9, 'optimal']]
    """
    from sensecf.evaluation.metrics import share_detector
    from sensecf.generators.oracle import Oracle

    if not len(calibration):
        raise SensecfError(
            "the plausibility frontier needs held-out real rows to calibrate the detector on; "
            "got none"
        )
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise SensecfError(f"each frontier rate must lie in [0, 1); got {rate!r}")
    options = {
        k: v
        for k, v in (options or {}).items()
        if k not in ("plausibility", "inlier_rate", "detector", "detector_seed")
    }
    tables = []
    for rate in rates:
        if rate == 0:
            oracle = Oracle(**options)
        else:
            oracle = Oracle(
                **options, plausibility="iforest", inlier_rate=float(rate), detector_seed=seed
            )
        detector = share_detector(oracle, model, reference, calibration)
        oracle.fit(model, reference)
        result = oracle.generate(queries, n_cfs=1, seed=seed)
        table = result.queries
        tables.append(
            pd.DataFrame(
                {
                    "query_id": table["query_id"].to_numpy(dtype=int),
                    "inlier_rate": float(rate),
                    "threshold": math.nan if detector is None else detector.iforest_threshold_,
                    "status": table["status"].to_numpy(),
                    "min_l0": pd.to_numeric(table["min_l0"], errors="coerce").to_numpy(),
                    "min_l0_certified": table["min_l0_certified"]
                    .fillna(False)
                    .astype(bool)
                    .to_numpy(),
                    "seconds": table["seconds"].to_numpy(dtype=float)
                    if "seconds" in table
                    else math.nan,
                }
            )
        )
    return pd.concat(tables, ignore_index=True)[list(FRONTIER_COLUMNS)]
