"""`sensecf.explain(...)` as a library call: rows, reference rows, generators, files, the LLM backend."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import sensecf as scf
from sensecf.errors import DataError, SensecfError
from sensecf.explanation import reference_rows
from sensecf.generators.llm.options import LLMOptions

FILES = {
    "cfs.parquet",
    "queries.parquet",
    "rejected.parquet",
    "spec.yaml",
    "result.json",
    "cfs.csv",
    "cfs.json",
    "interventions.csv",
}


@pytest.fixture(scope="module")
def cohort():
    data = scf.datasets.synthetic_cohort(participants=16, days=3, interval_min=15, seed=4)
    model = scf.train(data, "rf", seed=0, params={"n_estimators": 40}, importance_repeats=1)
    return model, data


def test_explains_flagged_rows_with_the_oracle(cohort):
    model, data = cohort
    explanation = scf.explain(model, data, "oracle", limit=4, n_cfs=2, seed=1)
    spec = data.spec
    queries = explanation.queries
    assert len(queries) == 4
    assert (model.predict(queries[spec.feature_names]) != spec.desired_class).all()
    expected = scf.select_queries(model, data, limit=4, seed=1).frame["person_id"]
    assert queries["person_id"].tolist() == expected.tolist()
    cfs = explanation.cfs
    assert len(cfs) > 0 and cfs["valid"].all() and set(cfs["method"]) == {"oracle"}
    texts = explanation.interventions
    assert len(texts) == len(cfs)
    assert texts[["query_id", "rank"]].values.tolist() == cfs[["query_id", "rank"]].values.tolist()
    assert texts["text"].str.len().gt(0).all()
    assert explanation.llm_stats is None
    assert explanation.info is explanation.result.info
    assert repr(explanation).startswith(f"Explanation(oracle: {len(cfs)} counterfactuals for 4")


def test_reference_rows_are_the_models_training_rows(cohort):
    model, data = cohort
    train_rows, test_rows = model.split_data(data)
    reference = reference_rows(model, data)
    assert len(reference) == len(train_rows) == model.metrics_["n_train"]
    assert set(reference.frame["person_id"]).isdisjoint(test_rows.frame["person_id"])
    # Held-out rows alone hold none of the training rows: they are their own reference.
    assert len(reference_rows(model, test_rows)) == len(test_rows)


def test_save_writes_the_files_of_the_command_line(cohort, tmp_path):
    model, data = cohort
    explanation = scf.explain(model, data, "oracle", limit=3)
    out = explanation.save(tmp_path / "run")
    assert {p.name for p in out.iterdir()} == FILES
    loaded = scf.CounterfactualResult.load(out)
    pd.testing.assert_frame_equal(loaded.cfs, explanation.cfs)
    assert json.loads((out / "result.json").read_text())["method"] == "oracle"
    assert len(json.loads((out / "cfs.json").read_text())) == len(explanation.cfs)
    assert pd.read_csv(out / "cfs.csv")["valid"].all()
    texts = pd.read_csv(out / "interventions.csv")
    assert texts["text"].tolist() == explanation.interventions["text"].tolist()


def test_named_people_and_sparsify(cohort):
    model, data = cohort
    person = int(scf.select_queries(model, data).frame["person_id"].iloc[0])
    plain = scf.explain(model, data, "dice-random", rows=[person], limit=1, seed=2)
    by_name = scf.explain(model, data, "dice-random+sparsify", rows=[person], limit=1, seed=2)
    by_flag = scf.explain(model, data, "dice-random", rows=[person], limit=1, seed=2, sparsify=True)
    assert set(plain.queries["person_id"]) == {person}
    assert set(by_name.cfs["method"]) == set(by_flag.cfs["method"]) == {"dice-random+sparsify"}
    pd.testing.assert_frame_equal(
        by_name.cfs.drop(columns="seconds"), by_flag.cfs.drop(columns="seconds")
    )
    assert plain.cfs["valid"].any()
    before = plain.interventions["n_changes"].to_numpy()
    after = by_name.interventions["n_changes"].to_numpy()
    assert (after <= before).all() and after.sum() < before.sum()


def test_a_generator_object_and_any_predict_proba_estimator(cohort):
    _, data = cohort
    estimator = LogisticRegression(max_iter=2000).fit(data.X, data.y)
    generator = scf.Oracle(max_changes=3)
    explanation = scf.explain(estimator, data, generator, limit=3)
    assert hasattr(generator, "model_")  # fitted in place: the object stays the caller's
    valid = explanation.cfs[explanation.cfs["valid"]]
    assert len(valid) > 0
    proba = estimator.predict_proba(valid[data.spec.feature_names])
    desired = list(estimator.classes_).index(data.spec.desired_class)
    assert (proba[:, desired] >= 0.5).all()


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda m, d: scf.explain(m, d, "gpt-5"), SensecfError, "unknown generator 'gpt-5'"),
        (lambda m, d: scf.explain(m, d, "oracle", rows=[99999]), DataError, "[99999]"),
        (lambda m, d: scf.explain(m, d, "oracle", n_cfs=0), SensecfError, "n_cfs"),
        (lambda m, d: scf.explain(m, d.frame, "oracle"), SensecfError, "got DataFrame"),
        (lambda m, d: scf.explain("rf", d, "oracle"), SensecfError, "predict_proba"),
        (lambda m, d: scf.explain(m, d, LogisticRegression()), SensecfError, "generator must"),
        (lambda m, d: scf.explain(m, d, "oracle", llm={}), SensecfError, "LLMOptions"),
        (lambda m, d: LLMOptions(repair_rounds=-1), SensecfError, "repair_rounds"),
    ],
)
def test_bad_input_names_the_culprit(cohort, call, error, fragment):
    model, data = cohort
    with pytest.raises(error) as info:
        call(model, data)
    assert fragment in str(info.value)


def test_no_rows_to_explain(cohort):
    model, data = cohort
    _, test_rows = model.split_data(data)
    healthy = test_rows.subset(model.predict(test_rows.X) == data.spec.desired_class)
    with pytest.raises(DataError, match=r"no rows to explain: the model flags none of the \d+"):
        scf.explain(model, healthy, "oracle")


@pytest.fixture
def built_backends(monkeypatch):
    """The real backends `explain` builds, kept so a test can see they were closed."""
    built = []
    make = LLMOptions.make_backend

    def keep(options):
        built.append(make(options))
        return built[-1]

    monkeypatch.setattr(LLMOptions, "make_backend", keep)
    return built


def test_the_llm_backend_is_closed_when_the_run_fails(cohort, tmp_path, built_backends):
    pytest.importorskip("llama_cpp")
    model, data = cohort
    options = LLMOptions(cache=tmp_path / "calls.sqlite", repair_rounds=0)
    with pytest.raises(SensecfError, match="n_cfs must be a positive integer"):
        scf.explain(model, data, "few-shot", limit=1, n_cfs=0, llm=options)
    assert len(built_backends) == 1
    with pytest.raises(SensecfError, match="is closed"):
        built_backends[0].stats()


def test_other_generators_build_no_backend(cohort, built_backends):
    model, data = cohort
    scf.explain(model, data, "oracle", limit=1, llm=LLMOptions(backend="openai"))
    assert built_backends == []


@pytest.mark.slow
def test_the_embedded_llm_closed_after_use_and_a_free_rerun(cohort, tmp_path, built_backends):
    pytest.importorskip("llama_cpp")
    model, data = cohort
    options = LLMOptions(cache=tmp_path / "calls.sqlite", repair_rounds=0)
    first = scf.explain(model, data, "few-shot", limit=1, llm=options)
    assert first.llm_stats["calls"] > 0 and first.llm_stats["hits"] == 0
    assert set(first.cfs["source"]) <= {"llm", "repair"}
    assert np.isfinite(first.queries["proba_desired"]).all()
    with pytest.raises(SensecfError, match="is closed"):
        built_backends[0].stats()
    again = scf.explain(model, data, "few-shot", limit=1, llm=options)
    assert again.llm_stats["calls"] == 0 and again.llm_stats["hits"] == first.llm_stats["calls"]
    pd.testing.assert_frame_equal(
        again.cfs.drop(columns="seconds"), first.cfs.drop(columns="seconds")
    )


def test_the_texts_of_gapped_rows_never_name_what_was_not_measured(cohort):
    _, data = cohort
    frame = data.frame.copy()
    people = frame["person_id"].unique()
    sleep = [f.name for f in data.spec.features if f.group == "sleep"]
    frame.loc[frame["person_id"].isin(people[::2]), sleep] = np.nan  # no sleep stream at all
    frame.loc[frame.index[::3], "active_kcal"] = np.nan  # no calories on some days
    gapped = scf.Dataset(frame, data.spec)
    model = scf.train(gapped, "rf", seed=0, params={"n_estimators": 40}, importance_repeats=1)
    explanation = scf.explain(model, gapped, "nearest-example", limit=6, n_cfs=2, seed=0)
    spec, queries = gapped.spec, explanation.queries
    assert queries[sleep].isna().all(axis=1).any(), "some person explained has no sleep"
    assert len(explanation.cfs)
    for row in explanation.interventions.itertuples():
        query = queries.set_index("query_id").loc[row.query_id, spec.feature_names]
        cf = explanation.cfs.query(f"query_id == {row.query_id} and rank == {row.rank}")
        missing = {n for n in spec.feature_names if np.isnan(query[n])}
        assert cf[sorted(missing)].isna().all(axis=None)
        named = {c.feature for c in scf.interventions.describe_changes(spec, query, cf.iloc[0])}
        assert named and not named & missing
        assert "not measured" not in row.text and "missing" not in row.text
