"""The result contract: what every generator returns and every later stage reads.

A :class:`CounterfactualResult` holds one method's counterfactuals for a batch of queries, as
three tidy tables plus the spec they are written in: the counterfactuals offered (``cfs``), the
queries (``queries``) and the answers the method withheld (``rejected``).

``cfs``: one row per counterfactual, in query order, then rank order.

==================================  =========  ==============================================
column                              dtype      meaning
==================================  =========  ==============================================
``query_id``                        int64      row of ``queries`` it answers
``method``                          str        generator name (``dice-random``, ``oracle``...)
``rank``                            int64      0, 1, ... within its query (best first)
the spec's features, in spec order  float64    the counterfactual's values
``proba_desired``                   float64    the model's probability of the desired class
                                               (NaN for a row with missing values)
``valid``                           bool       the model puts it in the desired class under
                                               its own decision rule
``source``                          str        one of :data:`SOURCES`
``llm_calls``, ``prompt_tokens``,   int64      what the row cost a language model (0 for the
``completion_tokens``                          other methods)
``seconds``                         float64    its query's seconds, shared among the rows the
                                               method proposed for it
the method's own columns            any        e.g. ``dice_class`` (DiCE), ``round`` (LLM)
==================================  =========  ==============================================

A method's own columns are fixed per generator (its ``extra_cf_columns``): they are there even
when no query got a counterfactual (:func:`empty_cfs`), so readers need no ``.get``.

``queries``: one row per query, with or without a counterfactual (coverage counts them all):
``query_id`` (int64), the dataset's id columns, the query's features (float64), ``label``
(its true class, when the queries carried the target), ``proba_desired`` (float64),
``n_cfs`` (int64: how many rows of ``cfs`` it has), ``seconds`` (float64: what the method
spent on it), ``error`` (str: empty when the method ran, else ``Type: message``), then the
method's own per-query columns (its ``query_info_columns``, e.g. the oracle's ``min_l0``).

``rejected``: one row per answer the method withheld instead of offering it. Only the
project's LLM generators withhold: each counterfactual they are asked for is a chain of answers
(a first answer, then repair rounds), and a chain whose last answer was refused is recorded
here, never in ``cfs`` (so never in an intervention text or an augmentation row). A baseline is
measured as it answered: its invalid rows stay in ``cfs`` and its ``rejected`` has no rows.

==================================  =========  ==============================================
column                              dtype      meaning
==================================  =========  ==============================================
``query_id``                        int64      row of ``queries`` it answered
``method``                          str        generator name
``attempt``                         int64      which of the query's asked counterfactuals it
                                               was meant to be (0, 1, ...)
the spec's features, in spec order  float64    the last answer's values (NaN where it could
                                               not be read)
``proba_desired``                   float64    the model's probability of the desired class
                                               (NaN where the answer never reached the model)
``source``                          str        ``llm`` (a first answer) or ``repair``
``round``                           int64      the round of that last answer (0 = first)
``reason``                          str        why it was withheld, e.g. ``not the desired
                                               class (P=0.41, 0.50 needed)``, ``breaks a
                                               rule: ...``, ``an outlier for the plausibility
                                               detector ...``
==================================  =========  ==============================================

**Validity counts the withheld answers.** Moving a failure out of ``cfs`` must not make a
method look better: :attr:`CounterfactualResult.validity` (and the metric suite's) is the
share of the answers a method gave that are valid, over the rows it offered *and* the rows it
withheld: ``n_valid / (n_cfs + n_rejected)``. For a method that withholds nothing this is the
share of its CFs that are valid, as before. ``coverage`` counts queries with an offered CF.

:meth:`CounterfactualResult.save` writes ``cfs.parquet``, ``queries.parquet``,
``rejected.parquet``, ``spec.yaml`` and ``result.json`` (method, desired class, ``info``) to a
folder, which :meth:`CounterfactualResult.load` reads back (a folder without
``rejected.parquet``, written before it existed, loads with no withheld rows).

>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0,
...                    features=[FeatureSpec(name="steps", bounds=(0, 50000))])
>>> cf_columns(spec, ["note"])[:6]
['query_id', 'method', 'rank', 'steps', 'proba_desired', 'valid']
>>> empty_cfs(spec)["steps"].dtype
dtype('float64')
>>> rejected_columns(spec)
['query_id', 'method', 'attempt', 'steps', 'proba_desired', 'source', 'round', 'reason']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.dataset import SPEC_FILE
from sensecf.data.io import read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError
from sensecf.runs import CFS, QUERIES, REJECTED, RESULT_JSON

__all__ = [
    "CF_KEY_COLUMNS",
    "LLM_SOURCES",
    "PROVENANCE_COLUMNS",
    "SOURCES",
    "CounterfactualResult",
    "cf_columns",
    "empty_cfs",
    "empty_rejected",
    "rejected_columns",
]

CF_KEY_COLUMNS = ("query_id", "method", "rank")
PROVENANCE_COLUMNS = ("source", "llm_calls", "prompt_tokens", "completion_tokens", "seconds")
# llm: the first answer; repair: after a repair round; fallback: a non-LLM search filling in
# for the LLM; search: an optimisation method.
SOURCES = ("llm", "repair", "fallback", "search")
LLM_SOURCES = ("llm", "repair", "fallback")

_COLUMN_DTYPES = {
    "query_id": "int64",
    "method": "str",
    "rank": "int64",
    "proba_desired": "float64",
    "valid": "bool",
    "source": "str",
    "llm_calls": "int64",
    "prompt_tokens": "int64",
    "completion_tokens": "int64",
    "seconds": "float64",
}
_REJECTED_DTYPES = {**_COLUMN_DTYPES, "attempt": "int64", "round": "int64", "reason": "str"}


def cf_columns(spec: DatasetSpec, extra: Iterable[str] = ()) -> list[str]:
    """The columns of a ``cfs`` table, in order, for a method whose own columns are ``extra``."""
    return [
        *CF_KEY_COLUMNS,
        *spec.feature_names,
        "proba_desired",
        "valid",
        *PROVENANCE_COLUMNS,
        *extra,
    ]


def empty_cfs(spec: DatasetSpec, extra: Iterable[str] = ()) -> pd.DataFrame:
    """A ``cfs`` table with no rows: every column of :func:`cf_columns`, typed as documented.

    A method's own columns have no known type and are ``object``.

    >>> from sensecf.data.spec import infer_spec
    >>> spec = infer_spec(pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]}), "y")
    >>> empty_cfs(spec, ["round"]).dtypes.astype(str).to_dict()["round"]
    'object'
    """
    columns = cf_columns(spec, extra)
    dtypes = {**dict.fromkeys(spec.feature_names, "float64"), **_COLUMN_DTYPES}
    return pd.DataFrame(
        {c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns}, index=pd.RangeIndex(0)
    )


def rejected_columns(spec: DatasetSpec) -> list[str]:
    """The columns of a ``rejected`` table, in order (the module docstring says what they mean)."""
    return [
        "query_id",
        "method",
        "attempt",
        *spec.feature_names,
        "proba_desired",
        "source",
        "round",
        "reason",
    ]


def empty_rejected(spec: DatasetSpec) -> pd.DataFrame:
    """A ``rejected`` table with no rows: what every method that withholds nothing returns.

    >>> from sensecf.data.spec import infer_spec
    >>> spec = infer_spec(pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]}), "y")
    >>> empty_rejected(spec).dtypes.astype(str).to_dict()["round"]
    'int64'
    """
    dtypes = {**dict.fromkeys(spec.feature_names, "float64"), **_REJECTED_DTYPES}
    return pd.DataFrame(
        {c: pd.Series(dtype=dtypes[c]) for c in rejected_columns(spec)}, index=pd.RangeIndex(0)
    )


@dataclass
class CounterfactualResult:
    """Counterfactuals of one method for a batch of queries (the module docstring has the
    columns of ``queries``, ``cfs`` and ``rejected``).

    ``info`` holds run-level facts a method wants kept (e.g. ``sparsified``). ``rejected``:
    the answers the method withheld; left out (or given with no columns), it is the empty
    table of :func:`empty_rejected`.
    """

    method: str
    desired_class: int
    spec: DatasetSpec
    queries: pd.DataFrame
    cfs: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        if self.rejected.columns.empty:  # every result has the table, if only with no rows
            self.rejected = empty_rejected(self.spec)

    @property
    def coverage(self) -> float:
        """Share of queries with at least one counterfactual offered."""
        return float((self.queries["n_cfs"] > 0).mean()) if len(self.queries) else float("nan")

    @property
    def validity(self) -> float:
        """Share of the method's answers the model puts in the desired class: the valid rows of
        ``cfs`` over the rows of ``cfs`` and ``rejected`` together (a withheld answer counts
        against it, as it would had it been offered).

        >>> from sensecf.data.spec import infer_spec
        >>> spec = infer_spec(pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]}), "y")
        >>> cfs = empty_cfs(spec).reindex(range(3)).assign(valid=True)
        >>> withheld = empty_rejected(spec).reindex(range(1))
        >>> CounterfactualResult("m", 0, spec, pd.DataFrame(), cfs, rejected=withheld).validity
        0.75
        """
        answers = len(self.cfs) + len(self.rejected)
        return float(self.cfs["valid"].sum()) / answers if answers else float("nan")

    def people(self) -> np.ndarray | None:
        """The person each query belongs to (the spec's group column), row-aligned with
        ``queries``; ``None`` where the queries do not say (no group column, or not carried).

        >>> from sensecf.data.spec import infer_spec
        >>> frame = pd.DataFrame({"pid": [7, 8], "x": [0.0, 1.0], "y": [0, 1]})
        >>> spec = infer_spec(frame, "y", id_columns=["pid"], group_column="pid")
        >>> queries = frame.assign(query_id=[0, 1])
        >>> CounterfactualResult("m", 0, spec, queries, empty_cfs(spec)).people().tolist()
        [7, 8]
        """
        person = self.spec.group_column
        if person is None or person not in self.queries.columns:
            return None
        return self.queries[person].to_numpy()

    def query_matrix(self) -> np.ndarray:
        """Each counterfactual's query, row-aligned with :meth:`cf_matrix`."""
        X = self.queries.set_index("query_id")[self.spec.feature_names]
        return X.loc[self.cfs["query_id"]].to_numpy(dtype=float)

    def cf_matrix(self) -> np.ndarray:
        """The counterfactuals' feature values in spec order."""
        return self.cfs[self.spec.feature_names].to_numpy(dtype=float)

    @classmethod
    def concat(cls, parts: Sequence[CounterfactualResult]) -> CounterfactualResult:
        """One result from the results of consecutive slices of a batch of queries, in order:
        each part's ``query_id`` is shifted past the queries of the parts before it.

        >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
        >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0,
        ...                    features=[FeatureSpec(name="steps", bounds=(0, 50000))])
        >>> def part(steps):
        ...     queries = pd.DataFrame({"query_id": [0], "steps": [steps], "n_cfs": [0]})
        ...     return CounterfactualResult("m", 0, spec, queries, empty_cfs(spec))
        >>> CounterfactualResult.concat([part(10.0), part(20.0)]).queries["query_id"].tolist()
        [0, 1]
        """
        if not parts:
            raise DataError("concat needs at least one result")
        first = parts[0]
        queries, cfs, rejected, offset = [], [], [], 0
        for part in parts:
            if (part.method, part.desired_class) != (first.method, first.desired_class):
                raise DataError(
                    f"only one method's results for one desired class can be joined; got "
                    f"{part.method!r} (class {part.desired_class}) after {first.method!r} "
                    f"(class {first.desired_class})"
                )
            queries.append(part.queries.assign(query_id=part.queries["query_id"] + offset))
            cfs.append(part.cfs.assign(query_id=part.cfs["query_id"] + offset))
            rejected.append(part.rejected.assign(query_id=part.rejected["query_id"] + offset))
            offset += len(part.queries)
        return cls(
            first.method,
            first.desired_class,
            first.spec,
            pd.concat(queries, ignore_index=True),
            # Empty slices add no rows (and would loosen the dtypes pandas infers).
            pd.concat([c for c in cfs if len(c)] or cfs[:1], ignore_index=True),
            dict(first.info),
            pd.concat([r for r in rejected if len(r)] or rejected[:1], ignore_index=True),
        )

    def __repr__(self) -> str:
        withheld = f", {len(self.rejected)} withheld" if len(self.rejected) else ""
        return (
            f"CounterfactualResult({self.method!r}: {len(self.cfs)} CFs for "
            f"{len(self.queries)} queries{withheld}, coverage {self.coverage:.2f}, "
            f"validity {self.validity:.2f})"
        )

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write ``cfs.parquet``, ``queries.parquet``, ``rejected.parquet``, ``spec.yaml`` and
        ``result.json`` (each atomically)."""
        out = Path(out_dir)
        write_table(self.cfs, out / CFS)
        write_table(self.queries, out / QUERIES)
        write_table(self.rejected, out / REJECTED)
        self.spec.to_yaml(out / SPEC_FILE)
        meta = {"method": self.method, "desired_class": self.desired_class, "info": self.info}
        write_json(out / RESULT_JSON, meta)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> CounterfactualResult:
        """Read a folder written by :meth:`save` (one without ``rejected.parquet``, written
        before withheld answers had a table, has none)."""
        path = Path(path)
        meta_path = path / RESULT_JSON
        if not meta_path.is_file():
            raise DataError(f"{path} is not a counterfactual result folder (no result.json)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return cls(
            method=meta["method"],
            desired_class=int(meta["desired_class"]),
            spec=DatasetSpec.from_yaml(path / SPEC_FILE),
            queries=read_table_file(path / QUERIES),
            cfs=read_table_file(path / CFS),
            info=meta.get("info", {}),
            rejected=read_table_file(path / REJECTED)
            if (path / REJECTED).is_file()
            else pd.DataFrame(),
        )
