"""Sparsify: undo a counterfactual's changes one at a time while the prediction holds.

A post-step any generator may use (DESIGN, "Sparsify"). At each step, every changed feature of
every still-valid counterfactual is tried back at the query's value in one batched model call;
the reversion that keeps the highest probability of the desired class is kept, and the loop
goes on until no reversion keeps the counterfactual valid. Derived features are never reverted
themselves: they follow their inputs, and a reversion that breaks more constraints than the
counterfactual already did (a relation, a derived feature's direction) is not taken. Invalid
counterfactuals are left as they are. A method run with it is reported as its own method, ``<name>+sparsify``.
"""

from __future__ import annotations

import time

import numpy as np

from sensecf.data.constraints import changed, recompute_known, violations
from sensecf.data.spec import DatasetSpec
from sensecf.generators.base import judgeable, margin_model
from sensecf.generators.provenance import result_copies
from sensecf.models.classifier import TrainedClassifier
from sensecf.results import CounterfactualResult

SUFFIX = "+sparsify"


def sparsify(
    model: TrainedClassifier, queries: np.ndarray, cfs: np.ndarray, desired_class: int
) -> np.ndarray:
    """Greedy reversion of changed features toward each row's query, batched over all rows.

    ``queries`` and ``cfs`` are row-aligned (rows × features in spec order).

    >>> import pandas as pd
    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"a": [0.0, 1, 2, 3] * 10, "b": [0.0, 1] * 20})
    >>> df["y"] = (df["a"] >= 2).astype(int)
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
    >>> sparsify(clf, np.array([[3.0, 1.0]]), np.array([[0.0, 0.0]]), desired_class=0).tolist()
    [[0.0, 1.0]]
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=float))
    out = np.atleast_2d(np.array(cfs, dtype=float, copy=True))
    if out.shape != queries.shape:
        raise ValueError(f"queries {queries.shape} and cfs {out.shape} must have the same shape")
    spec = model.spec
    derived = np.isin(spec.feature_names, spec.derived_features)
    judged = judgeable(queries, out)  # NaN where the query is missing a value is judged
    active = np.zeros(len(out), dtype=bool)
    if judged.any():
        active[judged] = model.predict(out[judged]) == desired_class
    broken = _broken(spec, queries, out).copy() if derived.any() or spec.relations else None
    while active.any():
        idx = np.flatnonzero(active)
        moved = changed(queries[idx], out[idx]) & ~derived
        rows, cols = np.nonzero(moved)  # row-major: each row's options are contiguous
        if len(rows) == 0:
            break
        trial = out[idx[rows]].copy()
        trial[np.arange(len(rows)), cols] = queries[idx[rows], cols]
        trial = recompute_known(spec, queries[idx[rows]], trial)  # derived ones follow
        labels, proba = model.predict_with_proba(trial, desired_class)
        keeps = labels == desired_class
        if broken is not None:
            keeps &= _broken(spec, queries[idx[rows]], trial) <= broken[idx[rows]]
        score = np.where(keeps, proba, -np.inf)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        best_score = np.maximum.reduceat(score, starts)
        # Index of each group's best option (first on ties, for determinism).
        best = np.array(
            [
                s + int(np.argmax(score[s:e]))
                for s, e in zip(starts, [*starts[1:], len(rows)], strict=True)
            ]
        )
        still_valid = np.isfinite(best_score)
        group_rows = idx[rows[starts]]
        apply = best[still_valid]
        out[group_rows[still_valid], cols[apply]] = queries[group_rows[still_valid], cols[apply]]
        if broken is not None:
            out[group_rows] = recompute_known(spec, queries[group_rows], out[group_rows])
            broken[group_rows] = _broken(spec, queries[group_rows], out[group_rows])
        active[:] = False
        active[group_rows[still_valid]] = True
    return out


def _broken(spec: DatasetSpec, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Constraints each row breaks (all kinds together)."""
    return violations(spec, queries, rows)["total"].to_numpy()


def sparsify_result(result: CounterfactualResult, model: TrainedClassifier) -> CounterfactualResult:
    """The same counterfactuals after :func:`sparsify`, reported as method ``<name>+sparsify``.

    Probabilities and validity are recomputed, and so is the provenance that depends on the
    values: ``copied_example`` says whether the *sparsified* row copies an example its query's
    prompts showed (the queries' ``examples_shown``), not whether the row before did. The
    sparsify time is added to each query's seconds (and spread over its counterfactuals), so
    cost comparisons stay fair. A result
    searched to a safety margin (``info["min_proba"]``) is sparsified only while the
    counterfactual keeps that margin.
    """
    spec = result.spec
    start = time.perf_counter()
    cfs = result.cfs.copy()
    margin = result.info.get("min_proba")
    judge = model if margin is None else margin_model(model, result.desired_class, margin)
    if len(cfs):
        values = sparsify(judge, result.query_matrix(), result.cf_matrix(), result.desired_class)
        cfs[spec.feature_names] = values
        judged = judgeable(result.query_matrix(), values)
        labels = np.full(len(values), -1)
        proba = np.full(len(values), np.nan)
        if judged.any():
            labels[judged], proba[judged] = model.predict_with_proba(
                values[judged], result.desired_class
            )
        cfs["proba_desired"] = proba
        cfs["valid"] = labels == result.desired_class
        if margin is not None:
            cfs["valid_margin"] = cfs["proba_desired"].to_numpy(dtype=float) >= margin
        if "copied_example" in cfs:
            cfs["copied_example"] = _copied(result, values)
        # Two counterfactuals of one query may shrink to the same change: keep it once.
        cfs = cfs.drop_duplicates(subset=["query_id", *spec.feature_names], ignore_index=True)
        cfs["rank"] = cfs.groupby("query_id").cumcount()
    per_query = (time.perf_counter() - start) / max(len(result.queries), 1)
    queries = result.queries.copy()
    counts_by_query = cfs.groupby("query_id").size() if len(cfs) else None
    if counts_by_query is not None:
        queries["n_cfs"] = counts_by_query.reindex(queries["query_id"], fill_value=0).to_numpy()
    queries["seconds"] = queries["seconds"] + per_query
    if len(cfs):
        counts = cfs.groupby("query_id")["query_id"].transform("size").to_numpy()
        cfs["seconds"] = cfs["seconds"] + per_query / counts
    method = result.method + SUFFIX
    cfs["method"] = method
    # The withheld answers were never offered, so there is nothing to sparsify: they stay as
    # they were, and still count against validity.
    rejected = result.rejected.assign(method=method)
    info = {**result.info, "sparsified": True}
    return CounterfactualResult(method, result.desired_class, spec, queries, cfs, info, rejected)


def _copied(result: CounterfactualResult, values: np.ndarray) -> np.ndarray:
    """Whether each row copies an example its query was shown (False where none is known)."""
    copies = result_copies(result, values)
    return np.zeros(len(values), dtype=bool) if copies is None else copies[0]
