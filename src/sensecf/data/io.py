"""Atomic file output and table input/output.

Outputs are written to a temporary file in the destination folder and then renamed into place,
so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.errors import DataError

TABLE_SUFFIXES = (".parquet", ".csv")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` only if it succeeds.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", lambda p: p.write_text("hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp makes owner-only files; an output gets the mode any new file would get.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    >>> import tempfile, pathlib
    >>> write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a" / "x.txt", b"hi").read_bytes()
    b'hi'
    """
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically; numpy scalars and paths are converted."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as Parquet or CSV (chosen by the suffix), atomically.

    >>> import tempfile, pathlib, pandas as pd
    >>> p = write_table(pd.DataFrame({"a": [1]}), pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> read_table_file(p)["a"].tolist()
    [1]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    if suffix == ".csv":
        return atomic_write(path, lambda p: frame.to_csv(p, index=False))
    raise DataError(f"table file must end in .parquet or .csv; got {path.name!r}")


def read_table_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Parquet or CSV table, with an error that names the file if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as exc:  # pandas/pyarrow raise many types; the user needs the file name
        raise DataError(f"cannot read table {path}: {exc}") from exc
    raise DataError(f"table file must end in .parquet, .csv or .tsv; got {path.name!r}")
