"""`sensecf augment` on the small synthetic cohort of the command-line tests."""

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sensecf.cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.slow
def test_quick_study_writes_its_files_and_resumes(folders):
    out = folders / "augment"
    args = ["augment", "--data", folders / "features", "--out", out, "--quick"]
    args += ["--oversamplers", "smote", "--max-generated", 8]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    for name in (
        "results.csv",
        "results.parquet",
        "summary.csv",
        "summary.md",
        "generated_rows.parquet",
        "feature_changes.csv",
        "row_placement.csv",
        "comparisons.csv",
        "config.yaml",
        "f1_by_scarcity.png",
        "embedding.png",
        "feature_changes.png",
    ):
        assert (out / name).is_file(), name
    results = pd.read_csv(out / "results.csv")
    assert set(results["arm"]) == {"full", "scarce", "oracle", "smote"}
    assert sorted(results["seed"].unique()) == [0, 1]
    assert (results["share"] == 0.5).all()
    rows = pd.read_parquet(out / "generated_rows.parquet")
    oracle = rows[rows["arm"] == "oracle"]
    assert len(oracle) and oracle["source_row"].notna().all()
    assert (oracle["high_stress"] == 1).all()
    assert "removed" in first.output and "oracle" in first.output
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert second.output.count("reused") == 2 * 4  # full, scarce, oracle, smote per seed
    written = (out / "results.csv").stat().st_mtime_ns
    cells = sorted((p, p.stat().st_mtime_ns) for p in (out / "cells").rglob("*") if p.is_file())
    (out / "comparisons.csv").unlink()
    saved = invoke(*args, "--saved-only")
    assert saved.exit_code == 0, saved.output
    assert "read 8 finished cells" in saved.output and "oracle" in saved.output
    assert (out / "results.csv").stat().st_mtime_ns == written
    # The comparisons print; every cell is finished, so comparisons.csv (only it) is written.
    assert "Paired comparisons (Holm-adjusted" in saved.output
    assert "What scarcity cost" in saved.output and "recovery untested" in saved.output
    assert "smote" in saved.output and "With 2 seeds the sign-flip test" in saved.output
    compared = pd.read_csv(out / "comparisons.csv")
    assert {("oracle", "smote"), ("oracle", "scarce"), ("smote", "scarce")} == set(
        zip(compared["arm"], compared["reference"], strict=True)
    )
    assert (compared["verdict"] == "indistinguishable").all()  # 2 seeds cannot decide
    assert cells == sorted(
        (p, p.stat().st_mtime_ns) for p in (out / "cells").rglob("*") if p.is_file()
    )
    empty = invoke(
        "augment", "--data", folders / "features", "--out", folders / "none", "--saved-only"
    )
    assert empty.exit_code == 2 and "no cells/ folder" in empty.output


def test_study_from_a_yaml_config(folders):
    config = folders / "augment.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": "features",
                "out": "augment-config",
                "generators": [],
                "oversamplers": ["random-oversampling"],
                "scenarios": [0.25],
                "seeds": 1,
                "estimator": "logreg",
                "plots": False,
            }
        )
    )
    result = invoke("augment", "--config", config)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(folders / "augment-config" / "results.csv")
    assert set(results["arm"]) == {"full", "scarce", "random-oversampling"}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--generators", "magic"], "unknown augmentation arm 'magic'"),
        (["--scenarios", "0.5,2"], "strictly between 0 and 1"),
        (["--seeds", "0"], "seeds"),
    ],
)
def test_bad_input_is_one_line_and_status_2(folders, extra, fragment):
    result = invoke("augment", "--data", folders / "features", "--out", folders / "bad", *extra)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_data_and_out_are_required(folders):
    result = invoke("augment", "--out", folders / "x")
    assert result.exit_code == 2
    assert "--data is required" in result.output
