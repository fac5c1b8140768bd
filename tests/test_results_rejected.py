"""The result's third table: the answers a method withheld, saved and loaded beside the CFs, and
counted by validity."""

import numpy as np
import pandas as pd

from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.results import CounterfactualResult, empty_cfs, empty_rejected, rejected_columns
from sensecf.runs import REJECTED

SPEC = DatasetSpec(
    target="y",
    classes={0: "well", 1: "ill"},
    desired_class=0,
    features=(
        FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase"),
        FeatureSpec(name="sleep", bounds=(0, 900), step=1),
    ),
)


def _result() -> CounterfactualResult:
    queries = pd.DataFrame(
        {
            "query_id": [0, 1],
            "steps": [3000.0, 4000.0],
            "sleep": [300.0, 320.0],
            "proba_desired": [0.2, 0.3],
            "n_cfs": [1, 0],
            "seconds": [0.1, 0.1],
            "error": ["", ""],
        }
    )
    cfs = empty_cfs(SPEC).reindex(range(1))
    cfs = cfs.assign(
        query_id=0, method="few-shot", rank=0, steps=9000.0, sleep=420.0, proba_desired=0.7
    )
    cfs = cfs.assign(valid=True, source="llm", llm_calls=1, prompt_tokens=10)
    cfs = cfs.assign(completion_tokens=5, seconds=0.1)
    rejected = pd.DataFrame(
        {
            "query_id": [1, 1],
            "method": "few-shot",
            "attempt": [0, 1],
            "steps": [4500.0, np.nan],
            "sleep": [320.0, np.nan],
            "proba_desired": [0.41, np.nan],
            "source": ["repair", "llm"],
            "round": [3, 0],
            "reason": ["not the desired class (P=0.41, 0.50 needed)", "could not be read: x"],
        }
    )
    return CounterfactualResult("few-shot", 0, SPEC, queries, cfs, rejected=rejected)


def test_every_result_has_a_typed_rejected_table_even_when_nothing_was_withheld():
    result = CounterfactualResult("oracle", 0, SPEC, pd.DataFrame(), empty_cfs(SPEC))
    assert list(result.rejected.columns) == rejected_columns(SPEC)
    assert result.rejected.dtypes.astype(str).to_dict() == (
        empty_rejected(SPEC).dtypes.astype(str).to_dict()
    )
    assert len(result.rejected) == 0


def test_withheld_answers_count_against_validity():
    result = _result()
    assert result.validity == 1 / 3  # one valid CF offered, two answers withheld
    assert result.coverage == 0.5
    assert "2 withheld" in repr(result)


def test_save_and_load_keep_the_rejected_table(tmp_path):
    result = _result()
    out = result.save(tmp_path / "r")
    assert (out / REJECTED).is_file()
    back = CounterfactualResult.load(out)
    pd.testing.assert_frame_equal(back.rejected, result.rejected)
    pd.testing.assert_frame_equal(back.cfs, result.cfs)


def test_a_folder_saved_before_the_rejected_table_existed_still_loads(tmp_path):
    out = _result().save(tmp_path / "old")
    (out / REJECTED).unlink()
    back = CounterfactualResult.load(out)
    assert len(back.rejected) == 0 and list(back.rejected.columns) == rejected_columns(SPEC)
    assert back.validity == 1.0  # what such a folder recorded is all it can say
