"""A download with gaps, end to end: a synthetic cohort with a tenth of its streams left out
goes through features → train → explain → benchmark, and no counterfactual gives a value to a
feature its person has no measurement of."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sensecf.cli.main import cli
from sensecf.data.constraints import violations
from sensecf.data.dataset import read_feature_folder
from sensecf.models import load_model
from sensecf.results import CounterfactualResult


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    root = tmp_path_factory.mktemp("gaps")
    steps = [
        (
            "synth",
            *("--out", root / "cohort", "--participants", 30, "--days", 4),
            *("--interval-min", 15, "--seed", 3, "--missing-streams", 0.1),
        ),
        ("features", root / "cohort", "--out", root / "features"),
        ("train", root / "features", "--out", root / "model", "--estimator", "rf"),
        (
            "explain",
            *("--model", root / "model", "--data", root / "features"),
            *("--generator", "oracle", "--limit", 4, "--out", root / "explain"),
        ),
        (
            "benchmark",
            # Flagged rows of the whole table, so that some queries have gaps.
            *("--config", _write(root / "bench.yaml", "queries_from: all\n")),
            *("--model", root / "model", "--data", root / "features"),
            *("--generators", "oracle,few-shot,dice-random,nice-sparsity"),
            *("--limit", 6, "--n-cfs", 1, "--repair-rounds", 1, "--out", root / "benchmark"),
        ),
    ]
    outputs = {}
    for args in steps:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, f"{args[0]}: {result.output}"
        outputs[args[0]] = result.output
    return root, outputs


def _write(path, text):
    path.write_text(text)
    return path


def _queries_with_gaps(result: CounterfactualResult, names: list[str]) -> pd.DataFrame:
    return result.queries[result.queries[names].isna().any(axis=1)]


@pytest.mark.slow
def test_a_cohort_with_missing_streams_runs_end_to_end(gapped):
    root, outputs = gapped
    data = read_feature_folder(root / "features")
    names = data.spec.feature_names
    gaps = data.X.isna().sum()
    assert gaps.sum() > 0, "a tenth of the streams left out must leave gaps"
    # The summary counts them per feature ("spo2_mean missing on 4 of 68 days").
    assert f"of {len(data)} days" in outputs["features"]
    model = load_model(root / "model")
    assert model.metadata()["missing_values"]["handling"] == "native"
    flagged = model.predict(data.X) == model.spec.flagged_class
    assert flagged.any()

    # explain and every benchmarked method: a query's missing feature stays missing.
    results = [CounterfactualResult.load(root / "explain")]
    results += [
        CounterfactualResult.load(folder)
        for folder in sorted((root / "benchmark" / "results").iterdir())
    ]
    methods = {r.method for r in results}
    gapped_queries = {r.method: len(_queries_with_gaps(r, names)) for r in results}
    assert min(gapped_queries.values()) > 0, gapped_queries  # every method met a gap
    assert {"oracle", "few-shot", "dice-random", "nice-sparsity"} <= methods
    for result in results:
        if result.cfs.empty:
            continue
        queries = result.queries.set_index("query_id")
        asked = queries.loc[result.cfs["query_id"], names].to_numpy(dtype=float)
        cfs = result.cfs[names].to_numpy(dtype=float)
        unmeasured = np.isnan(asked)
        assert np.isnan(cfs[unmeasured]).all(), result.method
        counts = violations(data.spec, asked, cfs)
        assert (counts["fixed"] == 0).all(), result.method
    summary = pd.read_csv(root / "benchmark" / "summary.csv")
    assert set(summary["method"]) >= {"oracle", "few-shot", "dice-random", "nice-sparsity"}
