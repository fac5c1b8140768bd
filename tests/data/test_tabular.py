"""read_table: a CSV/Parquet table plus a spec (given, found beside it, or inferred)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.data.tabular import read_table
from sensecf.errors import DataError, SpecError

CSV = """pid,age,smoker,sleep_h,y
1,41,0,6.5,1
2,62,1,7.25,0
3,55,0,8.0,0
4,38,1,5.5,1
"""


def _spec() -> DatasetSpec:
    return DatasetSpec(
        name="toy",
        target="y",
        classes={0: "well", 1: "unwell"},
        desired_class=0,
        id_columns=("pid",),
        features=(
            FeatureSpec(name="age", kind="integer", bounds=(18, 100), mutability="fixed"),
            FeatureSpec(name="smoker", kind="binary", bounds=(0, 1), mutability="decrease"),
            FeatureSpec(name="sleep_h", unit="h", bounds=(0, 16), mutability="increase", step=0.25),
        ),
    )


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "toy.csv"
    path.write_text(CSV)
    return path


def test_spec_found_beside_the_file(table):
    _spec().to_yaml(table.with_suffix(".spec.yaml"))
    data = read_table(table)
    assert isinstance(data, Dataset)
    assert len(data) == 4
    assert data.X.columns.tolist() == ["age", "smoker", "sleep_h"]
    assert data.y.tolist() == [1, 0, 0, 1]
    assert data.info["dropped_rows"] == 0
    assert data.info["spec"].endswith("toy.spec.yaml")
    assert data.source == str(table)


def test_spec_given_as_object_or_path(table, tmp_path):
    spec_path = tmp_path / "elsewhere.yaml"
    _spec().to_yaml(spec_path)
    by_object = read_table(table, _spec())
    by_path = read_table(table, str(spec_path))
    pd.testing.assert_frame_equal(by_object.frame, by_path.frame)
    assert by_object.info["spec"] == "given"


def test_columns_in_any_order_and_parquet(table, tmp_path):
    frame = pd.read_csv(table)[["y", "sleep_h", "pid", "smoker", "age"]]
    path = tmp_path / "toy.parquet"
    frame.to_parquet(path)
    data = read_table(path, _spec())
    assert data.frame.columns.tolist() == ["pid", "age", "smoker", "sleep_h", "y"]
    assert data.X["sleep_h"].tolist() == [6.5, 7.25, 8.0, 5.5]


def test_inferred_spec_warns_and_uses_the_options(table):
    with pytest.warns(UserWarning, match="inferred"):
        data = read_table(table, target="y", group_column="pid", fixed=["age"])
    spec = data.spec
    assert spec.id_columns == ("pid",) and spec.group_column == "pid"
    assert spec.feature("age").mutability == "fixed"
    assert spec.feature("smoker").kind == "binary"
    assert data.info["spec"] == "inferred"
    assert data.groups.tolist() == [1, 2, 3, 4]


def test_rows_keep_missing_features_and_drop_missing_labels(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,0,,1\n2,62,1,7.25,0\n3,,0,8.0,\n4,38,1,5.5,1\n")
    with pytest.warns(UserWarning, match=r"dropped 1 of 4 rows with a missing label"):
        data = read_table(path, _spec())
    assert data.frame["pid"].tolist() == [1, 2, 4]
    assert np.isnan(data.frame["sleep_h"].iloc[0])
    assert data.info["dropped_rows"] == 1
    assert data.info["rows_read"] == 4
    assert data.info["missing_by_column"] == {"age": 1, "sleep_h": 1, "y": 1}


def test_rows_missing_a_required_feature_are_dropped(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,0,,1\n2,62,1,7.25,0\n3,50,0,8.0,0\n")
    spec = _spec().update_feature("sleep_h", required=True)
    with pytest.warns(UserWarning, match=r"dropped 1 of 3 rows with a missing label or required"):
        data = read_table(path, spec)
    assert data.frame["pid"].tolist() == [2, 3]
    assert data.info["missing_by_column"] == {"sleep_h": 1}


def test_no_row_with_a_label_is_a_data_error(tmp_path):
    path = tmp_path / "nolabels.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,0,6.5,\n")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no usable rows.*label 'y'"):
        read_table(path, _spec())


def test_non_numeric_value_names_file_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,0,6.5,1\n2,62,1,lots,0\n")
    with pytest.raises(DataError, match=r"bad\.csv.*'sleep_h'.*row 1.*'lots'"):
        read_table(path, _spec())


def test_unknown_and_missing_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("pid,age,smoker,sleep_h,y,bmi\n1,41,0,6.5,1,22\n")
    with pytest.raises(DataError, match=r"cols\.csv.*unknown column\(s\) \['bmi'\]"):
        read_table(path, _spec())
    path.write_text("pid,age,sleep_h,y\n1,41,6.5,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['smoker'\]"):
        read_table(path, _spec())


def test_label_that_is_not_a_class(tmp_path):
    path = tmp_path / "label.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,0,6.5,1\n2,62,1,7.0,2\n")
    with pytest.raises(DataError, match=r"label\.csv.*target 'y'.*row 1 holds 2"):
        read_table(path, _spec())


def test_code_that_is_not_a_level(tmp_path):
    path = tmp_path / "level.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,41,3,6.5,1\n")
    with pytest.raises(DataError, match=r"'smoker' takes levels \[0\.0, 1\.0\]; row 0 holds 3"):
        read_table(path, _spec())


def test_no_spec_anywhere(table):
    with pytest.raises(DataError, match=r"no spec for .*toy\.spec\.yaml.*target="):
        read_table(table)


def test_spec_and_inference_options_do_not_mix(table):
    with pytest.raises(SpecError, match="either a spec"):
        read_table(table, _spec(), target="y")
    with pytest.raises(SpecError, match="need target="):
        read_table(table, fixed=["age"])


def test_inference_errors_name_the_file(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("name,age,y\nann,40,0\nbob,50,1\n")
    with (
        pytest.raises(DataError, match=r"text\.csv: cannot infer a spec.*'name'"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        read_table(path, target="y")


def test_every_row_misses_a_required_feature(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("pid,age,smoker,sleep_h,y\n1,,0,6.5,1\n")
    spec = _spec().update_feature("age", required=True)
    with pytest.raises(DataError, match=r"no usable rows.*\['age'\]"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_table(path, spec)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "nope.csv", _spec())
