"""Per-person limits: what one person cannot change, how far, and how many changes at most.

The spec states what holds for everyone; a limits table states what holds for one person (a
shift worker cannot sleep more; a person in a wheelchair will not walk 3,000 more steps). It is
a CSV or Parquet file with one row per person, or per person-day, keyed by the dataset's id
columns:

- the person column (the spec's ``group_column``, else its first id column) on every row;
  further id columns (e.g. ``date``) where a row is for one day only (left empty, the row holds
  on every day of that person; a day's own row wins);
- ``keep``: features to keep as they are, separated by ``;`` (e.g. ``sleep_total_min;steps``);
- ``max_changes``: the most features a counterfactual may change;
- ``<feature>_min`` / ``<feature>_max``: tighter bounds on a changed value (a continuous or
  integer feature's; keep a coded one instead).

Every column is optional but the person's; an empty cell is no limit. :meth:`PersonLimits.read`
checks the file against the spec and the data and names, on one line, the file and every
unknown person, feature or column. Generators that can honour limits take them per query
(``generate(limits=)``): the oracle as constraints of its program or search, the LLM generators
in the prompt, the schema and the checks that send a breaking answer to repair
(:meth:`Limits.narrow` gives the spec as it holds for the person); the others are measured
against them (the ``limits`` violations of :func:`~sensecf.data.constraints.violations`).

>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
...     id_columns=("pid",), group_column="pid", features=[
...     FeatureSpec(name="sleep", unit="min", bounds=(0, 900)),
...     FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase")])
>>> table = pd.DataFrame({"pid": [7], "keep": ["sleep"], "steps_max": [9000], "max_changes": [1]})
>>> limits = PersonLimits.from_frame(table, spec)
>>> person = limits.resolve(pd.DataFrame({"pid": [7, 8]}))
>>> person[0].text(), person[1]
('keep sleep as it is; steps at most 9000; change at most 1 feature', None)
>>> person[0].narrow(spec).feature("sleep").mutability
'fixed'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import RowLimits
from sensecf.data.io import read_table_file
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError

KEEP = "keep"
MAX_CHANGES = "max_changes"
BOUND_SUFFIXES = ("_min", "_max")


@dataclass(frozen=True)
class Limits:
    """One person's limits: features to ``keep``, tighter ``bounds`` (feature → (lower,
    upper); an end may be infinite), and ``max_changes`` (None: any number).

    >>> Limits(keep=("steps",), max_changes=2).text()
    'keep steps as it is; change at most 2 features'
    """

    keep: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float, float], ...] = ()
    max_changes: int | None = None
    _narrowed: dict[str, DatasetSpec] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def empty(self) -> bool:
        """Whether it limits nothing."""
        return not self.keep and not self.bounds and self.max_changes is None

    def narrow(self, spec: DatasetSpec) -> DatasetSpec:
        """The spec as it holds for this person: kept features ``fixed``, each bounded feature
        within the tighter of its own and the person's bounds (made once per spec)."""
        key = spec.model_dump_json()
        if key not in self._narrowed:
            data = spec.to_dict()
            tighter = {name: (lo, hi) for name, lo, hi in self.bounds}
            for entry in data["features"]:
                name = entry["name"]
                if name in self.keep:
                    entry["mutability"] = "fixed"
                if name in tighter:
                    lo, hi = tighter[name]
                    entry["bounds"] = [max(entry["bounds"][0], lo), min(entry["bounds"][1], hi)]
            self._narrowed[key] = DatasetSpec.from_dict(data, source="the person's limits")
        return self._narrowed[key]

    def cap(self, other: int | None) -> int | None:
        """The smaller of this person's cap on changes and ``other`` (None: no cap).

        >>> Limits(max_changes=2).cap(3), Limits().cap(None)
        (2, None)
        """
        caps = [c for c in (self.max_changes, other) if c is not None]
        return min(caps) if caps else None

    def text(self) -> str:
        """The limits in plain words, as a prompt states them."""
        parts = []
        if self.keep:
            verb = "it is" if len(self.keep) == 1 else "they are"
            parts.append(f"keep {_names(self.keep)} as {verb}")
        for name, lo, hi in self.bounds:
            if math.isfinite(lo) and math.isfinite(hi):
                parts.append(f"{name} between {_num(lo)} and {_num(hi)}")
            elif math.isfinite(hi):
                parts.append(f"{name} at most {_num(hi)}")
            else:
                parts.append(f"{name} at least {_num(lo)}")
        if self.max_changes is not None:
            noun = "feature" if self.max_changes == 1 else "features"
            parts.append(f"change at most {self.max_changes} {noun}")
        return "; ".join(parts)


