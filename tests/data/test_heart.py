"""read_uci_heart: the UCI file and the Kaggle heart.csv, normalised to one (UCI) coding."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sensecf.data.heart import FEATURES, heart_spec, read_uci_heart
from sensecf.errors import DataError

# Eight Cleveland patients as processed.cleveland.data writes them (two with a '?') ...
UCI_ROWS = """\
63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0
37.0,1.0,3.0,130.0,250.0,0.0,0.0,187.0,0.0,3.5,3.0,0.0,3.0,0
41.0,0.0,2.0,130.0,204.0,0.0,2.0,172.0,0.0,1.4,1.0,0.0,3.0,0
62.0,1.0,2.0,120.0,281.0,0.0,2.0,103.0,0.0,1.4,2.0,1.0,7.0,3
55.0,0.0,4.0,128.0,205.0,0.0,1.0,130.0,1.0,2.0,2.0,1.0,7.0,3
58.0,1.0,4.0,114.0,318.0,0.0,1.0,140.0,0.0,4.4,3.0,3.0,6.0,4
53.0,0.0,3.0,128.0,216.0,0.0,2.0,115.0,0.0,0.0,1.0,0.0,?,0
43.0,1.0,4.0,132.0,247.0,1.0,2.0,143.0,1.0,0.1,2.0,?,7.0,1
"""
# ... and the same patients as the Kaggle heart.csv has them (its own codes; target inverted).
KAGGLE_CSV = """\
age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,target
63,1,3,145,233,1,0,150,0,2.3,0,0,1,1
37,1,2,130,250,0,1,187,0,3.5,0,0,2,1
41,0,1,130,204,0,0,172,0,1.4,2,0,2,1
62,1,1,120,281,0,0,103,0,1.4,1,1,3,0
55,0,0,128,205,0,2,130,1,2,1,1,3,0
58,1,0,114,318,0,2,140,0,4.4,0,3,1,0
53,0,2,128,216,0,0,115,0,0,2,0,0,1
43,1,0,132,247,1,0,143,1,0.1,1,4,3,0
"""
HEADER = ",".join([*FEATURES, "num"])


def _read(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows with missing values are dropped, with a warning
        return read_uci_heart(path, **kwargs)


@pytest.fixture
def uci_file(tmp_path):
    path = tmp_path / "processed.cleveland.data"
    path.write_text(UCI_ROWS + "\n")  # the real file ends with a newline; a blank line is no row
    return path


@pytest.fixture
def kaggle_file(tmp_path):
    path = tmp_path / "heart.csv"
    path.write_text(KAGGLE_CSV)
    return path


def test_headerless_uci_file(uci_file):
    with pytest.warns(UserWarning, match=r"dropped 2 of 8 rows.*ca: 1, thal: 1"):
        data = read_uci_heart(uci_file)
    assert len(data) == 6
    assert data.info["form"] == "headerless" and data.info["coding"] == "uci"
    assert data.info["dropped_rows"] == 2
    assert data.info["missing_by_column"] == {"ca": 1, "thal": 1}
    assert data.y.tolist() == [0, 0, 0, 1, 1, 1]  # num > 0
    assert data.frame["record"].tolist() == [1, 2, 3, 4, 5, 6]
    first = data.X.iloc[0]
    assert first["cp"] == 1 and first["restecg"] == 2 and first["slope"] == 3 and first["thal"] == 6
    assert data.spec.target == "heart_disease" and data.spec.desired_class == 0


def test_kaggle_file_is_recoded_to_the_uci_coding(uci_file, kaggle_file):
    uci, kaggle = _read(uci_file), _read(kaggle_file)
    assert kaggle.info["form"] == "header" and kaggle.info["coding"] == "kaggle"
    assert kaggle.info["label_rule"] == "heart_disease = 1 - target"
    assert kaggle.info["missing_by_column"] == {"ca": 1, "thal": 1}  # ca 4 and thal 0
    pd.testing.assert_frame_equal(uci.frame, kaggle.frame)


def test_kaggle_target_taken_as_labelled(kaggle_file):
    data = _read(kaggle_file, kaggle_target="disease")
    assert data.y.tolist() == [1, 1, 1, 0, 0, 0]
    assert data.info["label_rule"] == "heart_disease = target"
    with pytest.raises(DataError, match="kaggle_target"):
        read_uci_heart(kaggle_file, kaggle_target="yes")


def test_header_with_num_in_uci_coding_any_column_order(tmp_path, uci_file):
    frame = pd.read_csv(uci_file, header=None, names=[*FEATURES, "num"], na_values="?")
    frame = frame[["num", *reversed(FEATURES)]]
    path = tmp_path / "cleveland.csv"
    frame.to_csv(path, index=False)  # missing values become empty fields
    data = _read(path)
    assert data.info["coding"] == "uci" and data.info["dropped_rows"] == 2
    pd.testing.assert_frame_equal(data.frame, _read(uci_file).frame)


def test_ambiguous_rows_follow_the_label_name(tmp_path):
    # cp 2, slope 1, thal 3: codes valid in both codings; the label's name decides.
    row = "41,0,2,130,204,0,2,172,0,1.4,1,0,3,{label}"
    header = ",".join(FEATURES)
    (tmp_path / "num.csv").write_text(f"{header},num\n" + row.format(label=2) + "\n")
    (tmp_path / "target.csv").write_text(f"{header},target\n" + row.format(label=0) + "\n")
    num, target = _read(tmp_path / "num.csv"), _read(tmp_path / "target.csv")
    assert num.info["coding"] == "uci" and num.X["cp"].item() == 2 and num.y.item() == 1
    assert target.info["coding"] == "kaggle" and target.X["cp"].item() == 3
    assert target.y.item() == 1  # Kaggle target 0 = disease


def test_zero_cholesterol_or_blood_pressure_means_not_measured(tmp_path):
    path = tmp_path / "processed.switzerland.data"
    path.write_text(
        "32,1,1,95,0,?,0,127,0,.7,1,?,?,1\n"
        "65,1,4,115,0,0,0,93,1,0,2,1,7,1\n"
        "61,1,4,0,260,0,0,120,1,1,2,1,7,1\n"
        "60,1,4,160,267,1,1,157,0,0.5,2,0,7,1\n"
    )
    data = _read(path)
    assert len(data) == 1 and data.info["dropped_rows"] == 3
    assert data.info["missing_by_column"]["chol"] == 2
    assert data.info["missing_by_column"]["trestbps"] == 1


def test_wrong_number_of_values_names_the_line(tmp_path):
    path = tmp_path / "short.data"
    lines = UCI_ROWS.splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]  # 13 values
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"short\.data, line 3: expected 14 .*found 13"):
        read_uci_heart(path)


def test_unknown_header(tmp_path):
    path = tmp_path / "heart_cleveland_upload.csv"
    path.write_text(
        ",".join([*FEATURES, "condition"]) + "\n" + "63,1,0,145,233,1,2,150,0,2.3,2,0,1,0\n"
    )
    with pytest.raises(DataError, match=r"line 1: not a heart-disease header.*\['condition'\]"):
        read_uci_heart(path)
    path.write_text("age,sex,cp,target\n63,1,3,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['trestbps'"):
        read_uci_heart(path)


def test_non_numeric_value_names_file_line_and_column(tmp_path):
    path = tmp_path / "text.data"
    path.write_text(UCI_ROWS.replace("233.0", "high", 1))
    with pytest.raises(
        DataError, match=r"text\.data, line 1, column 'chol': 'high' is not a number"
    ):
        read_uci_heart(path)


def test_code_outside_its_coding(tmp_path):
    path = tmp_path / "code.data"
    path.write_text(UCI_ROWS.replace(",3.0,0.0,6.0,0", ",3.0,0.0,5.0,0", 1))
    with pytest.raises(DataError, match=r"line 1: thal = 5 is not a code of the UCI coding"):
        read_uci_heart(path)
    path.write_text(UCI_ROWS.replace(",6.0,0\n", ",6.0,7\n", 1))
    with pytest.raises(DataError, match=r"line 1: the label = 7 is not a code"):
        read_uci_heart(path)


def test_mixed_codings(tmp_path):
    path = tmp_path / "mixed.csv"
    uci_row = UCI_ROWS.splitlines()[4]  # cp 4: UCI only
    kaggle_row = KAGGLE_CSV.splitlines()[1]  # thal 1: Kaggle only
    path.write_text(f"{HEADER}\n{uci_row}\n{kaggle_row}\n")
    with pytest.raises(DataError, match="mixes two codings"):
        read_uci_heart(path)


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_uci_heart(tmp_path / "nope.data")
    (tmp_path / "empty.data").write_text("\n")
    with pytest.raises(DataError, match="no rows"):
        read_uci_heart(tmp_path / "empty.data")
    (tmp_path / "all_missing.data").write_text("63,1,1,145,233,1,2,150,0,2.3,3,?,6,0\n")
    with pytest.raises(DataError, match="no complete rows"):
        _read(tmp_path / "all_missing.data")


def test_packaged_spec():
    spec = heart_spec()
    assert spec.feature_names == list(FEATURES)
    assert spec.classes == {0: "no heart disease", 1: "heart disease"}
    kinds = {f.name: f.kind for f in spec.features}
    assert {n for n, k in kinds.items() if k == "categorical"} == {"cp", "restecg", "slope", "thal"}
    assert {n for n, k in kinds.items() if k == "binary"} == {"sex", "fbs", "exang"}
    assert kinds["ca"] == "integer" and spec.feature("ca").bounds == (0, 3)
    assert spec.feature("thal").levels == (3, 6, 7)
    assert spec.feature("sex").label(1) == "male"
    fixed = {f.name for f in spec.features if f.mutability == "fixed"}
    assert fixed == {"age", "sex", "cp", "restecg", "ca", "thal"}
    assert spec.feature("thalach").mutability == "increase"
    for name in ("trestbps", "chol", "oldpeak", "fbs", "exang"):
        assert spec.feature(name).mutability == "decrease"
    assert all(f.description and f.group for f in spec.features)
    assert spec.feature("oldpeak").step == pytest.approx(0.1)


def test_data_lie_within_the_spec_bounds(uci_file):
    data = _read(uci_file)
    for feature in data.spec.features:
        lower, upper = feature.bounds
        assert np.all((data.X[feature.name] >= lower) & (data.X[feature.name] <= upper)), (
            feature.name
        )
