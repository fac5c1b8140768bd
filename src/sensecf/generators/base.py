"""One interface for every counterfactual generator.

A generator is fitted on a trained classifier and reference rows (its training data), then
asked for counterfactuals of a batch of query rows:

    gen = Oracle().fit(clf, train_rows)
    result = gen.generate(queries, n_cfs=3)      # CounterfactualResult
    result.cfs                                   # one row per counterfactual
    result.queries                               # one row per query, with or without a CF

A query that gets no counterfactual keeps its row in ``queries`` (``n_cfs`` = 0) so coverage
counts it; a query on which a method fails is recorded with its error and the run goes on.
The result tables are the contract of :mod:`sensecf.results` (re-exported here).

Queries and reference rows may miss values (NaN: a feature nobody measured). A query's missing
value stays NaN in the tables, and a counterfactual is judged by the model as it stands, NaN
included (:func:`judgeable`); one that gives the missing feature a value keeps it, and the
metrics count it as a violation. A package that cannot take NaN gets a stand-in
(:func:`stand_ins`) and its adapter puts NaN back before the base class judges the answer.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from sensecf.data.constraints import as_matrix, project, recompute_known
from sensecf.data.dataset import Dataset
from sensecf.data.limits import Limits, PersonLimits
from sensecf.data.spec import DatasetSpec
from sensecf.errors import DataError, SensecfError
from sensecf.models.classifier import TrainedClassifier
from sensecf.models.plausibility import PlausibilityDetector, class_detector
from sensecf.progress import progress_bar
from sensecf.results import (
    PROVENANCE_COLUMNS,
    SOURCES,
    CounterfactualResult,
    empty_cfs,
    empty_rejected,
    rejected_columns,
)

__all__ = [
    "PROVENANCE_COLUMNS",
    "SOURCES",
    "Candidates",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "NotFittedError",
    "Withheld",
    "fill_missing",
    "judgeable",
    "margin_model",
    "select_queries",
    "stand_ins",
]


class NotFittedError(SensecfError, RuntimeError):
    """A generator was asked for counterfactuals before ``fit``."""


@dataclass
class Candidates:
    """What a generator proposes for one query: rows in spec order, with their provenance.

    ``source`` is one of ``llm`` (first answer), ``repair`` (after a repair round),
    ``fallback`` (non-LLM search filling in for the LLM) or ``search`` (an optimisation
    method). ``extra`` holds further per-row columns (e.g. the repair round); ``query_info``
    per-query facts (e.g. the oracle's ``min_l0``).

    ``withheld``: the answers the method refused to offer for this query (only the LLM
    generators withhold; they become the result's ``rejected`` rows).

    ``seconds`` is what the query cost, for a method that serves all queries at once
    (``_propose_batch``) and can time each one. When it is ``None`` the base class measures
    the query itself (one query at a time), or, in a batch, gives the query an equal share of
    the batch's time that the timed queries do not account for: a batched method that cannot
    time its queries reports the batch average.

    >>> Candidates.empty(3).values.shape
    (0, 3)
    """

    values: np.ndarray
    source: str | Sequence[str] = "search"
    llm_calls: int | Sequence[int] = 0
    prompt_tokens: int | Sequence[int] = 0
    completion_tokens: int | Sequence[int] = 0
    extra: dict[str, Sequence[Any]] = field(default_factory=dict)
    query_info: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    withheld: Withheld | None = None

    @classmethod
    def empty(cls, n_features: int) -> Candidates:
        """No counterfactual for this query."""
        return cls(np.empty((0, n_features)))


@dataclass
class Withheld:
    """Answers a generator withheld for one query, one entry per answer: its values in spec
    order (NaN where it could not be read), which of the query's asked counterfactuals it was
    meant to be (``attempt``), the model's probability of the desired class (NaN where the
    answer never reached the model), its ``source`` and ``round``, and why (``reason``).

    >>> Withheld(np.zeros((1, 2)), [0], [0.4], ["llm"], [0], ["not the desired class"]).count
    1
    """

    values: np.ndarray
    attempt: Sequence[int]
    proba_desired: Sequence[float]
    source: Sequence[str]
    round: Sequence[int]
    reason: Sequence[str]

    @property
    def count(self) -> int:
        """How many answers were withheld."""
        return len(self.reason)


class CounterfactualGenerator(BaseEstimator):
    """Base class: ``fit(model, reference)`` then ``generate(queries, n_cfs=...)``.

    scikit-learn manners: ``__init__`` stores its parameters exactly as given and does nothing
    else (so ``get_params``, ``set_params``, ``sklearn.base.clone`` and the estimator ``repr``
    work); :meth:`_validate_params` checks them (``fit`` calls it first, and
    :func:`~sensecf.generators.registry.make_generator` at once); everything derived from them
    or from the data is made in :meth:`_fit` and carries a trailing underscore.

    ``name`` (the ``method`` column of the result) is a class attribute where it is fixed
    (``oracle``), and a read-only property computed from the parameters where it depends on
    them (``dice-random``, ``nice-proximity``).

    Subclasses implement :meth:`_propose` (one query) or :meth:`_propose_batch` (all queries
    at once) and may override :meth:`_validate_params` and :meth:`_fit`. Derived features are
    recomputed from their inputs for every method; a method with ``keeps_relations = True``
    also has each proposal projected onto what its query allows before it is judged. ``extra_cf_columns``
    and ``query_info_columns`` name the method's own columns of the result tables; they are
    present even when no query got a counterfactual.

    >>> from sklearn.base import clone
    >>> class Nothing(CounterfactualGenerator):
    ...     name = "nothing"
    ...     def __init__(self, *, tries=1):
    ...         self.tries = tries
    >>> Nothing(tries=2)
    Nothing(tries=2)
    >>> clone(Nothing(tries=2)).get_params()
    {'tries': 2}
    """

    name: str = "generator"
    # True for the project's own searches: each proposal is projected (constraints.project)
    # before it is judged, so none breaks a relation; a baseline is measured as it answered.
    keeps_relations: ClassVar[bool] = False
    # False for a method whose search decides by a rule of its own (a library's 0.5 or argmax,
    # a bank verified at fit): ``generate(min_proba=)`` would not make it search to the margin.
    searches_margin: ClassVar[bool] = True
    # True for a method that holds each query to its person's limits (``generate(limits=)``:
    # its ``_propose_batch`` takes them); the others ignore them and are measured against them.
    honours_limits: ClassVar[bool] = False
    # True where a query's answer depends on that query alone (no random draws shared along
    # the batch): its queries may then be split among workers with the same answers.
    answers_each_query_alone: ClassVar[bool] = False
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

    def reads_detector(self) -> bool:
        """Whether the method reads a plausibility detector (its ``detector`` parameter): held
        to one (``plausibility`` other than ``"none"``), or choosing by one; a run then passes
        it the one its metric suite judges by.

        >>> from sensecf.generators.oracle import Oracle
        >>> Oracle().reads_detector(), Oracle(plausibility="iforest").reads_detector()
        (False, True)
        """
        params = self.get_params()
        return "detector" in params and params.get("plausibility", "none") != "none"

    def _class_detector(self, desired: int) -> PlausibilityDetector:
        """The detector of class ``desired`` at its calibration, for a method that reads one:
        its ``detector`` parameter, or one fitted on the reference rows with its
        ``detector_trees``, ``detector_seed`` and ``inlier_rate``
        (:func:`~sensecf.models.plausibility.class_detector`)."""
        params = self.get_params()
        if params.get("detector") is not None:
            detector: PlausibilityDetector = params["detector"]
            return detector
        return class_detector(
            self.reference_,
            desired,
            trees=params["detector_trees"],
            seed=params["detector_seed"],
            inlier_rate=params["inlier_rate"],
        )

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
        min_proba: float | None = None,
        limits: PersonLimits | Sequence[Limits | None] | None = None,
    ) -> CounterfactualResult:
        """Counterfactuals for each query row, validated by the model.

        ``desired_class`` defaults to the spec's desired (healthy) class; pass the minority
        class to make augmentation rows. ``min_proba`` is a safety margin: the search runs with
        a model that grants the desired class only where its probability reaches it (see
        :func:`margin_model`), so a method searches until P(desired) ≥ ``min_proba``; ``valid``
        stays the decision rule, and the CF table gains ``valid_margin``. ``info["min_proba"]``
        records it.

        ``limits``: per-person limits (:class:`~sensecf.data.limits.PersonLimits`, found by
        the queries' id columns, or one :class:`~sensecf.data.limits.Limits` or None per query
        row). A method with ``honours_limits`` keeps every query to its person's; the others
        ignore them (the metric suite counts what they break). The query table gains
        ``limits`` (each person's in words), and ``info["limits"]`` says ``honoured`` or
        ``ignored``.
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
        person = _per_query(limits, frame, len(X))

        rule = self.model_
        if min_proba is not None:
            # The search sees a stricter model; the result is judged by the decision rule.
            self.model_ = margin_model(rule, desired, min_proba)
        try:
            honoured = person if self.honours_limits else None
            proposals, seconds, errors = self._run(X, int(n_cfs), desired, rng, progress, honoured)
        finally:
            self.model_ = rule
        query_table = ids.copy()
        query_table.insert(0, "query_id", np.arange(len(X)))
        query_table[spec.feature_names] = X
        if spec.target in frame.columns:  # the query's true class, for per-class breakdowns
            query_table["label"] = frame[spec.target].to_numpy()
        query_table["proba_desired"] = self.model_.proba_of(X, desired) if len(X) else []
        cfs = self._cf_table(proposals, seconds, desired, n_cfs, X)
        if min_proba is not None:
            cfs.insert(
                cfs.columns.get_loc("valid") + 1,
                "valid_margin",
                cfs["proba_desired"].to_numpy(dtype=float) >= float(min_proba),
            )
        counts = cfs.groupby("query_id").size() if len(cfs) else pd.Series(dtype=int)
        query_table["n_cfs"] = counts.reindex(query_table["query_id"], fill_value=0).to_numpy()
        query_table["seconds"] = np.asarray(seconds, dtype=float)
        query_table["error"] = pd.array(errors, dtype="str")
        info_keys = sorted(
            {k for p in proposals for k in p.query_info} | set(self.query_info_columns)
        )
        for key in info_keys:
            query_table[key] = [p.query_info.get(key) for p in proposals]
        info: dict[str, Any] = {} if min_proba is None else {"min_proba": float(min_proba)}
        if person is not None:
            query_table["limits"] = [p.text() if p is not None else "" for p in person]
            info["limits"] = "honoured" if self.honours_limits else "ignored"
        rejected = self._rejected_table(proposals)
        return CounterfactualResult(self.name, desired, spec, query_table, cfs, info, rejected)

    def _run(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool,
        limits: list[Limits | None] | None = None,
    ) -> tuple[list[Candidates], list[float], list[str]]:
        n, d = X.shape
        batch_start = time.perf_counter()
        person = {} if limits is None else {"limits": limits}
        batch = self._propose_batch(X, n_cfs, desired, rng, progress, **person)
        if batch is not None:
            proposals = list(batch)
            if len(proposals) != n:
                raise SensecfError(
                    f"{self.name} proposed for {len(proposals)} queries; {n} were asked"
                )
            elapsed = time.perf_counter() - batch_start
            return proposals, _batch_seconds(proposals, elapsed, self.name), [""] * n
        proposals = []
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
                measured = time.perf_counter() - start
                given = _checked_seconds(proposal.seconds, self.name)
                seconds.append(measured if given is None else given)
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

    def _rejected_table(self, proposals: list[Candidates]) -> pd.DataFrame:
        """The ``rejected`` table: every query's withheld answers, in query order."""
        spec = self.spec_
        blocks = [
            (query_id, p.withheld)
            for query_id, p in enumerate(proposals)
            if p.withheld is not None and p.withheld.count
        ]
        if not blocks:
            return empty_rejected(spec)
        values = np.vstack([np.atleast_2d(np.asarray(w.values, dtype=float)) for _, w in blocks])
        if values.shape[1] != len(spec.features):
            raise SensecfError(
                f"{self.name} withheld rows of {values.shape[1]} values; the spec has "
                f"{len(spec.features)} features"
            )

        def column(name: str) -> list[Any]:
            return [v for _, w in blocks for v in _per_row_list(getattr(w, name), w.count, name)]

        table = pd.DataFrame(
            {
                "query_id": np.repeat([q for q, _ in blocks], [w.count for _, w in blocks]),
                "method": self.name,
                "attempt": np.asarray(column("attempt"), dtype=np.int64),
                **{name: values[:, j] for j, name in enumerate(spec.feature_names)},
                "proba_desired": np.asarray(column("proba_desired"), dtype=float),
                "source": column("source"),
                "round": np.asarray(column("round"), dtype=np.int64),
                "reason": column("reason"),
            }
        )
        table["query_id"] = table["query_id"].astype(np.int64)
        return table[rejected_columns(spec)]

    def _cf_table(
        self,
        proposals: list[Candidates],
        seconds: list[float],
        desired: int,
        n_cfs: int,
        X: np.ndarray,
    ) -> pd.DataFrame:
        """The ``cfs`` table of all queries, built once from stacked arrays.

        Derived features are first computed from their inputs (whatever the method proposed
        for them), so the model judges numbers that can all be true at once. Per query:
        identical rows are one counterfactual (the first is kept), then the first ``n_cfs`` are
        ranked 0, 1, ...; each row carries its query's seconds divided by the number of rows
        the method proposed for it.
        """
        spec = self.spec_
        d = len(spec.features)
        blocks: list[np.ndarray] = []
        owner: list[int] = []
        sizes: list[int] = []
        row_seconds: list[float] = []
        provenance: dict[str, list[Any]] = {c: [] for c in PROVENANCE_COLUMNS[:-1]}
        extras: dict[str, list[Sequence[Any] | None]] = {}
        for query_id, (proposal, secs) in enumerate(zip(proposals, seconds, strict=True)):
            values = np.atleast_2d(np.asarray(proposal.values, dtype=float))
            if values.size == 0:
                continue
            if values.shape[1] != d:
                raise SensecfError(
                    f"{self.name} proposed rows of {values.shape[1]} values; the spec has "
                    f"{d} features"
                )
            n = len(values)
            for key, per_block in extras.items():  # a block without a known extra: missing
                if key not in proposal.extra:
                    per_block.append(None)
            for key, given in proposal.extra.items():
                if key not in extras:  # a new extra: missing in the blocks before
                    extras[key] = [None] * len(blocks)
                extras[key].append(_per_row_list(given, n, key))
            blocks.append(values)
            owner.append(query_id)
            sizes.append(n)
            row_seconds.append(secs / n)
            for column, rows in provenance.items():
                rows.extend(_per_row(getattr(proposal, column), n, column))
        if not blocks:
            return empty_cfs(spec, self.extra_cf_columns)

        counts = np.asarray(sizes)
        values = np.vstack(blocks)
        asked = X[np.repeat(owner, counts)]
        if self.keeps_relations and spec.relations:
            values = project(spec, asked, values)
        values = recompute_known(spec, asked, values)
        query_ids = np.repeat(np.asarray(owner, dtype=np.int64), counts)
        # Identical proposals of one query are one counterfactual, not several.
        keys = pd.DataFrame(values).assign(_query=query_ids)
        keep = ~keys.duplicated().to_numpy()
        kept_queries = query_ids[keep]
        group_start = np.flatnonzero(np.r_[True, kept_queries[1:] != kept_queries[:-1]])
        group_sizes = np.diff(np.r_[group_start, len(kept_queries)])
        rank = np.arange(len(kept_queries)) - np.repeat(group_start, group_sizes)
        chosen = np.flatnonzero(keep)[rank < n_cfs]
        rank = rank[rank < n_cfs]

        values = values[chosen]
        # The model judges a row as it stands, NaN where the query is missing a value included.
        judged = judgeable(asked[chosen], values)
        proba = np.full(len(values), np.nan)
        predicted = np.full(len(values), -1)
        if judged.any():
            predicted[judged], proba[judged] = self.model_.predict_with_proba(
                values[judged], desired
            )
        columns: dict[str, Any] = {
            "query_id": query_ids[chosen],
            "method": [self.name] * len(chosen),
            "rank": rank.astype(np.int64),
            **{name: values[:, j] for j, name in enumerate(spec.feature_names)},
            "proba_desired": proba,
            "valid": predicted == desired,
        }
        for column, rows in provenance.items():
            columns[column] = _pick(rows, chosen)
        columns["seconds"] = np.repeat(np.asarray(row_seconds), counts)[chosen]
        for key, per_block in extras.items():
            rows = []
            for block, n in zip(per_block, sizes, strict=True):
                rows.extend([np.nan] * n if block is None else block)
            columns[key] = _pick(rows, chosen)
        for key in self.extra_cf_columns:  # the method's own columns, even when none came
            if key not in columns:
                columns[key] = np.full(len(chosen), np.nan, dtype=object)
        return pd.DataFrame(columns)


def _per_query(
    limits: PersonLimits | Sequence[Limits | None] | None, frame: pd.DataFrame, n: int
) -> list[Limits | None] | None:
    """Each query row's limits (None: no limits given at all)."""
    if limits is None:
        return None
    if isinstance(limits, PersonLimits):
        return limits.resolve(frame)
    person = list(limits)
    if len(person) != n or not all(p is None or isinstance(p, Limits) for p in person):
        raise SensecfError(
            f"limits must be a PersonLimits or one Limits (or None) per query; got "
            f"{len(person)} entries for {n} queries"
        )
    return person


def judgeable(queries: np.ndarray, cfs: np.ndarray) -> np.ndarray:
    """Per counterfactual: the model can judge it, i.e. every value is a finite number except
    where its query (row-aligned) is missing one (NaN there: the feature nobody measured).

    A row that drops a measured value to NaN, or holds an infinity, is not judged (not valid).

    >>> judgeable(np.array([[1.0, np.nan]] * 3), np.array([[2.0, np.nan], [np.nan, 1.0], [2.0, 5.0]]))
    array([ True, False,  True])
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=float))
    cfs = np.atleast_2d(np.asarray(cfs, dtype=float))
    return np.asarray((np.isfinite(cfs) | (np.isnan(cfs) & np.isnan(queries))).all(axis=1))


def stand_ins(spec: DatasetSpec, reference: np.ndarray) -> np.ndarray:
    """Per feature (spec order), the value a package that cannot take NaN gets for a missing
    one: the reference rows' median on the feature's grain, for a coded feature its most
    frequent level, and the middle of the bounds (on the grain) where a column has no value.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
    ...     FeatureSpec(name="x", bounds=(0, 10), step=0.5),
    ...     FeatureSpec(name="g", kind="categorical", levels=(0, 1, 2), bounds=(0, 2)),
    ...     FeatureSpec(name="z", kind="integer", bounds=(0, 9))])
    >>> stand_ins(spec, np.array([[1.0, 2, np.nan], [2.0, 2, np.nan], [np.nan, 0, np.nan]])).tolist()
    [1.5, 2.0, 4.0]
    """
    X = np.atleast_2d(np.asarray(reference, dtype=float))
    out = np.empty(len(spec.features))
    for j, feature in enumerate(spec.features):
        column = X[:, j][~np.isnan(X[:, j])]
        if not len(column):
            value = float(np.mean(feature.bounds))
        elif feature.levels is not None:
            levels, counts = np.unique(column, return_counts=True)
            value = float(levels[np.argmax(counts)])  # first of the most frequent, for ties
        else:
            value = float(np.median(column))
        out[j] = float(feature.round([value])[0])
    return out


def fill_missing(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of ``rows`` with each missing value replaced by its column's ``values``.

    >>> fill_missing(np.array([[1.0, np.nan], [np.nan, 4.0]]), np.array([9.0, 8.0])).tolist()
    [[1.0, 8.0], [9.0, 4.0]]
    """
    rows = np.atleast_2d(np.array(rows, dtype=float, copy=True))
    return np.where(np.isnan(rows), np.asarray(values, dtype=float), rows)


