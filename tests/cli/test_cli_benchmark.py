"""`sensecf benchmark` on a small synthetic cohort and on a UCI heart-disease file."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sensecf as scf


def test_benchmark_writes_tables_and_resumes(folders, invoke):
    out = folders / "run"
    args = [
        "benchmark",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generators",
        "oracle,nice-sparsity+sparsify",
        "--limit",
        6,
        "--n-cfs",
        2,
        "--out",
        out,
    ]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    for name in (
        "summary.md",
        "summary.csv",
        "scores.parquet",
        "per_query.parquet",
        "cfs.parquet",
        "config.yaml",
    ):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "summary.csv")
    overall = summary[summary["label"].isna()].set_index("method")
    assert set(overall.index) == {"oracle", "nice-sparsity", "nice-sparsity+sparsify"}
    assert overall.loc["oracle", "validity"] == 1.0
    assert overall.loc["oracle", "viol_total"] == 0
    assert summary["label"].notna().any()  # the per-class breakdown
    assert "| oracle |" in (out / "summary.md").read_text()
    oracle_queries = pd.read_parquet(out / "results" / "oracle" / "queries.parquet")
    assert oracle_queries["min_l0"].between(1, 27).all()
    assert overall.loc["oracle", "n_queries"] == len(oracle_queries) <= 6
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert second.output.count("reused the saved result") == 2


def test_benchmark_from_a_yaml_config(folders, invoke):
    config = folders / "bench.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": "model",
                "data": "features",
                "out": "from-config",
                "generators": {"oracle": {"max_changes": 1}},
                "limit": 3,
                "n_cfs": 1,
            }
        )
    )
    result = invoke("benchmark", "--config", config)
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((folders / "from-config" / "config.yaml").read_text())
    assert saved["generators"] == {"oracle": {"max_changes": 1}}
    assert len(pd.read_parquet(folders / "from-config" / "cfs.parquet")) == 3


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--generators", "magic"], "unknown generator 'magic'"),
        (["--limit", "0"], "limit"),
    ],
)
def test_benchmark_bad_input(folders, extra, fragment, invoke):
    result = invoke(
        "benchmark",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--out",
        folders / "bad",
        *extra,
    )
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_benchmark_needs_model_data_and_out(invoke):
    result = invoke("benchmark", "--generators", "oracle")
    assert result.exit_code == 2
    assert "--model is required" in result.output


def heart_rows(n: int, seed: int) -> list[str]:
    """Rows in the UCI processed.cleveland.data form (with a few '?')."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        sick = i % 2
        row = [
            rng.integers(35, 75),
            rng.integers(0, 2),
            rng.choice([1, 2, 3, 4]) if not sick else 4,
            rng.integers(100, 170) + 15 * sick,
            rng.integers(160, 320),
            rng.integers(0, 2),
            rng.choice([0, 1, 2]),
            rng.integers(110, 190) - 25 * sick,
            sick,
            round(1.5 * sick + rng.random(), 1),
            rng.choice([1, 2, 3]),
            rng.integers(0, 4) if sick else 0,
            rng.choice([3, 6, 7]),
            rng.integers(1, 5) if sick else 0,
        ]
        fields = [str(v) for v in row]
        if i == 3:
            fields[11] = "?"
        lines.append(",".join(fields))
    return lines


