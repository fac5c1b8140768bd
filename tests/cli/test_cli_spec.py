"""`sensecf spec infer` and --target: a plain CSV from the command line, end to end."""

import numpy as np
import pandas as pd
import pytest
import yaml

from sensecf.data.spec import DatasetSpec


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A plain CSV: an id, age (fixed), sleep and steps that drive a risk label."""
    rng = np.random.default_rng(0)
    n = 160
    frame = pd.DataFrame(
        {
            "pid": np.arange(n),
            "age": rng.integers(30, 70, n),
            "sleep_h": np.round(rng.uniform(4, 9, n), 1),
            "steps": rng.integers(1000, 15000, n),
        }
    )
    frame["risk"] = ((frame["sleep_h"] < 6.5) & (frame["steps"] < 9000)).astype(int)
    path = tmp_path_factory.mktemp("plain") / "cohort.csv"
    frame.to_csv(path, index=False)
    return path


def test_spec_infer_writes_an_editable_spec(table, invoke, tmp_path):
    out = tmp_path / "cohort.spec.yaml"
    result = invoke(
        "spec", "infer", table, "--target", "risk", "--fixed", "age", "--id-columns", "pid",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long paths onto their own line
    assert f"to {out}" in said and "fixed: age" in said
    text = out.read_text()
    assert text.startswith("# A sensecf dataset spec")
    assert "#   mutability" in text and "#   - derived: FEATURE" in text
    spec = DatasetSpec.from_yaml(out)
    assert spec.target == "risk" and spec.id_columns == ("pid",)
    assert spec.feature_names == ["age", "sleep_h", "steps"]
    assert spec.feature("age").mutability == "fixed"
    assert yaml.safe_load(text)["features"][1]["step"] == 0.1


def test_spec_infer_names_a_missing_column(table, invoke, tmp_path):
    result = invoke("spec", "infer", table, "--target", "label", "--out", tmp_path / "s.yaml")
    assert result.exit_code == 2
    assert "'label'" in result.output and not (tmp_path / "s.yaml").exists()


def test_infer_train_explain_on_a_plain_csv(table, invoke, tmp_path):
    no_spec = invoke("train", table, "--out", tmp_path / "m0")
    assert no_spec.exit_code == 2 and "--target COL" in no_spec.output
    assert "spec=" not in no_spec.output
    model = tmp_path / "model"
    trained = invoke("train", table, "--target", "risk", "--out", model, "--estimator", "logreg")
    assert trained.exit_code == 0, trained.output
    assert "inferred a spec" in trained.output
    saved = DatasetSpec.from_yaml(model / "spec.yaml")
    assert saved.target == "risk"
    wrong = invoke("train", table, "--target", "age", "--out", tmp_path / "m1")
    assert wrong.exit_code != 0
    out = tmp_path / "explain"
    explained = invoke(
        "explain", "--model", model, "--data", table, "--target", "risk",
        "--generator", "oracle", "--limit", "3", "--out", out,
    )  # fmt: skip
    assert explained.exit_code == 0, explained.output
    cfs = pd.read_parquet(out / "cfs.parquet")
    assert len(cfs) >= 1 and cfs["valid"].all()
    assert set(saved.feature_names) <= set(cfs.columns)
    # The reviewed spec, once beside the table, is what the verbs use.
    reviewed = tmp_path / "reviewed"
    reviewed.mkdir()
    copy = reviewed / "cohort.csv"
    copy.write_bytes(table.read_bytes())
    invoke("spec", "infer", copy, "--target", "risk", "--fixed", "age", "--out",
           reviewed / "cohort.spec.yaml")  # fmt: skip
    again = invoke("train", copy, "--out", tmp_path / "m2", "--estimator", "logreg")
    assert again.exit_code == 0, again.output
    assert DatasetSpec.from_yaml(tmp_path / "m2" / "spec.yaml").feature("age").mutability == "fixed"


def test_spec_infer_can_propose_sums(tmp_path, invoke):
    frame = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [3.0, 1, 4, 1, 5], "y": [0, 1, 0, 1, 0]})
    frame["total"] = frame["a"] + frame["b"]
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "t.spec.yaml"
    result = invoke("spec", "infer", path, "--target", "y", "--detect-sums", "--out", out)
    assert result.exit_code == 0, result.output
    assert "proposed relation: total = a + b" in result.output
    assert DatasetSpec.from_yaml(out).derived_features == ["total"]


def test_benchmark_on_a_plain_csv_with_target_and_a_margin(table, invoke, tmp_path):
    model = tmp_path / "model"
    trained = invoke("train", table, "--target", "risk", "--out", model, "--estimator", "logreg")
    assert trained.exit_code == 0, trained.output
    common = ["benchmark", "--model", model, "--data", table, "--generators", "oracle",
              "--limit", "4", "--n-cfs", "1"]  # fmt: skip
    out = tmp_path / "bench"
    ran = invoke(*common, "--target", "risk", "--min-proba", "0.6", "--out", out)
    assert ran.exit_code == 0, ran.output
    summary = pd.read_csv(out / "summary.csv")
    oracle = summary[(summary["method"] == "oracle") & summary["label"].isna()].iloc[0]
    assert oracle["n_queries"] >= 1
    assert oracle["validity_margin"] <= oracle["validity"] == 1.0
    assert "valid at margin" in ran.output and "≥ 0.6" in (out / "summary.md").read_text()
    wrong = invoke(*common, "--target", "age", "--out", tmp_path / "wrong")
    assert wrong.exit_code == 2 and "--target 'age' differs" in wrong.output
    low = invoke(*common, "--min-proba", "0.2", "--out", tmp_path / "low")
    assert low.exit_code == 2 and "min_proba 0.2 is below" in low.output


def test_a_benchmark_config_takes_the_target_and_the_margin(table, invoke, tmp_path):
    model = tmp_path / "model"
    invoke("train", table, "--target", "risk", "--out", model, "--estimator", "logreg")
    config = tmp_path / "bench.yaml"
    settings = {"model": "model", "data": str(table), "out": "run", "generators": ["oracle"],
                "limit": 3, "n_cfs": 1, "target": "risk", "min_proba": 0.7}  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    ran = invoke("benchmark", "--config", config)
    assert ran.exit_code == 0, ran.output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["target"] == "risk" and saved["min_proba"] == 0.7
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert "validity_margin" in summary.columns
    result = yaml.safe_load((tmp_path / "run" / "results" / "oracle" / "result.json").read_text())
    assert result["info"]["min_proba"] == 0.7
