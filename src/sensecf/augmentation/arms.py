"""The arms of the study: what is added to the scarce training set, and the classifier fitted on it.

- ``full`` (the ceiling) and ``scarce`` (the floor) add nothing;
- a generator arm adds counterfactuals of majority rows of the scarce set, asked for the scarce
  class, verified by a classifier (the scarce one by default) and free of constraint
  violations, each carrying its provenance (generator, source row, LLM calls and tokens);
- ``random-oversampling``, ``smote`` and ``adasyn`` (imbalanced-learn) add the same number of
  rows by resampling the scarce class.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import violations
from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.generators.registry import GENERATORS, LLM_GENERATORS, make_generator
from sensecf.models import TrainedClassifier, fit_pipeline

OVERSAMPLERS = ("random-oversampling", "smote", "adasyn")
REFERENCE_ARMS = ("full", "scarce")
PROVENANCE = ("arm", "source_row", "source", "llm_calls", "prompt_tokens", "completion_tokens")


def check_arm(name: str) -> str:
    """An arm name: a generator of the registry or one of the oversamplers.

    >>> check_arm("smote")
    'smote'
    """
    if name in OVERSAMPLERS or name in GENERATORS:
        return name
    raise SensecfError(
        f"unknown augmentation arm {name!r}; choose generators from {', '.join(GENERATORS)} "
        f"or oversamplers from {', '.join(OVERSAMPLERS)}"
    )


def augmentation_spec(spec: DatasetSpec) -> DatasetSpec:
    """The spec with every mutable feature free to move either way.

    Directions describe interventions towards the healthy class; a synthetic row of the other
    class may differ from its source row either way. Fixed features, bounds and grains hold.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...     features=[FeatureSpec(name="steps", bounds=(0, 9e4), mutability="increase")])
    >>> augmentation_spec(spec).feature("steps").mutability
    'both'
    """
    for feature in spec.features:
        if feature.mutability in ("increase", "decrease"):
            spec = spec.update_feature(feature.name, mutability="both")
    return spec


def fit_classifier(
    rows: Dataset,
    estimator: str | Any = "rf",
    *,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    scarce_class: int | None = None,
    extra: pd.DataFrame | None = None,
) -> TrainedClassifier:
    """The project's pipeline for ``estimator`` fitted on ``rows`` plus ``extra`` labelled rows.

    ``extra`` holds the spec's features and target (generated or resampled rows).
    ``scarce_class`` becomes the model's ``minority_class``, the class whose F1 is reported.

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 30 + [1] * 10})
    >>> clf = fit_classifier(Dataset(df, infer_spec(df, "y")), "logreg", scarce_class=1)
    >>> clf.predict(np.array([[2.0], [39.0]])).tolist()
    [0, 1]
    """
    spec = rows.spec
    X, y = rows.X, rows.y
    if extra is not None and len(extra):
        X = pd.concat([X, extra[spec.feature_names].astype(float)], ignore_index=True)
        y = pd.concat([y, extra[spec.target].astype(y.dtype)], ignore_index=True)
    name, pipeline = fit_pipeline(estimator, X, y.to_numpy(), seed=seed, params=params)
    return TrainedClassifier(
        spec, pipeline, estimator_name=name, seed=seed, minority_class=scarce_class
    )


@dataclass
class Augmentation:
    """Rows an arm adds, with what they cost.

    ``rows``: the spec's features and target, then :data:`PROVENANCE` (and, for generators, the
    model's probability of the scarce class). ``asked``: queries sent to a generator;
    ``candidates``: what came back, offered or withheld (an LLM generator's rejected answers);
    ``invalid`` and ``violating``: candidates turned away because the verifier does not put
    them in the scarce class (or the generator withheld them) or because they break a
    constraint; ``error``: why an arm added nothing, if it failed.
    """

    rows: pd.DataFrame
    seconds: float = 0.0
    llm_calls: int = 0
    tokens: int = 0
    asked: int = 0
    candidates: int = 0
    invalid: int = 0
    violating: int = 0
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)


# The oracle's work per person when it generates rows: a row needs to be valid, not proven
# minimal. The program is solved support by support only (never the whole forest at once,
# whose root alone takes seconds on the default cohort, where relations join the sleep
# features), at most 32 supports' programs a person, each stopped after 50 branch-and-bound
# nodes, and the search hands at most 200,000 candidate rows to the model. All of it is counted
# work and there is no clock: an arm adds the same rows on any machine, idle or loaded, serial
# or in parallel (with the earlier 3-s cap most cohort people were cut by the clock).
ORACLE_WORK = MappingProxyType(
    {
        "node_limit": 50,
        "max_candidates": 200_000,
        "programs": "supports",
        "max_support_solves": 32,
        "time_limit": None,
    }
)

ORACLE_ARMS = ("oracle", "oracle-plausible")


def oracle_work(options: dict[str, Any]) -> dict[str, Any]:
    """An oracle arm's options: :data:`ORACLE_WORK` where ``options`` give no budget of their own.

    >>> oracle_work({"node_limit": 10})["node_limit"], oracle_work({})["time_limit"] is None
    (10, True)
    """
    return {**ORACLE_WORK, **options}


def generated_rows(
    name: str,
    scarce: Dataset,
    verifier: TrainedClassifier,
    *,
    scarce_class: int,
    count: int,
    source_rows: np.ndarray,
    seed: int = 0,
    n_cfs: int = 1,
    options: dict[str, Any] | None = None,
    llm_cache: str | Path | None = None,
    max_rounds: int = 3,
    max_queries: int | None = None,
    min_proba: float | None = None,
    progress: bool = False,
) -> Augmentation:
    """Up to ``count`` verified counterfactual rows of the scarce class from one generator.

    Queries are the scarce set's rows of the other class that the verifier does not already
    put in the scarce class, in a seeded random order, asked in rounds until ``count`` rows
    pass (``valid`` under the verifier, zero constraint violations, not a duplicate),
    ``max_rounds`` rounds are spent or ``max_queries`` queries were asked. ``min_proba``
    asks each generator for a safety margin (see ``CounterfactualGenerator.generate``); rows
    are still accepted by the verifier's decision rule. ``source_rows``
    maps the scarce set's rows to positions in the full dataset (each row's ``source_row``).
    The oracle (plain or held to plausibility) gets the work budget :data:`ORACLE_WORK` per
    person unless ``options`` give their own (``node_limit``, ``max_candidates``,
    ``programs``, ``max_support_solves``; a ``time_limit`` adds a cap in seconds, and the
    rows then depend on the machine): a row needs to be valid (and, held, an inlier), not
    certified minimal, and proving the minimum on an unpruned forest takes far more work.
    """
    spec = scarce.spec
    empty = _empty_rows(spec)
    if count <= 0:
        return Augmentation(empty)
    options = dict(options or {})
    given = "backend" in options  # a backend the caller built stays open for its next cell
    if name in ORACLE_ARMS:
        options = oracle_work(options)
    if name in LLM_GENERATORS and llm_cache is not None and not given:
        options.setdefault("llm_cache", str(llm_cache))
    start = time.perf_counter()
    generator = make_generator(name, **options).fit(verifier, scarce)
    other = np.flatnonzero(scarce.y.to_numpy() != scarce_class)
    if len(other):
        other = other[verifier.predict(scarce.X.iloc[other]) != scarce_class]
    pool = np.random.default_rng([seed, 7]).permutation(other)[:max_queries]
    kept: list[pd.DataFrame] = []
    asked = candidates = calls = tokens = invalid = violating = 0
    have = 0
    try:
        for round_ in range(max_rounds):
            if have >= count or asked >= len(pool):
                break
            # Ask for what is missing, scaled by the rows accepted per query so far (at first,
            # a quarter more queries than the count needs if every CF passed).
            rate = have / asked if round_ else 0.8 * n_cfs
            n_queries = math.ceil((count - have) / max(rate, 0.1))
            batch = pool[asked : asked + n_queries]
            asked += len(batch)
            result = generator.generate(
                scarce.subset(batch),
                n_cfs=n_cfs,
                desired_class=scarce_class,
                seed=seed + round_,
                min_proba=min_proba,
                progress=progress,
            )
            candidates += len(result.cfs) + len(result.rejected)  # a withheld answer was one
            calls += _sum(result.queries, "llm_calls", result.cfs)
            tokens += _sum(result.queries, "prompt_tokens", result.cfs) + _sum(
                result.queries, "completion_tokens", result.cfs
            )
            accepted, turned_away = _accepted(result, spec, batch, source_rows, scarce_class)
            invalid += turned_away[0] + len(result.rejected)
            violating += turned_away[1]
            kept.append(accepted)
            have = len(pd.concat(kept).drop_duplicates(subset=spec.feature_names))
    finally:
        backend = getattr(generator, "backend", None)
        if not given and backend is not None and hasattr(backend, "close"):
            backend.close()
    rows = pd.concat([empty, *kept], ignore_index=True).drop_duplicates(subset=spec.feature_names)
    if len(rows) > count:
        picked = np.sort(np.random.default_rng([seed, 11]).choice(len(rows), count, replace=False))
        rows = rows.iloc[picked]
    return Augmentation(
        rows.assign(arm=name).reset_index(drop=True),
        seconds=time.perf_counter() - start,
        llm_calls=calls,
        tokens=tokens,
        asked=asked,
        candidates=candidates,
        invalid=invalid,
        violating=violating,
    )


def _sum(queries: pd.DataFrame, column: str, cfs: pd.DataFrame) -> int:
    """An LLM cost summed per query when the generator reports it there (queries with no CF
    cost calls too), else over the counterfactuals."""
    if column in queries.columns:
        return int(pd.to_numeric(queries[column], errors="coerce").fillna(0).sum())
    return int(pd.to_numeric(cfs.get(column, pd.Series(dtype=float))).fillna(0).sum())


def _accepted(
    result: Any, spec: DatasetSpec, batch: np.ndarray, source_rows: np.ndarray, scarce_class: int
) -> tuple[pd.DataFrame, tuple[int, int]]:
    """The valid (at the margin, when one was asked), violation-free rows with their
    provenance; how many were invalid and how many valid ones broke a constraint."""
    cfs = result.cfs
    if not len(cfs):
        return _empty_rows(spec), (0, 0)
    broken = violations(spec, result.query_matrix(), result.cf_matrix())["total"].to_numpy() > 0
    valid = cfs["valid"].to_numpy(dtype=bool)
    if "valid_margin" in cfs:  # a margin was asked: rows short of it are turned away as invalid
        valid = valid & cfs["valid_margin"].to_numpy(dtype=bool)
    good = cfs[valid & ~broken]
    rows = good[spec.feature_names].astype(float).reset_index(drop=True)
    rows[spec.target] = scarce_class
    rows["arm"] = result.method
    rows["source_row"] = source_rows[batch[good["query_id"].to_numpy(dtype=int)]]
    for column in ("source", "llm_calls", "prompt_tokens", "completion_tokens", "proba_desired"):
        rows[column] = good[column].to_numpy() if column in good else None
    return rows, (int((~valid).sum()), int((valid & broken).sum()))


def _empty_rows(spec: DatasetSpec) -> pd.DataFrame:
    columns = [*spec.feature_names, spec.target, *PROVENANCE, "proba_desired"]
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
        {"arm": object, "source": object}
    )


def oversampled_rows(
    name: str, scarce: Dataset, *, scarce_class: int, count: int, seed: int = 0
) -> Augmentation:
    """``count`` new rows of the scarce class by random oversampling, SMOTE or ADASYN.

    Resampling sees missing values filled with the scarce set's medians (SMOTE cannot
    interpolate a gap); ADASYN decides its own number of rows near ``count`` and may refuse
    when no row of the class is hard to learn, which is reported as the arm's error.

    >>> from sensecf.data.spec import infer_spec
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=40), "y": [0] * 30 + [1] * 10})
    >>> len(oversampled_rows("smote", Dataset(df, infer_spec(df, "y")), scarce_class=1,
    ...                      count=6).rows)
    6
    """
    from imblearn.over_sampling import ADASYN, SMOTE, RandomOverSampler

    if name not in OVERSAMPLERS:
        raise SensecfError(f"unknown oversampler {name!r}; choose one of {list(OVERSAMPLERS)}")
    spec = scarce.spec
    empty = _empty_rows(spec)
    if count <= 0:
        return Augmentation(empty)
    start = time.perf_counter()
    X = scarce.X.astype(float)
    X = X.fillna(X.median()).fillna(0.0)
    y = scarce.y.to_numpy()
    n_class = int((y == scarce_class).sum())
    strategy = {scarce_class: n_class + count}
    neighbours = max(1, min(5, n_class - 1))
    if name == "random-oversampling":
        sampler: Any = RandomOverSampler(sampling_strategy=strategy, random_state=seed)
    elif name == "smote":
        sampler = SMOTE(sampling_strategy=strategy, k_neighbors=neighbours, random_state=seed)
    else:
        sampler = ADASYN(sampling_strategy=strategy, n_neighbors=neighbours, random_state=seed)
    try:
        X_res, y_res = sampler.fit_resample(X, y)
    except (ValueError, RuntimeError) as exc:
        return Augmentation(empty, seconds=time.perf_counter() - start, error=str(exc)[:300])
    # imbalanced-learn appends the new rows after the original ones.
    new = pd.DataFrame(np.asarray(X_res)[len(X) :], columns=spec.feature_names)
    new[spec.target] = np.asarray(y_res)[len(X) :]
    new = new[new[spec.target] == scarce_class].head(count).reset_index(drop=True)
    new["arm"] = name
    new["source"] = "resample"
    return Augmentation(
        pd.concat([empty, new], ignore_index=True), seconds=time.perf_counter() - start
    )
