"""Explain a classifier's flagged rows: counterfactuals plus plain-language intervention texts.

What ``sensecf explain`` does, as one library call a notebook can make: choose the rows to
explain and the reference rows, build the generator (and the LLM backend an LLM generator talks
to), run it, optionally sparsify, and word each counterfactual as an intervention.

>>> import numpy as np, pandas as pd
>>> import sensecf as scf
>>> df = pd.DataFrame({"steps": np.arange(40.0) * 500, "ill": [1] * 20 + [0] * 20})
>>> data = scf.Dataset(df, scf.infer_spec(df, "ill"))
>>> model = scf.train(data, "logreg", importance_repeats=1)
>>> explanation = scf.explain(model, data, generator="oracle", limit=2)
>>> explanation
Explanation(oracle: 2 counterfactuals for 2 rows, coverage 1.00, validity 1.00)
>>> list(explanation.interventions.columns)
['query_id', 'method', 'rank', 'valid', 'n_changes', 'text', 'status']
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.data.io import write_table, write_text
from sensecf.data.limits import PersonLimits
from sensecf.errors import DataError, ModelError, SensecfError
from sensecf.generators import (
    CounterfactualGenerator,
    CounterfactualResult,
    select_queries,
    sparsify_result,
)
from sensecf.generators.llm.options import LLMOptions
from sensecf.generators.registry import held_options, make_generator, split_name
from sensecf.interventions import intervention_table
from sensecf.llm.base import LLMBackend
from sensecf.models import TrainedClassifier
from sensecf.models.plausibility import PLAUSIBILITY
from sensecf.runs import INTERVENTIONS_CSV, REJECTED


@dataclass
class Explanation:
    """Counterfactuals of the explained rows, with one intervention text per counterfactual.

    ``result``: the generator's :class:`~sensecf.generators.CounterfactualResult` (``cfs``,
    ``queries``, ``rejected``, ``info``). ``interventions``: one row per counterfactual
    offered, its changes worded as sentences joined by ``"; "`` (a withheld answer has none). ``llm_stats``: the LLM backend's counters for this run
    (``calls`` sent to the model and ``hits`` served by the cache when a cache was named);
    ``None`` for generators without a backend of their own. ``seconds``: wall time of the run.
    """

    result: CounterfactualResult
    interventions: pd.DataFrame
    llm_stats: dict[str, Any] | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def cfs(self) -> pd.DataFrame:
        """One row per counterfactual (see :class:`~sensecf.generators.CounterfactualResult`)."""
        return self.result.cfs

    @property
    def queries(self) -> pd.DataFrame:
        """One row per explained row, with or without a counterfactual."""
        return self.result.queries

    @property
    def rejected(self) -> pd.DataFrame:
        """The answers the generator withheld, with the reason (only LLM generators withhold)."""
        return self.result.rejected

    @property
    def info(self) -> dict[str, Any]:
        """What the method recorded about its run (saved in ``result.json``)."""
        return self.result.info

    def __repr__(self) -> str:
        result = self.result
        return (
            f"Explanation({result.method}: {len(result.cfs)} counterfactuals for "
            f"{len(result.queries)} rows, coverage {result.coverage:.2f}, "
            f"validity {result.validity:.2f})"
        )

    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write the result (``cfs.parquet``, ``queries.parquet``, ``rejected.parquet``,
        ``spec.yaml``, ``result.json``), ``cfs.csv``, ``cfs.json`` and ``interventions.csv`` to
        ``out_dir``.

        >>> import tempfile
        >>> import numpy as np, pandas as pd
        >>> import sensecf as scf
        >>> df = pd.DataFrame({"steps": np.arange(40.0) * 500, "ill": [1] * 20 + [0] * 20})
        >>> data = scf.Dataset(df, scf.infer_spec(df, "ill"))
        >>> model = scf.train(data, "logreg", importance_repeats=1)
        >>> out = scf.explain(model, data, generator="oracle", limit=1).save(tempfile.mkdtemp())
        >>> sorted(p.name for p in out.iterdir())  # doctest: +NORMALIZE_WHITESPACE
        ['cfs.csv', 'cfs.json', 'cfs.parquet', 'interventions.csv', 'queries.parquet',
         'rejected.parquet', 'result.json', 'spec.yaml']
        """
        out = self.result.save(out_dir)
        cfs = self.result.cfs
        write_table(cfs, out / "cfs.csv")
        write_text(out / "cfs.json", cfs.to_json(orient="records", indent=1) + "\n")
        write_table(self.interventions, out / INTERVENTIONS_CSV)
        return out


