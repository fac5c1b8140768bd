"""The UCI heart-disease data (Cleveland), read from either of its two common file forms.

Forms accepted by :func:`read_uci_heart`
-----------------------------------------
1. **UCI** ``processed.cleveland.data`` (also ``processed.hungarian/switzerland/va.data``): no
   header, 14 comma-separated values per line, ``?`` for a missing value, label ``num`` 0–4.
2. **A CSV with a header** naming the 13 features (``age, sex, cp, trestbps, chol, fbs, restecg,
   thalach, exang, oldpeak, slope, ca, thal``, any order) and a label ``num`` or ``target``. The
   popular Kaggle ``heart.csv`` (303 rows, label ``target``) is this form, in a coding of its own.

Codings, and the one this module returns
----------------------------------------
Everything is returned in the UCI coding (``heart-disease.names``): ``cp`` 1 typical angina,
2 atypical angina, 3 non-anginal pain, 4 asymptomatic; ``restecg`` 0 normal, 1 ST-T wave
abnormality, 2 left ventricular hypertrophy; ``slope`` 1 upsloping, 2 flat, 3 downsloping; ``ca``
0–3; ``thal`` 3 normal, 6 fixed defect, 7 reversible defect.

The Kaggle coding is not a shift of the UCI codes but a relabelling. Matching Kaggle rows to UCI
rows one by one (same age, blood pressure, cholesterol, heart rate and ST depression) gives the
table below; the code counts of the two 303-row files agree with it (Kaggle count vs UCI count, in
the order of the Kaggle codes):

========  ============================================  ===========================
column    Kaggle code → UCI code                        counts, Kaggle vs UCI
========  ============================================  ===========================
cp        0→4, 1→2, 2→3, 3→1                            143/50/87/23 vs 144/50/86/23
restecg   0→2, 1→0, 2→1                                 147/152/4 vs 148/151/4
slope     0→3, 1→2, 2→1                                 21/140/142 vs 21/140/142
thal      0→missing, 1→6, 2→3, 3→7                      2 missing in both
ca        0–3 unchanged, 4→missing                      5 fours vs 4 ``?`` (one 0 became 4)
target    1→no disease, 0→disease (inverted)            165 ones vs 164 with num = 0
========  ============================================  ===========================

The Kaggle file's ``target`` is commonly read as "1 = disease", yet every matched row with
``target`` 1 has ``num`` 0 in the UCI file, and ``target`` 1 goes with younger age, higher
heart rate and no exercise angina. So by default ``target`` 1 is read as *no* heart disease;
``kaggle_target="disease"`` reads it as labelled, for a copy whose labels were already fixed.

Which coding a file is in is decided from its values, since both forms can come with a header:
``cp`` 0, ``slope`` 0, ``thal`` 0–2 or ``ca`` 4 occur only in the Kaggle coding; ``cp`` 4,
``slope`` 3 or ``thal`` 6–7 only in the UCI coding. A file with both is an error; a file with
neither (a handful of rows) follows its label's name: ``target`` → Kaggle, ``num`` or no header → UCI.

Missing values, and the target
------------------------------
``?``, an empty field and ``NA``/``NaN`` are missing; so are the Kaggle missing codes (``thal`` 0,
``ca`` 4) and a cholesterol or resting blood pressure of 0 (the Switzerland and VA files use 0 for
"not measured"). Rows with any missing value are dropped and counted in ``info["dropped_rows"]``
(the Cleveland file keeps 297 of its 303 rows). The binary target ``heart_disease`` is 1 when
``num`` > 0 (a major vessel narrowed by more than 50%): presence (1–4) against absence (0), the
split the UCI documentation says experiments use. The desired class is 0, no heart disease. The id column ``record`` is the row's position among the
file's data rows (1 = the first), so a row can be traced back to its file.
"""

from __future__ import annotations

import csv
import math
import os
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.data.tabular import drop_incomplete_rows
from sensecf.errors import DataError

