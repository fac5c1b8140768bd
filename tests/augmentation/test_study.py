"""The study end to end on the small task: cells, the untouched test split, seeds, resume."""

import logging

import numpy as np
import pandas as pd
import pytest

import sensecf as scf
from sensecf.augmentation import AugmentationConfig, augmentation_study
from sensecf.augmentation.arms import augmentation_spec, fit_classifier
from sensecf.augmentation.measures import MIN_LOSS, score
from sensecf.errors import SensecfError
from sensecf.models import split_rows

SETTINGS = {
    "generators": ["oracle"],
    "oversamplers": ["random-oversampling", "smote"],
    "scenarios": [0.25, 0.5],
    "seeds": 2,
    "estimator": "logreg",
    "max_generated": 6,
    "plots": False,
}
TIMING = ["seconds", "cell_seconds"]


def timeless(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in TIMING if c in frame.columns])


@pytest.fixture(scope="module")
def study(toy):
    return augmentation_study(toy, **SETTINGS)


def test_one_row_per_scenario_seed_and_arm(study):
    results = study.results
    assert len(results) == 2 * 2 * 5
    assert set(results["arm"]) == {"full", "scarce", "oracle", "random-oversampling", "smote"}
    assert not results.duplicated(["scenario", "seed", "arm"]).any()
    assert set(study.summary["n_seeds"]) == {2}
    assert scf.augmentation_study is augmentation_study


def test_training_sizes_add_up(study, toy):
    results = study.results.set_index(["scenario", "seed", "arm"])
    train_size = len(split_rows(toy, 0.25, 0)[0])
    y_train = toy.y.to_numpy()[split_rows(toy, 0.25, 0)[0]]
    for scenario, share in (("class1-25pct", 0.25), ("class1-50pct", 0.5)):
        full = results.loc[(scenario, 0, "full")]
        scarce = results.loc[(scenario, 0, "scarce")]
        assert full["n_train"] == train_size
        removed = full["n_train"] - scarce["n_train"]
        # Removed by person: near the share of class-1 training rows.
        assert abs(removed - share * (y_train == 1).sum()) <= 3
        for arm in ("oracle", "random-oversampling", "smote"):
            row = results.loc[(scenario, 0, arm)]
            assert row["rows_target"] == min(removed, 6)
            assert row["n_train"] == scarce["n_train"] + row["rows_added"]
            assert 0 < row["rows_added"] <= row["rows_target"]


def test_scores_are_on_the_untouched_test_split(study, toy):
    data = toy.with_spec(augmentation_spec(toy.spec))
    train_idx, test_idx = split_rows(data, 0.25, 1)
    model = fit_classifier(data.subset(train_idx), "logreg", seed=1, scarce_class=1)
    expected = score(model, data.subset(test_idx))
    full = study.results[(study.results["arm"] == "full") & (study.results["seed"] == 1)]
    for metric, value in expected.items():
        assert full[metric].to_numpy() == pytest.approx(value)
    # Generated rows come from training rows only, never from the test split.
    rows = study.rows[study.rows["arm"] == "oracle"]
    for seed, part in rows.groupby("seed"):
        train_idx, test_idx = split_rows(data, 0.25, int(seed))
        assert set(part["source_row"].astype(int)) <= set(train_idx)
        assert not set(part["source_row"].astype(int)) & set(test_idx)


def test_recovery_columns_and_reference_arms(study):
    results = study.results
    assert (results.loc[results["arm"] == "scarce", "gain_macro_f1"] == 0).all()
    full = results[results["arm"] == "full"]
    lost = full["macro_f1"].to_numpy() - results[results["arm"] == "scarce"]["macro_f1"].to_numpy()
    assert np.allclose(full["gain_macro_f1"], lost)
    oracle = results[results["arm"] == "oracle"]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = oracle["gain_macro_f1"].to_numpy() / lost
    expected[np.abs(lost) < MIN_LOSS] = np.nan
    assert np.allclose(oracle["recovery_macro_f1"], expected, equal_nan=True)


def test_same_seed_same_results(study, toy):
    again = augmentation_study(toy, **SETTINGS)
    pd.testing.assert_frame_equal(timeless(study.results), timeless(again.results))
    pd.testing.assert_frame_equal(study.rows, again.rows)


def test_other_seeds_give_other_splits(toy):
    one = augmentation_study(toy, **{**SETTINGS, "seeds": 1, "generators": []})
    assert one.results["seed"].unique().tolist() == [0]
    assert len(one.results) == 2 * 4