def withheld_line(rejected: pd.DataFrame) -> str:
    """One line on the answers a generator withheld: how many, and why, by kind of reason.

    >>> withheld_line(pd.DataFrame({"query_id": [0, 0, 3], "reason": [
    ...     "not the desired class (P=0.41, 0.50 needed)", "breaks a rule: age is fixed",
    ...     "not the desired class (P=0.22, 0.50 needed)"]}))
    'withheld 3 answers for 2 rows that the checks refused (not the desired class: 2, breaks a rule: 1); see rejected.parquet'
    """
    kinds = rejected["reason"].astype(str).str.split(r" \(|:", n=1, regex=True).str[0]
    counts = kinds.value_counts(sort=True)
    why = ", ".join(f"{kind}: {n}" for kind, n in counts.items())
    answers = "answer" if len(rejected) == 1 else "answers"
    rows = rejected["query_id"].nunique()
    return (
        f"withheld {len(rejected)} {answers} for {rows} row{'s' if rows != 1 else ''} that the "
        f"checks refused ({why}); see {REJECTED}"
    )


def reference_rows(model: TrainedClassifier, data: Dataset) -> Dataset:
    """The model's training rows within ``data``, where examples and neighbours come from.

    All of ``data`` when it is not the table the model was trained on (or the model has no
    recorded split), so held-out tables and other people's files can be explained too.

    >>> import numpy as np, pandas as pd
    >>> import sensecf as scf
    >>> df = pd.DataFrame({"steps": np.arange(40.0) * 500, "ill": [1] * 20 + [0] * 20})
    >>> data = scf.Dataset(df, scf.infer_spec(df, "ill"))
    >>> model = scf.train(data, "logreg", importance_repeats=1)
    >>> len(reference_rows(model, data)) == model.metrics_["n_train"]
    True
    """
    try:
        train_rows, _ = model.split_data(data)
    except (DataError, ModelError):
        return data
    return train_rows if len(train_rows) else data


def _share_detector(
    generator: CounterfactualGenerator, model: TrainedClassifier, data: Dataset, reference: Dataset
) -> None:
    """Hold a generator asked for plausibility (``oracle-plausible``, an LLM generator with
    ``plausibility="iforest"``) to the metric suite's detector, calibrated on the held-out
    rows of ``data`` where it has them (what the benchmark does), unless it was given a
    detector of its own."""
    from sensecf.evaluation.metrics import share_detector

    try:
        _, held = model.split_data(data)
    except (DataError, ModelError):
        held = None
    share_detector(generator, model, reference, held)


