"""The benchmark's accounting and robustness: stale results rerun, a backend outage costs one
method, LLM calls go through the call cache in the out folder, the model's contribution shows."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

import sensecf as scf
from sensecf.evaluation.benchmark import BenchmarkConfig, data_digest, model_digest, run_benchmark
from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.options import LLMOptions
from sensecf.llm.base import ChatRequest, Completion, LLMBackend, LLMError


def _chat_server_module():
    """The OpenAI-compatible test server of tests/llm, loaded by path (no sys.path change)."""
    path = Path(__file__).parents[1] / "llm" / "chat_server.py"
    spec = importlib.util.spec_from_file_location("bench_chat_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


ChatServer = _chat_server_module().ChatServer


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = scf.datasets.synthetic_cohort(participants=40, days=4, interval_min=15, seed=6)
    model = scf.train(data, "rf", seed=0, params={"n_estimators": 40})
    model.save(root / "model")
    return root, data, model


class Down(LLMBackend):
    name = "down"

    def _complete(self, request: ChatRequest) -> Completion:
        raise LLMError("openai: server at http://x unreachable after 5 retries")


@pytest.fixture
def news(caplog):
    """The benchmark's progress lines (its logger's INFO records)."""
    caplog.set_level(logging.INFO, logger="sensecf")
    return caplog


def test_a_changed_model_or_data_reruns_instead_of_reusing(cohort, tmp_path, news):
    root, data, model = cohort
    config = BenchmarkConfig(generators=["oracle"], limit=3, n_cfs=1, model=root / "model")
    run_benchmark(model, data, config, out_dir=tmp_path)
    run_benchmark(model, data, config, out_dir=tmp_path)
    assert sum("reused the saved result" in line for line in news.messages) == 1
    retrained = scf.train(data, "rf", seed=1, params={"n_estimators": 40})
    retrained.save(tmp_path / "model2")
    assert model_digest(retrained, tmp_path / "model2") != model_digest(model, root / "model")
    moved = config.model_copy(update={"model": tmp_path / "model2"})
    news.clear()
    run_benchmark(retrained, data, moved, out_dir=tmp_path)
    assert any("rerunning" in line for line in news.messages) and not any(
        "reused" in s for s in news.messages
    )
    frame = data.frame.copy()
    frame.loc[frame.index[0], data.spec.feature_names[3]] += 1.0
    changed = scf.Dataset(frame, data.spec)
    assert data_digest(changed) != data_digest(data)
    news.clear()
    run_benchmark(retrained, changed, moved, out_dir=tmp_path)
    assert any("rerunning" in line for line in news.messages)


def test_a_backend_outage_fails_its_method_and_the_others_go_on(cohort, tmp_path):
    _, data, model = cohort
    generators = {"oracle": {}, "few-shot": {"backend": Down()}, "nearest-example": {}}
    config = BenchmarkConfig(generators=generators, limit=3, n_cfs=1)
    bench = run_benchmark(model, data, config, out_dir=tmp_path)
    assert "unreachable after 5 retries" in bench.failures["few-shot"]
    assert set(bench.summary["method"]) == {"oracle", "nearest-example"}
    text = (tmp_path / "summary.md").read_text()
    assert "- few-shot: LLMError" in text and "| nearest-example |" in text


def copy_person_a(body: dict) -> str:
    user = body["messages"][-1]["content"]
    return re.search(r"^Person A: (\{.*\})$", user, re.M).group(1)


def test_llm_methods_use_the_call_cache_in_the_out_folder(cohort, tmp_path):
    _, data, model = cohort
    config = BenchmarkConfig(generators=["few-shot", "nearest-example"], limit=3, n_cfs=1)
    with ChatServer() as server:
        server.reply = copy_person_a
        llm = LLMOptions(backend="openai", model="served", base_url=server.url, repair_rounds=1)
        bench = run_benchmark(model, data, config, out_dir=tmp_path, llm=llm)
        asked = len(server.requests)
        assert asked >= 3 and (tmp_path / "llm-cache.sqlite").is_file()
        # Killed before its result was saved: the rerun asks the server nothing new.
        for name in ("result.json", "cfs.parquet"):
            (tmp_path / "results" / "few-shot" / name).unlink()
        again = run_benchmark(model, data, config, out_dir=tmp_path, llm=llm)
        assert len(server.requests) == asked
    pd.testing.assert_frame_equal(
        bench.summary.drop(columns=["seconds", "seconds_ci_low", "seconds_ci_high"]),
        again.summary.drop(columns=["seconds", "seconds_ci_low", "seconds_ci_high"]),
    )
    overall = bench.summary[bench.summary["label"].isna()].set_index("method")
    assert overall.loc["few-shot", "validity_first"] == 1.0
    assert overall.loc["few-shot", "copied_example"] == 1.0  # all copied: the model added nothing
    assert overall.loc["nearest-example", "example_share"] == 1.0
    text = (tmp_path / "summary.md").read_text()
    assert "What the language model adds" in text
    section = text.split("What the language model adds")[1].split("##")[0]
    assert "| few-shot |" in section and "| nearest-example |" in section
    assert "whole-row copies" in section and "tokens/valid CF" in section


def test_a_margin_is_searched_by_every_method_and_reported_beside_validity(cohort, tmp_path, news):
    _, data, model = cohort
    generators = ["oracle", "oracle+sparsify", "nearest-example"]
    config = BenchmarkConfig(generators=generators, limit=4, n_cfs=1, min_proba=0.6, by=None)
    bench = run_benchmark(model, data, config, out_dir=tmp_path)
    summary = bench.summary.set_index("method")
    assert set(summary.index) == set(generators)
    assert (summary["validity_margin"] <= summary["validity"]).all()
    # The oracle searched to the margin: every CF it found reaches it, sparsified or not.
    assert summary.loc["oracle", "validity_margin"] == summary.loc["oracle", "validity"] == 1.0
    assert summary.loc["oracle+sparsify", "validity_margin"] == 1.0
    searched = {r.method: r.info.get("min_proba") for r in bench.results}
    # nearest-example returns examples verified at fit by the decision rule: measured only.
    assert searched == {"oracle": 0.6, "oracle+sparsify": 0.6, "nearest-example": None}
    for result in bench.results:  # measured at the margin, searched to it or not
        measured = bench.scores.loc[bench.scores["method"] == result.method, "valid_margin"]
        reached = result.cfs["proba_desired"] >= 0.6
        assert measured.tolist() == reached.tolist()
    oracle = next(r for r in bench.results if r.method == "oracle")
    assert (oracle.cfs["proba_desired"] >= 0.6).all() and oracle.cfs["valid_margin"].all()
    text = (tmp_path / "summary.md").read_text()
    assert "P(desired class) ≥ 0.6" in text and "valid at margin" in text
    assert "Searched to it: oracle, oracle+sparsify." in text
    assert "Measured only (their search keeps its own rule): nearest-example." in text
    assert "validity_margin" in pd.read_csv(tmp_path / "summary.csv").columns
    # Searched at another margin, a saved result is not reused.
    news.clear()
    plain = config.model_copy(update={"min_proba": None})
    run_benchmark(model, data, plain, out_dir=tmp_path)
    assert not any("reused" in line for line in news.messages)
    assert "validity_margin" not in pd.read_csv(tmp_path / "summary.csv").columns


def test_a_margin_below_the_decision_rule_is_refused_before_any_work(cohort, news):
    _, data, model = cohort
    config = BenchmarkConfig(generators=["oracle"], limit=2, min_proba=0.3)
    with pytest.raises(scf.SensecfError, match="min_proba 0.3 is below"):
        run_benchmark(model, data, config)
    assert news.messages == []
    with pytest.raises(scf.SensecfError, match="min_proba"):
        BenchmarkConfig.build({"min_proba": 1.5})


def test_prompted_methods_beside_a_fine_tuned_folder_run_the_packaged_model(
    cohort, tmp_path, monkeypatch, news
):
    _, data, model = cohort
    folder = tmp_path / "ft"
    CompactFormat(target="high stress").save(folder)  # what marks the folder
    made: list[object] = []

    def record(options: LLMOptions) -> LLMBackend:
        made.append(options.model)
        return Down()

    monkeypatch.setattr(LLMOptions, "make_backend", record)
    config = BenchmarkConfig(generators=["few-shot", "nearest-example"], limit=2, n_cfs=1)
    run_benchmark(model, data, config, out_dir=tmp_path / "out", llm=LLMOptions(model=folder))
    assert made == [None]  # the packaged model, not the fine-tuned folder
    assert any("prompted with the packaged model" in line for line in news.messages)


class HalfStubborn(LLMBackend):
    """Copies the first example on every other call; the rest change nothing."""

    name = "half-stubborn"
    supports_schema = True

    def __init__(self) -> None:
        self.calls = 0

    def _complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        user = request.messages[-1]["content"]
        found = re.search(r"^Person A: (\{.*\})$", user, re.M)
        text = found.group(1) if found and self.calls % 2 else "{}"
        return Completion(text, prompt_tokens=10, completion_tokens=5)


def test_withheld_llm_answers_are_saved_per_method_and_counted_beside_validity(
    cohort, tmp_path, news
):
    _, data, model = cohort
    options = {"backend": HalfStubborn(), "repair_rounds": 0, "plausibility": "iforest"}
    config = BenchmarkConfig(generators={"oracle": {}, "few-shot": options}, limit=6, n_cfs=1)
    bench = run_benchmark(model, data, config, out_dir=tmp_path)
    result = next(r for r in bench.results if r.method == "few-shot")
    assert len(result.rejected) and result.cfs["valid"].all()
    saved = pd.read_parquet(tmp_path / "results" / "few-shot" / "rejected.parquet")
    pd.testing.assert_frame_equal(saved, result.rejected)
    assert len(pd.read_parquet(tmp_path / "rejected.parquet")) == len(result.rejected)
    row = bench.summary[bench.summary["label"].isna()].set_index("method").loc["few-shot"]
    assert row["n_rejected"] == len(result.rejected)
    assert row["validity"] == pytest.approx(len(result.cfs) / (len(result.cfs) + row["n_rejected"]))
    oracle = bench.summary[bench.summary["label"].isna()].set_index("method").loc["oracle"]
    assert oracle["n_rejected"] == 0  # only the LLM generators withhold
    headline = (tmp_path / "summary.md").read_text().split("## All queries")[1].split("##")[0]
    assert "| withheld |" in headline  # beside validity, in the table people read
    # A result saved before answers were withheld offers them in its cfs: it is made again.
    (tmp_path / "results" / "few-shot" / "rejected.parquet").unlink()
    news.clear()
    run_benchmark(model, data, config, out_dir=tmp_path)
    assert any("now withholds; rerunning" in m for m in news.messages)
