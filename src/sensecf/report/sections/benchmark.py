"""The benchmark's tables: headline measures with intervals and a ★ where a method is better
than every other (paired, Holm-adjusted), with the held-out real rows' inlier rates beneath,
what the language model adds, the per-class breakdown, the paired comparisons against the
reference, what plausibility costs and its frontier, and every metric.

Which measures, under which headers and formats, comes from the catalog
(:mod:`sensecf.evaluation.catalog`): its ``report_headline`` and ``llm`` views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from sensecf.evaluation.benchmark import (
    COMPARISONS_NOTE,
    benchmark_best,
    coverage_lines,
    feasibility_line,
    llm_rows,
)
from sensecf.evaluation.catalog import CATALOG, Catalog, Measure, format_parts
from sensecf.evaluation.comparisons import Best, comparisons_text
from sensecf.report.parts import Cell, Section, Table
from sensecf.report.run_folder import RunData
from sensecf.report.sections.plausibility import (
    REFERENCE_METHOD,
    plausibility_parts,
    reference_fact,
    reference_row,
)
from sensecf.runs import COMPARISONS_CSV, PER_QUERY, QUERIES, RESULTS, SUMMARY_CSV

__all__ = ["all_metrics_table", "benchmark_section", "metric_table", "tie_lines"]


def benchmark_section(data: RunData, catalog: Catalog = CATALOG) -> Section | None:
    """The benchmark's tables: headline metrics with intervals, the best marked; what the LLM
    adds; the per-class breakdown; and every metric."""
    summary = data.summary
    if summary is None or summary.empty:
        return None
    section = Section(
        "benchmark",
        "Benchmark",
        "Every generator explained the same flagged rows of the same model and was scored by "
        "one metric suite. Means over queries, with 95% intervals in brackets where the "
        "queries vary; sparsity, proximity and plausibility are over valid counterfactuals. "
        "★ marks a method only where it is better than every other method on that metric, "
        "query by query, at the Holm-adjusted 5% level.",
    )
    n = summary["n_queries"].max() if "n_queries" in summary else None
    if n is not None:
        section.facts.append(("queries", str(int(n))))
    config = data.benchmark_config
    if config.get("n_cfs") is not None:
        section.facts.append(("counterfactuals asked per query", str(config["n_cfs"])))
    folder = data.run.benchmark
    assert folder is not None  # a summary comes from a benchmark folder
    oracle = folder / RESULTS / "oracle" / QUERIES
    if oracle.is_file():
        line = feasibility_line(pd.read_parquet(oracle)).removeprefix("oracle: ")
        section.facts.append(("what the oracle proved", line))
    fact = reference_fact(data)
    if fact is not None:
        section.facts.append(fact)
    headline = catalog.view("report_headline")
    per_query_path = folder / PER_QUERY
    per_query = pd.read_parquet(per_query_path) if per_query_path.is_file() else pd.DataFrame()
    if "method" not in per_query.columns:  # written before the table named its methods
        per_query = pd.DataFrame()
    seed = int(config.get("seed") or 0)
    best = benchmark_best(per_query, headline, seed=seed)
    reference = reference_row(data)
    shown = summary if reference is None else pd.concat([summary, pd.DataFrame([reference])])
    section.tables.append(
        metric_table(
            shown.reset_index(drop=True),
            headline,
            title="All queries",
            caption=""
            if reference is None
            else f"The last row, {REFERENCE_METHOD}: the share of held-out real rows of the "
            "desired class each plausibility detector calls inliers, the line every method's "
            "inlier rates are read against.",
            best=best,
        )
    )
    ties = tie_lines(best, headline)
    if ties:
        section.notes.append("No ★ where the best mean is not a clear lead: " + "; ".join(ties))
    llm = summary[llm_rows(summary)]
    if len(llm):
        section.tables.append(
            metric_table(
                llm.reset_index(drop=True),
                catalog.view("llm"),
                title="What the language model adds",
                caption="First-answer validity is the model's own (round 0, first sample); "
                "copies measure how much of an answer is the prompt's examples. The "
                "nearest-example control returns the examples without a language model. "
                "Diagnostics, not rankings: no best is marked.",
            )
        )
    by = data.by
    if by is not None:
        full = pd.read_csv(folder / SUMMARY_CSV)
        spec = data.spec
        groups = sorted(full[by].dropna().unique())
        for group in groups if len(groups) > 1 else []:  # one group repeats "All queries"
            rows = full[full[by] == group].reset_index(drop=True)
            label = spec.classes.get(int(group), group) if spec and by == "label" else group
            title = f"Queries whose true class is {label}" if by == "label" else f"{by} = {label}"
            marks = benchmark_best(per_query, headline, by=by, group=group, seed=seed)
            section.tables.append(metric_table(rows, headline, title=title, best=marks))
    lines = coverage_lines(summary)
    if lines:
        section.notes.append(
            "Coverage against feasible queries (a valid counterfactual that breaks no "
            "constraint): " + "; ".join(lines)
        )
    comparisons_path = folder / COMPARISONS_CSV
    if comparisons_path.is_file():  # written by benchmarks since the comparisons exist
        comparisons = pd.read_csv(comparisons_path)
        if len(comparisons):
            reference = comparisons["reference"].iloc[0]
            section.tables.append(
                Table.from_frame(
                    comparisons_text(comparisons, catalog=catalog),
                    title=f"Paired comparisons against {reference}",
                    caption=COMPARISONS_NOTE,
                )
            )
    tables, figures = plausibility_parts(data)
    section.tables.extend(tables)
    section.plots.extend(figures)
    section.tables.append(all_metrics_table(summary))
    return section


def tie_lines(best: Mapping[str, Best], measures: Sequence[Measure]) -> list[str]:
    """Where the best mean earns no ★: ``L0: oracle, indistinguishable from dice-random``.

    >>> b = {"l0": Best("l0", "oracle", False, ("dice-random",))}
    >>> tie_lines(b, [CATALOG.get("l0")])
    ['L0 (features changed): oracle, indistinguishable from dice-random']
    """
    return [
        f"{m.title}: {best[m.name].leader}, indistinguishable from "
        + ", ".join(best[m.name].tied_with)
        for m in measures
        if m.name in best and not best[m.name].marked
    ]


def metric_table(
    rows: pd.DataFrame,
    measures: Sequence[Measure],
    title: str = "",
    caption: str = "",
    best: Mapping[str, Best] | None = None,
) -> Table:
    """One row per method: each measure as ``mean [low, high]`` under its report title, the
    method ``best`` marks per measure (:func:`~sensecf.evaluation.benchmark.benchmark_best`:
    better than every other method at the Holm-adjusted level) flagged; nothing without it.

    >>> from sensecf.evaluation.catalog import Measure
    >>> s = pd.DataFrame({"method": ["a", "b"], "l0": [2.0, 3.0],
    ...                   "l0_ci_low": [1.0, 2.5], "l0_ci_high": [3.0, 3.5]})
    >>> l0 = Measure("l0", "cf", "L0", fmt=".1f", higher_is_better=False)
    >>> t = metric_table(s, [l0], best={"l0": Best("l0", "a", True, ())})
    >>> [(c.text, c.interval, c.best) for c in t.rows[0]]
    [('a', '', False), ('2.0', '[1.0, 3.0]', True)]
    >>> metric_table(s, [l0], best={"l0": Best("l0", "a", False, ("b",))}).rows[0][1].best
    False
    """
    present = [m for m in measures if m.name in rows.columns and rows[m.name].notna().any()]
    starred = {
        name: mark.leader for name, mark in (best or {}).items() if mark.marked
    }  # a diagnostic never has a mark: best_marks ranks only measures with a direction
    table_rows = []
    for row in rows.to_dict("records"):
        cells = [Cell(str(row["method"]))]
        for m in present:
            text, interval = format_parts(row, m.name, m.fmt)
            cells.append(Cell(text, starred.get(m.name) == row["method"], interval))
        table_rows.append(cells)
    header = ["method", *(m.title for m in present)]
    return Table(header, table_rows, title, caption)


def all_metrics_table(summary: pd.DataFrame) -> Table:
    """Every metric of the summary (rows) for every method (columns), with its interval.

    >>> s = pd.DataFrame({"method": ["a"], "n_cfs": [3], "l0": [2.0],
    ...                   "l0_ci_low": [1.0], "l0_ci_high": [3.0]})
    >>> [[c.text + c.interval for c in row] for row in all_metrics_table(s).rows]
    [['n_cfs', '3'], ['l0', '2[1, 3]']]
    """
    skip = {"method", "label"}
    metrics = [
        c
        for c in summary.columns
        if c not in skip
        and not c.endswith(("_ci_low", "_ci_high"))
        and not (c.endswith("_n") and c[:-2] in summary.columns)  # an interval's cluster count
        and pd.api.types.is_numeric_dtype(summary[c])
        and summary[c].notna().any()
    ]
    records = summary.to_dict("records")
    rows = []
    for metric in metrics:
        integer = all(float(r[metric]).is_integer() for r in records if pd.notna(r[metric]))
        fmt = ".0f" if integer and f"{metric}_ci_low" not in summary else ".3g"
        cells = [Cell(metric)]
        for record in records:
            text, interval = format_parts(record, metric, fmt)
            cells.append(Cell(text, interval=interval))
        rows.append(cells)
    return Table(
        ["metric", *map(str, summary["method"])],
        rows,
        title="Every metric",
        caption="The benchmark's summary.csv over all queries; the README's metric list says "
        "what each one measures.",
    )
