"""The report's plausibility parts: the real rows' reference beside every method's inlier
rates, what plausibility costs, and the frontier, from a benchmark run with both oracles."""

import io
import json
import shutil

import numpy as np
import pytest
from conftest import invoke
from PIL import Image

from sensecf.report import build_report
from sensecf.report.sections.plausibility import REFERENCE_METHOD

# Two certified oracles and their frontier (a few oracle runs a person): tens of seconds.
pytestmark = pytest.mark.slow


def benchmark_section(folder):
    report = build_report(folder)
    assert report.problems == []
    return next(s for s in report.sections if s.id == "benchmark")


@pytest.fixture(scope="module")
def both_oracles(run_dir, tmp_path_factory):
    """The run's features and model, benchmarked with the oracle and oracle-plausible."""
    root = tmp_path_factory.mktemp("plausible")
    for name in ("features", "model"):
        shutil.copytree(run_dir / name, root / name)
    invoke(
        "benchmark",
        "--model", root / "model",
        "--data", root / "features",
        "--generators", "oracle,oracle-plausible",
        "--limit", 2,
        "--n-cfs", 1,
        "--out", root / "benchmark",
    )  # fmt: skip
    return root


def test_the_real_rows_rates_stand_beneath_every_methods(both_oracles):
    section = benchmark_section(both_oracles)
    facts = dict(section.facts)
    assert "real held-out rows of the desired class" in facts["plausibility reference"]
    table = next(t for t in section.tables if t.title == "All queries")
    last = table.rows[-1]
    assert last[0].text == REFERENCE_METHOD and not any(c.best for c in last)
    cells = {c: cell.text for c, cell in zip(table.columns, last, strict=True)}
    assert float(cells["LOF inliers"]) >= 0.95 and float(cells["IF inliers"]) >= 0.95
    assert cells["validity"] == "–"  # a reference of plausibility only
    methods = [row[0].text for row in table.rows[:-1]]
    assert methods == ["oracle", "oracle-plausible"]


def test_what_plausibility_costs_and_its_frontier_are_shown(both_oracles):
    section = benchmark_section(both_oracles)
    price = next(t for t in section.tables if t.title == "What plausibility costs")
    assert price.rows[0][0].text == "2" and "what plausibility costs" in price.caption.lower()
    (frontier,) = [p for p in section.plots if p.title == "The plausibility frontier"]
    pixels = np.asarray(Image.open(io.BytesIO(frontier.png)).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 1


def test_a_benchmark_written_before_these_files_still_reads(both_oracles, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(both_oracles, copy)
    for name in ("plausibility.json", "plausibility_price.csv", "plausibility_frontier.csv"):
        (copy / "benchmark" / name).unlink()
    section = benchmark_section(copy)
    assert "plausibility reference" not in dict(section.facts)
    table = next(t for t in section.tables if t.title == "All queries")
    assert [row[0].text for row in table.rows] == ["oracle", "oracle-plausible"]
    assert not any(t.title == "What plausibility costs" for t in section.tables)
    assert not section.plots


def test_a_stricter_bar_the_run_held_its_methods_to_is_named(both_oracles, tmp_path):
    copy = tmp_path / "held"
    shutil.copytree(both_oracles, copy)
    path = copy / "benchmark" / "plausibility.json"
    record = json.loads(path.read_text())
    assert record["held_rate"] is None  # the run held them at the calibration's bar
    path.write_text(json.dumps({**record, "held_rate": 0.8}))
    fact = dict(benchmark_section(copy).facts)["plausibility reference"]
    assert fact.endswith(
        "the plausible methods held to the IsolationForest bar that 80% of them reach instead"
    )
    path.write_text(json.dumps({**record, "held_neighbours": 20}))
    fact = dict(benchmark_section(copy).facts)["plausibility reference"]
    assert fact.endswith(
        "the oracle also held as near to its 20 nearest real rows as 95% of them are, in "
        "distance and relative to how near those rows sit to their own (each part)"
    )
