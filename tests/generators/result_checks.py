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
