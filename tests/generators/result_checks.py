"""Checks of the tidy result table that every generator test shares."""

import numpy as np

from sensecf.generators import CounterfactualResult
from sensecf.models import TrainedClassifier


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