def margin_model(model: TrainedClassifier, desired: int, min_proba: float) -> TrainedClassifier:
    """A copy of ``model`` that predicts ``desired`` only where P(desired) ≥ ``min_proba``.

    The margin must be at least what the decision rule already asks of P(desired) (the
    threshold for the positive class, one minus it for the other).

    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
    >>> strict = margin_model(clf, 0, 0.8)
    >>> rows = np.array([[10.0], [15.0]])    # P(class 0): 0.87 and 0.71
    >>> clf.predict(rows).tolist(), strict.predict(rows).tolist(), clf.threshold
    ([0, 0], [0, 1], 0.5)
    """
    if not is_number(min_proba) or not 0.0 < float(min_proba) < 1.0:
        raise SensecfError(f"min_proba must lie strictly between 0 and 1; got {min_proba!r}")
    margin = float(min_proba)
    positive = desired == model.positive_class
    ruled = model.threshold if positive else 1.0 - model.threshold
    if margin < ruled - 1e-12:
        raise SensecfError(
            f"min_proba {margin:g} is below what the decision rule already asks of "
            f"P({model.spec.classes.get(desired, desired)}) ({ruled:g}); use at least {ruled:g}"
        )
    strict = copy.copy(model)
    # Positive when P(positive) ≥ t: for the other class, P(desired) ≥ m ⟺ P(positive) ≤ 1 - m.
    strict.threshold = margin if positive else float(np.nextafter(1.0 - margin, 2.0))
    return strict


