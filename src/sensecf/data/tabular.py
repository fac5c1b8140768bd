"""Any CSV/Parquet table plus a spec, read into a :class:`~sensecf.data.dataset.Dataset`.

The spec comes from one of three places, in this order:

1. the ``spec`` argument (a :class:`DatasetSpec` or the path of a spec YAML file);
2. ``target=``: a spec is inferred from the table by :func:`infer_spec` (with a warning: an
   inferred spec guesses kinds, bounds and mutability from the data, and should be reviewed, edited
   and saved next to the table);
3. otherwise a spec file beside the table, found by :func:`~sensecf.data.dataset.find_spec_file`
   (``cohort.spec.yaml`` or ``spec.yaml`` next to ``cohort.csv``).

The table must hold exactly the spec's columns (id columns, features, target; any order). A row
keeps its missing feature values (real recordings have gaps: a stream absent for some people or
days), unless the feature is ``required`` in the spec; a row without a label, or without a
required feature, is dropped, counted in ``info["dropped_rows"]`` and reported in a warning.
Missing values are counted per column in ``info["missing_by_column"]`` either way. Everything else that is wrong — a column missing or unknown, a value that is
not a number, a code that is not a level of a categorical feature, a label that is not a class — is
a :class:`DataError` naming the file, the row and the column. Rows are counted from 0, the first
data row after the header, as pandas counts them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from sensecf.data.dataset import Dataset, find_spec_file
from sensecf.data.io import read_table_file
from sensecf.data.spec import DatasetSpec, infer_spec
from sensecf.errors import DataError, SpecError

__all__ = ["read_table", "drop_incomplete_rows"]


def read_table(
    path: str | os.PathLike,
    spec: DatasetSpec | str | os.PathLike | None = None,
    *,
    target: str | None = None,
    id_columns: Sequence[str] = (),
    group_column: str | None = None,
    fixed: Iterable[str] = (),
) -> Dataset:
    """Read a CSV/Parquet table with its spec; drop (and count) rows without a label or a
    required feature, keep the other missing values.

    ``target``, ``id_columns``, ``group_column`` and ``fixed`` are for inferring a spec; they
    cannot be combined with a given or found spec (edit the spec instead). ``group_column`` (e.g. a
    person id, for grouped train/test splits) is added to ``id_columns`` if not listed there.

    >>> import tempfile, warnings, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("pid,age,steps,y\\n1,40,5000,0\\n2,61,,1\\n3,55,12000,\\n")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     data = read_table(path, target="y", id_columns=["pid"], fixed=["age"])
    >>> len(data), data.info["dropped_rows"], data.info["missing_by_column"]
    (2, 1, {'steps': 1, 'y': 1})
    >>> data.spec.feature("age").mutability
    'fixed'
    """
    path = Path(path)
    inference_args = target is not None or bool(id_columns) or group_column is not None
    fixed = list(fixed)
    if spec is not None and (inference_args or fixed):
        raise SpecError(
            "pass either a spec or the arguments to infer one (target=, id_columns=, "
            "group_column=, fixed=), not both; to change a spec, edit it "
            "(e.g. spec.update_feature(name, mutability='fixed'))"
        )
    frame = read_table_file(path)
    source = str(path)
    if isinstance(spec, DatasetSpec):
        origin = "given"
    elif spec is not None:
        spec_path = Path(spec)
        spec = DatasetSpec.from_yaml(spec_path)
        origin = str(spec_path)
    elif target is not None:
        ids = list(id_columns)
        if group_column is not None and group_column not in ids:
            ids.append(group_column)
        try:
            spec = infer_spec(
                frame,
                target,
                id_columns=ids,
                group_column=group_column,
                fixed=fixed,
                name=path.stem,
            )
        except ValueError as exc:  # DataError/SpecError, or pandas on a non-numeric target
            raise DataError(f"{source}: cannot infer a spec: {exc}") from exc
        origin = "inferred"
        warnings.warn(
            f"{source}: the spec was inferred from the data; review its kinds, bounds and "
            f"mutability, then save it beside the table (spec.to_yaml({path.stem + '.spec.yaml'!r}))",
            UserWarning,
            stacklevel=2,
        )
    else:
        if inference_args or fixed:
            raise SpecError("id_columns=, group_column= and fixed= need target= to infer a spec")
        found = find_spec_file(path)
        if found is None:
            raise DataError(
                f"no spec for {source}: expected {path.with_suffix('.spec.yaml').name} or "
                "spec.yaml beside it, or pass spec= (a spec or its YAML path) or target= "
                "(to infer one)"
            )
        spec = DatasetSpec.from_yaml(found)
        origin = str(found)

    _check_columns(frame, spec, source)
    # Check values before dropping rows, so the row numbers in errors are the file's.
    frame = spec.validate_frame(frame, source=source, require_target=False)
    _check_target(frame, spec, source)
    frame, info = drop_incomplete_rows(frame, spec, source=source, stacklevel=3)
    if frame.empty:
        raise DataError(
            f"{source}: no usable rows: every row misses its label {spec.target!r}"
            + (f" or a required feature {spec.required_features}" if spec.required_features else "")
        )
    info = {"source": source, "spec": origin, **info}
    return Dataset(frame, spec, info, source=source)


def drop_incomplete_rows(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    source: str = "table",
    stacklevel: int = 2,
    required: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Drop rows without a label or a required feature; return the rest and what was dropped.

    ``required`` names the features a row must have (default: the spec's
    :attr:`~sensecf.data.spec.DatasetSpec.required_features`); other missing feature values are
    kept. The second value holds ``rows_read``, ``dropped_rows`` and ``missing_by_column``
    (missing values per column, label included, only for columns that have any, counted before
    rows are dropped). A warning says how many rows went.

    >>> spec = infer_spec(pd.DataFrame({"x": [1.0, 2.0], "z": [1.0, 2.0], "y": [0, 1]}), "y")
    >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "z": [None, 2.0, 3.0], "y": [0, 1, None]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     kept, info = drop_incomplete_rows(frame, spec)
    >>> len(kept), info["dropped_rows"], info["missing_by_column"]
    (2, 1, {'x': 1, 'z': 1, 'y': 1})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     kept, info = drop_incomplete_rows(frame, spec, required=["x"])
    >>> len(kept), info["dropped_rows"]
    (1, 2)
    """
    required = spec.required_features if required is None else list(required)
    unknown = [c for c in required if c not in spec.feature_names]
    if unknown:
        raise SpecError(
            f"required features {unknown} are not in the spec; its features are "
            f"{spec.feature_names}"
        )
    columns = [*spec.feature_names, spec.target]
    missing = frame[columns].isna()
    per_column = {c: int(n) for c, n in missing.sum().items() if n}
    incomplete = missing[[*required, spec.target]].any(axis=1).to_numpy()
    dropped = int(incomplete.sum())
    if dropped:
        detail = ", ".join(f"{c}: {n}" for c, n in per_column.items())
        what = "a missing label or required feature" if required else "a missing label"
        warnings.warn(
            f"{source}: dropped {dropped} of {len(frame)} rows with {what} "
            f"(missing values per column: {detail})",
            UserWarning,
            stacklevel=stacklevel,
        )
    info = {"rows_read": len(frame), "dropped_rows": dropped, "missing_by_column": per_column}
    return frame.loc[~incomplete].reset_index(drop=True), info


def _check_columns(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> None:
    expected = [*spec.id_columns, *spec.feature_names, spec.target]
    missing = [c for c in expected if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in expected]
    problems = []
    if missing:
        problems.append(f"missing column(s) {missing}")
    if unknown:
        problems.append(
            f"unknown column(s) {unknown} (add them to the spec as features or id_columns, "
            "or remove them from the file)"
        )
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems) + f"; the spec expects {expected}")


def _check_target(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> None:
    """Every present label must be one of the spec's classes (missing labels are dropped later)."""
    raw = frame[spec.target]
    labels = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & labels.isna()) | (labels.notna() & ~labels.isin(list(spec.classes)))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        value = raw.iloc[row]
        value = value.item() if hasattr(value, "item") else value  # np.int64(2) → 2
        raise DataError(
            f"{source}: target {spec.target!r} takes classes {sorted(spec.classes)}; "
            f"row {row} holds {value!r}"
        )
