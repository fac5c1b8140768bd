"""One interface for every counterfactual generator, and the tidy table they all return.

A generator is fitted on a trained classifier and reference rows (its training data), then
asked for counterfactuals of a batch of query rows:

    gen = Oracle().fit(clf, train_rows)
    result = gen.generate(queries, n_cfs=3)      # CounterfactualResult
    result.cfs                                   # one row per counterfactual
    result.queries                               # one row per query, with or without a CF

A query that gets no counterfactual keeps its row in ``queries`` (``n_cfs`` = 0) so coverage
counts it; a query on which a method fails is recorded with its error and the run goes on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from sensecf.data.constraints import as_matrix
from sensecf.data.dataset import Dataset
from sensecf.data.io import read_table_file, write_json, write_table
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SensecfError
from sensecf.models.classifier import TrainedClassifier
from sensecf.progress import progress_bar

PROVENANCE_COLUMNS = ("source", "llm_calls", "prompt_tokens", "completion_tokens", "seconds")
SOURCES = ("llm", "repair", "fallback", "search")


class NotFittedError(SensecfError, RuntimeError):
    """A generator was asked for counterfactuals before ``fit``."""


@dataclass
class Candidates:
    """What a generator proposes for one query: rows in spec order, with their provenance.

    ``source`` is one of ``llm`` (first answer), ``repair`` (after a repair round),
    ``fallback`` (non-LLM search filling in for the LLM) or ``search`` (an optimisation
    method). ``extra`` holds further per-row columns (e.g. the repair round).
    """

    values: np.ndarray
    source: str | Sequence[str] = "search"
    llm_calls: int | Sequence[int] = 0
    prompt_tokens: int | Sequence[int] = 0
    completion_tokens: int | Sequence[int] = 0
    extra: dict[str, Sequence[Any]] = field(default_factory=dict)
    query_info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_features: int) -> Candidates:
        """No counterfactual for this query."""
        return cls(np.empty((0, n_features)))


@dataclass
class CounterfactualResult:
    """Counterfactuals of one method for a batch of queries.

    ``queries``: ``query_id``, the dataset's id columns, the query's features, ``label`` (its
    true class, when the queries carried the target), ``proba_desired``
    (the model's probability of the desired class), ``n_cfs`` (how many it got), ``seconds``
    and ``error`` (empty when the method ran). ``cfs``: ``query_id``, ``method``, ``rank``, the
    features, ``proba_desired``, ``valid`` (the model puts it in the desired class under its
    decision rule), ``source``, ``llm_calls``, ``prompt_tokens``, ``completion_tokens``,
    ``seconds`` and any method-specific columns.
    """

    method: str
    desired_class: int
    spec: DatasetSpec
    queries: pd.DataFrame
    cfs: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """Share of queries with at least one counterfactual."""
        return float((self.queries["n_cfs"] > 0).mean()) if len(self.queries) else float("nan")

    @property
    def validity(self) -> float:
        """Share of counterfactuals the model puts in the desired class."""
        return float(self.cfs["valid"].mean()) if len(self.cfs) else float("nan")

    def query_matrix(self) -> np.ndarray:
        """Each counterfactual's query, row-aligned with :meth:`cf_matrix`."""
        X = self.queries.set_index("query_id")[self.spec.feature_names]
        return X.loc[self.cfs["query_id"]].to_numpy(dtype=float)

    def cf_matrix(self) -> np.ndarray:
        """The counterfactuals' feature values in spec order."""
        return self.cfs[self.spec.feature_names].to_numpy(dtype=float)

    def __repr__(self) -> str:
        return (
            f"CounterfactualResult({self.method!r}: {len(self.cfs)} CFs for "
            f"{len(self.queries)} queries, coverage {self.coverage:.2f}, "
            f"validity {self.validity:.2f})"
        )

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write ``cfs.parquet``, ``queries.parquet`` and ``result.json`` (atomically)."""
        out = Path(out_dir)
        write_table(self.cfs, out / "cfs.parquet")
        write_table(self.queries, out / "queries.parquet")
        self.spec.to_yaml(out / "spec.yaml")
        meta = {"method": self.method, "desired_class": self.desired_class, "info": self.info}
        write_json(out / "result.json", meta)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> CounterfactualResult:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        meta_path = path / "result.json"
        if not meta_path.is_file():
            raise DataError(f"{path} is not a counterfactual result folder (no result.json)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return cls(
            method=meta["method"],
            desired_class=int(meta["desired_class"]),
            spec=DatasetSpec.from_yaml(path / "spec.yaml"),
            queries=read_table_file(path / "queries.parquet"),
            cfs=read_table_file(path / "cfs.parquet"),
            info=meta.get("info", {}),
        )


class CounterfactualGenerator(BaseEstimator):
    """Base class: ``fit(model, reference)`` then ``generate(queries, n_cfs=...)``.

    scikit-learn manners: ``__init__`` stores its parameters as given (so ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work); :meth:`_validate_params` checks them when
    ``fit`` runs; everything ``fit`` derives carries a trailing underscore.

    Subclasses implement :meth:`_propose` (one query) or :meth:`_propose_batch` (all queries
    at once) and may override :meth:`_validate_params` and :meth:`_fit`. ``extra_cf_columns``
    and ``query_info_columns`` name the method's own columns of the result tables; they are
    present even when no query got a counterfactual.
    """

    name: str = "generator"
    extra_cf_columns: ClassVar[tuple[str, ...]] = ()
    query_info_columns: ClassVar[tuple[str, ...]] = ()

    def fit(self, model: Any, reference: Dataset) -> CounterfactualGenerator:
        """Remember the classifier and the reference rows (normally its training data).

        ``model`` is a :class:`TrainedClassifier`, or any fitted estimator with
        ``predict_proba`` over the reference spec's features (it is wrapped with that spec).
        """
        if not isinstance(reference, Dataset):
            raise SensecfError(f"reference must be a Dataset; got {type(reference).__name__}")
        if not isinstance(model, TrainedClassifier):
            if not callable(getattr(model, "predict_proba", None)):
                raise SensecfError(
                    "model must be a TrainedClassifier or a fitted estimator with predict_proba; "
                    f"got {type(model).__name__}"
                )
            model = TrainedClassifier(reference.spec, model)
        if reference.spec.feature_names != model.spec.feature_names:
            raise DataError(
                f"the reference data's features {reference.spec.feature_names} differ from the "
                f"model's {model.spec.feature_names}"
            )
        self._validate_params()
        self.model_ = model
        self.spec_ = model.spec
        self.reference_ = reference
        self._fit()
        return self

    def _validate_params(self) -> None:
        """Check the parameters as given; raise with a message naming the parameter."""

    def _fit(self) -> None:
        """Method-specific preparation (an explainer, an index)."""

    # ---- generation ----------------------------------------------------------------------
    def generate(
        self,
        queries: Dataset | pd.DataFrame,
        *,
        n_cfs: int = 1,
        desired_class: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> CounterfactualResult:
        """Counterfactuals for each query row, validated by the model.

        ``desired_class`` defaults to the spec's desired (healthy) class; pass the minority
        class to make augmentation rows.
        """
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted; call fit(model, data) first"
            )
        if not isinstance(n_cfs, (int, np.integer)) or isinstance(n_cfs, bool) or n_cfs < 1:
            raise SensecfError(f"n_cfs must be a positive integer; got {n_cfs!r}")
        spec = self.spec_
        desired = spec.desired_class if desired_class is None else int(desired_class)
        if desired not in spec.classes:
            raise SensecfError(
                f"desired_class must be one of {sorted(spec.classes)}; got {desired}"
            )
        frame = queries.frame if isinstance(queries, Dataset) else queries
        X = as_matrix(spec, frame)
        ids = frame[[c for c in spec.id_columns if c in frame.columns]].reset_index(drop=True)
        rng = np.random.default_rng(seed)

        proposals, seconds, errors = self._run(X, int(n_cfs), desired, rng, progress)
        query_table = ids.copy()
        query_table.insert(0, "query_id", np.arange(len(X)))
        query_table[spec.feature_names] = X
        if spec.target in frame.columns:  # the query's true class, for per-class breakdowns
            query_table["label"] = frame[spec.target].to_numpy()
        query_table["proba_desired"] = self.model_.proba_of(X, desired) if len(X) else []
        cfs = self._cf_table(proposals, seconds, desired, n_cfs)
        counts = cfs.groupby("query_id").size() if len(cfs) else pd.Series(dtype=int)
        query_table["n_cfs"] = counts.reindex(query_table["query_id"], fill_value=0).to_numpy()
        query_table["seconds"] = seconds
        query_table["error"] = errors
        info_keys = sorted(
            {k for p in proposals for k in p.query_info} | set(self.query_info_columns)
        )
        for key in info_keys:
            query_table[key] = [p.query_info.get(key) for p in proposals]
        return CounterfactualResult(self.name, desired, spec, query_table, cfs)

    def _run(
        self, X: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator, progress: bool
    ) -> tuple[list[Candidates], list[float], list[str]]:
        n, d = X.shape
        batch_start = time.perf_counter()
        batch = self._propose_batch(X, n_cfs, desired, rng, progress)
        if batch is not None:
            per_query = (time.perf_counter() - batch_start) / max(n, 1)
            return list(batch), [per_query] * n, [""] * n
        proposals: list[Candidates] = []
        seconds: list[float] = []
        errors: list[str] = []
        with progress_bar(self.name, n, progress) as advance:
            for i in range(n):
                start = time.perf_counter()
                try:
                    proposal = self._propose(X[i].copy(), n_cfs, desired, rng)
                    error = ""
                except SensecfError:
                    raise
                except Exception as exc:  # a method failing on one query must not stop the run
                    proposal, error = Candidates.empty(d), f"{type(exc).__name__}: {exc}"
                proposals.append(proposal)
                seconds.append(time.perf_counter() - start)
                errors.append(error[:500])
                advance()
        return proposals, seconds, errors

    def _propose(
        self, query: np.ndarray, n_cfs: int, desired: int, rng: np.random.Generator
    ) -> Candidates:
        raise NotImplementedError

    def _propose_batch(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool = False,
    ) -> Sequence[Candidates] | None:
        """Override to serve all queries at once; ``None`` means one query at a time."""
        return None

    def _cf_table(
        self, proposals: list[Candidates], seconds: list[float], desired: int, n_cfs: int
    ) -> pd.DataFrame:
        spec = self.spec_
        parts = []
        for query_id, (proposal, secs) in enumerate(zip(proposals, seconds, strict=True)):
            values = np.atleast_2d(np.asarray(proposal.values, dtype=float))
            if values.size == 0:
                continue
            if values.shape[1] != len(spec.features):
                raise SensecfError(
                    f"{self.name} proposed rows of {values.shape[1]} values; the spec has "
                    f"{len(spec.features)} features"
                )
            part = pd.DataFrame(values, columns=spec.feature_names)
            part = part.assign(
                **{
                    "source": _per_row(proposal.source, len(part)),
                    "llm_calls": _per_row(proposal.llm_calls, len(part)),
                    "prompt_tokens": _per_row(proposal.prompt_tokens, len(part)),
                    "completion_tokens": _per_row(proposal.completion_tokens, len(part)),
                    "seconds": secs / len(part),
                    **{k: list(v) for k, v in proposal.extra.items()},
                }
            )
            # Identical proposals are one counterfactual, not several.
            part = part.drop_duplicates(subset=spec.feature_names).head(n_cfs)
            part.insert(0, "rank", np.arange(len(part)))
            part.insert(0, "method", self.name)
            part.insert(0, "query_id", query_id)
            parts.append(part)
        columns = ["query_id", "method", "rank", *spec.feature_names]
        if not parts:
            empty = pd.DataFrame(
                columns=[
                    *columns,
                    "proba_desired",
                    "valid",
                    *PROVENANCE_COLUMNS,
                    *self.extra_cf_columns,
                ]
            )
            return empty.astype({"query_id": int, "rank": int, "valid": bool})
        table = pd.concat(parts, ignore_index=True)
        values = table[spec.feature_names].to_numpy(dtype=float)
        finite = np.isfinite(values).all(axis=1)
        proba = np.full(len(table), np.nan)
        predicted = np.full(len(table), -1)
        if finite.any():
            predicted[finite], proba[finite] = self.model_.predict_with_proba(
                values[finite], desired
            )
        table.insert(len(columns), "proba_desired", proba)
        table.insert(len(columns) + 1, "valid", predicted == desired)
        return table


def _per_row(value: Any, n: int) -> list[Any]:
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(f"provenance has {len(values)} entries for {n} rows")
    return values


def select_queries(
    model: TrainedClassifier,
    data: Dataset,
    *,
    rows: str | Sequence[Any] = "flagged",
    limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Rows to explain: those the model flags (predicts as not the desired class), or given ids.

    ``rows`` is ``"flagged"``, ``"all"``, or a list of values of the first id column (row
    positions when the spec has no id columns). ``limit`` keeps a seeded random sample.

    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> data = Dataset(df, infer_spec(df, "y"))
    >>> len(select_queries(train(data, "logreg", importance_repeats=1), data))
    20
    """
    if isinstance(rows, str):
        if rows == "flagged":
            mask = model.predict(data.X) != data.spec.desired_class
        elif rows == "all":
            mask = np.ones(len(data), dtype=bool)
        else:
            raise SensecfError(f"rows must be 'flagged', 'all' or a list of ids; got {rows!r}")
        chosen = data.subset(mask)
    else:
        key = data.spec.id_columns[0] if data.spec.id_columns else None
        column = data.frame[key] if key else pd.Series(np.arange(len(data)))
        wanted = pd.Series(list(rows))
        if key and pd.api.types.is_numeric_dtype(column):
            wanted = pd.to_numeric(wanted, errors="coerce")
        unknown = wanted[~wanted.isin(column)].tolist()
        if unknown:
            raise DataError(f"unknown {key or 'row'} value(s) {unknown[:5]} in the data")
        chosen = data.subset(column.isin(wanted).to_numpy())
    if limit is not None:
        if limit < 1:
            raise SensecfError(f"limit must be a positive integer; got {limit}")
        if len(chosen) > limit:
            picked = np.sort(np.random.default_rng(seed).choice(len(chosen), limit, replace=False))
            chosen = chosen.subset(picked)
    return chosen
