import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.io import write_table
from sensecf.data.loaders import load_dataset
from sensecf.data.spec import infer_spec
from sensecf.errors import DataError


@pytest.fixture
def data():
    df = pd.DataFrame(
        {"pid": [1, 1, 2, 3], "x": [0.5, 1.5, 2.5, 3.5], "z": [1, 2, 3, 4], "y": [0, 1, 0, 0]}
    )
    spec = infer_spec(
        df, "y", id_columns=["pid"], group_column="pid", classes={0: "well", 1: "ill"}
    )
    return Dataset(df, spec, info={"source": "test"})


def test_dataset_views(data):
    assert data.X.columns.tolist() == ["x", "z"]
    assert data.y.tolist() == [0, 1, 0, 0]
    assert data.groups.tolist() == [1, 1, 2, 3]
    assert data.class_counts() == {0: 3, 1: 1}
    assert "ill: 1" in repr(data)
    sub = data.subset(data.y == 0)
    assert len(sub) == 3 and sub.class_counts() == {0: 3, 1: 0}
    assert data.subset([3, 0]).X["x"].tolist() == [3.5, 0.5]


def test_feature_folder_round_trip(tmp_path, data):
    folder = data.save(tmp_path / "features")
    assert sorted(p.name for p in folder.iterdir()) == [
        "features.parquet",
        "info.json",
        "spec.yaml",
    ]
    back = load_dataset(folder)
    pd.testing.assert_frame_equal(back.frame, data.frame)
    assert back.spec == data.spec
    assert back.info == {"source": "test"}


def test_csv_with_spec_beside_it(tmp_path, data):
    write_table(data.frame, tmp_path / "cohort.csv")
    with pytest.raises(DataError, match="no spec for .*cohort.csv"):
        load_dataset(tmp_path / "cohort.csv")
    data.spec.to_yaml(tmp_path / "cohort.spec.yaml")
    back = load_dataset(tmp_path / "cohort.csv")
    assert back.X.equals(data.X)


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(DataError, match="not found: .*nowhere"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(DataError, match="is not a feature folder"):
        load_dataset(tmp_path)


def test_bad_rows_are_named(data):
    frame = data.frame.assign(x=[0.5, "n/a", 1.0, 2.0])
    with pytest.raises(DataError, match="feature 'x' must be numeric; row 1 holds 'n/a'"):
        Dataset(frame, data.spec, source="cohort.csv")


def test_feature_folder_keeps_rows_with_missing_values(tmp_path):
    df = pd.DataFrame({"x": [0.5, None, 2.5], "z": [1.0, 2.0, None], "y": [0, 1, 0]})
    spec = infer_spec(df, "y")
    folder = Dataset(df, spec).save(tmp_path / "features")
    data = load_dataset(folder)
    assert len(data) == 3
    assert data.X.isna().sum().to_dict() == {"x": 1, "z": 1}
