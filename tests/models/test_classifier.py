"""train / TrainedClassifier / evaluate / load_model on small synthetic tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from sensecf.data.dataset import Dataset
from sensecf.data.spec import infer_spec
from sensecf.errors import DataError, ModelError
from sensecf.models import (
    ESTIMATORS,
    TrainedClassifier,
    cross_validate,
    evaluate_classifier,
    fold_rows,
    load_model,
    split_rows,
    train,
)

FEATURES = ["s1", "n1", "s2", "n2", "n3"]
SMALL = {"rf": {"n_estimators": 25}, "gb": {"max_iter": 30}, "logreg": None}


def make_data(groups: int = 60, rows: int = 5, seed: int = 0, grouped: bool = True) -> Dataset:
    """``groups`` persons × ``rows`` days; the label depends on s1 and s2 only."""
    rng = np.random.default_rng(seed)
    n = groups * rows
    frame = pd.DataFrame(
        {
            "pid": np.repeat([f"p{g:03d}" for g in range(groups)], rows),
            "day": np.tile(np.arange(rows), groups),
        }
    )
    person = np.repeat(rng.normal(size=groups), rows)  # a per-person offset, as in real cohorts
    for name in FEATURES:
        frame[name] = rng.normal(size=n).round(3)
    score = 2.0 * frame["s1"] - 1.5 * frame["s2"] + 0.3 * person + 0.3 * rng.normal(size=n)
    frame["y"] = (score > 0.4).astype(int)
    spec = infer_spec(
        frame,
        "y",
        id_columns=["pid", "day"],
        group_column="pid" if grouped else None,
        classes={0: "well", 1: "at risk"},
        name="toy",
    )
    spec = spec.update_feature("s1", group="sleep").update_feature("s2", group="activity")
    return Dataset(frame, spec, source="toy")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_data()


@pytest.fixture(scope="module")
def clf(data) -> TrainedClassifier:
    return train(data, "rf", params=SMALL["rf"], seed=3, importance_repeats=3)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_each_estimator_name_trains(data, name):
    model = train(data, name, params=SMALL[name], importance_repeats=2)
    assert model.estimator_name == name
    assert model.metrics_["auroc"] > 0.9
    proba = model.predict_proba(data.X)
    assert proba.shape == (len(data), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_metrics_are_sane(data, clf):
    m = clf.metrics_
    assert m["auroc"] > 0.9 and m["accuracy"] > 0.8
    assert 0 < m["minority_f1"] <= 1 and 0 < m["macro_f1"] <= 1
    assert m["n_train"] + m["n_test"] == len(data)
    assert sum(m["confusion"].values()) == m["n_test"]
    assert m["split"] == "grouped" and m["n_groups_train"] + m["n_groups_test"] == 60
    counts = data.class_counts()
    assert m["minority_class"] == min(counts, key=counts.get)
    for c in counts:
        assert m["class_counts"]["train"][c] + m["class_counts"]["test"][c] == counts[c]
    assert m["threshold"] == 0.5


def test_grouped_split_never_leaks_a_group():
    for seed in range(4):
        data = make_data(groups=30, rows=4, seed=seed)
        for test_size in (0.2, 0.25, 0.5, 0.7):
            train_idx, test_idx = split_rows(data, test_size, seed)
            groups = data.groups.to_numpy()
            assert not set(groups[train_idx]) & set(groups[test_idx])
            assert len(train_idx) + len(test_idx) == len(data)
            share = len(test_idx) / len(data)
            assert abs(share - test_size) < 0.15, (test_size, share)


@pytest.mark.parametrize("grouped", [True, False])
def test_folds_test_every_row_once_and_never_split_a_group(grouped):
    data = make_data(groups=30, rows=4, grouped=grouped)
    parts = fold_rows(data, folds=5, seed=3)
    assert len(parts) == 5
    tested = np.concatenate([test for _, test in parts])
    assert np.array_equal(np.sort(tested), np.arange(len(data)))  # each row once
    for train_idx, test_idx in parts:
        assert len(train_idx) + len(test_idx) == len(data)
        assert not set(train_idx) & set(test_idx)
        if grouped:
            groups = data.groups.to_numpy()
            assert not set(groups[train_idx]) & set(groups[test_idx])
    again = fold_rows(data, folds=5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(parts, again, strict=True))
    other = fold_rows(data, folds=5, seed=4)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(parts, other, strict=True))


def test_cross_validate_scores_each_split_on_rows_it_did_not_train_on():
    data = make_data(groups=30, rows=4)
    scores = cross_validate(data, "logreg", folds=3, seeds=[2, 5])
    assert scores[["seed", "fold"]].values.tolist() == [
        [2, 0],
        [2, 1],
        [2, 2],
        [5, 0],
        [5, 1],
        [5, 2],
    ]
    assert (scores["n_train"] + scores["n_test"] == len(data)).all()
    assert (
        ((scores[["auroc", "macro_f1"]] > 0.5) & (scores[["auroc", "macro_f1"]] <= 1)).all().all()
    )
    # A repetition's numbers depend on its own seed only, not on the others run beside it.
    again = cross_validate(data, "logreg", folds=3, seeds=[2])
    pd.testing.assert_frame_equal(again, scores.iloc[:3])
    with pytest.raises(ModelError, match="seeds must be a positive number"):
        cross_validate(data, "logreg", seeds=0)


def test_fold_rows_names_what_it_needs():
    with pytest.raises(ModelError, match="folds must be an integer of at least 2; got 1"):
        fold_rows(make_data(), folds=1)
    with pytest.raises(ModelError, match="40 grouped folds need at least 40 groups"):
        fold_rows(make_data(groups=30), folds=40)


def test_split_table_records_each_row(data, clf):
    split = clf.split_
    assert split.columns.tolist() == ["pid", "day", "split"]
    assert len(split) == len(data) and set(split["split"]) == {"train", "test"}
    sides = split.groupby("pid")["split"].nunique()
    assert (sides == 1).all()  # every person on one side only
    assert (split["split"] == "test").sum() == clf.metrics_["n_test"]


def test_stratified_split_without_groups():
    data = make_data(grouped=False)
    model = train(data, "logreg", importance_repeats=1, test_size=0.3)
    assert model.metrics_["split"] == "stratified"
    assert model.metrics_["n_test"] == round(0.3 * len(data))
    share = {s: c[1] / sum(c.values()) for s, c in model.metrics_["class_counts"].items()}
    assert abs(share["train"] - share["test"]) < 0.05
    # A spec without id columns: the split table holds row positions.
    bare = Dataset(data.frame[[*FEATURES, "y"]], data.spec.replace(id_columns=[]))
    split = train(bare, "logreg", importance_repeats=1).split_
    assert split.columns.tolist() == ["row", "split"] and split["row"].tolist() == list(range(300))


def test_importance_ranks_the_signal_features_first(clf):
    table = clf.feature_importance_
    assert table.columns.tolist() == ["feature", "group", "importance", "importance_std"]
    assert set(table["feature"].head(2)) == {"s1", "s2"}
    assert table["importance"].is_monotonic_decreasing
    groups = dict(zip(table["feature"], table["group"], strict=True))
    assert groups["s1"] == "sleep" and groups["s2"] == "activity"


def test_save_and_load_round_trip(tmp_path, data, clf):
    folder = clf.save(tmp_path / "model")
    assert {p.name for p in folder.iterdir()} == {
        "model.joblib",
        "spec.yaml",
        "metadata.json",
        "split.parquet",
    }
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["estimator"] == "rf" and meta["seed"] == 3 and meta["threshold"] == 0.5
    assert meta["params"]["n_estimators"] == 25
    assert meta["sklearn_version"] and meta["created_at"]
    assert meta["metrics"]["auroc"] == pytest.approx(clf.metrics_["auroc"])
    assert meta["feature_importance"][0]["feature"] in {"s1", "s2"}

    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(data.X), clf.predict_proba(data.X))
    assert loaded.spec == clf.spec and loaded.threshold == clf.threshold
    assert loaded.metrics_["class_counts"] == clf.metrics_["class_counts"]
    pd.testing.assert_frame_equal(loaded.feature_importance_, clf.feature_importance_)
    pd.testing.assert_frame_equal(loaded.split_, clf.split_, check_dtype=False)
    assert evaluate_classifier(loaded, data) == evaluate_classifier(clf, data)


def test_load_model_errors(tmp_path, clf):
    with pytest.raises(ModelError, match="model folder not found"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path / "file")
    folder = clf.save(tmp_path / "model")
    (folder / "model.joblib").unlink()
    with pytest.raises(ModelError, match=r"not a complete model folder: model\.joblib missing"):
        load_model(folder)


def test_load_warns_on_another_sklearn_version(tmp_path, data, clf):
    folder = clf.save(tmp_path / "model")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sklearn_version"] = "0.0.1"
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"scikit-learn 0\.0\.1"):
        loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict(data.X), clf.predict(data.X))


def test_inputs_to_predict_proba(data, clf):
    expected = clf.predict_proba(data.X.head(5))
    shuffled = data.frame.head(5)[["n3", "s2", "pid", "s1", "n2", "n1"]]  # any order, extras
    np.testing.assert_array_equal(clf.predict_proba(shuffled), expected)
    np.testing.assert_array_equal(clf.predict_proba(data.X.head(5).to_numpy()), expected)
    np.testing.assert_array_equal(clf.predict_proba(data.X.iloc[0]), expected[:1])
    np.testing.assert_array_equal(clf.proba_of(data.X.head(5), 1), expected[:, 1])
    with pytest.raises(DataError, match=r"missing feature column\(s\) \['s2'\]"):
        clf.predict_proba(data.X.drop(columns="s2"))
    with pytest.raises(DataError, match=r"shape \(rows, 5\)"):
        clf.predict_proba(np.zeros((2, 4)))
    bad = data.X.head(3).astype(object)
    bad.iloc[2, 1] = "high"
    with pytest.raises(DataError, match=r"'n1' must be numeric; row 2 holds 'high'"):
        clf.predict_proba(bad)
    with pytest.raises(ModelError, match="class 2"):
        clf.proba_of(data.X, 2)


def test_predict_follows_the_threshold(data):
    model = train(data, "logreg", importance_repeats=1)
    p1 = model.proba_of(data.X, 1)
    for threshold in (0.2, 0.5, 0.8):
        model.threshold = threshold
        np.testing.assert_array_equal(model.predict(data.X), (p1 >= threshold).astype(int))
    with pytest.raises(ModelError, match="threshold"):
        model.threshold = 1.5
    assert train(data, "logreg", importance_repeats=1, threshold=0.3).threshold == 0.3


def test_any_estimator_object(data):
    mine = LogisticRegression(C=0.5)
    model = train(data, mine, importance_repeats=1)
    assert model.estimator_name == "LogisticRegression"
    assert not hasattr(mine, "coef_")  # the caller's object is copied, not fitted
    assert model.metrics_["auroc"] > 0.9
    forest = train(data, RandomForestClassifier(n_estimators=10), seed=7, importance_repeats=1)
    assert forest.pipeline_[-1].random_state == 7  # an unset random_state takes the seed


def test_missing_feature_values_are_imputed(data):
    frame = data.frame.copy()
    frame.loc[::7, "n1"] = np.nan
    frame.loc[::11, "s1"] = np.nan
    model = train(Dataset(frame, data.spec), "logreg", importance_repeats=1)
    assert model.metrics_["auroc"] > 0.8
    assert np.isfinite(model.predict_proba(frame[FEATURES])).all()


def test_deterministic_for_a_seed(data):
    a = train(data, "rf", params=SMALL["rf"], seed=5, importance_repeats=2)
    b = train(data, "rf", params=SMALL["rf"], seed=5, importance_repeats=2)
    pd.testing.assert_frame_equal(a.split_, b.split_)
    np.testing.assert_array_equal(a.predict_proba(data.X), b.predict_proba(data.X))
    pd.testing.assert_frame_equal(a.feature_importance_, b.feature_importance_)


def test_bad_input(data):
    with pytest.raises(ModelError, match=r"unknown estimator 'svm'.*\['rf', 'gb', 'logreg'\]"):
        train(data, "svm")
    for bad in (0, 1, 1.5, -0.1, "0.2"):
        with pytest.raises(ModelError, match="test_size"):
            train(data, "logreg", test_size=bad)
    with pytest.raises(ModelError, match="predict_proba"):
        train(data, SVC())
    with pytest.raises(ModelError, match=r"no parameter\(s\) \['trees'\]"):
        train(data, "rf", params={"trees": 5})
    with pytest.raises(ModelError, match="seed"):
        train(data, "logreg", seed=-1)
    with pytest.raises(ModelError, match="threshold"):
        train(data, "logreg", threshold=-0.1)
    with pytest.raises(DataError, match="Dataset"):
        train(data.frame, "logreg")


def test_too_few_rows_of_a_class(data):
    rare = data.subset(np.r_[np.flatnonzero(data.y == 0), np.flatnonzero(data.y == 1)[:3]])
    with pytest.raises(ModelError, match=r"each class needs at least 5.*'at risk': 3"):
        train(rare, "logreg")


def test_too_few_groups(data):
    few = data.subset(data.groups.isin([f"p{g:03d}" for g in range(8)]).to_numpy())
    assert min(few.class_counts().values()) >= 5
    with pytest.raises(ModelError, match=r"needs at least 10 groups \('pid'\); the data have 8"):
        train(few, "logreg", test_size=0.1)


def test_a_target_with_three_classes():
    frame = pd.DataFrame({"x": np.arange(30.0), "y": [0, 1, 2] * 10})
    data = Dataset(frame, infer_spec(frame, "y"))
    with pytest.raises(ModelError, match="binary target"):
        train(data, "logreg")


def test_evaluate_on_another_dataset(clf):
    other = make_data(groups=20, seed=11)
    scores = evaluate_classifier(clf, other)
    assert scores["n"] == 100 and scores["auroc"] > 0.85
    assert sum(scores["confusion"].values()) == 100
    assert scores["class_counts"] == other.class_counts()
    one_class = other.subset((other.y == 0).to_numpy())
    assert np.isnan(evaluate_classifier(clf, one_class)["auroc"])


def test_names_moved_out_of_the_classifier_module_still_import_from_it():
    import sensecf.models as models
    from sensecf.models import classifier

    for name in ("ESTIMATORS", "MIN_CLASS_ROWS", "make_estimator", "split_rows", "train"):
        assert getattr(classifier, name) is getattr(models, name)
    assert classifier.load_model is models.load_model
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = classifier.nothing_here
