"""`sensecf report` on the command-line tests' model folder, and on bad run folders."""

import shutil

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
