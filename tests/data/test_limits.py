"""Per-person limits files: reading, checking, resolving per query, and what they narrow."""

import math

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import violations
from sensecf.data.dataset import Dataset
from sensecf.data.limits import Limits, PersonLimits
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.errors import DataError


def _data() -> Dataset:
    spec = DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        id_columns=("person_id", "date"),
        group_column="person_id",
        features=(
            FeatureSpec(name="sleep", bounds=(0, 900), step=1, mutability="increase"),
            FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase"),
            FeatureSpec(name="shift", kind="categorical", levels=(0, 1, 2), bounds=(0, 2)),
        ),
    )
    frame = pd.DataFrame(
        {
            "person_id": [1, 1, 2, 3],
            "date": ["d1", "d2", "d1", "d1"],
            "sleep": [400.0, 380, 420, 300],
            "steps": [4000, 5000, 3000, 9000],
            "shift": [0, 1, 2, 0],
            "y": [1, 1, 1, 0],
        }
    )
    return Dataset(frame, spec)


def test_a_csv_file_is_read_and_resolved_per_person_and_day(tmp_path):
    data = _data()
    path = tmp_path / "limits.csv"
    pd.DataFrame(
        {
            "person_id": [1, 1, 2],
            "date": [None, "d2", None],
            "keep": ["sleep", "sleep;steps", None],
            "steps_max": [6000, None, None],
            "max_changes": [None, None, 1],
        }
    ).to_csv(path, index=False)
    limits = PersonLimits.read(path, data.spec, data)
    person = limits.resolve(data.frame)
    assert person[0] == Limits(("sleep",), (("steps", -math.inf, 6000.0),), None)
    assert person[1].keep == ("sleep", "steps")  # the day's own row wins over the person's
    assert person[2].max_changes == 1 and person[3] is None
    assert person[0].text() == "keep sleep as it is; steps at most 6000"
    narrowed = person[0].narrow(data.spec)
    assert narrowed.feature("sleep").mutability == "fixed"
    assert narrowed.feature("steps").bounds == (0, 6000)


def test_row_limits_count_what_a_change_breaks_once():
    data = _data()
    limits = [Limits(("sleep",), (("steps", -math.inf, 6000.0),), 1)] * 3
    rows = PersonLimits.rows(data.spec, limits)
    query = np.array([[400.0, 4000, 0]] * 3)
    cfs = np.array(
        [
            [420.0, 4000, 0],  # a kept feature changed
            [400.0, 7000, 1],  # steps above the person's 6000, and two changes for a cap of 1
            [400.0, 60000, 0],  # above the spec's own bound: a bounds violation, not a limit's
        ]
    )
    table = violations(data.spec, query, cfs, rows)
    assert table["limits"].tolist() == [1, 2, 0]
    assert table["bounds"].tolist() == [0, 0, 1]
    assert violations(data.spec, query, cfs)["limits"].tolist() == [0, 0, 0]


def test_unknown_people_and_features_are_named_on_one_line(tmp_path):
    data = _data()
    path = tmp_path / "limits.csv"
    pd.DataFrame(
        {
            "person_id": [1, 7, 9],
            "keep": ["sleep;naps", None, None],
            "walk_max": [None, 100, None],
        }
    ).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        PersonLimits.read(path, data.spec, data)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    assert "unknown people 7, 9" in message
    assert "naps (in keep, row 0)" in message and "walk (column walk_max)" in message


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ({"max_changes": [0]}, "row 0: max_changes must be a positive integer; got 0"),
        ({"steps_min": [9000], "steps_max": [8000]}, "row 0: steps bounds [9000, 8000] leave"),
        ({"shift_max": [1]}, "shift is coded (categorical): keep it rather than bound it"),
        ({"colour": ["red"]}, "unknown columns colour"),
        ({"steps_max": ["lots"]}, "row 0: steps_max must be a number; got 'lots'"),
    ],
)
def test_bad_values_are_named_with_their_row(columns, fragment):
    data = _data()
    with pytest.raises(DataError, match="limits: ") as info:
        PersonLimits.from_frame(pd.DataFrame({"person_id": [1], **columns}), data.spec, data)
    assert fragment in str(info.value)


def test_a_table_without_the_person_column_is_refused():
    with pytest.raises(DataError, match="expected a 'person_id' column"):
        PersonLimits.from_frame(pd.DataFrame({"pid": [1]}), _data().spec)
