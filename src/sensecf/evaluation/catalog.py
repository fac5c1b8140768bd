"""Every measure defined once: its name, level, labels, format, direction, interval and meaning.

A :class:`Measure` says what one number is; a :class:`Catalog` holds them (an immutable tuple,
in the order the benchmark's ``summary.csv`` lists them) with the views the tables read: the
console's headline, the report's headline, the language-model diagnostics, the quality plot's
panels and the augmentation study's columns. The metric suite, the console and Markdown tables,
the HTML report and the README's list of measures all read :data:`CATALOG`; nothing else lists
a column's label or format.

Adding a measure is adding it here. A counterfactual-level measure with a ``compute`` function
is also a way to score one without editing the suite: build a catalog with it and pass it on,
as scikit-learn passes a scorer::

    twice = Measure("l0_twice", "cf", "2×L0", compute=lambda b: 2 * b.changed.sum(axis=1))
    catalog = CATALOG.with_measures(twice, views=("headline", "report_headline"))
    suite = MetricSuite(catalog=catalog).fit(model, training_rows)

Its column then comes out of :meth:`~sensecf.evaluation.metrics.MetricSuite.score_cfs`, is
averaged per query and summarised with an interval, and shows in the tables given that catalog.

>>> get_measure("l0").label, get_measure("l0").higher_is_better
('L0', False)
>>> format_cell({"l0": 2.0, "l0_ci_low": 1.5, "l0_ci_high": 2.5}, "l0", ".2f")
'2.00 [1.50, 2.50]'
>>> CATALOG.view("quality")[0].name
'query_validity'
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sensecf.data.constraints import VIOLATION_KINDS, changed, count_changes
from sensecf.data.io import write_text
from sensecf.data.scales import EffortPrices
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.evaluation.stats import MIN_CLUSTERS, Kind

__all__ = [
    "CATALOG",
    "LEVELS",
    "VIEWS",
    "CFBatch",
    "Catalog",
    "Measure",
    "format_cell",
    "format_parts",
    "get_measure",
    "readme_block",
]

Level = Literal["cf", "query", "summary", "study"]
LEVELS: tuple[str, ...] = ("cf", "query", "summary", "study")
# The metric suite's levels share one namespace (summary.csv's columns); the study has its own.
SUITE_LEVELS = ("cf", "query", "summary")
VIEWS = ("headline", "report_headline", "llm", "quality", "study")
MISSING = "–"


@dataclass(frozen=True)
class CFBatch:
    """What a counterfactual-level measure is computed from: one row per CF.

    ``queries`` holds each CF's query row and ``cfs`` the CF itself (features in the spec's
    order); ``mad``, ``ranges`` and ``scale`` are the fitted suite's per-feature scales.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...                    features=[FeatureSpec(name="x", bounds=(0, 10))])
    >>> batch = CFBatch(spec, np.array([[1.0]]), np.array([[3.0]]), np.array([True]),
    ...                 mad=np.ones(1), ranges=np.full(1, 10.0), scale=np.ones(1))
    >>> batch.delta.tolist(), _l0(batch).tolist()
    ([[2.0]], [1])
    """

    spec: DatasetSpec
    queries: np.ndarray
    cfs: np.ndarray
    valid: np.ndarray
    mad: np.ndarray
    ranges: np.ndarray
    scale: np.ndarray

    @cached_property
    def changed(self) -> np.ndarray:
        """Which features each CF changed (relative tolerance)."""
        return changed(self.queries, self.cfs)

    @cached_property
    def delta(self) -> np.ndarray:
        """|change| per feature: exactly 0 where unchanged and where the query is missing the
        value (the CF keeps it missing; a value given to it has no size); NaN where the CF
        dropped a measured value."""
        moved = self.changed & ~np.isnan(self.queries)
        return np.where(moved, np.abs(self.cfs - self.queries), 0.0)


Compute = Callable[[CFBatch], np.ndarray]


def _l0(batch: CFBatch) -> np.ndarray:
    return count_changes(batch.spec, batch.queries, batch.cfs)  # derived features not counted


def _mad_l1(batch: CFBatch) -> np.ndarray:
    return (batch.delta / batch.mad).sum(axis=1)


def _range_l1(batch: CFBatch) -> np.ndarray:
    return (batch.delta / batch.ranges).sum(axis=1)


def _l2_std(batch: CFBatch) -> np.ndarray:
    return np.sqrt(((batch.delta / batch.scale) ** 2).sum(axis=1))


def _cost(batch: CFBatch) -> np.ndarray:
    return EffortPrices.for_spec(batch.spec, batch.mad).effort(batch.queries, batch.cfs)


@dataclass(frozen=True)
class Measure:
    """One number the project reports.

    ``level``: ``"cf"`` (computed per counterfactual, averaged per query over its valid CFs,
    then over queries with an interval), ``"query"`` (computed per query, averaged over
    queries), ``"summary"`` (once per method: counts, totals, pooled shares) or ``"study"``
    (the augmentation study's per-arm measures). ``label``: the console's short header;
    ``title``: the report's (the label where empty). ``fmt``: a format spec.
    ``higher_is_better``: ``None`` for a diagnostic that is never ranked. ``interval``: shown
    with its 95% interval (``<name>_ci_low`` / ``<name>_ci_high``). ``meaning``: one line for
    readers. ``family``: what it is about (the README groups by it; a plot panel's title).
    ``axis``: a plot axis's wording; ``share``: a share in [0, 1], which also makes its
    interval a share's (:attr:`interval_kind`). ``compute``: for a
    ``"cf"`` measure, its values from a :class:`CFBatch` (``None``: the metric suite computes
    it from its fitted detectors and the oracle's minimum).

    >>> Measure("l0_twice", "cf", "2×L0", compute=_l0).title
    '2×L0'
    >>> Measure("x", "row", "x")
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: measure 'x': level must be one of cf, query, summary, study; got 'row'
    """

    name: str
    level: Level
    label: str
    title: str = ""
    fmt: str = ".2f"
    higher_is_better: bool | None = None
    interval: bool = False
    meaning: str = ""
    family: str = ""
    axis: str = ""
    share: bool = False
    compute: Compute | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SensecfError(f"a measure's name must be an identifier; got {self.name!r}")
        if self.level not in LEVELS:
            raise SensecfError(
                f"measure {self.name!r}: level must be one of {', '.join(LEVELS)}; "
                f"got {self.level!r}"
            )
        try:
            format(0.5, self.fmt)
        except (ValueError, TypeError) as exc:
            raise SensecfError(
                f"measure {self.name!r}: fmt must be a number format such as '.2f'; "
                f"got {self.fmt!r}"
            ) from exc
        if self.compute is not None and self.level != "cf":
            raise SensecfError(
                f"measure {self.name!r}: only a 'cf' measure takes a compute function; its "
                f"level is {self.level!r}"
            )
        if not self.title:
            object.__setattr__(self, "title", self.label)  # frozen: set once, here

    @property
    def interval_kind(self) -> Kind:
        """How :func:`~sensecf.evaluation.stats.grouped_intervals` treats it: ``"share"``
        (values in [0, 1]; Wilson for independent yes/no rows) or ``"mean"``.

        >>> get_measure("coverage").interval_kind, get_measure("l0").interval_kind
        ('share', 'mean')
        """
        return "share" if self.share else "mean"

    def cell(self, row: Mapping[str, Any], *, interval: bool | None = None) -> str:
        """This measure's cell of one row, ``value [low, high]`` when it has an interval.

        >>> get_measure("macro_f1", level="study").cell({"macro_f1": 0.5})
        '0.500'
        """
        return format_cell(
            row, self.name, self.fmt, interval=self.interval if interval is None else interval
        )


def format_parts(
    row: Mapping[str, Any], column: str, fmt: str, *, interval: bool = True
) -> tuple[str, str]:
    """A column's value in ``row`` and its 95% interval as text: ``("0.61", "[0.60, 0.62]")``.

    A missing value reads ``–``. Without both ends the interval is empty, or, where the row
    says there were fewer than :data:`~sensecf.evaluation.stats.MIN_CLUSTERS` clusters
    (``<column>_n``), says so: ``(n = 3: no interval)``. ``interval=False`` shows the value only.

    >>> format_parts({"a": 0.5, "a_ci_low": 0.25, "a_ci_high": float("nan")}, "a", ".2f")
    ('0.50', '')
    >>> format_parts({"a": 0.5, "a_ci_low": None, "a_ci_high": None, "a_n": 3}, "a", ".2f")
    ('0.50', '(n = 3: no interval)')
    >>> format_parts({}, "a", ".2f")
    ('–', '')
    """
    value = row.get(column)
    if value is None or pd.isna(value):
        return MISSING, ""
    text = format(value, fmt)
    if not interval:
        return text, ""
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if low is None or pd.isna(low) or high is None or pd.isna(high):
        n = row.get(f"{column}_n")
        if n is not None and not pd.isna(n) and n < MIN_CLUSTERS:
            return text, f"(n = {int(n)}: no interval)"
        return text, ""
    return text, f"[{format(low, fmt)}, {format(high, fmt)}]"


def format_cell(row: Mapping[str, Any], column: str, fmt: str, *, interval: bool = True) -> str:
    """One table cell as text: ``value [low, high]``, ``value (n = 3: no interval)``, ``value``,
    or ``–`` when missing.

    Every table writer uses it (the console, summary.md, the study's tables; the HTML report
    keeps the two parts apart, see :func:`format_parts`).

    >>> format_cell({"gain": 0.0312, "gain_ci_low": -0.01, "gain_ci_high": 0.07}, "gain", "+.3f")
    '+0.031 [-0.010, +0.070]'
    >>> format_cell({"gain": 0.0312, "gain_n": 2}, "gain", "+.3f")
    '+0.031 (n = 2: no interval)'
    >>> format_cell({"gain": None}, "gain", "+.3f")
    '–'
    """
    text, bounds = format_parts(row, column, fmt, interval=interval)
    return f"{text} {bounds}" if bounds else text


@dataclass(frozen=True)
class Catalog:
    """An immutable set of measures and the views tables read (tuples of names).

    Names are unique within the metric suite's levels and within the study's. Extend one with
    :meth:`with_measures`; the catalog itself never changes.

    >>> len(CATALOG.view("headline")), CATALOG.get("seconds", level="study").fmt
    (14, '.1f')
    """

    measures: tuple[Measure, ...]
    headline: tuple[str, ...] = ()
    report_headline: tuple[str, ...] = ()
    llm: tuple[str, ...] = ()
    quality: tuple[str, ...] = ()
    study: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[tuple[bool, str]] = set()
        for measure in self.measures:
            if not isinstance(measure, Measure):
                raise SensecfError(f"a catalog holds Measure objects; got {measure!r}")
            key = (measure.level == "study", measure.name)
            if key in seen:
                raise SensecfError(f"measure {measure.name!r} is in the catalog twice")
            seen.add(key)
        for view in VIEWS:
            self.view(view)  # every name of every view resolves

    def __iter__(self) -> Iterator[Measure]:
        return iter(self.measures)

    def __len__(self) -> int:
        return len(self.measures)

    def at(self, *levels: str) -> tuple[Measure, ...]:
        """The measures of the given levels, in catalog order.

        >>> [m.name for m in CATALOG.at("cf")][:3]
        ['l0', 'min_l0_ratio', 'mad_l1']
        """
        return tuple(m for m in self.measures if m.level in levels)

    def get(self, name: str, *, level: str | None = None) -> Measure:
        """The measure called ``name`` (of the study with ``level="study"``, else the suite's).

        >>> CATALOG.get("l0_ratio")
        Traceback (most recent call last):
        ...
        sensecf.errors.SensecfError: no measure 'l0_ratio' in the metric suite; known: n_queries, n_cfs, n_valid, n_rejected, coverage, validity, validity_margin, query_validity, any_valid, n_certified_infeasible, n_feasible, covered_feasible, feasible_coverage, n_min_l0_certified, n_min_l0_bounded, validity_first, validity_after_repair, fallback_share, l0, min_l0_ratio, mad_l1, range_l1, l2_std, cost, lof_inlier, iforest_inlier, ynn, nn_dist, diversity, copied_example, example_share, viol_fixed, viol_direction, viol_bounds, viol_grain, viol_relations, viol_limits, viol_total, n_violating, seconds, llm_calls, prompt_tokens, completion_tokens, llm_calls_per_valid_cf, prompt_tokens_per_valid_cf, completion_tokens_per_valid_cf, tokens_per_valid_cf
        """
        if level is not None and level not in LEVELS:
            raise SensecfError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
        levels = (level,) if level == "study" else SUITE_LEVELS
        pool = self.at(*levels)
        for measure in pool:
            if measure.name == name and (level is None or measure.level == level):
                return measure
        where = "the augmentation study" if level == "study" else "the metric suite"
        known = ", ".join(m.name for m in pool)
        raise SensecfError(f"no measure {name!r} in {where}; known: {known}")

    def view(self, name: str) -> tuple[Measure, ...]:
        """The measures of a view (:data:`VIEWS`), in the view's order."""
        if name not in VIEWS:
            raise SensecfError(f"no view {name!r}; the views are {', '.join(VIEWS)}")
        level = "study" if name == "study" else None
        return tuple(self.get(n, level=level) for n in getattr(self, name))

    def with_measures(self, *measures: Measure, views: Sequence[str] = ()) -> Catalog:
        """A new catalog with ``measures`` added (each after the last of its level) and shown
        at the end of the named ``views``.

        >>> twice = Measure("l0_twice", "cf", "2×L0", compute=_l0)
        >>> bigger = CATALOG.with_measures(twice, views=["headline"])
        >>> [m.name for m in bigger.at("cf")][-2:], bigger.headline[-1], len(CATALOG.headline)
        (['nn_dist', 'l0_twice'], 'l0_twice', 14)
        """
        items = list(self.measures)
        for measure in measures:
            last = [i for i, m in enumerate(items) if m.level == measure.level]
            items.insert(last[-1] + 1 if last else len(items), measure)
        names = tuple(m.name for m in measures)
        shown = {}
        for view in views:
            if view not in VIEWS:
                raise SensecfError(f"no view {view!r}; the views are {', '.join(VIEWS)}")
            shown[view] = (*getattr(self, view), *names)
        return replace(self, measures=tuple(items), **shown)


# ---- the measures ------------------------------------------------------------------------------
def _suite_measures() -> tuple[Measure, ...]:
    share: dict[str, Any] = {"fmt": ".2f", "share": True}
    count: dict[str, Any] = {"fmt": ".0f"}
    shown = "queries with at least one"
    return (
        Measure(
            "n_queries", "summary", "queries", meaning="queries asked", family="counts", **count
        ),
        Measure("n_cfs", "summary", "CFs", meaning="CFs returned", family="counts", **count),
        Measure(
            "n_valid",
            "summary",
            "valid CFs",
            meaning="valid CFs returned",
            family="counts",
            **count,
        ),
        Measure(
            "n_rejected",
            "summary",
            "withheld",
            "answers withheld",
            meaning="answers the method withheld instead of offering them (its rejected table: "
            "LLM answers still refused after their last repair; 0 for the other methods); "
            "validity counts them",
            family="counts",
            **count,
        ),
        Measure(
            "coverage",
            "query",
            "coverage",
            higher_is_better=True,
            interval=True,
            meaning=f"share of {shown} CF",
            family="validity",
            **share,
        ),
        Measure(
            "validity",
            "summary",
            "validity",
            higher_is_better=True,
            meaning="share of all answers that are valid (pooled; no CI): the model puts them "
            "in the desired class under its own decision rule, always recomputed; over the CFs "
            "offered and the answers withheld (n_rejected) together",
            family="validity",
            **share,
        ),
        Measure(
            "validity_margin",
            "summary",
            "valid at margin",
            "validity at the margin",
            higher_is_better=True,
            meaning="share of all answers (offered or withheld) with P(desired) >= margin (only "
            "when a margin is set)",
            family="validity",
            **share,
        ),
        Measure(
            "query_validity",
            "query",
            "valid/query",
            "validity per query",
            higher_is_better=True,
            interval=True,
            meaning="mean over covered queries of the share of their CFs valid",
            family="validity",
            axis="share of a query's CFs the model accepts",
            **share,
        ),
        Measure(
            "any_valid",
            "query",
            "any valid",
            "queries with a valid CF",
            higher_is_better=True,
            interval=True,
            meaning=f"share of {shown} valid CF",
            family="validity",
            **share,
        ),
        Measure(
            "n_certified_infeasible",
            "summary",
            "infeasible",
            "certified infeasible",
            meaning="queries the oracle proved no allowed change can flip",
            family="feasibility",
            **count,
        ),
        Measure(
            "n_feasible",
            "summary",
            "feasible",
            meaning="queries not proven infeasible (n_queries - n_certified_infeasible)",
            family="feasibility",
            **count,
        ),
        Measure(
            "covered_feasible",
            "summary",
            "covered feasible",
            meaning="feasible queries with a valid CF that breaks no constraint",
            family="feasibility",
            **count,
        ),
        Measure(
            "feasible_coverage",
            "summary",
            "cov. feasible",
            "coverage of feasible",
            higher_is_better=True,
            meaning="covered_feasible / n_feasible (coverage against feasible queries)",
            family="feasibility",
            **share,
        ),
        Measure(
            "n_min_l0_certified",
            "summary",
            "min L0 certified",
            meaning="queries whose minimal number of changes the oracle proved",
            family="feasibility",
            **count,
        ),
        Measure(
            "n_min_l0_bounded",
            "summary",
            "min L0 bounded",
            meaning="queries with only the oracle's best-found number of changes",
            family="feasibility",
            **count,
        ),
        Measure(
            "validity_first",
            "query",
            "1st answer valid",
            "first answer valid",
            higher_is_better=True,
            interval=True,
            meaning="share of queries whose first LLM answer (round 0, first sample) is valid",
            family="language model",
            **share,
        ),
        Measure(
            "validity_after_repair",
            "query",
            "after repair",
            "valid after repair",
            higher_is_better=True,
            interval=True,
            meaning="share of queries with a valid CF of source llm or repair",
            family="language model",
            **share,
        ),
        Measure(
            "fallback_share",
            "summary",
            "fallback share",
            meaning="share of valid CFs that came from the fallback search",
            family="language model",
            **share,
        ),
        Measure(
            "l0",
            "cf",
            "L0",
            "L0 (features changed)",
            higher_is_better=False,
            interval=True,
            meaning="sparsity: number of features changed (derived features, which follow "
            "their inputs, not counted; a feature the query is missing counts only if the CF "
            "gives it a value)",
            family="sparsity",
            axis="features changed (L0; fewer is sparser)",
            compute=_l0,
        ),
        Measure(
            "min_l0_ratio",
            "cf",
            "L0/min",
            "L0 ÷ minimal L0",
            higher_is_better=False,
            interval=True,
            meaning="l0 / min_l0, for valid CFs only (NaN if invalid or min_l0 is missing or "
            "0); 1.0 is the oracle's proven minimum",
            family="sparsity",
        ),
        Measure(
            "mad_l1",
            "cf",
            "MAD-L1",
            higher_is_better=False,
            interval=True,
            meaning="sum over features of |change| / MAD (std, then step, where MAD is 0; "
            "MADs ignore missing training values; a feature the query is missing adds 0)",
            family="proximity",
            compute=_mad_l1,
        ),
        Measure(
            "range_l1",
            "cf",
            "range-L1",
            higher_is_better=False,
            interval=True,
            meaning="sum over features of |change| / range (bounds width by default; a feature "
            "the query is missing adds 0)",
            family="proximity",
            compute=_range_l1,
        ),
        Measure(
            "l2_std",
            "cf",
            "L2",
            "L2 (standardised)",
            higher_is_better=False,
            interval=True,
            meaning="Euclidean distance to the query on standardised features (a feature the "
            "query is missing adds 0)",
            family="proximity",
            compute=_l2_std,
        ),
        Measure(
            "cost",
            "cf",
            "effort",
            "effort cost",
            higher_is_better=False,
            interval=True,
            meaning="the total effort of the change: per changed feature, its spec cost "
            "(fixed + per_unit × |change|), or |change| / MAD for a feature without a cost "
            "(so it equals MAD-L1 for a spec without costs; a feature the query is missing "
            "adds 0)",
            family="effort",
            compute=_cost,
        ),
        Measure(
            "lof_inlier",
            "cf",
            "LOF in",
            "LOF inliers",
            higher_is_better=True,
            interval=True,
            meaning="1 if LocalOutlierFactor (desired-class training rows) calls it an inlier, "
            "else 0 (missing values, in training rows and CFs, filled by training medians)",
            family="plausibility",
            axis="share of CFs a LOF calls inliers",
            share=True,
        ),
        Measure(
            "iforest_inlier",
            "cf",
            "IF in",
            "IF inliers",
            higher_is_better=True,
            interval=True,
            meaning="1 if IsolationForest (desired-class training rows) calls it an inlier, "
            "else 0 (missing values filled by training medians)",
            family="plausibility",
            share=True,
        ),
        Measure(
            "ynn",
            "cf",
            "yNN",
            higher_is_better=True,
            interval=True,
            meaning="share of its nearest training rows that the model labels as the desired "
            "class (neighbours found with missing values filled by training medians)",
            family="plausibility",
            share=True,
        ),
        Measure(
            "nn_dist",
            "cf",
            "NN dist.",
            "distance to the nearest row",
            higher_is_better=False,
            interval=True,
            meaning="standardised Euclidean distance to the nearest training row (missing "
            "values filled by training medians)",
            family="plausibility",
        ),
        Measure(
            "diversity",
            "query",
            "divers.",
            "diversity",
            higher_is_better=True,
            interval=True,
            meaning="mean over queries with 2+ (valid) CFs of their diversity, the mean "
            "pairwise MAD-L1 among a query's CFs (a feature missing in either CF adds 0)",
            family="diversity",
        ),
        Measure(
            "copied_example",
            "query",
            "whole-row copies",
            "whole-row copies of an example",
            interval=True,
            meaning="whole-row copy share: mean over queries of their share of (valid) CFs "
            "equal to an example shown",
            family="language model",
            **share,
        ),
        Measure(
            "example_share",
            "query",
            "changed values from examples",
            "changed values taken from examples",
            interval=True,
            meaning="mean over queries of the share of changed values equal to an example's value",
            family="language model",
            **share,
        ),
        *(
            Measure(
                f"viol_{kind}",
                "summary",
                f"viol. {kind}",
                f"{kind} violations",
                higher_is_better=False,
                meaning=f"total viol_{kind} over all CFs (a count; the goal is 0): {what}",
                family="constraints",
                **count,
            )
            for kind, what in _VIOLATIONS.items()
        ),
        Measure(
            "viol_total",
            "summary",
            "violations",
            higher_is_better=False,
            meaning="total viol_total over all CFs (a count; the goal is 0): every constraint "
            "violation",
            family="constraints",
            **count,
        ),
        Measure(
            "n_violating",
            "summary",
            "violating CFs",
            higher_is_better=False,
            meaning="CFs with at least one violation",
            family="constraints",
            **count,
        ),
        Measure(
            "seconds",
            "query",
            "s/query",
            "s / query",
            higher_is_better=False,
            interval=True,
            meaning="mean seconds per query",
            family="cost",
        ),
        *(
            Measure(
                cost,
                "summary",
                cost.replace("_", " "),
                higher_is_better=False,
                meaning=f"total {cost}",
                family="cost",
                **count,
            )
            for cost in _COSTS
        ),
        *(
            Measure(
                f"{cost}_per_valid_cf",
                "summary",
                label,
                title,
                higher_is_better=False,
                meaning=f"total {cost} / valid CFs (NaN without valid CFs)",
                family="cost",
            )
            for cost, label, title in (
                ("llm_calls", "calls/valid CF", "LLM calls / valid CF"),
                ("prompt_tokens", "prompt tokens/valid CF", "prompt tokens / valid CF"),
                ("completion_tokens", "completion tokens/valid CF", "completion tokens / valid CF"),
            )
        ),
        Measure(
            "tokens_per_valid_cf",
            "summary",
            "tokens/valid CF",
            "tokens / valid CF",
            fmt=".0f",
            higher_is_better=False,
            meaning="(prompt + completion tokens) / valid CFs",
            family="cost",
        ),
    )


_VIOLATIONS = {
    "fixed": "fixed features changed",
    "direction": "features moved against their allowed direction",
    "bounds": "changed features outside their plausible bounds",
    "grain": "changed values that are not a level (coded) or not whole (integer)",
    "relations": "spec relations broken (a derived feature off its formula, a check not met)",
    "limits": "the person's own limits broken, where a limits table is given (a kept feature "
    "changed, a value outside the person's bounds, more changes than the person's cap; each "
    "counted only where the spec allows it)",
}
assert tuple(_VIOLATIONS) == VIOLATION_KINDS, "one meaning per violation kind"
_COSTS = ("llm_calls", "prompt_tokens", "completion_tokens")


def _study_measures() -> tuple[Measure, ...]:
    f1: dict[str, Any] = {"higher_is_better": True, "family": "augmentation"}
    score: dict[str, Any] = {**f1, "share": True}  # F1, AUROC and accuracy lie in [0, 1]
    return (
        Measure(
            "rows_added",
            "study",
            "rows added",
            fmt=".0f",
            meaning="training rows the arm added to the scarce set",
            family="augmentation",
        ),
        Measure(
            "macro_f1",
            "study",
            "macro-F1",
            fmt=".3f",
            interval=True,
            meaning="macro-F1 on the untouched test split",
            **score,
        ),
        Measure(
            "minority_f1",
            "study",
            "scarce-class F1",
            fmt=".3f",
            interval=True,
            meaning="the scarce class's F1 on the untouched test split",
            **score,
        ),
        Measure("auroc", "study", "AUROC", fmt=".3f", meaning="AUROC on the test split", **score),
        Measure(
            "accuracy",
            "study",
            "accuracy",
            fmt=".3f",
            meaning="accuracy on the test split",
            **score,
        ),
        Measure(
            "gain_macro_f1",
            "study",
            "macro-F1 gain",
            fmt="+.3f",
            interval=True,
            meaning="macro-F1 of the arm − macro-F1 of the scarce set, per seed",
            **f1,
        ),
        Measure(
            "recovery_macro_f1",
            "study",
            "macro-F1 recovery",
            interval=True,
            meaning="(arm − scarce) / (full − scarce) per seed: the share of the macro-F1 lost "
            "to label scarcity that the added rows win back",
            **f1,
        ),
        Measure(
            "pooled_recovery_macro_f1",
            "study",
            "pooled",
            "pooled macro-F1 recovery",
            meaning="mean gain / mean loss over seeds (steadier when a seed lost little)",
            **f1,
        ),
        Measure(
            "recovery_minority_f1",
            "study",
            "class-F1 recovery",
            meaning="the recovery of the scarce class's F1",
            **f1,
        ),
        Measure(
            "seconds",
            "study",
            "s",
            fmt=".1f",
            higher_is_better=False,
            meaning="seconds the arm spent making its rows",
            family="augmentation",
        ),
        Measure(
            "llm_calls",
            "study",
            "LLM calls",
            fmt=".0f",
            higher_is_better=False,
            meaning="language-model calls the arm made",
            family="augmentation",
        ),
        Measure(
            "tokens",
            "study",
            "tokens",
            fmt=".0f",
            higher_is_better=False,
            meaning="tokens the arm spent",
            family="augmentation",
        ),
    )


# Sparsity, proximity, plausibility, diversity, violations and cost, in every headline table.
_HEADLINE_QUALITY = (
    "l0",
    "min_l0_ratio",
    "mad_l1",
    "lof_inlier",
    "iforest_inlier",
    "ynn",
    "diversity",
    "viol_total",
    "seconds",
)

CATALOG = Catalog(
    (*_suite_measures(), *_study_measures()),
    # The console shows validity at the margin; the report the mean validity per query.
    # Validity, with the withheld answers it counts beside it.
    headline=(
        "coverage",
        "feasible_coverage",
        "validity",
        "n_rejected",
        "validity_margin",
        *_HEADLINE_QUALITY,
    ),
    report_headline=(
        "coverage",
        "feasible_coverage",
        "validity",
        "query_validity",
        *_HEADLINE_QUALITY,
    ),
    # What the language model adds: its own validity, and how much of its answers is the examples'.
    llm=(
        "validity_first",
        "validity_after_repair",
        "fallback_share",
        "copied_example",
        "example_share",
        "llm_calls_per_valid_cf",
        "tokens_per_valid_cf",
    ),
    quality=("query_validity", "lof_inlier", "l0"),
    study=(
        "rows_added",
        "macro_f1",
        "minority_f1",
        "auroc",
        "accuracy",
        "gain_macro_f1",
        "recovery_macro_f1",
        "pooled_recovery_macro_f1",
        "recovery_minority_f1",
        "seconds",
        "llm_calls",
        "tokens",
    ),
)
"""The project's measures: the metric suite's (in summary.csv's order) and the study's."""


def get_measure(name: str, *, level: str | None = None) -> Measure:
    """A measure of :data:`CATALOG` by name (``level="study"`` for the augmentation study's).

    >>> get_measure("recovery_macro_f1", level="study").meaning[:22]
    '(arm − scarce) / (full'
    """
    return CATALOG.get(name, level=level)


# ---- the README's list ------------------------------------------------------------------------
README_START = "<!-- measures: generated from sensecf.evaluation.catalog; do not edit by hand -->"
README_END = "<!-- /measures -->"


def readme_block(catalog: Catalog = CATALOG, width: int = 100) -> str:
    """The README's list of measures, grouped by family, between its marker comments.

    >>> print(readme_block(Catalog((get_measure("l0"),)), width=72))
    <!-- measures: generated from sensecf.evaluation.catalog; do not edit by hand -->
    **Sparsity**
    <BLANKLINE>
    - `l0` (L0 (features changed); per CF, mean over valid CFs with a 95%
      interval; lower is better): sparsity: number of features changed
      (derived features, which follow their inputs, not counted; a feature
      the query is missing counts only if the CF gives it a value).
    <BLANKLINE>
    <!-- /measures -->
    """
    families: dict[str, list[Measure]] = {}
    for measure in catalog:
        families.setdefault(measure.family or "other", []).append(measure)
    lines = [README_START]
    for family, measures in families.items():
        lines += [f"**{family[0].upper()}{family[1:]}**", ""]
        for m in measures:
            facts = [
                m.title,
                _LEVEL_WORDS[m.level] + (" with a 95% interval" if m.interval else ""),
            ]
            if m.higher_is_better is not None:
                facts.append("higher is better" if m.higher_is_better else "lower is better")
            text = f"- `{m.name}` ({'; '.join(facts)}): {m.meaning}."
            lines += textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)
        lines.append("")
    return "\n".join([*lines, README_END])


_LEVEL_WORDS = {
    "cf": "per CF, mean over valid CFs",
    "query": "per query, mean over queries",
    "summary": "per method",
    "study": "per arm, mean over seeds",
}


def rewrite_readme(path: str | Path, catalog: Catalog = CATALOG) -> bool:
    """Replace the block between the README's markers with :func:`readme_block`; True when it
    changed. Raises :class:`~sensecf.errors.SensecfError` when the markers are missing."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SensecfError(
            f"{path} has no measures block: expected a line {README_START!r} and later "
            f"{README_END!r}"
        )
    new = text[:start] + readme_block(catalog) + text[end + len(README_END) :]
    if new != text:
        write_text(path, new)
    return new != text
