import pandas as pd
import pytest

from sensecf.data.io import atomic_write, read_table_file, write_json, write_table
from sensecf.errors import DataError


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")

    def crash(path):
        path.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_written_files_get_the_usual_mode_not_owner_only(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "info.json", {"a": 1})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_table_round_trips(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for name in ("t.csv", "t.parquet"):
        path = write_table(frame, tmp_path / name)
        pd.testing.assert_frame_equal(read_table_file(path), frame)
    with pytest.raises(DataError, match=r"must end in .parquet or .csv; got 't.xlsx'"):
        write_table(frame, tmp_path / "t.xlsx")


def test_unreadable_table_names_the_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read table .*bad.parquet"):
        read_table_file(bad)
    with pytest.raises(DataError, match="table file not found"):
        read_table_file(tmp_path / "none.csv")


def test_write_json_handles_numpy(tmp_path):
    import numpy as np

    path = write_json(tmp_path / "m.json", {"a": np.float64(0.5), "b": np.arange(2)})
    assert path.read_text().count("0.5") == 1
