"""Where a counterfactual's values came from: the examples a generator showed, and copies of them.

The LLM generators and the nearest-example control record, per query, the examples their
prompts showed (``examples_shown``, as :func:`examples_json` writes them); the metric suite and
the sparsify step read them back with :func:`copy_provenance` to report how much of an answer
is an example's (whole-row copies, and the share of changed values taken from examples).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed
from sensecf.data.spec import DatasetSpec
from sensecf.generators.llm.candidates import near_current
from sensecf.results import CounterfactualResult

__all__ = ["copy_provenance", "examples_json", "result_copies"]


def examples_json(rows: np.ndarray) -> str:
    """Examples as JSON (a list of rows in spec order, ``null`` for a missing value), the form
    a result's ``examples_shown`` column keeps them in.

    >>> examples_json(np.array([[1.0, np.nan]]))
    '[[1.0, null]]'
    """
    return json.dumps([[None if np.isnan(v) else float(v) for v in row] for row in rows])


def copy_provenance(
    spec: DatasetSpec, queries: np.ndarray, cfs: np.ndarray, shown: pd.Series | list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per counterfactual: is it a whole-row copy of an example, and what share of its changed
    values equal an example's value for that feature (NaN when it changed nothing or no
    examples are known).

    ``queries`` and ``cfs`` are row-aligned (spec order); ``shown`` holds, per row, the examples
    its query's prompts showed (:func:`examples_json`; empty or missing: none). Values within
    half a step are equal, as answers are read back. Only the mutable features count: the
    fixed ones are always the person's own; nor do the features a query is missing (they stay
    missing, so there is nothing to copy).

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="sleep", bounds=(0, 900)), FeatureSpec(name="steps", bounds=(0, 9e4))])
    >>> q = np.array([[400.0, 3000.0]] * 2)
    >>> c = np.array([[450.0, 8000.0], [450.0, 5000.0]])
    >>> copy_provenance(spec, q, c, [examples_json(np.array([[450.0, 8000.0]]))] * 2)
    (array([ True, False]), array([1. , 0.5]))
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=float))
    cfs = np.atleast_2d(np.asarray(cfs, dtype=float))
    steps = np.array([float(f.step) for f in spec.features])
    mutable = np.array([f.is_mutable for f in spec.features])
    whole = np.zeros(len(cfs), dtype=bool)
    share = np.full(len(cfs), np.nan)
    moved = changed(queries, cfs) & mutable
    # A feature the query is missing stays missing: it cannot be copied, so it is not compared.
    compared = mutable & ~np.isnan(queries)
    for k, text in enumerate(shown):
        rows = _examples(text, cfs.shape[1])
        if not len(rows):
            continue
        same = near_current(rows, cfs[k], steps) | (np.isnan(rows) & np.isnan(cfs[k]))
        whole[k] = bool(same[:, compared[k]].all(axis=1).any())
        if moved[k].any():
            share[k] = float(same.any(axis=0)[moved[k]].mean())
    return whole, share


def _examples(text: object, width: int) -> np.ndarray:
    if not isinstance(text, str) or not text:
        return np.empty((0, width))
    rows = json.loads(text)
    return np.array(rows, dtype=float).reshape(-1, width)


def result_copies(
    result: CounterfactualResult, values: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`copy_provenance` of a result's counterfactuals (or of ``values``, rows aligned
    with ``result.cfs``) against the examples each query was shown; ``None`` when the result
    records no examples (a method that shows none)."""
    if "examples_shown" not in result.queries:
        return None
    shown = result.queries.set_index("query_id")["examples_shown"]
    per_row = shown.reindex(result.cfs["query_id"]).tolist()
    rows = result.cf_matrix() if values is None else values
    return copy_provenance(result.spec, result.query_matrix(), rows, per_row)