def test_a_seed_list_runs_exactly_those_seeds_with_the_same_cells(study, toy):
    picked = augmentation_study(toy, **{**SETTINGS, "seeds": [1]})
    assert picked.results["seed"].unique().tolist() == [1]
    mine = timeless(picked.results).set_index(["scenario", "arm"])
    theirs = timeless(study.results[study.results["seed"] == 1]).set_index(["scenario", "arm"])
    pd.testing.assert_frame_equal(mine, theirs.loc[mine.index])


def test_repeated_folds_test_every_row_once_a_seed_and_resume_by_fold(toy, tmp_path):
    settings = {**SETTINGS, "seeds": [0], "splits": 3, "scenarios": [0.5]}
    result = augmentation_study(toy, out_dir=tmp_path, **settings)
    results = result.results
    assert sorted(results["fold"].unique()) == [0, 1, 2] and set(results["folds"]) == {3}
    assert len(results) == 3 * (2 + 3)  # folds × (full, scarce and three arms)
    full = results[results["arm"] == "full"]
    assert full["n_train"].sum() == 2 * len(toy)  # each row trains in two folds of three
    saved = sorted(p.parent.parent.name for p in (tmp_path / "cells" / "full").rglob("cell.json"))
    assert saved == ["seed0-fold0", "seed0-fold1", "seed0-fold2"]
    assert (result.comparisons["test"] == "corrected resampled t").all()
    assert (tmp_path / "scarcity_loss.csv").is_file()
    assert "× 3-fold cross-validation" in (tmp_path / "summary.md").read_text()
    again = augmentation_study(toy, out_dir=tmp_path, saved_only=True, **settings)
    pd.testing.assert_frame_equal(timeless(again.results), timeless(results))
    # One split per seed keeps its own cells: they are never mistaken for a fold's.
    single = augmentation_study(toy, out_dir=tmp_path, **{**settings, "splits": 1})
    assert set(single.results["fold"]) == {0} and set(single.results["folds"]) == {1}


class Killed(Exception):
    pass


def kill_after_five_cells(toy, out):
    """Run the study into ``out`` and stop it as the fifth cell finishes."""

    class DieAfterFive(logging.Handler):
        finished = 0

        def emit(self, record):
            self.finished += 1
            if self.finished == 5:
                raise Killed

    news = logging.getLogger("sensecf")
    handler, level = DieAfterFive(), news.level
    news.addHandler(handler)
    news.setLevel(logging.INFO)
    try:
        with pytest.raises(Killed):
            augmentation_study(toy, out_dir=out, **SETTINGS)
    finally:
        news.removeHandler(handler)
        news.setLevel(level)


def test_a_killed_study_resumes_from_its_saved_cells(toy, tmp_path, study, caplog):
    kill_after_five_cells(toy, tmp_path)
    assert len(list((tmp_path / "cells").rglob("cell.json"))) == 5
    caplog.set_level(logging.INFO, logger="sensecf")
    caplog.clear()  # the killed run's lines
    resumed = augmentation_study(toy, out_dir=tmp_path, **SETTINGS)
    lines = caplog.messages
    assert sum("reused" in line for line in lines) == 5
    assert sum(line.startswith("✓") for line in lines) == 2 * (1 + 2 * 4) - 5
    pd.testing.assert_frame_equal(timeless(resumed.results), timeless(study.results))
    for name in ("results.csv", "results.parquet", "summary.csv", "summary.md", "config.yaml"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "generated_rows.parquet").is_file()
    assert "| oracle |" in (tmp_path / "summary.md").read_text()
    assert "Where the added rows sit" in (tmp_path / "summary.md").read_text()
    placement = pd.read_csv(tmp_path / "row_placement.csv")
    pd.testing.assert_frame_equal(placement, resumed.placement, check_dtype=False)
    # Other settings do not reuse the cells they change.
    caplog.clear()
    augmentation_study(toy, out_dir=tmp_path, **{**SETTINGS, "max_generated": 4})
    reused = [line for line in caplog.messages if "reused" in line]
    assert len(reused) == 2 * (1 + 2)  # full and scarce per seed and scenario (full once)