__all__ = ["read_uci_heart", "heart_spec", "looks_like_uci_heart", "FEATURES", "KAGGLE_TO_UCI"]

FEATURES: tuple[str, ...] = (
    "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg",
    "thalach", "exang", "oldpeak", "slope", "ca", "thal",
)  # fmt: skip
LABELS: tuple[str, ...] = ("num", "target")
TARGET = "heart_disease"
ID_COLUMN = "record"
SPEC_RESOURCE = "heart.spec.yaml"

MISSING_TOKENS = frozenset({"?", "", "na", "nan"})

# Codes each coding allows; anything else in a file is an error (a value NaN-free by then).
UCI_CODES: dict[str, set[float]] = {
    "sex": {0, 1}, "cp": {1, 2, 3, 4}, "fbs": {0, 1}, "restecg": {0, 1, 2}, "exang": {0, 1},
    "slope": {1, 2, 3}, "ca": {0, 1, 2, 3}, "thal": {3, 6, 7}, "label": {0, 1, 2, 3, 4},
}  # fmt: skip
KAGGLE_CODES: dict[str, set[float]] = {
    "sex": {0, 1}, "cp": {0, 1, 2, 3}, "fbs": {0, 1}, "restecg": {0, 1, 2}, "exang": {0, 1},
    "slope": {0, 1, 2}, "ca": {0, 1, 2, 3, 4}, "thal": {0, 1, 2, 3}, "label": {0, 1},
}  # fmt: skip
# Kaggle code → UCI code (NaN: the Kaggle code for a missing value); see the module docstring.
KAGGLE_TO_UCI: dict[str, dict[float, float]] = {
    "cp": {0: 4, 1: 2, 2: 3, 3: 1},
    "restecg": {0: 2, 1: 0, 2: 1},
    "slope": {0: 3, 1: 2, 2: 1},
    "thal": {0: math.nan, 1: 6, 2: 3, 3: 7},
    "ca": {0: 0, 1: 1, 2: 2, 3: 3, 4: math.nan},
}
# Values that occur in one coding only, used to tell a file's coding from its values.
KAGGLE_ONLY: dict[str, set[float]] = {"cp": {0}, "slope": {0}, "thal": {0, 1, 2}, "ca": {4}}
UCI_ONLY: dict[str, set[float]] = {"cp": {4}, "slope": {3}, "thal": {6, 7}}

Coding = Literal["uci", "kaggle"]


def heart_spec() -> DatasetSpec:
    """The packaged spec of the heart data (UCI coding, ``heart_disease`` target).

    >>> spec = heart_spec()
    >>> spec.target, spec.desired_class, spec.feature("cp").level_names[3]
    ('heart_disease', 0, 'no chest pain (asymptomatic)')
    """
    resource = resources.files("sensecf.data").joinpath(SPEC_RESOURCE)
    with resources.as_file(resource) as path:
        return DatasetSpec.from_yaml(Path(path))


