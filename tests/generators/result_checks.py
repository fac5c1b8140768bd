"""Checks of the tidy result table that every generator test shares."""

import numpy as np

from sensecf.generators import CounterfactualGenerator, CounterfactualResult
from sensecf.models import TrainedClassifier
from sensecf.results import cf_columns


def check_table(result: CounterfactualResult, clf: TrainedClassifier, desired: int) -> None:
    """The tidy table's columns, and validity re-checked with the project's decision rule."""
    names = clf.feature_names
    assert list(result.cfs.columns[:3]) == ["query_id", "method", "rank"]
    for column in [*names, "proba_desired", "valid", "source", "llm_calls", "seconds"]:
        assert column in result.cfs.columns
    for column in ["query_id", "pid", *names, "proba_desired", "n_cfs", "seconds", "error"]:
        assert column in result.queries.columns
    X = result.cf_matrix()
    np.testing.assert_allclose(result.cfs["proba_desired"], clf.proba_of(X, desired))
    assert result.cfs["valid"].tolist() == (clf.predict(X) == desired).tolist()
    counts = result.cfs.groupby("query_id").size()
    assert (result.queries.set_index("query_id")["n_cfs"].reindex(counts.index) == counts).all()


def check_columns(result: CounterfactualResult, generator: CounterfactualGenerator) -> None:
    """The generator's fixed column set, the same whether or not any query got a CF, and the
    contract's dtypes."""
    spec = result.spec
    assert list(result.cfs.columns) == cf_columns(spec, generator.extra_cf_columns)
    assert set(generator.query_info_columns) <= set(result.queries.columns)
    dtypes = result.cfs.dtypes.astype(str)
    assert (dtypes[spec.feature_names] == "float64").all()
    assert dtypes[["query_id", "rank", "llm_calls"]].tolist() == ["int64"] * 3
    assert dtypes[["proba_desired", "seconds"]].tolist() == ["float64"] * 2
    assert dtypes["valid"] == "bool"


def check_missing_kept(
    result: CounterfactualResult, model: TrainedClassifier, desired: int = 0
) -> None:
    """Every CF is missing exactly what its query is missing, and is judged by the real model
    on that row (NaN included)."""
    Q, C = result.query_matrix(), result.cf_matrix()
    assert np.isnan(Q).any()
    assert (np.isnan(C) == np.isnan(Q)).all()
    proba = model.proba_of(C, desired)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(result.cfs["proba_desired"], proba)
    assert result.cfs["valid"].tolist() == (model.predict(C) == desired).tolist()


class Spy:
    """A fitted estimator that records every row it is asked to score (as floats)."""

    def __init__(self, estimator: object) -> None:
        self.estimator = estimator
        self.seen: list[np.ndarray] = []

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba(self, X: object) -> np.ndarray:
        self.seen.append(np.asarray(X, dtype=float))
        return self.estimator.predict_proba(X)

    def rows(self) -> np.ndarray:
        return np.vstack(self.seen)


def check_package_sees_missing(make: object, gappy: object) -> None:
    """Fitted on a spying model, a generator asked about one query with missing values: every
    row the model scores while it generates is missing what the query is missing."""
    spy = Spy(gappy.model.pipeline_)
    generator = make().fit(spy, gappy.train)
    query = gappy.queries.subset(np.arange(1))
    missing = np.isnan(query.X.to_numpy(dtype=float)[0])
    spy.seen.clear()
    result = generator.generate(query)
    rows = spy.rows()
    assert missing.any() and len(rows) > 2
    assert np.isnan(rows[:, missing]).all()
    assert not np.isnan(rows[:, ~missing]).any()
    assert (np.isnan(result.cf_matrix()) == missing).all()