def test_balance_target_and_the_leaking_verifier(toy, tmp_path):
    result = augmentation_study(
        toy,
        out_dir=tmp_path,
        **{
            **SETTINGS,
            "target": "balance",
            "verifier": "full",
            "max_generated": None,
            "oversamplers": ["random-oversampling"],
            "scenarios": [0.5],
            "seeds": 1,
        },
    )
    scarce = result.results.set_index("arm").loc["scarce"]
    oracle = result.results.set_index("arm").loc["oracle"]
    y = toy.y.to_numpy()[split_rows(toy, 0.25, 0)[0]]
    majority, kept_minority = (y == 0).sum(), scarce["n_train"] - (y == 0).sum()
    assert oracle["rows_target"] == majority - kept_minority
    assert oracle["verifier"] == "full"
    assert "leak" in (tmp_path / "summary.md").read_text()


def test_plots_are_written(toy, tmp_path):
    result = augmentation_study(
        toy, out_dir=tmp_path, **{**SETTINGS, "plots": True, "seeds": 1, "scenarios": [0.5]}
    )
    names = sorted(p.name for p in result.plots)
    assert names == ["embedding.png", "f1_by_scarcity.png", "feature_changes.png"]
    for path in result.plots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    changes = result.feature_changes
    assert set(changes["arm"]) == {"oracle"}
    age = changes.set_index("feature").loc["age", "changed_share"]
    assert age == 0  # a fixed feature is never changed
    assert changes["changed_share"].max() > 0


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"generators": ["magic"]}, "unknown augmentation arm 'magic'"),
        ({"scenarios": "0,5"}, "strictly between 0 and 1"),
        ({"seeds": 0}, "seeds"),
        ({"scarce_class": 4}, "scarce_class must be one of"),
        ({"verifier": "oracle"}, "verifier"),
        ({"min_proba": 1.2}, "min_proba"),
    ],
)
def test_bad_settings_say_what_was_expected(toy, settings, fragment):
    with pytest.raises(SensecfError, match=fragment):
        augmentation_study(toy, **{**SETTINGS, **settings})


def test_config_from_yaml_resolves_paths(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("data: features\nout: run\ngenerators: {oracle: {max_changes: 2}}\nseeds: 3\n")
    config = AugmentationConfig.from_yaml(path)
    assert config.data == tmp_path / "features" and config.out == tmp_path / "run"
    assert config.options("oracle") == {"max_changes": 2} and config.seeds == 3
    with pytest.raises(SensecfError, match="not found"):
        AugmentationConfig.from_yaml(tmp_path / "missing.yaml")


def test_placement_says_how_far_rows_moved_and_what_they_sit_among(study):
    placement = study.placement.set_index("arm")
    assert set(placement.index) == {"oracle", "random-oversampling", "smote"}
    added = study.results.groupby("arm")["rows_added"].sum()
    assert (placement["n_rows"] == added[placement.index]).all()
    assert placement.loc["oracle", "features_changed"] >= 1
    assert np.isnan(placement.loc["smote", "features_changed"])  # no source row
    assert placement["scarce_neighbours"].between(0, 1).all()
    assert placement.loc["random-oversampling", "copies_real"] == 1.0
    assert placement.loc["smote", "copies_real"] < 0.5  # interpolated between real rows
    # Copies of real scarce-class rows sit among them; minimal counterfactuals of the other
    # class sit just across the boundary, nearer their sources' class.
    assert (
        placement.loc["random-oversampling", "scarce_neighbours"]
        > placement.loc["oracle", "scarce_neighbours"]
    )


def test_saved_only_reads_the_finished_cells_and_computes_nothing(toy, tmp_path, study, caplog):
    with pytest.raises(SensecfError, match="no cells/ folder"):
        augmentation_study(toy, out_dir=tmp_path, saved_only=True, **SETTINGS)
    kill_after_five_cells(toy, tmp_path)
    caplog.set_level(logging.INFO, logger="sensecf")
    caplog.clear()  # the killed run's lines
    partial = augmentation_study(toy, out_dir=tmp_path, saved_only=True, **SETTINGS)
    lines = caplog.messages
    # seed 0's full cell, then the first scenario's floor and three arms
    results = partial.results
    assert len(results) == 5 and set(results["scenario"]) == {"class1-25pct"}
    assert set(results["seed"]) == {0}
    expected = study.results.set_index(["scenario", "seed", "arm"]).loc[
        results.set_index(["scenario", "seed", "arm"]).index
    ]
    assert np.allclose(results["macro_f1"], expected["macro_f1"])
    assert not any(line.startswith("✓") for line in lines)
    assert sum("not finished" in line for line in lines) > 0
    assert len(list((tmp_path / "cells").rglob("cell.json"))) == 5
    assert not (tmp_path / "results.csv").exists()  # the killed run wrote only its config
