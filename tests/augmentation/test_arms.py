"""Each arm on the small task: what it adds, and that generated rows are verified and clean."""

import numpy as np
import pandas as pd
import pytest

from sensecf.augmentation.arms import (
    OVERSAMPLERS,
    augmentation_spec,
    check_arm,
    fit_classifier,
    generated_rows,
    oversampled_rows,
)
from sensecf.augmentation.scenarios import Scenario, make_scarce
from sensecf.data.constraints import violations
from sensecf.errors import SensecfError

SMALL_FOREST = {"n_estimators": 30}


@pytest.fixture(scope="module")
def scarce(toy):
    data = toy.with_spec(augmentation_spec(toy.spec))
    split = make_scarce(data, Scenario(0.5, 1), seed=0)
    rows = data.subset(split.kept)
    model = fit_classifier(rows, "rf", seed=0, params=SMALL_FOREST, scarce_class=1)
    return data, split, rows, model


def test_augmentation_spec_frees_directions_and_keeps_fixed(toy):
    spec = augmentation_spec(toy.spec)
    assert [f.mutability for f in spec.features] == ["fixed", "both", "both", "both"]
    assert [f.bounds for f in spec.features] == [f.bounds for f in toy.spec.features]


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_oversamplers_add_rows_of_the_scarce_class(scarce, name):
    _, split, rows, _ = scarce
    aug = oversampled_rows(name, rows, scarce_class=1, count=split.n_removed, seed=0)
    assert aug.error == ""
    n = len(aug.rows)
    # ADASYN chooses its own number near the one asked for.
    assert n == split.n_removed if name != "adasyn" else 0.5 * split.n_removed <= n
    assert n <= split.n_removed
    assert (aug.rows["risk"] == 1).all() and (aug.rows["arm"] == name).all()
    assert aug.rows[rows.spec.feature_names].notna().all().all()


def test_random_oversampling_copies_real_rows(scarce):
    _, _, rows, _ = scarce
    aug = oversampled_rows("random-oversampling", rows, scarce_class=1, count=8, seed=2)
    real = rows.X[rows.y == 1].to_numpy()
    for row in aug.rows[rows.spec.feature_names].to_numpy():
        assert (np.abs(real - row).max(axis=1) == 0).any()


def test_oversampler_seeded_and_zero_count(scarce):
    _, _, rows, _ = scarce
    a = oversampled_rows("smote", rows, scarce_class=1, count=5, seed=1).rows
    b = oversampled_rows("smote", rows, scarce_class=1, count=5, seed=1).rows
    pd.testing.assert_frame_equal(a, b)
    assert len(oversampled_rows("smote", rows, scarce_class=1, count=0).rows) == 0


def test_oracle_rows_are_verified_clean_and_traced(scarce):
    data, split, rows, model = scarce
    aug = generated_rows(
        "oracle",
        rows,
        model,
        scarce_class=1,
        count=split.n_removed,
        source_rows=split.kept,
        seed=0,
    )
    added = aug.rows
    names = rows.spec.feature_names
    assert 0 < len(added) <= split.n_removed
    assert (added["risk"] == 1).all() and (added["arm"] == "oracle").all()
    assert (model.predict(added[names].to_numpy()) == 1).all()
    # Each row came from a majority row of the training rows, and breaks no constraint there.
    sources = data.frame.iloc[added["source_row"].astype(int)]
    assert (sources["risk"] == 0).all()
    broken = violations(rows.spec, sources[names].to_numpy(), added[names].to_numpy())
    assert (broken["total"] == 0).all()
    assert (added["age"].to_numpy() == sources["age"].to_numpy()).all()
    assert not added.duplicated(subset=names).any()
    assert aug.asked >= 1 and aug.candidates >= len(added)
    assert {"source", "llm_calls", "prompt_tokens", "completion_tokens", "proba_desired"} <= set(
        added.columns
    )


def test_generated_rows_respect_the_cap_and_seed(scarce):
    _, split, rows, model = scarce
    run = [
        generated_rows(
            "oracle", rows, model, scarce_class=1, count=3, source_rows=split.kept, seed=5
        ).rows
        for _ in range(2)
    ]
    assert len(run[0]) == 3
    pd.testing.assert_frame_equal(run[0], run[1])


def test_a_margin_keeps_only_rows_inside_the_scarce_class(scarce):
    _, split, rows, model = scarce
    common = {"scarce_class": 1, "count": split.n_removed, "source_rows": split.kept, "seed": 0}
    plain = generated_rows("oracle", rows, model, **common).rows
    deep = generated_rows("oracle", rows, model, min_proba=0.75, **common).rows
    names = rows.spec.feature_names
    assert len(deep) > 0
    assert (model.predict_proba(deep[names].to_numpy())[:, 1] >= 0.75).all()
    # Minimal rows sit near the boundary: without a margin some fall short of 0.75.
    assert (model.predict_proba(plain[names].to_numpy())[:, 1] < 0.75).any()