def _pick(rows: list[Any], index: np.ndarray) -> list[Any]:
    """``rows[i]`` for each ``i`` of ``index``, as a list (pandas infers the column's dtype)."""
    return [rows[i] for i in index]


def _per_row(value: Any, n: int, column: str = "provenance") -> list[Any]:
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return [value] * n
    return _per_row_list(value, n, column)


def _per_row_list(values: Sequence[Any], n: int, column: str) -> list[Any]:
    out = list(values)
    if len(out) != n:
        raise ValueError(f"{column} has {len(out)} entries for {n} rows")
    return out


def check_change_cap(value: Any) -> None:
    """Raise unless ``value`` is a ``max_changes`` a generator accepts: a positive integer or None.

    >>> check_change_cap(3), check_change_cap(None)
    (None, None)
    >>> check_change_cap(0)
    Traceback (most recent call last):
    ...
    ValueError: `max_changes` must be a positive integer or None; got 0
    """
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"`max_changes` must be a positive integer or None; got {value!r}")


def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool: what a numeric parameter may be.

    >>> is_number(2), is_number(np.float32(0.5)), is_number(True), is_number("2")
    (True, True, False, False)
    """
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _checked_seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise SensecfError(f"{name} reported seconds {value!r}; expected a number or None")
    if not math.isfinite(value) or value < 0:
        raise SensecfError(f"{name} reported seconds {value!r}; expected a number >= 0")
    return float(value)


def _batch_seconds(proposals: list[Candidates], elapsed: float, name: str) -> list[float]:
    """Each query's seconds in a batch: its own when the method timed it, else an equal share
    of the batch time the timed queries leave."""
    given = [_checked_seconds(p.seconds, name) for p in proposals]
    untimed = sum(s is None for s in given)
    timed = sum(s for s in given if s is not None)
    share = max(elapsed - timed, 0.0) / untimed if untimed else 0.0
    return [share if s is None else s for s in given]


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
