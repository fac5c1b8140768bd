"""The result contract: its home, its columns and dtypes, and a save/load round trip."""

import numpy as np
import pandas as pd
import pytest

import sensecf
import sensecf.generators
import sensecf.generators.base
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import DataError
from sensecf.results import (
    CF_KEY_COLUMNS,
    LLM_SOURCES,
    PROVENANCE_COLUMNS,
    SOURCES,
    CounterfactualResult,
    cf_columns,
    empty_cfs,
)

SPEC = DatasetSpec(
    target="y",
    classes={0: "well", 1: "ill"},
    desired_class=0,
    id_columns=("pid",),
    features=(
        FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase"),
        FeatureSpec(name="sleep", bounds=(0, 900), step=1),
    ),
)


def test_the_old_homes_still_give_the_same_objects():
    for home in (sensecf.generators.base, sensecf.generators):
        assert home.CounterfactualResult is CounterfactualResult
        assert home.PROVENANCE_COLUMNS is PROVENANCE_COLUMNS
        assert home.SOURCES is SOURCES
    assert sensecf.CounterfactualResult is CounterfactualResult
    assert set(LLM_SOURCES) < set(SOURCES)


def test_cf_columns_order():
    assert cf_columns(SPEC, ["dice_class"]) == [
        *CF_KEY_COLUMNS,
        "steps",
        "sleep",
        "proba_desired",
        "valid",
        *PROVENANCE_COLUMNS,
        "dice_class",
    ]


def test_an_empty_table_is_typed_and_survives_a_round_trip(tmp_path):
    cfs = empty_cfs(SPEC, ["round"])
    assert list(cfs.columns) == cf_columns(SPEC, ["round"]) and len(cfs) == 0
    dtypes = cfs.dtypes.astype(str).to_dict()
    assert [dtypes[c] for c in ("query_id", "rank", "llm_calls")] == ["int64"] * 3
    assert [dtypes[c] for c in ("steps", "sleep", "proba_desired", "seconds")] == ["float64"] * 4
    assert dtypes["valid"] == "bool"
    assert pd.api.types.is_string_dtype(cfs["method"]) and pd.api.types.is_string_dtype(
        cfs["source"]
    )
    queries = pd.DataFrame(
        {
            "query_id": [0],
            "pid": ["p1"],
            "steps": [3000.0],
            "sleep": [400.0],
            "proba_desired": [0.2],
            "n_cfs": [0],
            "seconds": [0.1],
            "error": [""],
        }
    )
    result = CounterfactualResult("none", 0, SPEC, queries, cfs, {"note": 1})
    assert result.coverage == 0.0 and np.isnan(result.validity)
    assert "0 CFs for 1 queries" in repr(result)
    back = CounterfactualResult.load(result.save(tmp_path / "r"))
    assert list(back.cfs.columns) == list(cfs.columns) and back.info == {"note": 1}
    assert back.cfs["steps"].dtype == "float64" and back.spec == SPEC


def test_query_and_cf_matrices_line_up():
    queries = pd.DataFrame(
        {"query_id": [0, 1], "pid": ["a", "b"], "steps": [1.0, 2.0], "sleep": [10.0, 20.0]}
    )
    cfs = pd.DataFrame(
        {
            "query_id": [1, 1, 0],
            "method": "m",
            "rank": [0, 1, 0],
            "steps": [5.0, 6.0, 7.0],
            "sleep": [50.0, 60.0, 70.0],
            "valid": [True, False, True],
        }
    )
    result = CounterfactualResult("m", 0, SPEC, queries.assign(n_cfs=[1, 2]), cfs)
    np.testing.assert_array_equal(result.query_matrix(), [[2, 20], [2, 20], [1, 10]])
    np.testing.assert_array_equal(result.cf_matrix()[:, 0], [5, 6, 7])
    assert result.validity == pytest.approx(2 / 3) and result.coverage == 1.0


def test_loading_a_folder_without_a_result_says_so(tmp_path):
    with pytest.raises(DataError, match="not a counterfactual result folder"):
        CounterfactualResult.load(tmp_path)