def explain(
    model: Any,
    data: Dataset,
    generator: str | CounterfactualGenerator = "few-shot",
    *,
    rows: str | Sequence[Any] = "flagged",
    limit: int | None = None,
    n_cfs: int = 1,
    seed: int = 0,
    llm: LLMOptions | None = None,
    sparsify: bool = False,
    progress: bool = False,
    min_proba: float | None = None,
    limits: PersonLimits | None = None,
    plausibility: str = "none",
    inlier_rate: float | None = None,
    held_rate: float | None = None,
    held_neighbours: int | None = None,
) -> Explanation:
    """Counterfactuals and intervention texts for rows of ``data``: what small change flips
    the model?

    ``model``: a :class:`~sensecf.models.TrainedClassifier`, or any fitted estimator with
    ``predict_proba`` over the spec's features. ``generator``: a name (``zero-shot``,
    ``few-shot``, ``few-shot-worked``, ``oracle``, ``dice-random``, ``nice-sparsity``, ...;
    ``+sparsify`` at the end undoes needless changes afterwards, as ``sparsify=True`` does) or
    an unfitted generator object. ``rows``: ``"flagged"`` (rows the model puts in the risk
    class), ``"all"`` or values of the first id column; ``limit`` keeps a seeded sample of
    them. The generator is fitted on the model's training rows within ``data``
    (:func:`reference_rows`).

    ``llm`` configures a generator named here that uses a language model (default: the
    embedded model, no cache, 3 repair rounds); other generators ignore it. The backend built
    for it is closed before this returns, even on error. A generator object you pass stays
    yours: its backend is left open. ``min_proba`` is a safety margin: the generator searches
    until P(desired) reaches it (see :meth:`CounterfactualGenerator.generate`). ``limits``:
    per-person limits (:class:`~sensecf.data.limits.PersonLimits`) the generator holds each row
    to where it can (the oracle and the LLM generators; the baselines ignore them).
    ``plausibility="iforest"`` holds a generator named here that can be held to the
    plausibility detector (the oracle becomes ``oracle-plausible``) and ``inlier_rate`` sets
    that detector's calibration (``None``: the generator's own, 0.95); the detector is the
    metric suite's, calibrated on the held-out rows of ``data`` where it has them.
    ``held_rate`` holds the answers to a stricter bar on that detector (only that share of
    the held-out real rows reach it; ``None``: the calibration's); ``held_neighbours`` also
    holds the oracle to a neighbour bar over that many nearest real rows
    (:class:`~sensecf.models.plausibility.NeighbourBar`).

    >>> import numpy as np, pandas as pd
    >>> import sensecf as scf
    >>> df = pd.DataFrame({"steps": np.arange(40.0) * 500, "ill": [1] * 20 + [0] * 20})
    >>> data = scf.Dataset(df, scf.infer_spec(df, "ill"))
    >>> model = scf.train(data, "logreg", importance_repeats=1)
    >>> explanation = scf.explain(model, data, generator=scf.Oracle(), rows=[3], n_cfs=2)
    >>> explanation.queries["steps"].tolist(), bool(explanation.cfs["valid"].all())
    ([1500.0], True)
    """
    start = time.perf_counter()
    if not isinstance(data, Dataset):
        raise SensecfError(f"data must be a Dataset; got {type(data).__name__}")
    if not isinstance(model, TrainedClassifier):
        if not callable(getattr(model, "predict_proba", None)):
            raise SensecfError(
                "model must be a TrainedClassifier or a fitted estimator with predict_proba; "
                f"got {type(model).__name__}"
            )
        model = TrainedClassifier(data.spec, model)
    if llm is not None and not isinstance(llm, LLMOptions):
        raise SensecfError(f"llm must be an LLMOptions; got {type(llm).__name__}")
    queries = select_queries(model, data, rows=rows, limit=limit, seed=seed)
    if len(queries) == 0:
        which = "the model flags none" if rows == "flagged" else "none selected"
        raise DataError(f"no rows to explain: {which} of the {len(data)} rows")
    reference = reference_rows(model, data)

    if plausibility not in PLAUSIBILITY:
        raise SensecfError(
            f"plausibility must be one of {list(PLAUSIBILITY)}; got {plausibility!r}"
        )
    if isinstance(generator, str):
        base, suffixed = split_name(generator)
        sparsify = sparsify or suffixed
        options = held_options(
            base,
            llm=llm,
            plausibility=plausibility,
            inlier_rate=inlier_rate,
            held_rate=held_rate,
            held_neighbours=held_neighbours,
        )
    elif not isinstance(generator, CounterfactualGenerator):
        raise SensecfError(
            f"generator must be a name or a CounterfactualGenerator; got {type(generator).__name__}"
        )
    elif plausibility != "none" or any(
        v is not None for v in (inlier_rate, held_rate, held_neighbours)
    ):
        raise SensecfError(
            "plausibility, inlier_rate, held_rate and held_neighbours apply to a generator "
            "named here; give a generator object its own (e.g. Oracle(plausibility='iforest'))"
        )
    backend: LLMBackend | None = None
    llm_stats: dict[str, Any] | None = None
    try:
        if isinstance(generator, str):
            gen = make_generator(base, llm=llm, **options)
            backend = getattr(gen, "backend", None)  # built for it here, so closed here
        else:
            gen = generator
        _share_detector(gen, model, data, reference)
        gen.fit(model, reference)
        result = gen.generate(
            queries,
            n_cfs=n_cfs,
            seed=seed,
            progress=progress,
            min_proba=min_proba,
            limits=limits,
        )
    finally:
        if backend is not None:  # built here, so closed here, whatever happened
            stats = getattr(backend, "stats", None)
            llm_stats = dict(stats()) if callable(stats) else None
            backend.close()
    if sparsify:
        result = sparsify_result(result, model)
    return Explanation(
        result, intervention_table(result), llm_stats, seconds=time.perf_counter() - start
    )
