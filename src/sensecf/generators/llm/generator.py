"""The LLM generator and its round loop: ask every query at once, read, verify, repair, assemble.

One ``generate`` call prepares what every round shares (:class:`QueryBatch`: the allowed ranges,
the probe, the examples), then runs rounds: each round asks every unfinished *chain* (one line
of requests for one CF of one query) in one ``backend.complete_many`` call, reads and checks
the answers, verifies the admissible ones with the classifier (and, held to plausibility, with
the plausibility detector) and settles the chains they complete; the others carry feedback into
the next round. Finally each query's CFs are assembled, with the oracle filling what the LLM
left short when ``fallback`` is on.

Only verified answers are offered: a chain whose last answer was refused (it could not be read,
broke a rule, did not reach the desired class, repeated an accepted answer, or was an outlier)
is withheld with its reason, in the result's ``rejected`` table, never in ``cfs``.

>>> LLMGenerator(shots=0).name, LLMGenerator().name, LLMGenerator(examples="worked").name
('zero-shot', 'few-shot', 'few-shot-worked')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone

from sensecf.data.constraints import allowed_ranges, count_changes
from sensecf.data.limits import Limits
from sensecf.data.scales import EffortPrices, FeatureScales
from sensecf.data.spec import DatasetSpec
from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    NotFittedError,
    Withheld,
    check_change_cap,
)
from sensecf.generators.llm import feedback
from sensecf.generators.llm.candidates import feature_grid, forced_features, round_candidates, stage
from sensecf.generators.llm.examples import ExampleBank, window
from sensecf.generators.llm.parse import coerce_answer, offer_breaks, parse_answer
from sensecf.generators.llm.probe import Probe, probe
from sensecf.generators.llm.prompts import (
    Help,
    PromptContext,
    PromptTemplate,
    answer_row,
    render_messages,
)
from sensecf.generators.llm.schema import answer_schema
from sensecf.generators.provenance import examples_json
from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMBackend
from sensecf.llm.llama_cpp import LlamaCpp
from sensecf.models.plausibility import (
    DEFAULT_INLIER_RATE,
    PlausibilityDetector,
    check_plausibility,
)
from sensecf.progress import progress_bar

if TYPE_CHECKING:
    from sensecf.generators.oracle import Oracle

Examples = Literal["nearest", "worked"]

# Helpful changes listed in a prompt, strongest first (the rest matter little).
LISTED_HELPS = 4


@dataclass
class AnswerChain:
    """One line of requests for one CF of one query: a first answer, then repair rounds."""

    query: int
    sample: int
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    done: bool = False
    row: np.ndarray | None = None  # the accepted answer, or the last admissible one
    valid: bool = False
    round: int = -1
    copied: bool = False
    problems: str = ""  # what the next round's feedback says
    rejected: int = 0  # answers that could not be read or broke a rule
    answer: np.ndarray | None = None  # the last answer's row (None: it could not be read)
    proba: float = float("nan")  # the model's P(desired) of the last answer, where it was asked
    reason: str = ""  # why the last answer was refused (the chain's rejected row says so)
    tried: set[str] = field(default_factory=set)  # features of answers that fell short


@dataclass
class RoundRequest:
    """One request of one round: the chain it continues, what was asked and offered."""

    chain: AnswerChain
    request: ChatRequest
    shown: list[dict[str, int | float | None]]  # the examples as answers, to detect copies
    offered: dict[str, list[int | float]]  # per feature asked, the values it may take
    must_move: list[str]  # features the answer must change


@dataclass
class QueryBatch:
    """What one ``generate`` call knows about its queries, shared by every round."""

    X: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    proba: np.ndarray  # current probability of the desired class
    desired: int
    needed: float
    probe: Probe
    shown: list[np.ndarray]  # per query, the examples in the order they are shown
    factuals: list[np.ndarray] | None  # worked pairs: the people the examples came from
    base_seed: int
    specs: list[DatasetSpec] = field(default_factory=list)  # per query, as it holds for them
    caps: list[int | None] = field(default_factory=list)  # per query, the most changes
    limits: list[str] = field(default_factory=list)  # per query, their limits in words
    person: list[Limits | None] = field(default_factory=list)  # per query, their limits
    chains: list[list[AnswerChain]] = field(default_factory=list)  # per query, one per CF asked
    flips: list[dict[int, np.ndarray]] | None = None  # per query, moves that flip alone (if asked)
    # per query, changes offered only together, in turn (each: feature → value), where asked
    together: list[list[dict[int, float]]] | None = None
    typical: bool = False  # whether every line keeps the person typical (a typical format)
    seconds: dict[int, float] = field(default_factory=dict)  # per query, where timed alone


class LLMGenerator(CounterfactualGenerator):
    """Counterfactuals from an LLM backend, verified by the classifier and repaired.

    ``backend``: any :class:`~sensecf.llm.base.LLMBackend` (``None``: the embedded
    SmolLM2-135M through :class:`~sensecf.llm.llama_cpp.LlamaCpp`, made by ``fit`` as
    ``default_backend_`` and loaded on first use).
    ``shots``: examples per prompt (0 = zero-shot). ``examples``: ``"nearest"`` desired-class
    people (default) or ``"worked"`` (another person → their verified counterfactual; measured
    to be worse with a small model: it copies their answers, not their edits).
    ``repair_rounds``: further requests after a failed answer. ``fallback``: the oracle search
    fills queries the LLM could not serve. ``temperature`` for the first answer,
    ``sample_temperature`` for the samples beyond it (``n_cfs`` > 1). ``prompt``: the texts
    (:class:`~sensecf.generators.llm.prompts.PromptTemplate`; ``None``: the default ones).
    ``max_tokens``: per answer (``None``: enough for the schema, about 16 per feature it may
    give). ``max_changes``: the most features an answer may change (``None``: any number);
    the schema says so (``maxProperties``) and the local backends' grammars hold to it, which
    keeps answers sparse and short (~11 tokens per change). ``grid_size``: training quantiles
    offered per feature.

    A person's limits (``generate(limits=)``) hold as the spec's rules do: a kept feature is
    never asked, a bounded one is offered values within the person's bounds, the schema and
    the prompt cap the changes at the person's ``max_changes`` (with this one), the prompt
    states the limits, and an answer that breaks them goes back for repair; the fallback
    oracle is held to them too.

    ``plausibility``: ``"none"`` (default) or ``"iforest"``: a valid answer must also be an
    inlier of the plausibility detector (the oracle's ``plausibility``); an outlier gets a
    repair round whose feedback names, in plain words, the changed features furthest from the
    desired class's typical values (robust z-scores over its reference rows). ``detector``:
    a fitted :class:`~sensecf.models.plausibility.PlausibilityDetector` to hold the answers to
    (``sensecf explain`` and the benchmark share the metric suite's); without one, ``fit``
    makes one per desired class from the reference rows (``detector_trees``, ``detector_seed``,
    ``inlier_rate`` and ``held_rate`` as the oracle's).

    A chain whose last answer is still refused is withheld: the result's ``rejected`` table
    holds it with its reason, and the result's validity counts it.

    Parameters are stored as given and checked by ``fit``; ``name`` follows from them.
    ``sklearn.base.clone`` gives an unfitted copy that shares the backend (a loaded model or
    an open connection is a resource, not a parameter value to copy).
    """

    honours_limits = True
    extra_cf_columns: ClassVar[tuple[str, ...]] = ("round", "sample", "copied_example")
    query_info_columns: ClassVar[tuple[str, ...]] = (
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
        "rounds",
        "rejected_answers",
        "examples_shown",
        "fallback_status",
    )

    def __init__(
        self,
        backend: LLMBackend | None = None,
        *,
        shots: int = 3,
        examples: Examples = "nearest",
        repair_rounds: int = 3,
        fallback: bool = False,
        temperature: float = 0.0,
        sample_temperature: float = 0.8,
        prompt: PromptTemplate | None = None,
        max_tokens: int | None = None,
        max_changes: int | None = 3,
        grid_size: int = 9,
        plausibility: str = "none",
        inlier_rate: float | None = DEFAULT_INLIER_RATE,
        held_rate: float | None = None,
        detector_trees: int = 100,
        detector_seed: int = 0,
        detector: PlausibilityDetector | None = None,
    ) -> None:
        self.backend = backend
        self.shots = shots
        self.examples = examples
        self.repair_rounds = repair_rounds
        self.fallback = fallback
        self.temperature = temperature
        self.sample_temperature = sample_temperature
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.max_changes = max_changes
        self.grid_size = grid_size
        self.plausibility = plausibility
        self.inlier_rate = inlier_rate
        self.held_rate = held_rate
        self.detector_trees = detector_trees
        self.detector_seed = detector_seed
        self.detector = detector

    @property
    def name(self) -> str:  # type: ignore[override]
        """``zero-shot`` without examples, else ``few-shot`` or ``few-shot-worked``."""
        if self.shots == 0:
            return "zero-shot"
        return "few-shot-worked" if self.examples == "worked" else "few-shot"

    def _validate_params(self) -> None:
        for label, value, least in (
            ("shots", self.shots, 0),
            ("repair_rounds", self.repair_rounds, 0),
            ("grid_size", self.grid_size, 2),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"`{label}` must be an integer ≥ {least}; got {value!r}")
        if self.examples not in ("nearest", "worked"):
            raise ValueError(f"`examples` must be 'nearest' or 'worked'; got {self.examples!r}")
        tokens = self.max_tokens
        if tokens is not None and (not isinstance(tokens, int) or tokens < 1):
            raise ValueError(f"`max_tokens` must be a positive integer or None; got {tokens!r}")
        check_change_cap(self.max_changes)
        if self.backend is not None and not isinstance(self.backend, LLMBackend):
            raise TypeError(f"backend must be an LLMBackend; got {type(self.backend).__name__}")
        if self.prompt is not None and not isinstance(self.prompt, PromptTemplate):
            raise TypeError(f"prompt must be a PromptTemplate; got {type(self.prompt).__name__}")
        GenerationParams(temperature=self.temperature)  # validates the range
        GenerationParams(temperature=self.sample_temperature)
        check_plausibility(
            self.plausibility,
            self.detector,
            self.detector_trees,
            self.detector_seed,
            self.inlier_rate,
            self.held_rate,
        )

    def __sklearn_clone__(self) -> LLMGenerator:
        params = self.get_params(deep=False)
        backend = params.pop("backend")  # shared: a live model or connection is not copied
        return type(self)(backend, **{k: clone(v, safe=False) for k, v in params.items()})

    # ---- fitting ------------------------------------------------------------------------------
    def _fit(self) -> None:
        spec = self.spec_
        X = self.reference_.X.to_numpy(dtype=float)
        self.examples_ = ExampleBank.from_reference(
            self.model_, self.reference_, max(self.shots, 1)
        )
        self.steps_ = np.array([float(f.step) for f in spec.features])
        self.mutable_ = np.array(
            [spec.feature_names.index(f.name) for f in spec.proposable_features], int
        )
        self.grid_ = [feature_grid(f, X[:, j], self.grid_size) for j, f in enumerate(spec.features)]
        scale = self.examples_.scale
        self.prices_ = EffortPrices.for_spec(spec, scale)
        # Where the spec states effort costs, the prompt names the cheaper changes.
        self.cheaper_ = (
            self.prices_.cheaper(
                spec.feature_names, scale, [f.name for f in spec.proposable_features]
            )
            if spec.has_costs
            else []
        )
        self.prompt_ = self.prompt if self.prompt is not None else PromptTemplate()
        self.default_backend_ = self._default_backend()
        self.oracle_ = self._fallback_oracle()
        self.detectors_: dict[int, _Typical] = {}

    def _default_backend(self) -> LlamaCpp | None:
        """The embedded model when no backend is given (loaded on its first call)."""
        if self.backend is not None:
            return None
        # A refit keeps the model already made (and maybe loaded) by an earlier fit.
        earlier = getattr(self, "default_backend_", None)
        return earlier if earlier is not None else LlamaCpp()

    def _fallback_oracle(self) -> Oracle | None:
        if not self.fallback:
            return None
        from sensecf.generators.oracle import Oracle

        return Oracle().fit(self.model_, self.reference_)

    def _plausible(self, desired: int) -> _Typical | None:
        """The detector answers for class ``desired`` are held to, with that class's typical
        values for the feedback (None without plausibility); made once per class."""
        if self.plausibility == "none":
            return None
        return self._typical(desired)

    def _typical(self, desired: int) -> _Typical:
        """The detector of class ``desired`` (``detector``, or one fitted on the reference rows,
        held at ``held_rate``), with the class's typical values; made once per class."""
        if desired not in self.detectors_:
            X = self.reference_.X.to_numpy(dtype=float)
            y = self.reference_.y.to_numpy()
            detector = self._class_detector(desired)
            if self.held_rate is not None:  # a stricter bar on the same trees
                detector = detector.held_at(self.held_rate)
            scales = FeatureScales.from_reference(self.spec_, X[y == desired])
            self.detectors_[desired] = _Typical(detector, scales.median, scales.scale)
        return self.detectors_[desired]

    def backend_for_run(self) -> LLMBackend:
        """The backend in use: the one given, or the embedded model made by ``fit``."""
        if self.backend is not None:
            return self.backend
        backend = getattr(self, "default_backend_", None)
        if backend is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted; call fit(model, data) first"
            )
        return backend

    def close(self) -> None:
        """Release the embedded model if this generator loaded it (a given backend is left open).

        A later call loads it again.
        """
        backend = getattr(self, "default_backend_", None)
        if backend is not None:
            backend.close()

    # ---- the round loop ------------------------------------------------------------------------
    def _propose_batch(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool = False,
        limits: Sequence[Limits | None] | None = None,
    ) -> Sequence[Candidates]:
        if len(X) == 0:
            return []
        backend = self.backend_for_run()
        begun = time.perf_counter()
        batch = self._prepare(X, n_cfs, desired, rng, limits)
        shared = (time.perf_counter() - begun) / len(X)
        # A server answers many requests at once: each round goes out for every query together.
        # A local model answers one at a time and reuses the evaluation of the prompt it saw
        # last: each person's rounds go back to back, so a repair shares the person's prefix.
        if _serves_concurrently(backend):
            lines = [[chain for group in batch.chains for chain in group]]
        else:
            lines = batch.chains
        together = len(lines) == 1
        with progress_bar(f"{self.name}: people", len(lines), progress and not together) as done:
            for chains in lines:
                start = time.perf_counter()
                for rnd in range(self.repair_rounds + 1):
                    active = [c for c in chains if not c.done]
                    if not active:
                        break
                    requests = [self._request(batch, c, rnd) for c in active]
                    answers = self._ask(backend, requests, rnd, progress and together)
                    self._verify(batch, self._read(batch, requests, answers), rnd)
                if not together:  # one person's own time (the shared preparation is spread)
                    batch.seconds[chains[0].query] = time.perf_counter() - start + shared
                done()
        return self._assemble(batch, n_cfs)

    def _prepare(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        limits: Sequence[Limits | None] | None = None,
    ) -> QueryBatch:
        """Allowed ranges, current probabilities, the probe and the examples of every query
        (each held to its person's ``limits``, where given)."""
        _, proba = self.model_.predict_with_proba(X, desired)
        # A feature the query is missing has no range (NaN at both ends): nothing is tried or
        # offered for it, and every answer keeps it missing.
        lo, hi = allowed_ranges(self.spec_, X)
        person: list[Limits | None] = list(limits) if limits is not None else [None] * len(X)
        specs = [self.spec_ if p is None else p.narrow(self.spec_) for p in person]
        for i, own in enumerate(person):
            if own is not None:  # a kept feature has no range; a bounded one a narrower one
                lo[i], hi[i] = (ends[0] for ends in allowed_ranges(specs[i], X[i][None, :]))
        found = probe(
            self.model_,
            X,
            lo,
            hi,
            proba,
            desired,
            grids=self.grid_,
            steps=self.steps_,
            mutable=self.mutable_,
            names=self.spec_.feature_names,
            spec=self.spec_,
        )
        count = self.shots * (self.repair_rounds + n_cfs)  # enough windows for every request
        factuals: list[np.ndarray] | None = None
        if self.shots and self.examples == "nearest":
            shown = self.examples_.nearest(X, desired, count, max_changes=self.max_changes)
        elif self.shots:
            factuals, shown = self.examples_.worked(X, desired, count)
        else:
            shown = [np.empty((0, X.shape[1]))] * len(X)
        return QueryBatch(
            X,
            lo,
            hi,
            proba,
            desired,
            self._needed(desired),
            found,
            shown,
            factuals,
            base_seed=int(rng.integers(0, 2**31 - 1)),
            chains=[[AnswerChain(i, s) for s in range(n_cfs)] for i in range(len(X))],
            specs=specs,
            caps=[self.max_changes if p is None else p.cap(self.max_changes) for p in person],
            limits=["" if p is None else p.text() for p in person],
            person=person,
        )

    def _needed(self, desired: int) -> float:
        """The probability of the desired class the model's decision rule asks for."""
        threshold = self.model_.threshold
        return threshold if desired == self.model_.positive_class else 1.0 - threshold

    def _ask(
        self, backend: LLMBackend, requests: list[RoundRequest], rnd: int, progress: bool
    ) -> list[Completion]:
        """One round's requests for all queries at once, so a server can serve them together."""
        label = f"{self.name}: first answers" if rnd == 0 else f"{self.name}: repair {rnd}"
        with progress_bar(label, len(requests), progress) as advance:
            answers = backend.complete_many(
                [r.request for r in requests], on_result=lambda _i, _a: advance()
            )
        if len(answers) != len(requests):
            raise RuntimeError(
                f"{type(backend).__name__}.complete_many returned {len(answers)} answers "
                f"for {len(requests)} requests"
            )
        completions = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer  # the backend's own message (down after its retries)
            completions.append(answer)
        return completions

    # ---- one request ---------------------------------------------------------------------------
    def _request(self, batch: QueryBatch, chain: AnswerChain, rnd: int) -> RoundRequest:
        """The prompt, schema and sampling settings of one chain's request in round ``rnd``."""
        spec = self.spec_
        i = chain.query
        # Each round and each sample sees its own window of examples: the next ones in line.
        examples = window(batch.shown[i], self.shots, rnd + chain.sample)
        facts = None
        if batch.factuals is not None:
            facts = window(batch.factuals[i], self.shots, rnd + chain.sample)
        level = stage(rnd, self.repair_rounds)
        helps = batch.probe.helps[i]
        candidates = round_candidates(
            spec,
            batch.X[i],
            batch.lower[i],
            batch.upper[i],
            examples=examples,
            grids=self.grid_,
            helpful=batch.probe.helpful[i],
            stage=level,
            few_shot=bool(self.shots),
            must_move=self._forced(helps, rnd),
        )
        asked = list(candidates)
        must_move = (
            [n for n in asked if n in forced] if (forced := self._forced(helps, rnd)) else []
        )
        query = batch.X[i]
        if facts is None:  # an example is shown as its changes from this person's values
            rows = [
                changed_values(answer_row(spec, r), answer_row(spec, query), asked)
                for r in examples
            ]
            before = None
        else:  # a worked pair: the other person's values, and their changes
            before = [changed_values(answer_row(spec, f), {}, asked) for f in facts]
            rows = [
                changed_values(answer_row(spec, r), answer_row(spec, f), asked)
                for r, f in zip(examples, facts, strict=True)
            ]
        enforced = self._enforces_schema()
        context = PromptContext(
            spec=spec,
            desired_class=batch.desired,
            query=query,
            proba=float(batch.proba[i]),
            needed=batch.needed,
            helps=helps[:LISTED_HELPS],
            examples=rows,
            factuals=before,
            problems=chain.problems,
            asked=asked,
            offered=None if enforced else candidates,
            must_move=() if enforced else must_move,
            max_changes=batch.caps[i],
            cheaper=self.cheaper_,
            limits=batch.limits[i],
        )
        request = ChatRequest(
            render_messages(self.prompt_, context),
            answer_schema(candidates, required=must_move, max_changes=batch.caps[i]),
            self._params(batch, chain, rnd, len(asked)),
        )
        shown = [answer_row(spec, r) for r in examples]
        return RoundRequest(chain, request, shown, candidates, must_move)

    def _forced(self, helps: Sequence[tuple[str, Help]], rnd: int) -> set[str]:
        """The features a last-resort round obliges to move (none in the other rounds)."""
        if stage(rnd, self.repair_rounds) != 3:
            return set()
        return forced_features(helps, rnd)

    def _enforces_schema(self) -> bool:
        """Whether the backend's decoder keeps to the schema (else the prompt spells it out)."""
        return bool(getattr(self.backend_for_run(), "supports_schema", False))

    def _params(
        self, batch: QueryBatch, chain: AnswerChain, rnd: int, asked: int
    ) -> GenerationParams:
        """Greedy-ish first answers, warmer samples, each with its own seed; room for ``asked``
        features in the answer."""
        first = chain.sample == 0
        return GenerationParams(
            temperature=float(self.temperature if first else self.sample_temperature),
            max_tokens=self.max_tokens or 16 * min(asked, self.max_changes or asked) + 24,
            seed=(batch.base_seed + 1009 * chain.sample + rnd) % (2**31 - 1),
        )

    # ---- answers -------------------------------------------------------------------------------
    def _read(
        self, batch: QueryBatch, requests: list[RoundRequest], answers: Sequence[Completion]
    ) -> list[tuple[RoundRequest, np.ndarray]]:
        """Count each answer's cost and read it onto its query; the admissible rows.

        An unreadable answer or one that breaks a rule is counted as rejected, and its chain
        carries the reason into the next round. Where the backend cannot enforce the schema,
        an answer that leaves the values offered, or leaves a must-move feature as it is, is
        rejected too: the same repair as a grammar gives.
        """
        spec = self.spec_
        enforced = self._enforces_schema()
        admissible: list[tuple[RoundRequest, np.ndarray]] = []
        for req, answer in zip(requests, answers, strict=True):
            names = list(req.offered)
            chain = req.chain
            chain.calls += 1
            chain.prompt_tokens += int(answer.prompt_tokens)
            chain.completion_tokens += int(answer.completion_tokens)
            chain.answer, chain.proba = None, float("nan")
            parsed = parse_answer(answer.text, names)
            if parsed.cut_off:  # never read a cut-off answer as "the rest unchanged"
                chain.rejected += 1
                chain.problems = feedback.cut_off(parsed.missing)
                chain.reason = "cut off before its answer ended"
                continue
            # Read by the spec as it holds for the person: a kept feature stays as it is.
            coerced = coerce_answer(batch.specs[chain.query], batch.X[chain.query], parsed)
            cap = batch.caps[chain.query]
            if cap is not None and batch.limits[chain.query]:
                moved = int(count_changes(spec, batch.X[chain.query], coerced.row)[0])
                if moved > cap:  # the person's cap, where no grammar held the answer to it
                    coerced.problems.setdefault(
                        "max_changes", f"it changed {moved} features; change at most {cap}"
                    )
            # What a grammar would have enforced, checked for every backend alike.
            if not enforced:  # what the grammar would have ruled out, checked here
                query = batch.X[chain.query]
                offer = offer_breaks(spec, query, coerced.row, req.offered, req.must_move)
                for name, problem in offer.items():  # a broken rule says more: it stays
                    coerced.problems.setdefault(name, problem)
            if coerced.admissible:
                admissible.append((req, coerced.row))
                continue
            chain.rejected += 1
            if coerced.error:
                chain.problems = feedback.unreadable(coerced.error)
                chain.reason = f"could not be read: {coerced.error}"
            else:
                chain.answer = coerced.row
                chain.problems = feedback.broken_rules(coerced.problems, coerced.relations)
                chain.reason = "breaks a rule: " + feedback.rule_clauses(
                    coerced.problems, coerced.relations
                )
        return admissible

    def _verify(
        self, batch: QueryBatch, admissible: list[tuple[RoundRequest, np.ndarray]], rnd: int
    ) -> None:
        """Score the admissible rows in one classifier call; settle the chains they complete.

        A valid answer that repeats one already accepted for the same query is sent back, and
        so is one the plausibility detector (when asked for) calls an outlier.
        """
        if not admissible:
            return
        spec, desired = self.spec_, batch.desired
        rows = np.vstack([row for _, row in admissible])
        labels, proba = self.model_.predict_with_proba(rows, desired)
        plausible = self._plausible(desired)
        inlier = np.ones(len(rows), dtype=bool)
        if plausible is not None and (labels == desired).any():  # one detector call per round
            reached = labels == desired
            inlier[reached] = plausible.detector.holds(rows[reached])
        for (req, row), label, p, typical in zip(admissible, labels, proba, inlier, strict=True):
            chain = req.chain
            query = batch.X[chain.query]
            taken = [
                c.row
                for c in batch.chains[chain.query]
                if c.done and c is not chain and c.row is not None
            ]
            # an unmeasured feature is NaN in every answer of the query: equal, not different
            repeated = any(np.array_equal(row, other, equal_nan=True) for other in taken)
            chain.row, chain.round = row, rnd
            chain.answer, chain.proba = row, float(p)
            chain.valid = bool(label == desired)
            chain.copied = answer_row(spec, row) in req.shown
            if chain.valid and not repeated and typical:
                chain.done = True
            elif chain.valid and not repeated:
                assert plausible is not None  # only the detector refuses a valid new answer
                far = feedback.furthest_from_typical(
                    spec, query, row, plausible.typical, plausible.scale
                )
                chain.problems = feedback.implausible(far, spec.classes[desired])
                listed = ", ".join(f"{name} {value}" for name, value, _ in far)
                chain.reason = "an outlier for the plausibility detector" + (
                    f" (far from typical: {listed})" if listed else ""
                )
            elif chain.valid:
                chain.problems = feedback.repeated()
                chain.reason = "repeats an answer already given"
            else:
                moved = feedback.changed_names(spec, query, row)
                chain.problems = feedback.too_weak(
                    moved, spec.classes[desired], float(p), batch.needed
                )
                chain.reason = (
                    f"not the desired class (P={float(p):.2f}, {batch.needed:.2f} needed)"
                    if moved
                    else "changed nothing"
                )

    # ---- results -------------------------------------------------------------------------------
    def _assemble(self, batch: QueryBatch, n_cfs: int) -> list[Candidates]:
        """Per query: its accepted answers, then the fallback's rows where it is on; the
        chains that ended refused are withheld."""
        fills: dict[int, np.ndarray] = {}
        answers: dict[int, str] = {}
        if self.oracle_ is not None:  # fallback on
            served = [sum(c.done for c in group) for group in batch.chains]
            short = {i: n_cfs - k for i, k in enumerate(served) if k < n_cfs}
            fills, answers = oracle_answers(
                self.oracle_, batch.X, short, batch.desired, batch.person
            )
        return [
            self._candidates(
                group,
                batch.X[i],
                fills.get(i),
                self._shown(batch, i),
                batch.seconds.get(i),
                answers.get(i, ""),
            )
            for i, group in enumerate(batch.chains)
        ]

    def _shown(self, batch: QueryBatch, i: int) -> np.ndarray:
        """Every example any request of query ``i`` showed (the windows its chains reached)."""
        if not self.shots or not len(batch.shown[i]):
            return batch.shown[i][:0]
        reached = max(c.sample + c.calls - 1 for c in batch.chains[i])
        blocks = -(-len(batch.shown[i]) // self.shots)
        return batch.shown[i][: self.shots * min(reached + 1, blocks)]

    def _candidates(
        self,
        group: list[AnswerChain],
        query: np.ndarray,
        filled: np.ndarray | None,
        shown: np.ndarray,
        seconds: float | None = None,
        fallback_status: str = "",
    ) -> Candidates:
        """One query's CF rows with their provenance, its withheld answers, and its per-query
        totals.

        ``fallback_status``: the oracle's answer where the fallback was asked (``infeasible``
        when it proved that no allowed change flips the prediction), else empty.

        Only accepted answers (and the fallback's rows) are offered. Each chain that ended with
        its last answer refused is withheld with the reason: the honest record of a failure,
        kept out of every table a person acts on.
        """
        done = [c for c in group if c.done]
        refused = [c for c in group if not c.done]
        filled = np.empty((0, len(query))) if filled is None else filled
        rows = [c.row for c in done] + list(filled)
        fill = [0] * len(filled)  # the fallback spends no call
        blank = np.full(len(query), np.nan)
        withheld = Withheld(
            np.array(
                [blank if c.answer is None else c.answer for c in refused], dtype=float
            ).reshape(-1, len(query)),
            attempt=[c.sample for c in refused],
            proba_desired=[c.proba for c in refused],
            source=["llm" if c.calls <= 1 else "repair" for c in refused],
            round=[c.calls - 1 for c in refused],
            reason=[c.reason for c in refused],
        )
        return Candidates(
            np.array(rows, dtype=float).reshape(-1, len(query)),
            seconds=seconds,
            source=["llm" if c.round == 0 else "repair" for c in done] + ["fallback"] * len(fill),
            llm_calls=[c.calls for c in done] + fill,
            prompt_tokens=[c.prompt_tokens for c in done] + fill,
            completion_tokens=[c.completion_tokens for c in done] + fill,
            extra={
                "round": [c.round for c in done] + [-1] * len(fill),
                "sample": [c.sample for c in done] + [-1] * len(fill),
                "copied_example": [c.copied for c in done] + [False] * len(fill),
            },
            withheld=withheld,
            query_info={  # spent calls count, served or not
                "llm_calls": sum(c.calls for c in group),
                "prompt_tokens": sum(c.prompt_tokens for c in group),
                "completion_tokens": sum(c.completion_tokens for c in group),
                "rounds": max(c.round for c in group),
                "rejected_answers": sum(c.rejected for c in group),
                "examples_shown": examples_json(shown),
                "fallback_status": fallback_status,
            },
        )


@dataclass(frozen=True)
class _Typical:
    """The detector a class's answers are held to, and that class's typical values (median)
    and spread (MAD-based scale) over the reference rows, for the repair feedback."""

    detector: PlausibilityDetector
    typical: np.ndarray
    scale: np.ndarray


def _serves_concurrently(backend: LLMBackend) -> bool:
    """Whether a backend (behind a cache or not) sends several requests at once."""
    inner = getattr(backend, "backend", backend)
    return int(getattr(inner, "concurrency", 1) or 1) > 1


def changed_values(
    row: dict[str, int | float | None], base: dict[str, int | float | None], asked: list[str]
) -> dict[str, int | float | None]:
    """The asked features of ``row`` whose value differs from ``base`` (all, when base is empty).

    >>> changed_values({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "c": 3}, ["a", "b"])
    {'b': 2}
    """
    return {n: row[n] for n in asked if n not in base or row[n] != base[n]}


def oracle_answers(
    oracle: Oracle,
    X: np.ndarray,
    short: dict[int, int],
    desired: int,
    person: Sequence[Limits | None] = (),
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """The oracle's CFs for the queries of ``X`` that ``short`` names, as many as it asks
    for each (the fallback: as many as the LLM left short), and the oracle's answer for each
    (``optimal``, ``feasible``, ``infeasible``, ...), each held to its person's limits
    (``person``: per query of ``X``, where given)."""
    if not short:
        return {}, {}
    ids = sorted(short)
    names = oracle.spec_.feature_names
    frame = pd.DataFrame(X[ids], columns=names)
    limits = [person[i] for i in ids] if person else None
    result = oracle.generate(frame, n_cfs=max(short.values()), desired_class=desired, limits=limits)
    cfs = result.cfs
    status = result.queries.set_index("query_id")["status"]
    out, answers = {}, {}
    for position, i in enumerate(ids):
        rows = cfs.loc[cfs["query_id"] == position, names].to_numpy(dtype=float)
        out[i] = rows[: short[i]]
        answers[i] = str(status.get(position, ""))
    return out, answers
