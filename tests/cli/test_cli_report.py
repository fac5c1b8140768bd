"""`sensecf report` on the command-line tests' folders (a model, a benchmark alone), and on bad run
folders."""

import shutil

import pandas as pd
import pytest


def test_report_writes_one_html_file_and_says_where(folders, invoke, tmp_path):
    for name in ("features", "model"):
        shutil.copytree(folders / name, tmp_path / "run" / name)
    out = tmp_path / "elsewhere" / "cohort.html"
    result = invoke("report", tmp_path / "run", "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote the report to" in result.output and out.name in result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="cohort"' in html and 'id="config"' in html and 'id="benchmark"' not in html
    assert not (tmp_path / "run" / "report.html").exists()
    default = invoke("report", tmp_path / "run")
    assert default.exit_code == 0, default.output
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("missing", "error: run folder not found"),
        ("empty", "holds no sensecf outputs"),
        ("a-file.txt", "is a file; expected a run folder"),
    ],
)
def test_a_bad_run_dir_is_one_line_and_exit_2(invoke, tmp_path, name, fragment):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file.txt").write_text("not a run")
    result = invoke("report", tmp_path / name)
    assert result.exit_code == 2
    assert fragment in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_report_is_a_listed_verb(invoke):
    result = invoke("--help")
    assert "sensecf report" in result.output


def test_a_benchmark_folder_alone_brings_the_table_and_model_it_names(folders, invoke, tmp_path):
    # --data as a table file with its spec beside it, not a feature folder.
    table = folders / "features" / "features.parquet"
    bench = invoke(
        "benchmark",
        "--model",
        folders / "model",
        "--data",
        table,
        "--generators",
        "oracle",
        "--limit",
        2,
        "--out",
        tmp_path / "bench",
    )
    assert bench.exit_code == 0, bench.output
    result = invoke("report", tmp_path / "bench")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "bench" / "report.html").read_text(encoding="utf-8")
    for section in ("cohort", "benchmark", "quality", "diversity", "embedding", "interventions"):
        assert f'id="{section}"' in html, section
    rows = len(pd.read_parquet(table))
    assert f"<dt>rows</dt><dd>{rows:,}</dd>" in html
    assert "the model&#39;s training rows" in html  # the map and the scales use them
