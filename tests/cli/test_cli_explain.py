"""`sensecf explain`: tables, intervention texts, console view and bad input."""

import numpy as np
import pandas as pd
import pytest

import sensecf as scf
from sensecf.generators.llm.options import LLMOptions
from sensecf.llm.base import ChatRequest, Completion, LLMBackend
from sensecf.models.plausibility import settable_columns


def test_explain_with_the_oracle(folders, invoke):
    out = folders / "oracle"
    result = invoke(
        "explain",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generator",
        "oracle",
        "--limit",
        4,
        "--n-cfs",
        2,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    for name in ("cfs.parquet", "cfs.csv", "cfs.json", "queries.parquet", "interventions.csv"):
        assert (out / name).is_file(), name
    cfs = pd.read_csv(out / "cfs.csv")
    assert len(cfs) > 0 and cfs["valid"].all()
    assert len(pd.read_json(out / "cfs.json")) == len(cfs)
    texts = pd.read_csv(out / "interventions.csv")
    assert {"query_id", "person_id", "rank", "text"} <= set(texts.columns)
    assert texts["text"].str.len().gt(0).all()
    assert "P(not high stress)" in result.output and "•" in result.output
    assert "wrote" in result.output and "coverage 1.00" in result.output


def test_explain_named_people_with_sparsify(folders, invoke):
    data = scf.load_dataset(folders / "features")
    model = scf.load_model(folders / "model")
    flagged = scf.select_queries(model, data)
    person = int(flagged.frame["person_id"].iloc[0])
    out = folders / "named"
    result = invoke(
        "explain",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--rows",
        str(person),
        "--generator",
        "nice-sparsity+sparsify",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    queries = pd.read_parquet(out / "queries.parquet")
    assert set(queries["person_id"]) == {person}
    assert set(pd.read_parquet(out / "cfs.parquet")["method"]) == {"nice-sparsity+sparsify"}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--rows", "99999"], "unknown person_id value(s) [99999]"),
        (["--generator", "gpt-5"], "unknown generator 'gpt-5'"),
        (["--n-cfs", "0"], "n_cfs must be a positive integer"),
    ],
)
def test_explain_bad_input(folders, extra, fragment, invoke):
    result = invoke(
        "explain",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generator",
        "oracle",
        "--out",
        folders / "bad",
        *extra,
    )
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert not (folders / "bad" / "cfs.parquet").exists()


def test_explain_with_nothing_flagged_is_one_line(folders, invoke):
    data = scf.load_dataset(folders / "features")
    model = scf.load_model(folders / "model")
    healthy = data.subset(model.predict(data.X) == data.spec.desired_class)
    healthy.save(folders / "healthy")
    args = ["--model", folders / "model", "--data", folders / "healthy", "--out", folders / "none"]
    result = invoke("explain", *args, "--generator", "oracle")
    assert result.exit_code == 2, result.output
    assert f"no rows to explain: the model flags none of the {len(healthy)} rows" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (folders / "none").exists()


def test_negative_repair_rounds_are_refused(folders, invoke):
    args = ["--model", folders / "model", "--data", folders / "features", "--out", folders / "r"]
    result = invoke("explain", *args, "--repair-rounds", "-1")
    assert result.exit_code == 2, result.output
    assert "--repair-rounds" in result.output and not (folders / "r").exists()


def test_explain_and_benchmark_describe_shared_options_alike(invoke):
    helps = {
        verb: " ".join(invoke(verb, "--help").output.split()) for verb in ("explain", "benchmark")
    }
    for text in helps.values():
        for flag in ("--model", "--data", "--limit", "--n-cfs", "--seed", "--out"):
            assert flag in text
        assert "Model folder written by `sensecf train` (the classifier to explain)." in text
    assert "--llm-backend" in helps["explain"] and "--llm-cache" in helps["explain"]


@pytest.mark.slow
def test_explain_with_the_embedded_llm_and_a_free_rerun(folders, invoke):
    out = folders / "few-shot"
    args = [
        "explain",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generator",
        "few-shot",
        "--limit",
        1,
        "--repair-rounds",
        1,
        "--out",
        out,
    ]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    cfs = pd.read_parquet(out / "cfs.parquet")
    assert set(cfs["source"]) <= {"llm", "repair"}
    assert (out / "llm-cache.sqlite").is_file()
    assert "0 answered from the cache" in first.output
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert "LLM calls: 0 to the backend" in second.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "cfs.parquet").drop(columns="seconds"), cfs.drop(columns="seconds")
    )