def looks_like_uci_heart(path: str | os.PathLike) -> bool:
    """Whether a file's first line is a UCI heart record or the 14-column heart header.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "heart.csv"
    >>> _ = path.write_text("age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,"
    ...                     "slope,ca,thal,target\\n63,1,3,145,233,1,0,150,0,2.3,0,0,1,1\\n")
    >>> looks_like_uci_heart(path)
    True
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = next((line for line in handle if line.strip()), "")
    except OSError:
        return False
    fields = [_token(f) for f in first.strip().split(",")]
    if len(fields) != len(FEATURES) + 1:
        return False
    if all(f in MISSING_TOKENS or _is_number(f) for f in fields):
        return True
    names = {f.strip().strip('"').lower() for f in fields}
    return set(FEATURES) < names and len(names & set(LABELS)) == 1


def read_uci_heart(
    path: str | os.PathLike,
    *,
    kaggle_target: Literal["no disease", "disease"] = "no disease",
) -> Dataset:
    """Read ``processed.cleveland.data`` or a 14-column heart CSV into one coding (UCI's).

    ``kaggle_target`` says what ``target`` = 1 means in a Kaggle-coded file: ``"no disease"``
    (the default; what the data show) or ``"disease"`` (what the Kaggle page says). ``info`` holds
    the file's form and coding, the label rule used and the rows dropped for missing values.

    >>> import tempfile, warnings, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "processed.cleveland.data"
    >>> _ = path.write_text("63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\\n"
    ...                     "67.0,1.0,4.0,160.0,286.0,0.0,2.0,108.0,1.0,1.5,2.0,3.0,3.0,2\\n"
    ...                     "53.0,0.0,3.0,128.0,216.0,0.0,2.0,115.0,0.0,0.0,1.0,0.0,?,0\\n")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # one row dropped: thal is missing
    ...     data = read_uci_heart(path)
    >>> data.y.tolist(), data.info["dropped_rows"], data.info["coding"]
    ([0, 1], 1, 'uci')
    """
    if kaggle_target not in ("no disease", "disease"):
        raise DataError(f"kaggle_target must be 'no disease' or 'disease'; got {kaggle_target!r}")
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError(f"heart data file not found: {path}")
    header, label, lines, values = _parse(path)
    coding = _detect_coding(values, lines, label, source)
    _check_codes(values, lines, coding, source)
    frame = _to_uci(values, coding, kaggle_target)
    frame.insert(0, ID_COLUMN, np.arange(1, len(frame) + 1))
    spec = heart_spec()
    # The UCI files mark a few unmeasured values; the usual practice (and the published results
    # on these files) drops those rows, so every heart feature is needed here.
    frame, dropped = drop_incomplete_rows(
        frame, spec, source=source, stacklevel=3, required=spec.feature_names
    )
    if frame.empty:
        raise DataError(f"{source}: no complete rows (every row has a missing value)")
    if coding == "kaggle":
        rule = f"heart_disease = {'1 - target' if kaggle_target == 'no disease' else 'target'}"
    else:
        rule = f"heart_disease = ({label} > 0)"
    info = {
        "source": source,
        "form": "header" if header else "headerless",
        "coding": coding,
        "label_rule": rule,
        **dropped,
    }
    return Dataset(frame, spec, info, source=source)


def _parse(path: Path) -> tuple[bool, str, np.ndarray, pd.DataFrame]:
    """Read the file: whether it has a header, the label's name, each row's line and its values."""
    source = str(path)
    try:
        rows = []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for fields in reader:
                if any(f.strip() for f in fields):  # blank lines (e.g. at the end) are no rows
                    rows.append((reader.line_num, fields))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{source}: not a readable text table: {exc}") from exc
    if not rows:
        raise DataError(f"{source}: the file has no rows")
    first_line, first = rows[0]
    # A header names known columns, or holds no number at all; a data row with a stray word in
    # it is a data row (and the word an error naming its line and column).
    tokens = [_token(f) for f in first]
    header = any(t in FEATURES or t in LABELS for t in tokens) or not any(
        _is_number(f) for f in first
    )
    if header:
        names = tokens
        _check_header(names, first_line, source)
        rows = rows[1:]
        if not rows:
            raise DataError(f"{source}: the file has a header but no data rows")
    else:
        names = [*FEATURES, "num"]
    label = next(n for n in names if n in LABELS)
    lines = np.array([line for line, _ in rows])
    data = np.empty((len(rows), len(names)))
    for i, (line, fields) in enumerate(rows):
        if len(fields) != len(names):
            raise DataError(
                f"{source}, line {line}: expected {len(names)} comma-separated values, "
                f"found {len(fields)}"
            )
        for j, field in enumerate(fields):
            data[i, j] = _number(field, source, line, names[j])
    values = pd.DataFrame(data, columns=names).rename(columns={label: "label"})
    return header, label, lines, values[[*FEATURES, "label"]]


def _check_header(names: list[str], line: int, source: str) -> None:
    expected = [*FEATURES, "num or target"]
    unknown = [n for n in names if n not in FEATURES and n not in LABELS]
    missing = [f for f in FEATURES if f not in names]
    labels = [n for n in names if n in LABELS]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if unknown:
        problems.append(f"unknown column(s) {unknown}")
    if missing:
        problems.append(f"missing column(s) {missing}")
    if len(labels) != 1:
        problems.append(f"needs exactly one label column, num or target; found {labels}")
    if duplicated:
        problems.append(f"repeated column(s) {duplicated}")
    if problems:
        raise DataError(
            f"{source}, line {line}: not a heart-disease header: "
            + "; ".join(problems)
            + f". Expected the 14 columns {expected}"
        )


def _token(field: str) -> str:
    return field.strip().strip('"').strip().lower()


def _is_number(field: str) -> bool:
    try:
        float(_token(field))
    except ValueError:
        return False
    return True


def _number(field: str, source: str, line: int, column: str) -> float:
    token = _token(field)
    if token in MISSING_TOKENS:
        return math.nan
    try:
        value = float(token)
    except ValueError:
        raise DataError(
            f"{source}, line {line}, column {column!r}: {field.strip()!r} is not a number "
            "(a missing value is written '?')"
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"{source}, line {line}, column {column!r}: {field.strip()!r} is not finite"
        )
    return value


def _detect_coding(values: pd.DataFrame, lines: np.ndarray, label: str, source: str) -> Coding:
    kaggle = _first_marker(values, lines, KAGGLE_ONLY)
    uci = _first_marker(values, lines, UCI_ONLY)
    if kaggle and uci:
        raise DataError(
            f"{source}: the file mixes two codings: {kaggle} occurs only in the Kaggle heart.csv "
            f"coding, {uci} only in the UCI coding"
        )
    if kaggle:
        return "kaggle"
    if uci:
        return "uci"
    return "kaggle" if label == "target" else "uci"


def _first_marker(values: pd.DataFrame, lines: np.ndarray, markers: dict[str, set[float]]) -> str:
    for column, codes in markers.items():
        hits = values[column].isin(list(codes)).to_numpy().nonzero()[0]
        if hits.size:
            row = hits[0]
            return f"{column} = {values[column].iloc[row]:g} (line {lines[row]})"
    return ""


def _check_codes(values: pd.DataFrame, lines: np.ndarray, coding: Coding, source: str) -> None:
    allowed = UCI_CODES if coding == "uci" else KAGGLE_CODES
    for column, codes in allowed.items():
        col = values[column]
        bad = (col.notna() & ~col.isin(list(codes))).to_numpy().nonzero()[0]
        if bad.size:
            row = bad[0]
            name = column if column != "label" else "the label"
            raise DataError(
                f"{source}, line {lines[row]}: {name} = {col.iloc[row]:g} is not a code of the "
                f"{coding.upper() if coding == 'uci' else 'Kaggle'} coding "
                f"(expected one of {sorted(int(c) for c in codes)})"
            )


def _to_uci(values: pd.DataFrame, coding: Coding, kaggle_target: str) -> pd.DataFrame:
    """Recode to the UCI coding and derive the binary target; missing codes become NaN."""
    out = values[list(FEATURES)].copy()
    if coding == "kaggle":
        for column, mapping in KAGGLE_TO_UCI.items():
            out[column] = out[column].map(mapping)  # NaN stays NaN
        label = values["label"]
        disease = 1 - label if kaggle_target == "no disease" else label
    else:
        disease = (values["label"] > 0).astype(float).where(values["label"].notna())
    # 0 means "not measured" in the Switzerland and VA files; no living patient has it.
    for column in ("chol", "trestbps"):
        out[column] = out[column].mask(out[column] == 0)
    out[TARGET] = disease
    return out
