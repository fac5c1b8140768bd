"""The oracle generator: exact where the model can be encoded, a deep search elsewhere."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed, count_changes, recompute, relations_kept
from sensecf.data.limits import Limits
from sensecf.data.scales import EffortPrices, FeatureScales
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.generators.base import Candidates, CounterfactualGenerator
from sensecf.generators.oracle.admissible import change_range
from sensecf.generators.oracle.budget import Budget
from sensecf.generators.oracle.certificate import CERTIFICATE_COLUMNS, Certificate
from sensecf.generators.oracle.encode import encode_model
from sensecf.generators.oracle.encoding import UnsupportedModel
from sensecf.generators.oracle.isolation import read_isolation_forest, verify_detector
from sensecf.generators.oracle.milp import OBJECTIVES, NumericalTrouble, Outcome, solve
from sensecf.generators.oracle.neighbours import ANCHORS_PER_NEIGHBOUR, hold_near
from sensecf.generators.oracle.relations import RATIO_LEVELS, RelationProgram, plan_relations
from sensecf.generators.oracle.search import (
    SearchSettings,
    count_rows,
    neighbour_candidates,
    search,
    subset_rows,
)
from sensecf.generators.oracle.supports import SupportSearch, support_count
from sensecf.generators.oracle.trees import TreeEnsemble
from sensecf.models.classifier import TrainedClassifier
from sensecf.models.plausibility import (
    DEFAULT_INLIER_RATE,
    HeldClassifier,
    PlausibilityDetector,
    check_plausibility,
)
from sensecf.progress import progress_bar

logger = logging.getLogger(__name__)

METHODS = ("auto", "exact", "search")
# How a forest's program is solved: "auto" splits it by support where that pays and hands an
# inconclusive split over to the whole program; "supports" never builds the whole program
# (under relations too), so a query's work is the supports' solves alone.
PROGRAMS = ("auto", "supports")
# How far inside the detector's inlier bound a solution must lie (in path-length units, times
# the program's widening): covers the solver's tolerances, as the classifier's link does.
DETECTOR_TOLERANCE = 1e-6
# A feature with at most this many admissible values is searched over all of them.
COMPLETE_GRID = 16
# Branch-and-bound nodes per solve. The programs of the project's models close at the root
# or within a few nodes; a thousand leaves room for harder ones while bounding the work.
NODE_LIMIT = 1_000
# Candidate rows the search hands to the model per query: five exhaustive subset sizes at the
# default ``max_rows``, or a long beam.
MAX_CANDIDATES = 1_000_000
# Each solve after the first (the further distinct solutions) gets this share of the nodes.
EXTRA_SHARE = 0.25
# The program is split by support (:mod:`.supports`) where a query has at most this many
# supports to visit, and solves at most this many of the supports' programs (each with the
# node limit); beyond, the whole program answers.
MAX_SUPPORTS = 1_023
MAX_SUPPORT_SOLVES = 128


# A safety cap in seconds on top of the work budget: the root of a solve (presolve, cuts) and
# a search over a large forest are not bounded by nodes or rows alone.
DEFAULT_SECONDS = 20.0


class Oracle(CounterfactualGenerator):
    """Counterfactuals with the fewest changes, proven where the model allows it.

    ``method``: ``"exact"`` solves a mixed-integer program (tree ensembles, logistic models);
    ``"search"`` searches feature subsets for any model; ``"auto"`` (default) is exact where
    the model can be encoded, else search. ``margin`` asks for P(positive) at least that far
    beyond the threshold. ``max_changes`` caps the number of changed features (None: every
    mutable feature).

    ``objective``: what the answer minimises first. ``"changes"`` (default): the fewest changed
    features, then the cheapest change; ``"cost"``: the cheapest change, then the fewest
    features. A change's price is its effort where the spec states a ``cost`` for a feature
    and its MAD-scaled size for any other (:class:`~sensecf.data.scales.EffortPrices`), so a
    spec without costs breaks ties by MAD-L1. Under ``"cost"`` the program proves the cheapest
    change, not the fewest: its certificate leaves ``min_l0`` unproven (``feasible``), and a
    model without an exact encoding ranks the search's rows by price.

    Budget: counted work, so the same query gets the same answer on any machine, idle or
    busy (see :mod:`.budget`). ``node_limit`` caps the branch-and-bound nodes of each solve
    (the further distinct solutions get a quarter of it each, and a fixed number of solves);
    ``max_candidates`` caps the rows the search hands to the model per query. ``time_limit``
    (20 s by default; ``None`` for none) is a safety cap in seconds per query on top: the work
    budget binds first on the models this was measured on, and a query the clock cuts short
    has ``budget == "seconds"`` in the query table (its answer may differ on another machine).

    ``programs``: ``"auto"`` (default) splits a forest's program by the set of features it
    changes where that pays (:mod:`.supports`) and lets the whole program answer where the
    split is inconclusive; ``"supports"`` solves a forest only support by support (under
    relations too), at most ``max_support_solves`` supports' programs a query, so its work is
    counted even where the whole program's root alone would take seconds: a query the split
    cannot settle ends as ``time_limit``, bounded by the sizes searched, and the further
    solutions make no more changes than the first. Logistic models, ``objective="cost"``
    and features without a finite set of values keep the whole program.

    ``plausibility``: ``"none"`` (default) or ``"iforest"``: every answer must be an inlier of
    an IsolationForest on the desired class (its trees encoded in the program, so the plausible
    minimum is proven as the plain one is). ``detector``: the fitted
    :class:`~sensecf.models.plausibility.PlausibilityDetector` to hold the answers to (the
    benchmark and ``explain`` pass their metric suite's); without one, one is fitted per
    desired class (``detector_trees``, ``detector_seed``, calibrated so ``inlier_rate`` of a
    held-out fifth pass, a fifth of the people where the rows have people). ``held_rate``: a stricter bar on the same trees, the score that only
    that share of the held-out real rows reach (``None``: the detector's own); the suite still
    judges at its own, so the answers have room inside the typical region.
    ``held_neighbours``: also hold the answers to a neighbour bar
    (:class:`~sensecf.models.plausibility.NeighbourBar`): their mean distance to that many
    nearest real rows of the desired class, over the features a person sets, no larger than
    the held-out real rows' at the same rate, in absolute terms and relative to how near those
    rows sit to their own neighbours. The program holds it as rows over the real rows
    nearest the person (:mod:`.neighbours`): every answer meets the bar, and what the
    certificate proves (the fewest changes, or that there is none) is over those rows, a
    stricter bar than over every real row; the search filters by the bar itself.

    Search settings: ``grid_size`` training quantiles per feature, ``grid_size_large`` for the
    beam, ``beam_width`` rows kept per subset size, ``max_rows`` the largest exhaustive size
    (rows per subset size), ``neighbors`` projected desired-class training rows per query.

    A person's limits (``generate(limits=)``) hold for their query as the spec's rules do: a
    kept feature is fixed, a bounded one stays within the person's bounds (the program and the
    search work on the spec as it holds for the person, :meth:`.Limits.narrow`), and the
    person's cap on changes joins ``max_changes``; the certificate is then over what the person
    may change.

    A query's missing feature (NaN: nobody measured it) stays missing in every counterfactual;
    the program holds it where the classifier puts a missing value (a tree's missing-value
    branch, an imputer's value), so its answers are as exact as for complete queries.

    Per query (``query_info_columns``): ``status`` (optimal, feasible, infeasible, time_limit
    (a budget ran out before any counterfactual was found), not_found), ``solver`` (milp or
    search), ``min_l0``, ``min_l0_bound``, ``min_l0_certified``, ``min_l0_exact`` (see
    :mod:`.certificate`), ``budget`` (``"seconds"`` where the time limit cut the query short,
    else ``"work"``) and ``solve_seconds``.

    >>> Oracle(max_changes=2).get_params()["max_changes"]
    2
    >>> Oracle().get_params()["time_limit"], Oracle().node_limit
    (20.0, 1000)
    """

    keeps_relations = True
    honours_limits = True
    answers_each_query_alone = True
    query_info_columns: ClassVar[tuple[str, ...]] = (
        *CERTIFICATE_COLUMNS,
        "budget",
        "solve_seconds",
    )

    def __init__(
        self,
        *,
        method: str = "auto",
        node_limit: int = NODE_LIMIT,
        max_candidates: int = MAX_CANDIDATES,
        time_limit: float | None = DEFAULT_SECONDS,
        margin: float = 0.0,
        max_changes: int | None = None,
        objective: str = "changes",
        grid_size: int = 9,
        grid_size_large: int = 4,
        beam_width: int = 20,
        max_rows: int = 200_000,
        neighbors: int = 10,
        plausibility: str = "none",
        inlier_rate: float | None = DEFAULT_INLIER_RATE,
        held_rate: float | None = None,
        held_neighbours: int | None = None,
        detector_trees: int = 100,
        detector_seed: int = 0,
        detector: PlausibilityDetector | None = None,
        programs: str = "auto",
        max_support_solves: int = MAX_SUPPORT_SOLVES,
    ) -> None:
        self.method = method
        self.node_limit = node_limit
        self.max_candidates = max_candidates
        self.time_limit = time_limit
        self.margin = margin
        self.max_changes = max_changes
        self.objective = objective
        self.grid_size = grid_size
        self.grid_size_large = grid_size_large
        self.beam_width = beam_width
        self.max_rows = max_rows
        self.neighbors = neighbors
        self.plausibility = plausibility
        self.inlier_rate = inlier_rate
        self.held_rate = held_rate
        self.held_neighbours = held_neighbours
        self.detector_trees = detector_trees
        self.detector_seed = detector_seed
        self.detector = detector
        self.programs = programs
        self.max_support_solves = max_support_solves

    @property
    def name(self) -> str:  # type: ignore[override]
        """``oracle``, or ``oracle-plausible`` when held to a plausibility detector."""
        return "oracle" if self.plausibility == "none" else "oracle-plausible"

    def _validate_params(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"`method` must be one of {list(METHODS)}; got {self.method!r}")
        if self.programs not in PROGRAMS:
            raise ValueError(f"`programs` must be one of {list(PROGRAMS)}; got {self.programs!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"`objective` must be one of {list(OBJECTIVES)}; got {self.objective!r}"
            )
        for label, value, least in (
            ("max_changes", self.max_changes, 0),
            ("node_limit", self.node_limit, 1),
            ("max_candidates", self.max_candidates, 1),
            ("grid_size", self.grid_size, 2),
            ("grid_size_large", self.grid_size_large, 2),
            ("beam_width", self.beam_width, 1),
            ("max_rows", self.max_rows, 1),
            ("neighbors", self.neighbors, 1),
            ("max_support_solves", self.max_support_solves, 1),
            ("held_neighbours", self.held_neighbours, 1),
        ):
            if label in ("max_changes", "held_neighbours") and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"`{label}` must be an integer ≥ {least}; got {value!r}")
        for label, number, low in (("time_limit", self.time_limit, 0), ("margin", self.margin, 0)):
            if label == "time_limit" and number is None:  # no seconds limit: work only
                continue
            ok = isinstance(number, (int, float)) and not isinstance(number, bool)
            if (
                not ok
                or number is None
                or not math.isfinite(number)
                or number < low
                or (label == "time_limit" and number == 0)
            ):
                raise ValueError(
                    f"`{label}` must be a "
                    + (
                        "positive number of seconds or None"
                        if label == "time_limit"
                        else "non-negative number"
                    )
                    + f"; got {number!r}"
                )
        if self.margin >= 1:
            raise ValueError(f"`margin` must be below 1 (a probability); got {self.margin!r}")
        check_plausibility(
            self.plausibility,
            self.detector,
            self.detector_trees,
            self.detector_seed,
            self.inlier_rate,
            self.held_rate,
        )

    def _fit(self) -> None:
        spec = self.spec_
        X = self.reference_.X.to_numpy(dtype=float)
        self.reference_X_ = X
        self.reference_pred_ = self.model_.predict(X)
        self.scale_ = FeatureScales.from_reference(spec, X).scale
        self.prices_ = EffortPrices.for_spec(spec, self.scale_)
        # Distances the program, the neighbours and the ranking weigh: each feature's price.
        self.price_scale_ = self.prices_.tie_scale(self.scale_)
        self.mutable_ = np.array([j for j, f in enumerate(spec.features) if f.is_mutable])
        self.grid_ = [self._grid(j, self.grid_size) for j in range(len(spec.features))]
        self.grid_large_ = [self._grid(j, self.grid_size_large) for j in range(len(spec.features))]
        self.encoding_: Any = None
        self.unsupported_reason_ = ""
        if self.method != "search":
            try:
                self.encoding_ = encode_model(self.model_, X)
            except UnsupportedModel as exc:
                if self.method == "exact":
                    raise SensecfError(f"the exact oracle cannot encode this model: {exc}") from exc
                self.unsupported_reason_ = str(exc)
        self.relations_ = plan_relations(spec)
        self.derived_ = np.array(
            [j for j, f in enumerate(spec.features) if f.name in set(spec.derived_features)],
            dtype=int,
        )
        unencoded = list(self.relations_.unsupported)
        if self.encoding_ is not None and unencoded:
            reason = (
                "the mixed-integer program cannot encode the spec's relations "
                f"({', '.join(unencoded)}): only affine formulas, ratios of affine forms "
                "and affine checks"
            )
            if self.method == "exact":
                raise SensecfError(f"the exact oracle cannot be used: {reason}")
            self.encoding_ = None
            self.unsupported_reason_ = reason
        self.path_ = "milp" if self.encoding_ is not None else "search"
        self.detectors_: dict[int, _Plausible] = {}

    # ---- plausibility ----------------------------------------------------------------------
    def _plausible(self, desired: int) -> _Plausible | None:
        """The detector the answers for class ``desired`` are held to (None: none), with its
        trees where the program can hold them; fitted once per class."""
        if self.plausibility == "none":
            return None
        if desired not in self.detectors_:
            # A stricter bar on the same trees, and the neighbour bar where asked for.
            detector = self._class_detector(desired).held_for(
                self.spec_, self.held_rate, self.held_neighbours
            )
            trees: TreeEnsemble | None = None
            if isinstance(self.encoding_, TreeEnsemble):
                try:
                    trees = read_isolation_forest(detector)
                    verify_detector(trees, detector, self.reference_X_[:2000])
                except UnsupportedModel as exc:  # the search filters by the detector instead
                    logger.warning(f"the program cannot hold the detector: {exc}")
                    trees = None
            self.detectors_[desired] = _Plausible(detector, trees)
        return self.detectors_[desired]

    def _grid(self, j: int, size: int) -> np.ndarray:
        feature = self.spec_.features[j]
        if feature.levels is not None:
            return np.asarray(feature.levels, dtype=float)
        column = self.reference_X_[:, j]
        column = column[np.isfinite(column)]
        if not len(column):
            return np.empty(0)
        return np.unique(feature.round(np.quantile(column, np.linspace(0, 1, size))))

    # ---- generation ----------------------------------------------------------------------
    def _propose_batch(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool = False,
        limits: Sequence[Limits | None] | None = None,
    ) -> Sequence[Candidates] | None:
        pool = self.reference_X_[self.reference_pred_ == desired]
        plausible = self._plausible(desired)
        # Held to plausibility, every check the search and the enumeration make sees an
        # outlier of the detector as outside the desired class.
        model = self.model_ if plausible is None else plausible.held(self.model_, desired)
        person = list(limits) if limits is not None else [None] * len(X)
        # One batch for the people the spec's rules alone hold; a person with limits gets
        # neighbours of their own below.
        free = [i for i, own in enumerate(person) if own is None]
        batch = neighbour_candidates(
            model, self.spec_, self.price_scale_, pool, X[free], desired, self.neighbors
        )
        neighbours: list[np.ndarray | None] = [None] * len(X)
        for i, near in zip(free, batch, strict=True):
            neighbours[i] = near
        out = []
        with progress_bar(self.name, len(X), progress) as advance:
            for query, batched, own in zip(X, neighbours, person, strict=True):
                start = time.perf_counter()
                budget = self._budget(start)
                spec, cap = self.spec_, self.max_changes
                if batched is not None:
                    near = batched
                else:  # the spec as it holds for this person, and their cap
                    assert own is not None
                    spec, cap = own.narrow(self.spec_), own.cap(self.max_changes)
                    near = neighbour_candidates(
                        model,
                        spec,
                        self.price_scale_,
                        pool,
                        query[None, :],
                        desired,
                        self.neighbors,
                    )[0]
                if cap is not None:  # a neighbour may change more features than allowed
                    near = near[count_changes(spec, query, near) <= cap]
                answer: tuple[np.ndarray, Certificate] | None = None
                exact = plausible is None or plausible.trees is not None
                if self.encoding_ is not None and exact and self._encodable(query):
                    try:
                        answer = self._exact(
                            query.copy(), near, n_cfs, desired, budget, model, plausible, spec, cap
                        )
                    except UnsupportedModel:  # the model cannot score this query's gaps
                        answer = None
                if answer is None:
                    found, certificate = self._search(
                        query.copy(), near, desired, budget, model, spec, cap
                    )
                    answer = self._rank(query, found), certificate
                rows, certificate = answer
                if own is not None and cap is not None:  # what the fill-up rows may not pass
                    rows = rows[count_changes(spec, query, rows) <= cap]
                info = {
                    **certificate.query_info(),
                    "budget": budget.label,
                    "solve_seconds": time.perf_counter() - start,
                }
                out.append(Candidates(rows[:n_cfs], source="search", query_info=info))
                advance()
        return out

    def _budget(self, start: float) -> Budget:
        """One query's budget, its deadline counted from ``start`` (where a limit is set)."""
        deadline = None if self.time_limit is None else start + self.time_limit
        return Budget(self.node_limit, self.max_candidates, deadline)

    def _encodable(self, query: np.ndarray) -> bool:
        """Whether the program can hold this query: a missing feature (kept missing) may not
        enter an encoded relation, whose rows need its value."""
        gaps = np.isnan(query)
        if not gaps.any():
            return True
        plan = self.relations_
        involved = list(plan.linked | set(plan.order))
        return not gaps[involved].any()

    def _search(
        self,
        query: np.ndarray,
        near: np.ndarray,
        desired: int,
        budget: Budget,
        model: TrainedClassifier,
        spec: DatasetSpec | None = None,
        cap: int | None = None,
    ) -> tuple[np.ndarray, Certificate]:
        """The search for one query, over ``spec`` (default: the oracle's; a person's own
        where they have limits) and at most ``cap`` changes (default: ``max_changes``)."""
        if spec is None:
            spec, cap = self.spec_, self.max_changes
        grid = [
            np.union1d(fine, coarse)
            for fine, coarse in zip(self.grid_, self.grid_large_, strict=True)
        ]
        settings = SearchSettings(
            grid=grid,
            max_changes=cap,
            beam_width=self.beam_width,
            max_rows=self.max_rows,
            complete_up_to=COMPLETE_GRID,
        )
        return search(model, spec, query, desired, near, settings, budget)

    def _exact(
        self,
        query: np.ndarray,
        near: np.ndarray,
        n_cfs: int,
        desired: int,
        budget: Budget,
        model: TrainedClassifier,
        plausible: _Plausible | None = None,
        spec: DatasetSpec | None = None,
        max_changes: int | None = None,
    ) -> tuple[np.ndarray, Certificate]:
        """The program for one query, over ``spec`` and ``max_changes`` as :meth:`_search`."""
        encoding = self.encoding_
        if spec is None:
            spec, max_changes = self.spec_, self.max_changes
        low, high = change_range(spec, query)
        low[self.derived_], high[self.derived_] = np.nan, np.nan  # they follow their inputs
        plan = self.relations_
        if not plan.empty and not RelationProgram(plan, spec, query, low, high).usable:
            # The query itself does not meet its relations: only the search can say more.
            rows, certificate = self._search(query, near, desired, budget, model, spec, max_changes)
            return self._rank(query, rows), certificate
        positive = desired == model.positive_class
        target = model.threshold + self.margin if positive else model.threshold - self.margin
        by_cost = self.objective == "cost"
        anchors = None if plausible is None else plausible.anchors(query)
        # A neighbour's count of changes caps the fewest, not the cheapest.
        known = int(count_changes(spec, query, near).min()) if len(near) and not by_cost else None
        caps = [c for c in (known, max_changes) if c is not None]
        cap = min(caps) if caps else None

        def accept(x: np.ndarray) -> bool:
            return bool(
                model.predict(x[None, :])[0] == desired and relations_kept(spec, query, x)[0]
            )

        if accept(query):
            return query[None, :], Certificate("optimal", "milp", 0, 0)
        enumerated: tuple[np.ndarray, int, bool] | None = None
        outcome: Outcome | None = None
        limit = cap
        for widen in (1.0, 10.0, 100.0):
            tolerance = encoding.link.tolerance * widen
            value = encoding.link.score_at(min(max(target, 0.0), 1.0))
            value = value + tolerance if positive else value - tolerance
            if not math.isfinite(value):
                outcome = Outcome([], "infeasible", bound=math.inf)
                break
            bound = (">=" if positive else "<=", value)
            companions: list[Any] = [] if plausible is None else [plausible.row(widen)]

            def build(
                pick: str = "inner",
                levels: int = RATIO_LEVELS,
                widen: float = widen,
                bound: tuple[str, float] = bound,
                support: tuple[int, ...] | None = None,
                values: dict[int, np.ndarray] | None = None,
                companions: list[Any] = companions,
            ) -> Any:
                if support is None:
                    context = (
                        None if plan.empty else RelationProgram(plan, spec, query, low, high, widen)
                    )
                    return self._near(
                        encoding.program(
                            spec,
                            query,
                            low,
                            high,
                            self.price_scale_,
                            bound,
                            relations=context,
                            ratio_pick=pick,
                            ratio_levels=levels,
                            **({"companions": companions} if companions else {}),
                        ),
                        plausible,
                        anchors,
                        widen,
                    )
                # A support's program: its features alone move (and the derived features that
                # follow them), over the whole program's values for them.
                box = _within(low, high, support)
                context = None if plan.empty else RelationProgram(plan, spec, query, *box, widen)
                return self._near(
                    encoding.program(
                        spec,
                        query,
                        *box,
                        self.price_scale_,
                        bound,
                        relations=context,
                        chain_values=values,
                        **({"companions": companions} if companions else {}),
                    ),
                    plausible,
                    anchors,
                    widen,
                )

            builder = build()
            if enumerated is None:
                enumerated = (
                    (np.empty((0, len(query))), 0, False)
                    if by_cost
                    else self._small_changes(builder, query, desired, cap, model)
                )
            rows, proven, exact = enumerated
            # One change is the fewest any counterfactual makes (the query itself is not one).
            single = len(rows) and int(count_changes(spec, query, rows).min()) == 1
            found = _one_per_support(spec, query, rows)[:n_cfs] if exact or single else []
            limit = cap
            if len(rows):  # valid rows found without proof: a cap for the program
                best = int(count_changes(spec, query, rows).min())
                limit = best if limit is None else min(limit, best)
            # The supports and the enumeration go size by size: the fewest changes first.
            by_support = (
                None
                if by_cost or len(found) >= n_cfs
                else self._support_search(
                    builder, query, low, high, bound, build, budget, companions
                )
            )
            try:
                if len(found) >= n_cfs:
                    outcome = Outcome(list(found), "optimal", min_l0=proven + 1, bound=proven + 1)
                else:
                    outcome = solve(
                        builder,
                        n_cfs,
                        budget,
                        l0_cap=limit,
                        min_changes=proven + 1,
                        found=found,
                        accept=accept,
                        extra_nodes=max(1, int(EXTRA_SHARE * self.node_limit)),
                        by_support=by_support,
                        max_changes=max_changes,
                    )
                if builder.relaxed and not by_cost:  # the brackets certify a count
                    outcome = self._bracket(outcome, build, proven + 1, limit, accept, budget)
                break
            except NumericalTrouble:
                continue
            except RuntimeError as exc:
                if plausible is None:
                    raise
                # The detector's rows can make the solver fail; the search still answers.
                logger.warning(f"the plausible program failed ({exc}); searching instead")
                outcome = None
                break
        if outcome is None:  # the program and the model disagree at every tolerance
            rows, certificate = self._search(query, near, desired, budget, model, spec, max_changes)
            return self._rank(query, rows), certificate
        if enumerated is not None and len(enumerated[0]):
            near = np.vstack([enumerated[0], near])  # the other enumerated rows fill up
        if outcome.capped and max_changes is not None and limit == max_changes:
            outcome.capped = False  # none within the cap the rules set: that is a proof
        rows, certificate = self._combine(query, outcome, near)
        if by_cost and certificate.status == "optimal":  # the cheapest, not the fewest, proven
            l0 = int(count_changes(spec, query, rows[:1]).min())
            certificate = Certificate("feasible", "milp", l0, math.nan)
        return rows, certificate

    def _priced(self, builder: Any) -> Any:
        """A program with the price of changing each feature at all, and the objective."""
        builder.fixed = self.prices_.fixed
        builder.objective = self.objective
        return builder

    def _near(
        self,
        builder: Any,
        plausible: _Plausible | None,
        anchors: np.ndarray | None,
        widen: float,
    ) -> Any:
        """A priced program, held to the neighbour bar where the answers are."""
        builder = self._priced(builder)
        bar = None if plausible is None else plausible.detector.neighbour_bar_
        if bar is not None and anchors is not None:
            hold_near(builder, bar, anchors, slack=bar.k * DETECTOR_TOLERANCE * widen)
        return builder

    def _support_search(
        self,
        builder: Any,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        bound: tuple[str, float],
        build: Any,
        budget: Budget,
        companions: Sequence[tuple[Any, tuple[str, float]]] = (),
    ) -> SupportSearch | None:
        """The program split by support (:mod:`.supports`) where it pays and is exact: a
        forest (its score range bounds a support's box) and few enough supports to visit.
        Under relations only where the program also holds a detector (``companions``) or
        ``programs="supports"`` asks for it: the whole program is then far harder than the
        classifier's alone, and a support's program lets the derived features follow the
        support's features; there the whole program never takes over, and the further
        solutions make no more changes than the first (:func:`.milp.solve` caps them)."""
        encoding = self.encoding_
        plan = self.relations_
        universe = tuple(int(j) for j in sorted(builder.features))
        related = not plan.empty
        only = self.programs == "supports"  # never the whole program
        if (
            not universe
            or (related and not companions and not only)
            or not hasattr(encoding, "score_range")
            or (not related and not only and support_count(len(universe)) > MAX_SUPPORTS)
            # A linked feature's values are intervals (every admissible value): a support's
            # program over the same range offers the same values.
            or any(
                builder.features[j].candidates is None and j not in plan.linked for j in universe
            )
        ):
            return None
        sense, value = bound
        spec = self.spec_

        def possible(support: tuple[int, ...]) -> bool:
            box = _within(low, high, support)
            context = None if not related else RelationProgram(plan, spec, query, *box)
            for trees, (side, limit) in [(encoding, (sense, value)), *companions]:
                lowest, highest = trees.score_range(spec, query, *box, relations=context)
                # A hair of slack: the program sums the same leaves in another order.
                if not (highest >= limit - 1e-9 if side == ">=" else lowest <= limit + 1e-9):
                    return False
            return True

        return SupportSearch(
            universe=universe,
            build=lambda support: build(
                support=support,
                values={j: builder.features[j].candidates for j in support if j not in plan.linked},
            ),
            possible=possible,
            query=query,
            scale=self.price_scale_,
            budget=budget,
            max_solves=self.max_support_solves,
            solve=solve,
            solver_errors=(RuntimeError, NumericalTrouble),
            fixed=self.prices_.fixed,
            hand_over=not related and not only,
        )

    def _bracket(
        self,
        inner: Outcome,
        build: Any,
        least: int,
        cap: int | None,
        accept: Any,
        budget: Budget,
    ) -> Outcome:
        """Certify (or bound) the inner approximation of a linear model's ratio terms with the
        outer relaxation, with finer brackets (at most three) while they disagree."""
        if inner.status == "optimal":
            outcome = Outcome(list(inner.solutions), "feasible", inner.min_l0, bound=least)
        elif inner.status == "infeasible":
            outcome = Outcome([], "not_found", bound=least, capped=inner.capped)
        else:
            outcome = inner
        levels = RATIO_LEVELS
        for _ in range(3):
            if budget.out_of_time():
                break
            best = int(outcome.min_l0) if outcome.solutions else None
            if best is not None and best <= least:
                return Outcome(outcome.solutions, "optimal", best, bound=best)
            outer_cap = best - 1 if best is not None else cap
            relaxed = solve(build("outer", levels), 1, budget, l0_cap=outer_cap, min_changes=least)
            if relaxed.status == "infeasible":
                if best is not None:
                    return Outcome(outcome.solutions, "optimal", best, bound=best)
                if not relaxed.capped:
                    return Outcome([], "infeasible", bound=math.inf)
                return outcome
            if relaxed.status == "time_limit":
                break
            lower = relaxed.min_l0 if relaxed.status == "optimal" else relaxed.bound
            if math.isfinite(lower):
                outcome.bound = max(outcome.bound, lower)
            x = relaxed.solutions[0]
            if accept(x):  # the relaxation's answer holds for the real ratio
                outcome.solutions.insert(0, x)
                outcome.min_l0 = relaxed.min_l0
                if relaxed.status == "optimal":
                    return Outcome(outcome.solutions, "optimal", relaxed.min_l0, relaxed.min_l0)
            levels *= 4
        return outcome

    def _small_changes(
        self,
        builder: Any,
        query: np.ndarray,
        desired: int,
        cap: int | None,
        model: TrainedClassifier,
    ) -> tuple[np.ndarray, int, bool]:
        """Enumerate changes of 1, 2, ... features on the program's candidate values while a
        size fits ``max_rows``. Returns the valid rows of the first size that has any, nearest
        first, the largest size proven to have none, and whether the enumeration proves
        anything: it does where each feature's candidates stand for every value it may take
        (trees); a feature that feeds a relation offers only sample values (no proof)."""
        d = len(query)
        spec = self.spec_
        features = builder.features
        if any(f.candidates is None and f.samples is None for f in features.values()):
            return np.empty((0, d)), 0, False
        exact = all(f.candidates is not None for f in features.values())
        options = {}
        for j, feature in features.items():
            values = feature.candidates if feature.candidates is not None else feature.samples
            values = values[changed(query[j], values)]
            if len(values):
                options[j] = values
        limit = len(options) if cap is None else min(cap, len(options))
        for size in range(1, limit + 1):
            if count_rows(options, size) > self.max_rows:
                return np.empty((0, d)), size - 1 if exact else 0, exact
            hits = []
            for block in subset_rows(query, options, size):
                if spec.relations:
                    block = recompute(spec, block)
                    block = block[relations_kept(spec, query, block)]
                if len(block):
                    hits.append(block[model.predict(block) == desired])
            hits = [h for h in hits if len(h)]
            if hits:
                return self._rank(query, np.vstack(hits)), size - 1 if exact else 0, exact
        return np.empty((0, d)), limit if exact else 0, exact

    def _combine(
        self, query: np.ndarray, outcome: Outcome, near: np.ndarray
    ) -> tuple[np.ndarray, Certificate]:
        """The program's solutions first, then the neighbours; the answer for the query."""
        solved = np.array(outcome.solutions).reshape(-1, len(query))
        near = self._rank(query, near)
        status = outcome.status
        if status == "optimal":
            rows = _unique_rows(np.vstack([solved, near]))
            return rows, Certificate("optimal", "milp", outcome.min_l0, outcome.min_l0)
        if status == "infeasible" and not outcome.capped and not len(near):
            return solved, Certificate("infeasible", "milp", min_l0_bound=math.inf)
        rows = self._rank(query, np.vstack([solved, near]))
        if not len(rows):
            empty = "not_found" if status == "not_found" else "time_limit"
            return rows, Certificate(empty, "milp", min_l0_bound=outcome.bound)
        l0 = int(count_changes(self.spec_, query, rows).min())
        # Capped and infeasible: nothing beats the neighbours within the solver's tolerance.
        bound = outcome.bound if status != "infeasible" else math.nan
        if math.isfinite(bound) and bound >= l0:
            return rows, Certificate("optimal", "milp", l0, l0)
        return rows, Certificate("feasible", "milp", l0, bound)

    def _rank(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Fewest changes first, then the lowest price (the other way round under the "cost"
        objective); duplicates dropped."""
        if not len(rows):
            return rows.reshape(0, len(query))
        l0 = count_changes(self.spec_, query, rows)
        price = np.nansum(np.abs(rows - query) / self.price_scale_, axis=1)
        price = price + (changed(query, rows) & ~np.isnan(query)) @ self.prices_.fixed
        keys = (l0, price) if self.objective == "cost" else (price, l0)
        return _unique_rows(rows[np.lexsort(keys)])


def _within(
    low: np.ndarray, high: np.ndarray, support: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The change range with every feature outside ``support`` held (NaN: may not change)."""
    lo, hi = np.full_like(low, np.nan), np.full_like(high, np.nan)
    keep = list(support)
    lo[keep], hi[keep] = low[keep], high[keep]
    return lo, hi


def _one_per_support(spec: DatasetSpec, query: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """The first (nearest) row of each set of changed features, in the given order (derived
    features left out: they follow)."""
    seen: set[tuple[int, ...]] = set()
    derived = set(spec.derived_features)
    acted = np.array([name not in derived for name in spec.feature_names], dtype=bool)
    out = []
    for row in rows:
        support = tuple(np.flatnonzero(changed(query, row) & acted).tolist())
        if support not in seen:
            seen.add(support)
            out.append(row)
    return out


def _unique_rows(rows: np.ndarray) -> np.ndarray:
    """The rows without repeats, in their first order (missing values equal each other)."""
    if not len(rows):
        return rows
    if not np.isnan(rows).any():
        _, first = np.unique(rows, axis=0, return_index=True)
        return rows[np.sort(first)]
    return rows[~pd.DataFrame(rows).duplicated().to_numpy()]


@dataclass(frozen=True)
class _Plausible:
    """The detector a class's answers are held to, and its trees where the program holds them."""

    detector: PlausibilityDetector
    trees: TreeEnsemble | None

    def row(self, widen: float) -> tuple[TreeEnsemble, tuple[str, float]]:
        """The detector's trees with their inlier row, ``widen`` times the tolerance inside."""
        assert self.trees is not None
        bound = self.detector.path_length_bound() + DETECTOR_TOLERANCE * widen
        return self.trees, (">=", bound)

    def held(self, model: TrainedClassifier, desired: int) -> TrainedClassifier:
        """``model`` with the detector's outliers put outside class ``desired``."""
        return cast(TrainedClassifier, HeldClassifier(model, self.inliers, desired))

    def inliers(self, X: np.ndarray) -> np.ndarray:
        """The detector's verdict on raw rows: by its encoded trees (all trees at once, far
        quicker than scikit-learn's tree-by-tree scoring), and by scikit-learn itself for a
        row within a hair of the threshold, so every verdict is the detector's own."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.trees is None or not len(X):
            return self.detector.holds(X)
        score = self.trees.score(X)
        bound = self.detector.path_length_bound()
        verdict = score >= bound
        close = np.abs(score - bound) <= 1e-7
        if close.any():
            verdict[close] = self.detector.inliers(X[close])
        return self.detector.holds(X, iforest=verdict)

    def anchors(self, query: np.ndarray) -> np.ndarray | None:
        """The positions of the real rows the program measures the neighbour bar to for
        ``query`` (None: no bar): the nearest to the person, a few per neighbour counted."""
        bar = self.detector.neighbour_bar_
        if bar is None:
            return None
        return bar.nearest(query, ANCHORS_PER_NEIGHBOUR * bar.k)
