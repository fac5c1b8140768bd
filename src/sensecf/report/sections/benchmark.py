"""The benchmark's tables: headline measures with intervals and the best marked, what the
language model adds, the per-class breakdown, and every metric.

Which measures, under which headers and formats, comes from the catalog
(:mod:`sensecf.evaluation.catalog`): its ``report_headline`` and ``llm`` views.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sensecf.evaluation.benchmark import coverage_lines, feasibility_line, llm_rows
from sensecf.evaluation.catalog import CATALOG, Catalog, Measure, format_parts
from sensecf.report.parts import Cell, Section, Table
from sensecf.report.run_folder import RunData
from sensecf.runs import QUERIES, RESULTS, SUMMARY_CSV

__all__ = ["all_metrics_table", "benchmark_section", "metric_table"]


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
        "The best value of each metric is marked ★.",
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
    headline = catalog.view("report_headline")
    section.tables.append(metric_table(summary, headline, title="All queries"))
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
                mark_best=False,
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
            section.tables.append(metric_table(rows, headline, title=title))
    lines = coverage_lines(summary)
    if lines:
        section.notes.append(
            "Coverage against feasible queries (a valid counterfactual that breaks no "
            "constraint): " + "; ".join(lines)
        )
    section.tables.append(all_metrics_table(summary))
    return section


def metric_table(
    rows: pd.DataFrame,
    measures: Sequence[Measure],
    title: str = "",
    caption: str = "",
    mark_best: bool = True,
) -> Table:
    """One row per method: each measure as ``mean [low, high]`` under its report title, the
    best per column marked (unless ``mark_best`` is false, the measure has no direction, or
    every method ties).

    >>> from sensecf.evaluation.catalog import Measure
    >>> s = pd.DataFrame({"method": ["a", "b"], "l0": [2.0, 3.0],
    ...                   "l0_ci_low": [1.0, 2.5], "l0_ci_high": [3.0, 3.5]})
    >>> t = metric_table(s, [Measure("l0", "cf", "L0", fmt=".1f", higher_is_better=False)])
    >>> [(c.text, c.interval, c.best) for c in t.rows[0]]
    [('a', '', False), ('2.0', '[1.0, 3.0]', True)]
    """
    present = [m for m in measures if m.name in rows.columns and rows[m.name].notna().any()]
    best: dict[str, set[int]] = {}
    for m in present if mark_best else []:
        if m.higher_is_better is None:  # a diagnostic: never ranked
            continue
        # Ranked as shown: values that print the same tie.
        shown = [float(format(v, m.fmt)) if pd.notna(v) else np.nan for v in rows[m.name]]
        values = np.array(shown, dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite) >= 2 and finite.min() < finite.max():  # a tie of all marks nothing
            target = finite.max() if m.higher_is_better else finite.min()
            best[m.name] = set(np.flatnonzero(values == target).tolist())
    table_rows = []
    for i, row in enumerate(rows.to_dict("records")):
        cells = [Cell(str(row["method"]))]
        for m in present:
            text, interval = format_parts(row, m.name, m.fmt)
            cells.append(Cell(text, i in best.get(m.name, set()), interval))
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