def test_explain_to_a_safety_margin(folders, invoke):
    out = folders / "margin"
    result = invoke(
        "explain", "--model", folders / "model", "--data", folders / "features",
        "--generator", "oracle", "--limit", 3, "--min-proba", 0.7, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cfs = pd.read_parquet(out / "cfs.parquet")
    assert len(cfs) > 0 and (cfs["proba_desired"] >= 0.7).all() and cfs["valid_margin"].all()
    low = invoke(
        "explain", "--model", folders / "model", "--data", folders / "features",
        "--generator", "oracle", "--limit", 3, "--min-proba", 0.2, "--out", folders / "low",
    )  # fmt: skip
    assert low.exit_code == 2 and "below what the decision rule already asks" in low.output


def test_explain_prints_the_oracles_three_way_answer(invoke, tmp_path):
    """Risk follows a fixed feature only: no allowed change can flip it, and the oracle says so."""
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame(
        {"pid": np.arange(n), "age": rng.integers(30, 70, n), "steps": rng.integers(1000, 15000, n)}
    )
    frame["risk"] = (frame["age"] >= 50).astype(int)
    table = tmp_path / "ages.csv"
    frame.to_csv(table, index=False)
    spec = tmp_path / "ages.spec.yaml"
    inferred = invoke(
        "spec", "infer", table, "--target", "risk", "--fixed", "age", "--id-columns", "pid",
        "--out", spec,
    )  # fmt: skip
    assert inferred.exit_code == 0, inferred.output
    model = tmp_path / "model"
    trained = invoke("train", table, "--out", model, "--estimator", "logreg")
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "explained"
    result = invoke(
        "explain", "--model", model, "--data", table, "--generator", "oracle", "--limit", 3,
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("infeasible: no allowed change flips this prediction") == 3
    queries = pd.read_parquet(out / "queries.parquet")
    assert (queries["status"] == "infeasible").all() and (queries["n_cfs"] == 0).all()
    # interventions.csv tells each of them why there is no intervention.
    texts = pd.read_csv(out / "interventions.csv")
    assert len(texts) == 3 and (texts["status"] == "infeasible").all()
    assert texts["text"].str.startswith("No allowed change flips this prediction").all()
    assert (texts["n_changes"] == 0).all() and not texts["valid"].any()


def test_explain_prints_a_proven_minimum(folders, invoke):
    result = invoke(
        "explain", "--model", folders / "model", "--data", folders / "features",
        "--generator", "oracle", "--limit", 2, "--out", folders / "oracle-proof",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "optimal: no counterfactual changes fewer features" in result.output


def test_explain_holds_each_person_to_their_limits(folders, invoke):
    data = scf.load_dataset(folders / "features")
    model = scf.load_model(folders / "model")
    flagged = scf.select_queries(model, data).frame["person_id"].unique()[:3]
    table = pd.DataFrame({"person_id": flagged, "keep": "steps;sleep_deep_min", "max_changes": 1})
    table.to_csv(folders / "limits.csv", index=False)
    out = folders / "limited"
    args = ["--model", folders / "model", "--data", folders / "features", "--out", out]
    rows = ",".join(str(p) for p in flagged)
    result = invoke(
        "explain",
        *args,
        "--generator",
        "oracle",
        "--rows",
        rows,
        "--limits",
        folders / "limits.csv",
    )
    assert result.exit_code == 0, result.output
    queries = pd.read_parquet(out / "queries.parquet")
    assert queries["limits"].str.startswith("keep steps and sleep_deep_min").all()
    cfs = pd.read_parquet(out / "cfs.parquet").merge(queries, on="query_id", suffixes=("", "_q"))
    assert len(cfs) and cfs["valid"].all()
    for name in ("steps", "sleep_deep_min"):
        assert np.allclose(cfs[name], cfs[f"{name}_q"])


def test_explain_refuses_unknown_people_and_features_in_limits_on_one_line(folders, invoke):
    path = folders / "bad_limits.csv"
    pd.DataFrame({"person_id": [99999], "keep": ["naps"]}).to_csv(path, index=False)
    args = ["--model", folders / "model", "--data", folders / "features", "--out", folders / "bl"]
    result = invoke("explain", *args, "--generator", "oracle", "--limits", path)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and str(path) in line
    assert "unknown people 99999" in line and "naps (in keep, row 0)" in line
    assert not (folders / "bl").exists()


class _ChangesNothing(LLMBackend):
    """Answers every request with no change at all: every answer is refused."""

    name = "changes-nothing"
    supports_schema = True

    def _complete(self, request: ChatRequest) -> Completion:
        return Completion("{}", prompt_tokens=10, completion_tokens=2)


def test_explain_says_how_many_answers_it_withheld(folders, invoke, monkeypatch):
    monkeypatch.setattr(LLMOptions, "make_backend", lambda self: _ChangesNothing())
    out = folders / "withheld"
    result = invoke(
        "explain",
        "--model",
        folders / "model",
        "--data",
        folders / "features",
        "--generator",
        "few-shot",
        "--limit",
        2,
        "--repair-rounds",
        0,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert (
        "withheld 2 answers for 2 rows that the checks refused (changed nothing: 2); "
        "see rejected.parquet" in result.output
    )
    assert len(pd.read_parquet(out / "rejected.parquet")) == 2
    assert pd.read_parquet(out / "cfs.parquet").empty
    assert pd.read_csv(out / "interventions.csv").empty


def test_explain_holds_the_oracle_to_plausibility(folders, invoke):
    from sensecf.evaluation.metrics import MetricSuite

    def explain_three(out, *flags):
        result = invoke(
            "explain",
            "--model", folders / "model",
            "--data", folders / "features",
            *flags,
            "--limit", 3,
            "--out", out,
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    out = folders / "held-oracle"
    explain_three(out, "--generator", "oracle", "--plausibility", "iforest", "--inlier-rate", 0.9)
    cfs = pd.read_csv(out / "cfs.csv")
    assert len(cfs) and set(cfs["method"]) == {"oracle-plausible"}
    # Inliers of the benchmark's detector at that calibration rate.
    data = scf.load_dataset(folders / "features")
    model = scf.load_model(folders / "model")
    train_rows, test_rows = model.split_data(data)
    suite = MetricSuite(inlier_rate=0.9).fit(model, train_rows, calibration=test_rows)
    detector = suite.detector(model.spec.desired_class)
    assert detector.inliers(cfs[model.spec.feature_names].to_numpy(dtype=float)).all()
    # --held-rate: a stricter bar on the same detector.
    strict = folders / "held-oracle-strict"
    explain_three(strict, "--generator", "oracle-plausible", "--held-rate", 0.7)
    cfs = pd.read_csv(strict / "cfs.csv")
    judge = MetricSuite().fit(model, train_rows, calibration=test_rows)
    bar = judge.detector(model.spec.desired_class).held_at(0.7)
    assert len(cfs) and bar.inliers(cfs[model.spec.feature_names].to_numpy(dtype=float)).all()
    # --held-neighbours: as near to real people of the desired class as held-out ones are.
    near = folders / "held-oracle-near"
    explain_three(near, "--generator", "oracle-plausible", "--held-neighbours", 5)
    cfs = pd.read_csv(near / "cfs.csv")
    columns = settable_columns(model.spec)
    bar = judge.detector(model.spec.desired_class).held_at(None, neighbours=5, columns=columns)
    assert len(cfs) and bar.holds(cfs[model.spec.feature_names].to_numpy(dtype=float)).all()


def test_plausibility_is_for_a_generator_named_here():
    data = scf.datasets.synthetic_cohort(participants=12, days=3, interval_min=15, seed=1)
    model = scf.train(data, "logreg", importance_repeats=1)
    with pytest.raises(scf.SensecfError, match="generator named here"):
        scf.explain(model, data, scf.Oracle(), plausibility="iforest", limit=1)
    with pytest.raises(scf.SensecfError, match="plausibility must be one of"):
        scf.explain(model, data, "oracle", plausibility="lof", limit=1)