def test_fit_classifier_learns_from_extra_rows(scarce):
    _, _, rows, _ = scarce
    extra = pd.DataFrame({"age": [50] * 3, "sleep": [200.0] * 3, "steps": [100] * 3})
    extra["hr"], extra["risk"] = 110.0, 1
    model = fit_classifier(rows, "logreg", scarce_class=1, extra=extra)
    assert model.minority_class == 1
    assert model.predict(extra[rows.spec.feature_names].to_numpy()).tolist() == [1, 1, 1]


def test_unknown_arm():
    with pytest.raises(SensecfError, match="unknown augmentation arm 'magic'"):
        check_arm("magic")
    with pytest.raises(SensecfError, match="unknown oversampler"):
        oversampled_rows("oracle-ish", None, scarce_class=1, count=1)  # type: ignore[arg-type]


@pytest.mark.slow
def test_llm_rows_carry_their_calls_and_a_rerun_is_served_by_the_cache(scarce, tmp_path):
    pytest.importorskip("llama_cpp")
    import sqlite3

    _, split, rows, model = scarce
    cache = tmp_path / "llm-cache.sqlite"
    options = {"repair_rounds": 1}

    def run():
        return generated_rows(
            "few-shot",
            rows,
            model,
            scarce_class=1,
            count=2,
            source_rows=split.kept,
            seed=0,
            options=options,
            llm_cache=cache,
            max_rounds=1,
            max_queries=3,
        )

    first = run()
    assert first.asked == 3 and first.llm_calls >= 3 and first.tokens > 0
    added = first.rows
    assert len(added) <= 2
    if len(added):
        assert (added["arm"] == "few-shot").all()
        assert added["source"].isin(["llm", "repair"]).all()
        assert (added["llm_calls"] >= 1).all()
        assert (model.predict(added[rows.spec.feature_names].to_numpy()) == 1).all()
    with sqlite3.connect(cache) as db:
        stored = db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]
    assert stored >= 3
    again = run()
    pd.testing.assert_frame_equal(again.rows, first.rows)
    with sqlite3.connect(cache) as db:  # nothing new was asked of the model
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone()[0] == stored


def test_the_oracle_searches_briefly_for_rows_unless_told_otherwise(scarce, monkeypatch):
    import sensecf.augmentation.arms as arms

    _, split, rows, model = scarce
    limits = []
    real = arms.make_generator

    def spy(name, **options):
        generator = real(name, **options)
        limits.append(
            (
                generator.node_limit,
                generator.max_candidates,
                generator.programs,
                generator.max_support_solves,
                generator.time_limit,
            )
        )
        return generator

    monkeypatch.setattr(arms, "make_generator", spy)
    for name, options in (
        ("oracle", None),
        ("oracle", {"time_limit": 7.5}),
        ("oracle-plausible", None),
    ):
        generated_rows(
            name,
            rows,
            model,
            scarce_class=1,
            count=1,
            source_rows=split.kept,
            options=options,
        )
    work = arms.ORACLE_WORK
    # The arm's budget is counted work alone (support by support, no clock); a caller's time
    # limit adds one.
    counted = (work["node_limit"], work["max_candidates"], "supports", work["max_support_solves"])
    assert limits == [(*counted, None), (*counted, 7.5), (*counted, None)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dice-random", "nice-sparsity", "cfnow-greedy"])
def test_baseline_generators_add_verified_clean_rows(scarce, name):
    data, split, rows, model = scarce
    aug = generated_rows(
        name,
        rows,
        model,
        scarce_class=1,
        count=4,
        source_rows=split.kept,
        seed=0,
        max_queries=8,
    )
    assert aug.error == ""
    assert aug.asked >= 1 and aug.candidates >= len(aug.rows)
    added = aug.rows
    names = rows.spec.feature_names
    # Scarce verifiers leave some searches empty-handed; a baseline still finds some rows here.
    assert 0 < len(added) <= 4
    assert (added["arm"] == name).all() and (added["risk"] == 1).all()
    assert (model.predict(added[names].to_numpy()) == 1).all()
    sources = data.frame.iloc[added["source_row"].astype(int)]
    broken = violations(rows.spec, sources[names].to_numpy(), added[names].to_numpy())
    assert (broken["total"] == 0).all()
    assert (added["llm_calls"] == 0).all()