def test_train_and_benchmark_on_a_uci_heart_file(tmp_path, invoke):
    path = tmp_path / "processed.cleveland.data"
    path.write_text("\n".join(heart_rows(80, seed=1)) + "\n")
    trained = invoke("train", path, "--out", tmp_path / "model", "--estimator", "logreg")
    assert trained.exit_code == 0, trained.output
    result = invoke(
        "benchmark",
        "--model",
        tmp_path / "model",
        "--data",
        path,
        "--generators",
        "oracle,nice-proximity",
        "--limit",
        5,
        "--out",
        tmp_path / "run",
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    oracle = summary[(summary["method"] == "oracle") & summary["label"].isna()].iloc[0]
    assert oracle["validity"] == 1.0 and oracle["viol_fixed"] == 0
    cfs = pd.read_parquet(tmp_path / "run" / "results" / "oracle" / "cfs.parquet")
    queries = pd.read_parquet(tmp_path / "run" / "results" / "oracle" / "queries.parquet")
    merged = cfs.merge(queries, on="query_id", suffixes=("", "_query"))
    assert (merged["age"] == merged["age_query"]).all() and (
        merged["sex"] == merged["sex_query"]
    ).all()


def test_benchmark_takes_the_llm_options_and_lists_the_llm_generators(invoke):
    result = invoke("benchmark", "--help")
    assert result.exit_code == 0
    # click may wrap a long line at a name's hyphen ("few-" / "shot-worked"): join those again.
    text = " ".join(result.output.split()).replace("- ", "-")
    for fragment in (
        "--llm-backend",
        "--llm-model",
        "--llm-cache",
        "--repair-rounds",
        "--fallback",
    ):
        assert fragment in text
    for name in ("zero-shot", "few-shot", "few-shot-worked", "nearest-example"):
        assert name in text


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--repair-rounds", "-1"], "--repair-rounds"),
        (["--llm-backend", "gpt"], "--llm-backend"),
        (
            ["--llm-base-url", "http://127.0.0.1:9/v1"],
            "base_url is for the openai backend, not llama-cpp (set by --llm-base-url)",
        ),
    ],
)
def test_bad_llm_options_are_one_line_and_exit_2(folders, extra, fragment, invoke):
    result = invoke(
        "benchmark",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generators",
        "few-shot",
        "--limit",
        2,
        "--out",
        folders / "bad-llm",
        *extra,
    )
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_a_bad_generator_option_in_a_config_is_one_line_and_exit_2(folders, invoke):
    config = folders / "bad-options.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": "model",
                "data": "features",
                "out": "bad-options",
                "generators": {"few-shot": {"shots": -1}},
            }
        )
    )
    result = invoke("benchmark", "--config", config)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "shots" in result.output


def test_benchmark_measures_every_method_against_the_limits(folders, invoke):
    data = scf.load_dataset(folders / "features")
    people = data.frame["person_id"].unique()
    # Every person keeps their steps and changes one feature at most.
    pd.DataFrame({"person_id": people, "keep": "steps", "max_changes": 1}).to_csv(
        folders / "everyone.csv", index=False
    )
    out = folders / "with-limits"
    result = invoke(
        "benchmark",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generators",
        "oracle,dice-random",
        "--limit",
        3,
        "--n-cfs",
        2,
        "--limits",
        folders / "everyone.csv",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    overall = summary[summary["label"].isna()] if "label" in summary else summary
    counts = overall.set_index("method")["viol_limits"]
    assert counts["oracle"] == 0 and counts["dice-random"] > 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert Path(saved["limits"]).name == "everyone.csv"


def test_benchmark_holds_every_generator_it_can_to_plausibility(folders, invoke):
    out = folders / "held"
    result = invoke(
        "benchmark",
        "--model", folders / "model",
        "--data", folders / "features",
        "--generators", "oracle,nice-sparsity",
        "--plausibility", "iforest",
        "--inlier-rate", 0.9,
        "--limit", 3,
        "--n-cfs", 1,
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    overall = summary[summary["label"].isna()].set_index("method")
    # The asked oracle runs held; NICE has no plausibility setting and runs as it is.
    assert set(overall.index) == {"oracle-plausible", "nice-sparsity"}
    assert overall.loc["oracle-plausible", "iforest_inlier"] == 1.0
    saved = json.loads((out / "plausibility.json").read_text())
    assert saved["inlier_rate"] == 0.9 and saved["plausibility"] == "iforest"
    assert saved["reference"]["iforest"] >= 0.9
    # The plain oracle still ran, as the reference of the fewest changes: the price is there.
    assert (out / "plausibility_price.csv").is_file()
    assert set(pd.read_csv(out / "comparisons.csv")["reference"]) == {"oracle-plausible"}
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["plausibility"] == "iforest" and config["generators"][0] == "oracle-plausible"
    bad = invoke("benchmark", "--inlier-rate", 1.5, "--model", "m", "--data", "d", "--out", "o")
    assert bad.exit_code == 2 and "--inlier-rate" in bad.output
    bad = invoke("benchmark", "--held-rate", 0, "--model", "m", "--data", "d", "--out", "o")
    assert bad.exit_code == 2 and "--held-rate" in bad.output
    bad = invoke("benchmark", "--held-neighbours", 0, "--model", "m", "--data", "d", "--out", "o")
    assert bad.exit_code == 2 and "--held-neighbours" in bad.output
