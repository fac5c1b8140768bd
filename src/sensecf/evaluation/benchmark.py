"""The benchmark: several generators, the same queries and model, one metric suite.

Queries are the rows the model flags among its held-out rows; every generator is fitted on the
model's training rows. The oracle always runs first, since its minimal number of changes per
query is the reference for every method's sparsity. Each method's counterfactuals are saved as
soon as it finishes, so an interrupted run resumes where it stopped: a saved result is reused
only when its settings, the model (a hash of its folder) and the data (a hash of the table) are
the same. LLM methods talk to the backend :class:`~sensecf.generators.llm.options.LLMOptions` describes,
through the SQLite call cache in the out folder, so a killed run makes only the missing calls
again; a backend that fails is recorded for its method and the other methods go on.

Each method's result folder (``results/<name>/``) holds its ``rejected.parquet`` beside its
CFs: the answers an LLM method withheld, with the reason; the run folder's ``rejected.parquet``
gathers every method's. The summary's ``n_rejected`` counts them, and validity counts them as
answers that are not valid (see :mod:`sensecf.results`). An LLM method held to plausibility
(``plausibility: iforest`` in its options) is held to the metric suite's detector, as
``oracle-plausible`` is.

With a safety margin (``min_proba``) every generator that can searches until the desired
class's probability reaches it (``generate(min_proba=)``; DiCE, NICE and CFNOW decide by their
libraries' own 0.5 rule, so for them it is measured only), and the metric suite reports
validity at the decision rule and at the margin (``validity_margin``) side by side.

>>> BenchmarkConfig(generators=["oracle", "nice-sparsity+sparsify"], limit=5).generator_names()
['oracle', 'nice-sparsity+sparsify']
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, field_validator, model_validator

from sensecf.data.dataset import Dataset
from sensecf.data.io import write_json, write_table, write_text
from sensecf.data.limits import PersonLimits
from sensecf.data.scales import FeatureScales
from sensecf.errors import DataError, SensecfError
from sensecf.evaluation.catalog import CATALOG, Catalog, Measure
from sensecf.evaluation.comparisons import (
    PERSON,
    Best,
    best_marks,
    comparisons_text,
    measure_frame,
    paired_comparisons,
)
from sensecf.evaluation.price import (
    ANSWERED,
    FRONTIER_RATES,
    plausibility_frontier,
    plausibility_price,
    plausibility_price_summary,
    price_line,
    reference_line,
)
from sensecf.execution import Execution, UnitError
from sensecf.generators.base import margin_model, select_queries
from sensecf.generators.llm.options import LLMOptions
from sensecf.generators.registry import (
    LLM_GENERATORS,
    check_generator,
    held_name,
    held_options,
    make_generator,
    split_name,
)
from sensecf.generators.sparsify import sparsify_result
from sensecf.llm.base import LLMError
from sensecf.llm.cache import CacheCopy, add_rows
from sensecf.llm.models import file_digest
from sensecf.models.classifier import TrainedClassifier
from sensecf.models.plausibility import DEFAULT_INLIER_RATE, PlausibilityDetector
from sensecf.results import CounterfactualResult
from sensecf.runs import (
    CFS,
    COMPARISONS_CSV,
    CONFIG_YAML,
    FRONTIER_CSV,
    LLM_CACHE,
    PER_QUERY,
    PLAUSIBILITY_JSON,
    PRICE_CSV,
    REJECTED,
    RESULT_JSON,
    RESULTS,
    SCORES,
    SUMMARY_CSV,
    SUMMARY_MD,
    UNIT_JSON,
    UnitStore,
    fingerprint,
    table_digest,
)
from sensecf.settings import GeneratorChoice, RunSettings, generator_choice, generator_options

logger = logging.getLogger(__name__)


DEFAULT_GENERATORS = (
    "oracle",
    "dice-random",
    "dice-genetic",
    "dice-kdtree",
    "cfnow-greedy",
    "cfnow-random",
    "nice-sparsity",
    "nice-proximity",
    "nice-plausibility",
)


class BenchmarkConfig(RunSettings):
    """What to run. Loads from YAML (``sensecf benchmark --config FILE``) for repeatable runs.

    ``generators`` is a list of names, or a mapping of name → options for that generator
    (e.g. ``{"cfnow-greedy": {"limit_seconds": 1}}``). ``min_proba``: a safety margin, the
    probability of the desired class every generator searches for and the suite measures
    (``None``: the decision rule's). ``target``: the label column when ``data`` is a plain table
    without a spec beside it (the model's spec is used; see ``sensecf benchmark --target``).
    ``reference``: the method every other is compared with, query by query (``None``: the
    oracle, when it is among the methods; a name given must be one of them). ``limits``: a
    per-person limits file (:mod:`sensecf.data.limits`): the oracle and the LLM methods hold
    each query to its person's limits, every other method is measured against them
    (``viol_limits``).
    ``plausibility``: ``iforest`` holds every generator that can be held to the plausibility
    detector (each whose parameters have ``plausibility``): the oracle asked for runs as
    ``oracle-plausible`` (the plain oracle still runs, as the reference for the fewest changes
    and for what plausibility costs). ``inlier_rate``: the share of held-out real rows of the
    desired class the detector calls inliers (its calibration, for the suite and every held
    generator alike). ``held_rate``: a stricter bar the held generators meet on the same
    detector (the share of those rows that would pass it), while the suite still judges at
    ``inlier_rate`` (``None``: held at the calibration). ``held_neighbours``: the generators
    that can (the oracle) are also held to a neighbour bar over that many nearest real rows of
    the desired class (:class:`~sensecf.models.plausibility.NeighbourBar`).

    >>> BenchmarkConfig(generators=["oracle", "dice-random"], plausibility="iforest").generators
    ['oracle-plausible', 'dice-random']
    """

    kind = "benchmark"
    path_fields = ("model", "data", "out", "limits")

    model: Path | None = None
    data: Path | None = None
    out: Path | None = None
    generators: GeneratorChoice = Field(default_factory=lambda: list(DEFAULT_GENERATORS))
    n_cfs: int = Field(default=3, ge=1)
    limit: int | None = Field(default=50, ge=1)
    rows: Literal["flagged", "all"] = "flagged"
    queries_from: Literal["test", "all"] = "test"
    seed: int = Field(default=0, ge=0)
    by: str | None = "label"
    min_proba: float | None = Field(default=None, gt=0, lt=1)
    target: str | None = None
    reference: str | None = None
    limits: Path | None = None
    plausibility: Literal["none", "iforest"] = "none"
    inlier_rate: float = Field(default=DEFAULT_INLIER_RATE, gt=0, lt=1)
    held_rate: float | None = Field(default=None, gt=0, lt=1)
    held_neighbours: int | None = Field(default=None, ge=1)

    @field_validator("generators", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return generator_choice(value)

    @model_validator(mode="after")
    def _held(self) -> BenchmarkConfig:
        """Under ``plausibility``, a generator with a held name of its own is asked for by it."""
        if self.plausibility != "none":
            held = {n: held_name(n, self.plausibility) for n in self.generators}
            if isinstance(self.generators, dict):
                self.generators = {held[n]: o for n, o in self.generators.items()}
            else:
                self.generators = list(dict.fromkeys(held[n] for n in self.generators))
        return self

    def generator_names(self) -> list[str]:
        """Requested generator names, in order."""
        return list(self.generators)

    def method_names(self) -> list[str]:
        """The methods the summary reports: each generator, and its ``+sparsify`` variant
        where one is asked for.

        >>> BenchmarkConfig(generators=["oracle", "dice-random+sparsify"]).method_names()
        ['oracle', 'dice-random', 'dice-random+sparsify']
        """
        names: list[str] = []
        for name in self.generator_names():
            base, sparse = split_name(name)
            names += [base, name] if sparse else [base]
        return list(dict.fromkeys(names))

    def reference_name(self) -> str | None:
        """The method the comparisons are against: ``reference``, checked to be one of
        :meth:`method_names`, or the oracle when it is reported (else ``None``: none).

        >>> BenchmarkConfig(generators=["dice-random"]).reference_name() is None
        True
        >>> BenchmarkConfig(generators=["dice-random"], reference="oracle").reference_name()
        Traceback (most recent call last):
        ...
        sensecf.errors.SensecfError: the reference must be one of the run's methods (dice-random); got 'oracle'
        """
        methods = self.method_names()
        if self.reference is None:
            if "oracle" in methods:
                return "oracle"
            held = held_name("oracle", self.plausibility)
            return held if self.plausibility != "none" and held in methods else None
        if self.reference not in methods:
            raise SensecfError(
                f"the reference must be one of the run's methods ({', '.join(methods)}); got "
                f"{self.reference!r}"
            )
        return self.reference

    def options(self, name: str) -> dict[str, Any]:
        """Options for one generator (empty unless the config maps the name to some)."""
        return generator_options(self.generators, name)

    def held_options(self, name: str, llm: LLMOptions | None = None) -> dict[str, Any]:
        """What the run's plausibility settings add to one asked generator's options (the
        plain oracle the run adds as its reference is never held).

        >>> BenchmarkConfig(plausibility="iforest", inlier_rate=0.9).held_options("oracle-plausible")
        {'plausibility': 'iforest', 'inlier_rate': 0.9}
        >>> BenchmarkConfig(generators=["oracle-plausible"], held_rate=0.8).held_options(
        ...     "oracle-plausible")
        {'held_rate': 0.8}
        """
        if name not in {split_name(n)[0] for n in self.generator_names()}:
            return {}
        own = self.options(name)
        rate = None if self.inlier_rate == DEFAULT_INLIER_RATE else self.inlier_rate
        options = held_options(
            name,
            own,
            llm=llm,
            plausibility=self.plausibility,
            inlier_rate=rate,
            held_rate=self.held_rate,
            held_neighbours=self.held_neighbours,
        )
        return {k: v for k, v in options.items() if k not in own}

    def fingerprint(self, name: str, **inputs: Any) -> str:
        """What a saved result must match to be reused: queries, n_cfs, seed and options, and
        the ``inputs`` given (the model's and the data's hashes, the LLM settings)."""
        key = {
            **inputs,
            "name": name,
            "options": self.options(name),
            "n_cfs": self.n_cfs,
            "limit": self.limit,
            "rows": self.rows,
            "queries_from": self.queries_from,
            "seed": self.seed,
        }
        if self.min_proba is not None:  # absent otherwise: earlier results keep their key
            key["min_proba"] = self.min_proba
        if self.limits is not None:  # the limits' contents, not their file's name
            key["limits"] = file_digest(self.limits)
        return fingerprint(key)


@dataclass
class BenchmarkResult:
    """Everything a benchmark produced.

    ``summary``: one row per method (and per class when ``by`` is set) with every metric.
    ``scores``: one row per counterfactual; ``per_query``: one row per method and query
    (with the query's person, where the data have people).
    ``failures``: methods that could not run at all, with the reason. ``comparisons``: each
    method against the reference, per headline measure, paired over the queries both were
    asked (:func:`benchmark_comparisons`). ``reference_rates``: each plausibility detector's
    inlier rate on held-out real rows of the desired class (the reference beside every
    method's); ``notes``: that line, and what plausibility costs where ``oracle`` and
    ``oracle-plausible`` both ran (``price``: per query, see
    :func:`~sensecf.evaluation.price.plausibility_price`; ``frontier``: the certified fewest
    changes of a few of them as the detector's threshold tightens, see
    :func:`~sensecf.evaluation.price.plausibility_frontier`).
    """

    results: list[CounterfactualResult]
    summary: pd.DataFrame
    scores: pd.DataFrame
    per_query: pd.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    reference_rates: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    price: pd.DataFrame = field(default_factory=pd.DataFrame)
    frontier: pd.DataFrame = field(default_factory=pd.DataFrame)


def model_digest(model: TrainedClassifier, folder: str | os.PathLike | None = None) -> str:
    """A hash of the model: of every file in its saved ``folder`` (names and bytes), or of the
    pickled object when there is no folder. A retrained model gets a new hash."""
    if folder is not None and Path(folder).is_dir():
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
        names = ",".join(str(p.relative_to(folder)) for p in files)
        return hashlib.sha256(f"{names}:{file_digest(*files)}".encode()).hexdigest()[:16]
    return hashlib.sha256(pickle.dumps(model)).hexdigest()[:16]


def data_digest(data: Dataset) -> str:
    """A hash of the table's columns and values (row order included)."""
    frame = data.frame
    return table_digest(frame, before=",".join(map(str, frame.columns)).encode())


def run_benchmark(
    model: TrainedClassifier,
    data: Dataset,
    config: BenchmarkConfig | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    llm: LLMOptions | None = None,
    execution: Execution | None = None,
) -> BenchmarkResult:
    """Run the configured generators on the same queries and score them with one metric suite.

    ``execution`` says where the methods run (:class:`~sensecf.execution.Execution`: one
    after another here by default, or in worker processes or on Ray, a method a unit); the
    results are the same, and only this process writes the results and the LLM call cache.

    Progress news goes to this module's logger, a line a finished method (the CLI prints
    them; ``logging.basicConfig(level=logging.INFO)`` shows them in a script). With ``out_dir`` every
    result is written there and reused on a rerun with the same settings, model and data.
    ``llm`` configures the LLM methods (default: the embedded model, 3 repair rounds); their
    calls are cached in ``llm.cache``, or ``out_dir/llm-cache.sqlite`` when it is not set.
    """
    from sensecf.evaluation.metrics import MetricSuite

    llm = llm or LLMOptions()
    if not isinstance(llm, LLMOptions):
        raise SensecfError(f"llm must be an LLMOptions; got {type(llm).__name__}")

    config = config or BenchmarkConfig()
    names = config.generator_names()
    reference = config.reference_name()  # a reference that is not a method: refused at once
    bases = list(dict.fromkeys(["oracle", *(split_name(n)[0] for n in names)]))
    for base in bases:  # every name and option checked at the door, before any work
        check_generator(base, llm=llm, **config.options(base), **config.held_options(base, llm))
    if config.min_proba is not None:  # a margin below the decision rule's is refused here too
        margin_model(model, model.spec.desired_class, config.min_proba)
    limits = PersonLimits.read(config.limits, model.spec, data) if config.limits else None
    out = Path(out_dir) if out_dir is not None else None
    train_rows, test_rows = model.split_data(data)
    pool = test_rows if config.queries_from == "test" else data
    queries = select_queries(model, pool, rows=config.rows, limit=config.limit, seed=config.seed)
    if len(queries) == 0:
        raise SensecfError(
            f"no queries: the model flags none of the {len(pool)} {config.queries_from} rows"
        )
    logger.info(
        f"{len(queries)} queries ({config.rows} {config.queries_from} rows), "
        f"{len(train_rows)} reference rows, {config.n_cfs} CFs per query"
    )

    inputs = {"model": model_digest(model, config.model), "data": data_digest(data)}
    plain: dict[str, CounterfactualResult] = {}
    failures: dict[str, str] = {}
    store = UnitStore(out, RESULTS, record=UNIT_JSON)
    methods = {base: _method(base, config, llm, inputs, out) for base in bases}
    todo = []
    for base, method in methods.items():
        saved = _saved_result(store, base, method.fingerprint)
        if saved is not None:
            plain[base] = saved
        else:
            todo.append(base)
    # One plausibility detector, fitted once on the desired class's training rows and
    # calibrated on its held-out rows: the suite judges by it, the plausible oracle is held to it.
    suite = MetricSuite(
        seed=config.seed, margin=config.min_proba, limits=limits, inlier_rate=config.inlier_rate
    )
    suite.fit(model, train_rows, calibration=test_rows)
    desired = model.spec.desired_class
    detector = suite.detector(desired)
    runner = execution or Execution()
    context = _BenchmarkContext(
        model, train_rows, queries, config, methods, progress, detector, limits
    )
    if runner.parallel:
        context = context.for_workers()

    units = [unit for base in todo for unit in _units(base, config, len(queries), runner)]
    parts: dict[str, dict[_Unit, tuple[CounterfactualResult, float]]] = {b: {} for b in todo}

    def arrived(unit: _Unit, outcome: tuple[CounterfactualResult, float, list[Any]]) -> None:
        part, part_seconds, answers = outcome
        base = unit[0]
        method_llm = methods[base].llm
        cache_file = method_llm.cache if method_llm is not None else None
        if answers and cache_file is not None:
            add_rows(cache_file, answers)  # a worker's new LLM answers, written here only
        parts[base][unit] = part, part_seconds
        mine = [u for u in units if u[0] == base]
        if base in failures or len(parts[base]) < len(mine):
            return  # a method is kept whole: all its slices of the queries, or none
        result = CounterfactualResult.concat([parts[base][u][0] for u in mine])
        seconds = sum(parts[base][u][1] for u in mine)
        store.keep((base,), methods[base].fingerprint, result.save)
        plain[base] = result
        logger.info(
            f"✓ {base}: {len(result.cfs)} CFs for {len(result.queries)} queries, "
            f"validity {result.validity:.2f} ({seconds:.1f} s)"
        )

    def failed(failure: UnitError[_Unit]) -> None:  # one method failing must not stop the others
        base, start, stop = failure.key
        failures.setdefault(base, failure.error)
        where = "" if (start, stop) == (0, len(queries)) else f" (queries {start}–{stop - 1})"
        logger.info(f"✗ {base}{where} failed: {failure.error}")
        if os.environ.get("SENSECF_DEBUG"):
            logger.info(failure.trace)

    runner.run(
        _compute_method,
        context,
        units,
        on_result=arrived,
        on_error=failed,
        stop=_bad_input,
        description="methods",
        progress=progress and runner.parallel,
    )

    reported: list[CounterfactualResult] = []
    for name in names:
        base, sparse = split_name(name)
        if base not in plain:
            continue
        reported.append(plain[base])
        if sparse:
            reported.append(sparsify_result(plain[base], model))
    reported = list({r.method: r for r in reported}.values())

    # The oracle's result itself: its certified minimum and which queries are proven infeasible.
    min_l0 = plain.get("oracle")
    if min_l0 is not None:
        logger.info(feasibility_line(min_l0.queries))
    rates = suite.reference_rates(desired)
    label = model.spec.classes.get(desired, str(desired))
    notes = [
        reference_line(rates, label, suite.inlier_rate, config.held_rate, config.held_neighbours)
    ]
    price = frontier = pd.DataFrame()
    if "oracle" in plain and "oracle-plausible" in plain:
        scale = FeatureScales.from_reference(model.spec, train_rows.X.to_numpy(float)).scale
        price = plausibility_price(plain["oracle"], plain["oracle-plausible"], scale)
        notes.append(price_line(plausibility_price_summary(price)))
        if len(test_rows):
            key = {**inputs, "options": methods["oracle-plausible"].options, "seed": config.seed}
            frontier = _frontier(model, train_rows, test_rows, queries, price, key, out)
    for note in notes:
        logger.info(note)
    by = config.by if config.by in queries.frame.columns or config.by == "label" else None
    summaries, scores, per_query = [], [], []
    for result in reported:
        summaries.append(suite.summarise(result, min_l0=min_l0))
        if by is not None:
            summaries.append(suite.summarise(result, min_l0=min_l0, by=by))
        scores.append(suite.score_cfs(result, min_l0=min_l0))
        per_query.append(_query_rows(suite.score_queries(result, min_l0=min_l0), result))
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    if by is not None and by in summary.columns:  # the class beside the method, for reading
        summary.insert(1, by, summary.pop(by))
    bench = BenchmarkResult(
        reported,
        summary,
        pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(),
        pd.concat(per_query, ignore_index=True) if per_query else pd.DataFrame(),
        failures,
        out,
        reference_rates=rates,
        notes=notes,
        price=price,
        frontier=frontier,
    )
    if reference is not None and reference not in {r.method for r in reported}:
        logger.info(f"no comparisons: the reference {reference} failed")
    elif reference is not None:
        bench.comparisons = benchmark_comparisons(bench.per_query, reference, seed=config.seed)
    if out is not None:
        _write(bench, config, out)
    return bench


# The frontier follows at most this many people (a few certified oracle runs each).
FRONTIER_QUERIES = 5


def _frontier(
    model: TrainedClassifier,
    train_rows: Dataset,
    test_rows: Dataset,
    queries: Dataset,
    price: pd.DataFrame,
    key: dict[str, Any],
    out: Path | None,
) -> pd.DataFrame:
    """The plausibility frontier of the first :data:`FRONTIER_QUERIES` queries both oracles
    answered, one a person where the data have people (``query_id`` as the run numbers them),
    reused from ``out`` when made with the same model, data and settings (``key``)."""
    answered = price[
        price["plain_status"].isin(ANSWERED) & price["plausible_status"].isin(ANSWERED)
    ]
    chosen = answered["query_id"].to_numpy(dtype=int)
    people = _people(queries)
    if people is not None:  # one query a person, so the frontier follows different people
        _, first = np.unique(people[chosen], return_index=True)
        chosen = chosen[np.sort(first)]
    chosen = chosen[:FRONTIER_QUERIES]
    if not len(chosen):
        return pd.DataFrame()
    stamp = fingerprint({**key, "queries": chosen.tolist(), "rates": list(FRONTIER_RATES)})
    path = out / FRONTIER_CSV if out is not None else None
    if path is not None and path.is_file():
        saved = pd.read_csv(path)
        if "fingerprint" in saved and (saved["fingerprint"] == stamp).all():
            logger.info(f"↺ plausibility frontier: reused {path}")
            return saved
    frontier = plausibility_frontier(
        model,
        train_rows,
        queries.subset(chosen),
        calibration=test_rows,
        seed=int(key["seed"]),
        options=key["options"],
    )
    frontier["query_id"] = chosen[frontier["query_id"].to_numpy(dtype=int)]
    if people is not None:
        frontier.insert(1, PERSON, people[frontier["query_id"].to_numpy(dtype=int)])
    frontier["fingerprint"] = stamp
    logger.info(
        f"plausibility frontier: {len(chosen)} people at inlier rates "
        f"{', '.join(f'{r:g}' for r in FRONTIER_RATES)} ({frontier['seconds'].sum():.1f} s)"
    )
    return frontier


def _people(queries: Dataset) -> np.ndarray | None:
    """Each query's person (the spec's group column), or ``None`` where there is none."""
    column = queries.spec.group_column
    if column is None or column not in queries.frame.columns:
        return None
    return queries.frame[column].astype(str).to_numpy()


def _query_rows(per_query: pd.DataFrame, result: CounterfactualResult) -> pd.DataFrame:
    """One method's per-query table as the benchmark keeps it: its ``method`` first (the
    methods' tables are stacked), then the person each query belongs to (:data:`PERSON`)
    where the queries carry the spec's group column: the comparisons' clusters."""
    per_query.insert(0, "method", result.method)
    people = result.people()
    if people is not None:
        per_query.insert(2, PERSON, people)
    return per_query


def benchmark_comparisons(
    per_query: pd.DataFrame,
    reference: str,
    *,
    seed: int = 0,
    catalog: Catalog = CATALOG,
) -> pd.DataFrame:
    """Every other method against ``reference`` on each headline measure with a direction,
    paired over the queries both were asked (clustered by person where the per-query table
    has them), the p-values Holm-adjusted across the table
    (:func:`~sensecf.evaluation.comparisons.paired_comparisons`).

    >>> q = pd.DataFrame({"method": ["a"] * 8 + ["oracle"] * 8, "query_id": list(range(8)) * 2,
    ...                   "covered": [True] * 16, "l0": [3.0] * 8 + [1.0] * 8})
    >>> table = benchmark_comparisons(q, "oracle")
    >>> table[["method", "measure", "mean_diff", "verdict"]].values.tolist()
    [['a', 'coverage', 0.0, 'indistinguishable'], ['a', 'l0', 2.0, 'worse']]
    """
    if reference not in set(per_query.get("method", ())):
        raise SensecfError(
            f"the reference must be one of the compared methods "
            f"({', '.join(map(str, dict.fromkeys(per_query.get('method', ()))))}); got {reference!r}"
        )
    headline = catalog.view("headline")
    frame = measure_frame(per_query, headline)
    others = [m for m in dict.fromkeys(frame["method"]) if m != reference]
    return paired_comparisons(
        frame,
        [(m, reference) for m in others],
        headline,
        item="method",
        unit="query_id",
        clusters=PERSON if PERSON in frame.columns else None,
        seed=seed,
    )


def benchmark_best(
    per_query: pd.DataFrame,
    measures: Sequence[Measure],
    *,
    by: str | None = None,
    group: Any = None,
    seed: int = 0,
) -> dict[str, Best]:
    """The ★ of each measure over all queries (``group`` None) or over one group of ``by``:
    the best mean, marked only when better than every other method at the Holm-adjusted
    level on their shared queries (:func:`~sensecf.evaluation.comparisons.best_marks`)."""
    if per_query.empty:
        return {}
    rows = per_query if group is None or by not in per_query else per_query[per_query[by] == group]
    frame = measure_frame(rows, measures)
    return best_marks(
        frame,
        measures,
        unit="query_id",
        clusters=PERSON if PERSON in frame.columns else None,
        seed=seed,
    )


def _folder_stamp(folder: Path) -> str:
    """A digest of a fine-tuned folder's format, training config and model file sizes."""
    digest = hashlib.sha256()
    for name in ("format.json", "train_config.json", "model.gguf", "adapter"):
        path = folder / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for item in files:
            if item.is_file():
                stat = item.stat()
                digest.update(f"{item.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class _Method:
    """One generator of the run as the driver resolved it: its LLM options (None without a
    language model), the fingerprint a saved result must match, and its options (the
    config's, and what the run's plausibility settings add)."""

    name: str
    llm: LLMOptions | None
    fingerprint: str
    options: dict[str, Any] = field(default_factory=dict)


def _method(
    name: str,
    config: BenchmarkConfig,
    llm: LLMOptions,
    inputs: dict[str, Any],
    out: Path | None,
) -> _Method:
    options = config.options(name)
    held = config.held_options(name, llm)
    if held:  # absent otherwise: earlier results keep their key
        inputs = {**inputs, "held": held}
    options = {**options, **held}
    uses_llm = name in LLM_GENERATORS and "backend" not in options
    if not uses_llm:
        return _Method(name, None, config.fingerprint(name, **inputs), options)
    if name != "fine-tuned":
        prompted = llm.for_prompting()
        if prompted != llm:
            logger.info(
                f"{name}: prompted with the packaged model (the LLM model is a fine-tuned folder)"
            )
        llm = prompted
    inputs = {  # what changes an answer; the cache file does not
        **inputs,
        "llm_backend": llm.backend,
        "llm_model": llm.model,
        "llm_base_url": llm.base_url,
        "repair_rounds": llm.repair_rounds,
        "fallback": llm.fallback,
    }
    if llm.finetuned:  # retrained in the same folder: other answers
        inputs["finetuned"] = _folder_stamp(Path(str(llm.model)))
    if llm.cache is None and out is not None:
        llm = replace(llm, cache=out / LLM_CACHE)
    return _Method(name, llm, config.fingerprint(name, **inputs), options)


def _saved_result(store: UnitStore, name: str, fingerprint: str) -> CounterfactualResult | None:
    folder = store.path((name,))
    finished = store.finished((name,), fingerprint)
    if finished is not None and name in LLM_GENERATORS and not (finished / REJECTED).is_file():
        # Saved before LLM methods withheld their refused answers: its cfs holds them.
        logger.info(f"↻ {name}: the saved result offers answers it now withholds; rerunning")
        return None
    if finished is not None:
        try:
            saved = CounterfactualResult.load(finished)
        except DataError:  # its record outlived its files (removed by hand): made again
            return None
        logger.info(f"↺ {name}: reused the saved result in {finished}")
        return saved
    if folder is not None and (folder / RESULT_JSON).is_file():
        logger.info(
            f"↻ {name}: the saved result was made with other settings, model or data; rerunning"
        )
    return None


@dataclass
class _BenchmarkContext:
    """What every method needs: the model, its training rows, the queries and the settings;
    in workers, a copy of each LLM method's cached answers (``cache_copies``) instead of its
    file."""

    model: TrainedClassifier
    train_rows: Dataset
    queries: Dataset
    config: BenchmarkConfig
    methods: dict[str, _Method]
    progress: bool
    detector: PlausibilityDetector | None = None
    limits: PersonLimits | None = None
    cache_copies: dict[str, CacheCopy] = field(default_factory=dict)

    def for_workers(self) -> _BenchmarkContext:
        """This context as it travels: a copy of each LLM method's cached answers."""
        copies = {
            name: CacheCopy.of(m.llm.cache)
            for name, m in self.methods.items()
            if m.llm is not None and m.llm.cache is not None
        }
        return replace(self, cache_copies=copies, progress=False)

    def llm_for(self, name: str) -> LLMOptions | None:
        """The method's LLM options, its cache moved to this worker's own copy when needed."""
        llm, copy = self.methods[name].llm, self.cache_copies.get(name)
        return llm if llm is None or copy is None else replace(llm, cache=copy.path())


# A method's unit: its name and the slice [start, stop) of the queries it answers.
_Unit = tuple[str, int, int]

# Queries per unit for a method that answers each query alone, where units run in parallel:
# enough to spread one slow method (the oracle) over the workers, few enough that fitting the
# method again in each unit stays a small part of its work.
QUERY_CHUNK = 8


def _units(name: str, config: BenchmarkConfig, n_queries: int, runner: Execution) -> list[_Unit]:
    """A method's units: all its queries in one, or, in parallel, slices of ``QUERY_CHUNK``
    for a method whose answer to a query depends on that query alone (the answers are the
    same either way)."""
    alone = (
        name not in LLM_GENERATORS
        and type(make_generator(name, **config.options(name))).answers_each_query_alone
    )
    if not (runner.parallel and alone) or n_queries <= QUERY_CHUNK:
        return [(name, 0, n_queries)]
    starts = range(0, n_queries, QUERY_CHUNK)
    return [(name, start, min(start + QUERY_CHUNK, n_queries)) for start in starts]


def _compute_method(
    context: _BenchmarkContext, unit: _Unit
) -> tuple[CounterfactualResult, float, list[Any]]:
    """One method on one slice of the queries (the unit of
    :class:`~sensecf.execution.Execution`; usually all of them): its result, its seconds, and
    the LLM answers it stored in a worker's copy of the cache."""
    name, first, stop = unit
    started, start = time.time(), time.perf_counter()
    method = context.methods[name]
    config = context.config
    llm = context.llm_for(name)
    generator = make_generator(name, llm=llm, **method.options)
    shared = context.detector
    if shared is not None and _takes_detector(generator, shared):
        generator.set_params(detector=shared)  # the suite's own: one definition of plausible
    # A backend built from the LLM options is this run's to close; one given in options is not.
    backend = getattr(generator, "backend", None) if llm is not None else None
    try:
        generator.fit(context.model, context.train_rows)
        queries = context.queries
        if (first, stop) != (0, len(queries)):
            queries = queries.subset(np.arange(first, stop))
        result = generator.generate(
            queries,
            n_cfs=config.n_cfs,
            seed=config.seed,
            progress=context.progress,
            min_proba=config.min_proba if generator.searches_margin else None,
            limits=context.limits,
        )
    finally:
        if backend is not None:
            backend.close()
    result.info["fingerprint"] = method.fingerprint  # provenance, beside the unit's record
    copy = context.cache_copies.get(name)
    answers = copy.added(started) if copy is not None else []
    return result, time.perf_counter() - start, answers


def _bad_input(exc: Exception) -> bool:
    """An error of the run's settings (stops the benchmark), not one backend's outage (costs
    its method only)."""
    return isinstance(exc, SensecfError) and not isinstance(exc, LLMError)


def _takes_detector(generator: Any, detector: PlausibilityDetector) -> bool:
    """Whether ``generator`` reads a plausibility detector (held to one, or choosing by one)
    of its own making whose settings are the shared ``detector``'s (so the shared one is the
    same detector)."""
    params = generator.get_params()
    if not generator.reads_detector() or params.get("detector") is not None:
        return False  # reads none, or was given its own
    settings = detector.settings()
    mine = {"n_estimators": params.get("detector_trees"), "inlier_rate": params.get("inlier_rate")}
    return all(settings[k] == v for k, v in mine.items()) and detector.calibrated_


def feasibility_line(oracle_queries: pd.DataFrame) -> str:
    """What the oracle proved about the queries, in one line.

    >>> feasibility_line(pd.DataFrame({"status": ["optimal", "infeasible", "feasible"],
    ...                                "min_l0_certified": [True, False, False]}))
    'oracle: 2 of 3 queries feasible, 1 certified infeasible; minimal L0 certified for 1, bounded for 1'
    """
    status = oracle_queries.get("status", pd.Series(dtype=object))
    n = len(oracle_queries)
    infeasible = int((status == "infeasible").sum())
    certified = int(
        oracle_queries.get("min_l0_certified", pd.Series(dtype=bool)).fillna(False).sum()
    )
    bounded = int(status.isin(["optimal", "feasible"]).sum()) - certified
    unknown = int(status.isin(["time_limit", "not_found"]).sum())
    line = (
        f"oracle: {n - infeasible} of {n} queries feasible, {infeasible} certified infeasible; "
        f"minimal L0 certified for {certified}, bounded for {bounded}"
    )
    return line + (f", unknown (time limit) for {unknown}" if unknown else "")


def coverage_lines(summary: pd.DataFrame, by: str | None = None) -> list[str]:
    """Per method: "covered 16 of 16 feasible, 14 certified infeasible" (over all queries)."""
    if summary.empty or "covered_feasible" not in summary:
        return []
    rows = summary[summary[by].isna()] if by and by in summary else summary
    return [
        f"{r.method}: covered {r.covered_feasible} of {r.n_feasible} feasible, "
        f"{r.n_certified_infeasible} certified infeasible"
        for r in rows.itertuples(index=False)
    ]


def summary_table(
    summary: pd.DataFrame,
    by: str | None = None,
    group: Any = None,
    *,
    catalog: Catalog = CATALOG,
    best: Mapping[str, Best] | None = None,
) -> pd.DataFrame:
    """The wide table people read: one row per method, the headline metrics, rounded
    (the catalog's ``headline`` view).

    With ``by``, the rows over all queries (``group`` None) or over one group's queries.
    ``best`` (:func:`benchmark_best`) puts a ★ after each measure's marked method.

    >>> s = pd.DataFrame({"method": ["a"], "l0": [2.0], "l0_ci_low": [1.0], "seconds": [None]})
    >>> summary_table(s).to_dict("records")
    [{'method': 'a', 'L0': '2.00', 's/query': '–'}]
    """
    if summary.empty:
        return summary
    if by and by in summary.columns:
        rows = summary[summary[by].isna()] if group is None else summary[summary[by] == group]
    else:
        rows = summary
    return _text_table(rows, catalog.view("headline"), best)


def llm_rows(summary: pd.DataFrame) -> pd.Series:
    """Which rows are of a method that asked a language model or showed examples.

    >>> llm_rows(pd.DataFrame({"example_share": [0.5, None]})).tolist()
    [True, False]
    """
    shown = pd.Series(False, index=summary.index)
    for column in ("validity_first", "example_share", "copied_example"):
        if column in summary.columns:
            shown |= summary[column].notna()
    return shown


def llm_table(
    summary: pd.DataFrame, by: str | None = None, *, catalog: Catalog = CATALOG
) -> pd.DataFrame:
    """The LLM methods and the nearest-example control over all queries: first-answer validity
    (round 0, first sample), after repair, fallback share, copy shares, calls and tokens per
    valid CF (the catalog's ``llm`` view). Empty when no method asked a language model or
    showed examples."""
    if summary.empty:
        return summary
    rows = summary[summary[by].isna()] if by and by in summary.columns else summary
    return _text_table(rows[llm_rows(rows)], catalog.view("llm"))


def _text_table(
    rows: pd.DataFrame, measures: Sequence[Measure], best: Mapping[str, Best] | None = None
) -> pd.DataFrame:
    """``method``, then each measure the rows have, as text under its console label, a ★
    after the marked method's value."""
    table = pd.DataFrame({"method": rows["method"]})
    records = rows.to_dict("records")
    for measure in measures:
        if measure.name in rows.columns:
            mark = best.get(measure.name) if best else None
            starred = mark.leader if mark is not None and mark.marked else None
            table[measure.label] = [
                measure.cell(r, interval=False) + (" ★" if r["method"] == starred else "")
                for r in records
            ]
    return table.reset_index(drop=True)


def _write(bench: BenchmarkResult, config: BenchmarkConfig, out: Path) -> None:
    write_table(bench.summary, out / SUMMARY_CSV)
    write_table(bench.scores, out / SCORES)
    write_table(bench.per_query, out / PER_QUERY)
    cfs = [r.cfs for r in bench.results if len(r.cfs)]
    if cfs:
        write_table(pd.concat(cfs, ignore_index=True), out / CFS)
    rejected = [r.rejected for r in bench.results if len(r.rejected)]
    if rejected:  # every method's withheld answers beside every method's CFs
        write_table(pd.concat(rejected, ignore_index=True), out / REJECTED)
    if not bench.comparisons.empty:
        write_table(bench.comparisons, out / COMPARISONS_CSV)
    spec = bench.results[0].spec if bench.results else None
    headline = CATALOG.view("headline")

    def table(group: Any = None) -> pd.DataFrame:
        best = benchmark_best(
            bench.per_query, headline, by=config.by, group=group, seed=config.seed
        )
        return summary_table(bench.summary, by=config.by, group=group, best=best)

    sections = [("All queries", table())]
    if config.by and config.by in bench.summary.columns:
        for group in sorted(bench.summary[config.by].dropna().unique()):
            label = spec.classes.get(int(group), group) if spec and config.by == "label" else group
            title = (
                f"Queries whose true class is {label}"
                if config.by == "label"
                else (f"{config.by} = {label}")
            )
            sections.append((title, table(group)))
    model_part = llm_table(bench.summary, by=config.by)
    if not model_part.empty:
        sections.insert(1, ("What the language model adds (all queries)", model_part))
    markdown = "\n\n".join(f"## {title}\n\n{markdown_table(table)}" for title, table in sections)
    markdown = f"{STAR_NOTE}\n\n{markdown}"
    if not bench.comparisons.empty:
        reference = bench.comparisons["reference"].iloc[0]
        markdown += (
            f"\n\n## {COMPARISONS_TITLE} ({reference})\n\n{COMPARISONS_NOTE}\n\n"
            + markdown_table(comparisons_text(bench.comparisons))
        )
    if config.min_proba is not None:
        markdown = f"{margin_note(bench.results, config.min_proba)}\n\n{markdown}"
    if bench.notes:  # the real rows' reference, and what plausibility costs
        markdown = "\n".join(f"- {note}" for note in bench.notes) + f"\n\n{markdown}"
    if not bench.price.empty:
        write_table(bench.price, out / PRICE_CSV)
    if not bench.frontier.empty:
        write_table(bench.frontier, out / FRONTIER_CSV)
    if bench.reference_rates:
        write_json(out / PLAUSIBILITY_JSON, _reference_record(bench, config))
    covered = coverage_lines(bench.summary, by=config.by)
    if covered:  # "covered" = a valid counterfactual that breaks no constraint
        markdown += "\n\nCoverage against feasible queries (valid, no violation):\n"
        markdown += "\n".join(f"- {line}" for line in covered)
    if bench.failures:
        markdown += "\n\nFailed methods:\n" + "\n".join(
            f"- {name}: {reason}" for name, reason in bench.failures.items()
        )
    write_text(out / SUMMARY_MD, markdown + "\n")
    # A live object given as an option (a backend) is written by its repr, not refused.
    dumped = config.model_dump(mode="json", fallback=repr)
    write_text(out / CONFIG_YAML, yaml.safe_dump(dumped, sort_keys=False))


def _reference_record(bench: BenchmarkResult, config: BenchmarkConfig) -> dict[str, Any]:
    """What ``plausibility.json`` keeps: the held-out real rows' inlier rates (the reference
    beside every method's), the calibration rate, the stricter rate the held methods met (if
    any), the desired class, and the notes."""
    spec = bench.results[0].spec if bench.results else None
    rates = {k: (None if pd.isna(v) else float(v)) for k, v in bench.reference_rates.items()}
    return {
        "reference": {"lof": rates.get("lof"), "iforest": rates.get("iforest")},
        "n": int(rates.get("n") or 0),
        "inlier_rate": config.inlier_rate,
        "held_rate": config.held_rate,
        "held_neighbours": config.held_neighbours,
        "desired_class": spec.desired_class if spec is not None else None,
        "desired": spec.classes.get(spec.desired_class) if spec is not None else None,
        "plausibility": config.plausibility,
        "notes": bench.notes,
    }


STAR_NOTE = (
    "★ marks a method only where it is better than every other method on that measure, "
    "query by query, at the Holm-adjusted 5% level; no ★: the best mean is indistinguishable "
    "from another method's."
)
COMPARISONS_TITLE = "Paired comparisons against the reference"
COMPARISONS_NOTE = (
    "Each method minus the reference on the queries both were asked (clustered by person "
    "where the data have people): the mean difference with its 95% paired bootstrap interval, "
    "the sign-flip permutation p-value and its Holm adjustment across the table, the units "
    "(people or queries) needed for the difference to hold with 80% power after that "
    "adjustment, and the verdict at the adjusted 5% level by the measure's direction."
)


def margin_note(results: list[CounterfactualResult], margin: float) -> str:
    """What summary.md says of a safety margin: which methods searched to it, which were only
    measured at it.

    >>> print(margin_note([], 0.6))
    Safety margin: P(desired class) ≥ 0.6. `validity` is the decision rule's; `valid at margin` the share of CFs that reach 0.6.
    """
    searched = [r.method for r in results if r.info.get("min_proba") is not None]
    measured = [r.method for r in results if r.info.get("min_proba") is None]
    parts = [f"Safety margin: P(desired class) ≥ {margin:g}."]
    if searched:
        parts.append(f"Searched to it: {', '.join(searched)}.")
    if measured:
        parts.append(f"Measured only (their search keeps its own rule): {', '.join(measured)}.")
    parts.append(
        f"`validity` is the decision rule's; `valid at margin` the share of CFs that reach {margin:g}."
    )
    return " ".join(parts)


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (the benchmark and study summaries)."""
    if table.empty:
        return "(no results)"
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines])
