"""The catalog of measures: one definition per measure, read by every table, the report and the
README; a new counterfactual-level measure is one definition passed along."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sensecf import Dataset, infer_spec, train
from sensecf.errors import SensecfError
from sensecf.evaluation.benchmark import summary_table
from sensecf.evaluation.catalog import (
    CATALOG,
    README_END,
    README_START,
    Catalog,
    CFBatch,
    Measure,
    format_cell,
    get_measure,
    readme_block,
)
from sensecf.evaluation.metrics import CF_COLUMNS, CF_METRICS, SUMMARY_COLUMNS, MetricSuite
from sensecf.report.run_folder import RunFolder
from sensecf.report.sections import build_sections
from sensecf.results import CounterfactualResult

README = Path(__file__).parents[2] / "README.md"
REWRITE = (
    'python -c "from sensecf.evaluation.catalog import rewrite_readme; '
    "rewrite_readme('README.md')\""
)


def test_the_readme_lists_the_catalogs_measures():
    text = README.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    assert 0 <= start < end, (
        f"README.md lost its measures markers; run from the repository: {REWRITE}"
    )
    block = text[start : end + len(README_END)]
    assert block == readme_block(), (
        f"README.md's list of measures differs from the catalog; run from the repository: {REWRITE}"
    )


def test_the_metric_suites_columns_come_from_the_catalog():
    cf = [m.name for m in CATALOG.at("cf")]
    assert list(CF_METRICS) == cf
    assert [c for c in CF_COLUMNS if c in cf] == cf
    suite = [m.name for m in CATALOG.at("cf", "query", "summary")]
    assert list(SUMMARY_COLUMNS) == ["method", *suite]
    for view in ("headline", "report_headline", "llm", "quality"):
        assert set(getattr(CATALOG, view)) <= set(suite)


def test_a_lookup_names_what_is_known_and_the_catalog_never_changes():
    with pytest.raises(SensecfError, match=r"no measure 'lo' in the metric suite; known: .*\bl0\b"):
        get_measure("lo")
    assert get_measure("seconds").fmt == ".2f"
    assert get_measure("seconds", level="study").fmt == ".1f"
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG.headline = ()  # type: ignore[misc]
    twice = Measure("l0_twice", "cf", "2×L0", compute=lambda b: 2 * b.changed.sum(axis=1))
    CATALOG.with_measures(twice, views=["headline"])
    assert "l0_twice" not in CATALOG.headline and "l0_twice" not in CF_METRICS
    with pytest.raises(SensecfError, match="twice"):
        Catalog((twice, twice))
    with pytest.raises(SensecfError, match="no measure 'nothing'"):
        Catalog((twice,), headline=("nothing",))
    with pytest.raises(SensecfError, match="no view 'middle'; the views are"):
        CATALOG.with_measures(twice, views=["middle"])
    with pytest.raises(SensecfError, match="only a 'cf' measure takes a compute function"):
        Measure("late", "summary", "late", compute=lambda b: b.valid)


def test_one_cell_format_for_every_table():
    row = {"m": 0.5, "m_ci_low": 0.25, "m_ci_high": 0.75}
    assert format_cell(row, "m", ".2f") == "0.50 [0.25, 0.75]"
    assert format_cell(row, "m", ".2f", interval=False) == "0.50"
    assert format_cell({"m": float("nan")}, "m", ".2f") == "–"


def test_a_counterfactual_measure_defined_once_reaches_every_table(tmp_path):
    # The toy measure: twice the number of features changed, defined here and nowhere else.
    def twice_l0(batch: CFBatch) -> np.ndarray:
        return 2 * batch.changed.sum(axis=1)

    toy = Measure(
        "l0_twice",
        "cf",
        "2×L0",
        "twice the features changed",
        higher_is_better=False,
        interval=True,
        meaning="two per feature changed",
        family="sparsity",
        compute=twice_l0,
    )
    catalog = CATALOG.with_measures(toy, views=("headline", "report_headline"))

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60).round(2), "z": rng.normal(size=60).round(2)})
    df["y"] = (df["x"] > 0).astype(int)
    data = Dataset(df, infer_spec(df, "y"))
    model = train(data, "logreg", importance_repeats=1)
    queries = pd.DataFrame(
        {"query_id": [0, 1], "x": [1.0, 2.0], "z": [0.0, 0.5], "label": [1, 1], "n_cfs": [2, 1]}
    )
    cfs = pd.DataFrame(
        {
            "query_id": [0, 0, 1],
            "method": "toy",
            "rank": [0, 1, 0],
            "x": [-1.0, -1.0, -2.0],
            "z": [0.0, 1.0, -0.5],
        }
    )
    result = CounterfactualResult("toy", 0, data.spec, queries, cfs)
    suite = MetricSuite(catalog=catalog).fit(model, data)

    scored = suite.score_cfs(result)
    assert scored["l0_twice"].tolist() == [2, 4, 4]
    assert list(scored.columns).index("l0_twice") == list(scored.columns).index("nn_dist") + 1
    summary = suite.summarise(result)
    assert float(summary.loc[0, "l0_twice"]) == pytest.approx(
        ((2 + 4) / 2 + 4) / 2
    )  # of per-query means
    assert {"l0_twice_ci_low", "l0_twice_ci_high", "l0_twice_n"} <= set(summary.columns)
    # The default suite does not grow it.
    assert "l0_twice" not in MetricSuite().fit(model, data).score_cfs(result)

    console = summary_table(summary, catalog=catalog)
    assert console.loc[0, "2×L0"] == "3.50"
    assert "2×L0" not in summary_table(summary)

    bench = tmp_path / "benchmark"
    bench.mkdir()
    summary.to_csv(bench / "summary.csv", index=False)
    sections, problems = build_sections(RunFolder.find(tmp_path), catalog=catalog)
    assert problems == []
    section = next(s for s in sections if s.id == "benchmark")
    table = next(t for t in section.tables if t.title == "All queries")
    cell = table.rows[0][table.columns.index("twice the features changed")]
    # Two queries are too few clusters for an interval: the table says so.
    assert summary.loc[0, "l0_twice_n"] == 2
    assert (cell.text, cell.interval) == ("3.50", "(n = 2: no interval)")