class PersonLimits:
    """A checked limits table (see the module docstring), resolved per query by its ids.

    ``table``: one row per person or person-day; ``spec``: the dataset's; ``keys``: the id
    columns the table is keyed by (the person's first); ``source``: the file, for messages.
    Build it with :meth:`read` or :meth:`from_frame`, which check it.
    """

    def __init__(
        self, limits: Mapping[tuple[str, ...], Limits], keys: tuple[str, ...], source: str
    ) -> None:
        self.limits = dict(limits)
        self.keys = keys
        self.source = source

    def __len__(self) -> int:
        return len(self.limits)

    def __repr__(self) -> str:
        return f"PersonLimits({self.source!r}, {len(self)} rows keyed by {list(self.keys)})"

    @classmethod
    def read(
        cls, path: str | os.PathLike, spec: DatasetSpec, data: Any | None = None
    ) -> PersonLimits:
        """Read and check a limits file (CSV or Parquet) against the spec and, where given, the
        dataset (:class:`~sensecf.data.dataset.Dataset`) whose people it names."""
        frame = read_table_file(path)
        return cls.from_frame(frame, spec, data, source=str(Path(path)))

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        spec: DatasetSpec,
        data: Any | None = None,
        *,
        source: str = "limits",
    ) -> PersonLimits:
        """Check a limits table; one :class:`~sensecf.errors.DataError` line names the source
        and everything wrong (unknown people, features, columns; bad values with their row)."""
        if not spec.id_columns:
            raise DataError(f"{source}: per-person limits need id columns in the spec; it has none")
        person = spec.group_column or spec.id_columns[0]
        if person not in frame.columns:
            raise DataError(
                f"{source}: expected a {person!r} column naming each row's person; "
                f"got columns {list(frame.columns)}"
            )
        keys = (person, *(c for c in spec.id_columns if c in frame.columns and c != person))
        names = spec.feature_names
        problems: list[str] = []
        bounded: list[str] = []
        unknown_features: list[str] = []
        unknown_columns: list[str] = []
        for column in frame.columns:
            if column in keys or column in (KEEP, MAX_CHANGES):
                continue
            base, suffix = str(column)[:-4], str(column)[-4:]
            if suffix in BOUND_SUFFIXES and base in names:
                bounded += [] if base in bounded else [base]
            elif suffix in BOUND_SUFFIXES:
                unknown_features.append(f"{base} (column {column})")
            else:
                unknown_columns.append(str(column))
        for name in bounded:
            feature = spec.feature(name)
            if feature.levels is not None:
                problems.append(f"{name} is coded ({feature.kind}): keep it rather than bound it")
        people = frame[person]
        if people.isna().any():
            problems.append(f"row {int(people.isna().to_numpy().argmax())} names no {person}")
        if data is not None:
            known = {_key(v) for v in data.frame[person]}
            strangers = [v for v in dict.fromkeys(people.dropna()) if _key(v) not in known]
            if strangers:
                shown = ", ".join(str(v) for v in strangers[:10])
                more = f" and {len(strangers) - 10} more" if len(strangers) > 10 else ""
                problems.insert(0, f"unknown people {shown}{more}")
        limits: dict[tuple[str, ...], Limits] = {}
        for row, record in enumerate(frame.to_dict("records")):
            keep = _keep(record.get(KEEP))
            unknown_features += [f"{n} (in keep, row {row})" for n in keep if n not in names]
            cap = _cap(record.get(MAX_CHANGES), row, problems)
            bounds = []
            for name in bounded:
                lo = _bound(record.get(f"{name}_min"), -math.inf, f"{name}_min", row, problems)
                hi = _bound(record.get(f"{name}_max"), math.inf, f"{name}_max", row, problems)
                if lo == -math.inf and hi == math.inf:
                    continue
                low, high = spec.feature(name).bounds
                if lo >= hi or max(lo, low) >= min(hi, high):
                    problems.append(
                        f"row {row}: {name} bounds [{_num(lo)}, {_num(hi)}] leave no range "
                        f"within the spec's [{_num(low)}, {_num(high)}]"
                    )
                bounds.append((name, lo, hi))
            key = tuple(_key(record.get(k)) for k in keys)
            if key in limits:
                problems.append(f"row {row}: a second row for {dict(zip(keys, key, strict=True))}")
            limits[key] = Limits(tuple(n for n in keep if n in names), tuple(bounds), cap)
        if unknown_features:
            problems.insert(0, "unknown features " + ", ".join(dict.fromkeys(unknown_features)))
        if unknown_columns:
            problems.append(
                f"unknown columns {', '.join(unknown_columns)} (expected {', '.join(keys)}, "
                f"{KEEP}, {MAX_CHANGES}, <feature>_min, <feature>_max)"
            )
        if problems:
            raise DataError(f"{source}: " + "; ".join(problems))
        return cls(limits, keys, source)

    def resolve(self, ids: pd.DataFrame) -> list[Limits | None]:
        """Each row's limits (None where its person has none): the row of its person and day
        where the table has one, else its person's row for every day.

        ``ids`` holds the table's key columns (a query table, a dataset's frame).
        """
        missing = [k for k in self.keys if k not in ids.columns]
        if missing:
            raise DataError(
                f"{self.source}: the rows to explain have no {missing} column(s) to find their "
                "limits by"
            )
        out: list[Limits | None] = []
        for record in ids[list(self.keys)].to_dict("records"):
            key = tuple(_key(record[k]) for k in self.keys)
            found = self.limits.get(key)
            if found is None and len(key) > 1:  # the person's row for every day
                found = self.limits.get((key[0], *[""] * (len(key) - 1)))
            out.append(found if found is not None and not found.empty else None)
        return out

    @staticmethod
    def rows(spec: DatasetSpec, limits: Sequence[Limits | None]) -> RowLimits:
        """Per-row limits as arrays (:class:`~sensecf.data.constraints.RowLimits`).

        >>> from sensecf.data.spec import FeatureSpec
        >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
        ...     features=[FeatureSpec(name="x", bounds=(0, 9))])
        >>> PersonLimits.rows(spec, [Limits(bounds=(("x", 1.0, math.inf),)), None]).lower.tolist()
        [[1.0], [-inf]]
        """
        table = RowLimits.none(len(limits), len(spec.features))
        index = {n: j for j, n in enumerate(spec.feature_names)}
        for i, person in enumerate(limits):
            if person is None:
                continue
            for name in person.keep:
                table.keep[i, index[name]] = True
            for name, lo, hi in person.bounds:
                table.lower[i, index[name]], table.upper[i, index[name]] = lo, hi
            if person.max_changes is not None:
                table.cap[i] = person.max_changes
        return table


def _key(value: Any) -> str:
    """An id as text, the same for 1001, 1001.0 and "1001"; empty for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _keep(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [n.strip() for n in str(value).replace(",", ";").split(";") if n.strip()]


def _cap(value: Any, row: int, problems: list[str]) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number) or number < 1 or not float(number).is_integer():
        problems.append(f"row {row}: {MAX_CHANGES} must be a positive integer; got {value!r}")
        return None
    return int(number)


def _bound(value: Any, default: float, column: str, row: int, problems: list[str]) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number) or not math.isfinite(float(number)):
        problems.append(f"row {row}: {column} must be a number; got {value!r}")
        return default
    return float(number)


def _num(value: float) -> str:
    return f"{value:g}"


def _names(names: Sequence[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
