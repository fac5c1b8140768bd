"""Training and prediction on data with gaps (a stream nobody recorded): forests and boosting
take NaN themselves, the logistic model imputes, and the model's metadata says which."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from test_classifier import FEATURES, SMALL, make_data

from sensecf.data.dataset import Dataset
from sensecf.models import (
    FillEmpty,
    TrainedClassifier,
    accepts_missing,
    fit_pipeline,
    load_model,
    make_estimator,
    train,
)
from sensecf.models.persistence import write_model_folder


def with_gaps(data: Dataset, seed: int = 0) -> Dataset:
    """Gaps as real downloads have them: a whole feature for some people, a group of features
    for some days, single values here and there."""
    rng = np.random.default_rng(seed)
    frame = data.frame.copy()
    people = frame["pid"].unique()
    no_n2 = frame["pid"].isin(rng.choice(people, len(people) // 4, replace=False))
    frame.loc[no_n2, "n2"] = np.nan
    days = rng.random(len(frame)) < 0.15
    frame.loc[days, ["s2", "n3"]] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "s1"] = np.nan
    return Dataset(frame, data.spec, source="toy with gaps")


@pytest.fixture(scope="module")
def gappy() -> Dataset:
    return with_gaps(make_data())


@pytest.mark.parametrize("name", ["rf", "gb", "logreg"])
def test_each_estimator_trains_and_predicts_on_data_with_gaps(gappy, name):
    model = train(gappy, name, params=SMALL[name], importance_repeats=1)
    assert model.metrics_["auroc"] > 0.85
    proba = model.predict_proba(gappy.X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    steps = [n for n, _ in model.pipeline_.steps]
    missing = model.metadata()["missing_values"]
    train_rows, _ = model.split_data(gappy)
    assert missing["missing_in_training"] == train_rows.X.isna().sum().to_dict()
    assert missing["missing_in_training"]["n2"] > 0
    if name == "logreg":
        assert steps == ["impute", "scale", "model"]
        assert missing["handling"] == "median imputer"
        expected = train_rows.X.median().to_dict()
        assert missing["imputed_with"] == pytest.approx(expected)
    else:
        assert steps == ["model"]  # the estimator sees the gaps
        assert missing == {
            "handling": "native",
            "missing_in_training": missing["missing_in_training"],
        }


def test_a_forest_without_the_imputer_predicts_as_before_on_complete_data():
    data = make_data()
    X, y = data.X, data.y.to_numpy()
    _, now = fit_pipeline("rf", X, y, seed=4, params={"n_estimators": 40})
    before = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("model", make_estimator("rf", seed=4, params={"n_estimators": 40, "n_jobs": 1})),
        ]
    ).fit(X, y)
    assert "impute" not in now.named_steps
    probe = make_data(seed=9).X
    np.testing.assert_array_equal(now.predict_proba(probe), before.predict_proba(probe))


def test_a_column_empty_in_training_keeps_its_place(gappy):
    frame = gappy.frame.copy()
    frame["n1"] = np.nan
    data = Dataset(frame, gappy.spec)
    for name in ("gb", "rf"):
        model = train(data, name, params=SMALL[name], importance_repeats=1)
        assert isinstance(model.pipeline_[0], FillEmpty)
        assert model.metadata()["missing_values"]["missing_in_training"]["n1"] > 0
        X = data.X.copy()
        base = model.predict_proba(X)
        X["n1"] = 5.0  # a value it never saw has no effect: the column is filled
        np.testing.assert_array_equal(model.predict_proba(X), base)
    assert model.metadata()["missing_values"]["handling"] == "native"


def test_a_user_estimator_gets_the_imputer_unless_it_takes_nan(gappy):
    assert accepts_missing(HistGradientBoostingClassifier())
    assert not accepts_missing(LogisticRegression())
    assert not accepts_missing(object())  # no scikit-learn tags: unknown, so imputed
    native = train(gappy, HistGradientBoostingClassifier(max_iter=20), importance_repeats=1)
    assert [n for n, _ in native.pipeline_.steps] == ["model"]
    assert native.metadata()["missing_values"]["handling"] == "native"
    imputed = train(gappy, LogisticRegression(), importance_repeats=1)
    assert [n for n, _ in imputed.pipeline_.steps] == ["impute", "model"]
    assert imputed.metadata()["missing_values"]["handling"] == "median imputer"


def test_metadata_round_trips_and_older_model_folders_still_load(tmp_path, gappy):
    model = train(gappy, "rf", params=SMALL["rf"], importance_repeats=1)
    loaded = load_model(model.save(tmp_path / "new"))
    assert loaded.missing_in_training == model.missing_in_training
    saved = json.loads((tmp_path / "new" / "metadata.json").read_text())
    assert saved["missing_values"]["handling"] == "native"

    # A model folder of an earlier version: the imputer in front of the forest, and no
    # missing-value record in its metadata.
    X, y = gappy.X, gappy.y.to_numpy()
    old = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("model", make_estimator("rf", seed=0, params={"n_estimators": 10, "n_jobs": 1})),
        ]
    ).fit(X, y)
    meta = TrainedClassifier(gappy.spec, old, estimator_name="rf").metadata()
    del meta["missing_values"]
    write_model_folder(tmp_path / "old", old, gappy.spec, None, meta)
    again = load_model(tmp_path / "old")
    np.testing.assert_array_equal(again.predict_proba(X), old.predict_proba(X))
    assert again.missing_in_training is None
    handling = again.metadata()["missing_values"]
    assert handling["handling"] == "median imputer"
    assert set(handling["imputed_with"]) == set(FEATURES)
    assert handling["missing_in_training"] is None


def test_a_model_that_cannot_take_nan_says_so():
    from sensecf.models import missing_value_handling

    X = pd.DataFrame({"x": np.arange(20.0)})
    pipe = Pipeline([("model", LogisticRegression())]).fit(X, [0] * 10 + [1] * 10)
    assert missing_value_handling(pipe, ["x"]) == {"handling": "none"}
