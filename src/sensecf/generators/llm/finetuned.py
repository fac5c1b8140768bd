"""The fine-tuned generator: a LoRA-tuned model asked in its own compact format, then verified.

It is the LLM generator with another prompt: the format saved with the model
(:class:`~sensecf.generators.llm.compact.CompactFormat`) instead of the long prompted one, and the
same round loop — schema-constrained answers, parsing, rule checks, the classifier's verdict,
repair rounds and the optional oracle fallback — so its columns are those of the prompted
generators. A fine-tuned model never saw feedback text, so a repair round changes its context
instead: the features of the answers that fell short are no longer offered (when none of the
rest reaches the goal alone, the ones that help together are), the next nearest examples in
line are shown, and it samples at ``sample_temperature`` with a fresh seed.

The model folder (``model_dir``, written by ``sensecf finetune``) holds ``format.json`` and
``model.gguf`` (served by llama-cpp, the default) and ``adapter/`` (for the transformers
backend).

>>> FineTunedGenerator().name
'fine-tuned'
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sensecf.data.limits import Limits
from sensecf.generators.llm import feedback
from sensecf.generators.llm.candidates import admissible
from sensecf.generators.llm.compact import CompactFormat, PromptInput
from sensecf.generators.llm.examples import window
from sensecf.generators.llm.generator import (
    AnswerChain,
    LLMGenerator,
    QueryBatch,
    RoundRequest,
    changed_values,
    oracle_answers,
)
from sensecf.generators.llm.probe import nearest_flips
from sensecf.generators.llm.prompts import answer_row
from sensecf.generators.llm.schema import answer_schema, plain_number
from sensecf.llm.artifacts import gguf_path
from sensecf.llm.base import ChatRequest, GenerationParams, LLMBackend
from sensecf.llm.llama_cpp import LlamaCpp
from sensecf.models.plausibility import (
    DEFAULT_INLIER_RATE,
    HeldClassifier,
    PlausibilityDetector,
)

if TYPE_CHECKING:
    from sensecf.generators.oracle import Oracle


class FineTunedGenerator(LLMGenerator):
    """Counterfactuals from a fine-tuned model in its compact format, verified and repaired.

    ``backend``: any LLM backend serving the fine-tuned model (``None``: llama-cpp on
    ``model_dir/model.gguf``). ``model_dir``: the fine-tuned model folder, whose
    ``format.json`` gives the prompt format; ``format``: the format itself, instead of a folder
    (pair building uses this). ``schema``: constrain decoding to the offered values (on by
    default: a 135M model fine-tuned for minutes still writes the current value or a feature
    name of its own now and then; unconstrained, such an answer is rejected and repaired).
    ``max_changes``: the most features an answer may change (the teacher's targets change 1-3;
    a person offered the exact program's answers together may change as many as they do).
    Other parameters as :class:`LLMGenerator` (with ``plausibility="iforest"`` an outlier's
    repair, like any other, offers other features: the model reads no feedback).
    """

    def __init__(
        self,
        backend: LLMBackend | None = None,
        *,
        model_dir: str | os.PathLike | None = None,
        format: CompactFormat | None = None,  # noqa: A002 - the public name of the concept
        repair_rounds: int = 3,
        fallback: bool = False,
        temperature: float = 0.0,
        sample_temperature: float = 0.8,
        max_tokens: int | None = None,
        grid_size: int = 9,
        schema: bool = True,
        max_changes: int | None = 3,
        plausibility: str = "none",
        inlier_rate: float | None = DEFAULT_INLIER_RATE,
        held_rate: float | None = None,
        detector_trees: int = 100,
        detector_seed: int = 0,
        detector: PlausibilityDetector | None = None,
    ) -> None:
        self.backend = backend
        self.model_dir = model_dir
        self.format = format
        self.repair_rounds = repair_rounds
        self.fallback = fallback
        self.temperature = temperature
        self.sample_temperature = sample_temperature
        self.max_tokens = max_tokens
        self.grid_size = grid_size
        self.schema = schema
        self.max_changes = max_changes
        self.plausibility = plausibility
        self.inlier_rate = inlier_rate
        self.held_rate = held_rate
        self.detector_trees = detector_trees
        self.detector_seed = detector_seed
        self.detector = detector

    name = "fine-tuned"
    examples = "nearest"
    prompt = None

    @property
    def shots(self) -> int:  # type: ignore[override]
        """Examples per prompt, as the format says."""
        fmt = getattr(self, "format_", None) or self.format
        return fmt.examples if fmt is not None else 1

    def _validate_params(self) -> None:
        if self.format is None and self.model_dir is None:
            raise ValueError(
                "give the fine-tuned model folder (model_dir=, or the LLM options' model) or a format"
            )
        if self.model_dir is not None and not Path(self.model_dir).is_dir():
            raise ValueError(f"`model_dir` must be a fine-tuned model folder; got {self.model_dir}")
        super()._validate_params()

    def reads_detector(self) -> bool:
        """Held to plausibility, or asked in a ``typical`` format (its lines are chosen by the
        detector: at serving, the one its pairs were made with)."""
        if super().reads_detector():
            return True
        if self.format is not None:
            return self.format.typical
        return self.model_dir is not None and CompactFormat.load(self.model_dir).typical

    def _fit(self) -> None:
        if self.format is not None:
            self.format_ = self.format
        else:
            assert self.model_dir is not None  # _validate_params asks for one of the two
            self.format_ = CompactFormat.load(self.model_dir)
        super()._fit()
        self.lists_detectors_: dict[int, PlausibilityDetector] = {}
        self.lines_oracles_: dict[int, Oracle] = {}

    def _default_backend(self) -> LlamaCpp | None:
        if self.backend is not None:
            return None
        earlier = getattr(self, "default_backend_", None)
        if earlier is not None:
            return earlier
        if self.model_dir is None:
            return LlamaCpp()  # a format alone (pair building): nothing is asked
        return LlamaCpp(gguf_path(self.model_dir), weights="f16")  # see backend_source

    # ---- the compact request ------------------------------------------------------------------
    def _prepare(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        limits: Sequence[Limits | None] | None = None,
    ) -> QueryBatch:
        batch = super()._prepare(X, n_cfs, desired, rng, limits)
        flips = partial(
            nearest_flips,
            X=batch.X,
            lo=batch.lower,
            hi=batch.upper,
            desired=desired,
            grids=self.grid_,
            steps=self.steps_,
            mutable=self.mutable_,
            spec=self.spec_,
        )
        lists_model = self._lists_model(desired)
        batch.flips = flips(lists_model)
        if lists_model is not self.model_:
            # Every line of a typical format keeps the person typical. A person no typical
            # single change serves (atypical in what one change leaves alone) is offered,
            # together, the exact program's plausible answers: the fewest changes that reach
            # the goal and keep them typical by the same bar. Whom it cannot serve either is
            # offered nothing: no change is known to keep them typical, and their teacher, held
            # to the same bar, gives none.
            batch.typical = True
            bare = [i for i, found in enumerate(batch.flips) if not found]
            answers = self._plausible_answers(batch, bare) if bare else {}
            batch.together = [[] for _ in range(len(X))]
            for i in bare:
                moves = self._moves(batch.X[i], answers.get(i, np.empty(0)))
                if moves:
                    batch.together[i] = moves
                    cap = batch.caps[i]  # the answers keep the person's own cap
                    batch.caps[i] = None if cap is None else max(cap, *map(len, moves))
        return batch

    def _plausible_answers(self, batch: QueryBatch, rows: list[int]) -> dict[int, np.ndarray]:
        """The exact program's answers (up to :data:`TOGETHER_ANSWERS`) for queries ``rows``,
        held to the bar the lines keep and to each person's limits, at most
        ``max_features`` changes each (what a prompt has lines for)."""
        from sensecf.generators.oracle import Oracle

        desired = batch.desired
        if desired not in self.lines_oracles_:
            self.lines_oracles_[desired] = Oracle(
                max_changes=self.format_.max_features,
                plausibility="iforest",
                detector=self.lists_detectors_[desired],  # already at the format's bar
            ).fit(self.model_, self.reference_)
        short = dict.fromkeys(rows, TOGETHER_ANSWERS)
        answers, _ = oracle_answers(
            self.lines_oracles_[desired], batch.X, short, desired, batch.person
        )
        return answers

    def _moves(self, query: np.ndarray, answers: np.ndarray) -> list[dict[int, float]]:
        """The distinct changes of ``answers`` as moves (feature index → value, cheapest
        change first), in the answers' order."""
        fixed, divisor = self.prices_.fixed, self.prices_.tie_scale(self.examples_.scale)
        moves: list[dict[int, float]] = []
        for row in answers:
            moved = [
                int(j)
                for j in self.mutable_
                if np.isfinite(query[j])
                and np.isfinite(row[j])
                and plain_number(row[j], self.steps_[j]) != plain_number(query[j], self.steps_[j])
            ]
            moved.sort(key=lambda j: (abs(row[j] - query[j]) / divisor[j] + fixed[j], j))
            move = {j: float(row[j]) for j in moved}
            if move and move not in moves:
                moves.append(move)
        return moves

    @staticmethod
    def _together_move(batch: QueryBatch, i: int, index: int) -> dict[int, float]:
        """The move query ``i``'s ``index``-th request offers together ({} where none is):
        the answers in turn, one a request."""
        moves = batch.together[i] if batch.together is not None else []
        return moves[index % len(moves)] if moves else {}

    def _lists_model(self, desired: int) -> Any:
        """What a line's single move must reach: the classifier's desired class, and, where the
        format is ``typical``, the detector's bar as the model was taught it (a row it refuses
        counts as not reaching the goal)."""
        fmt = self.format_
        if not fmt.typical:
            return self.model_
        if desired not in self.lists_detectors_:
            self.lists_detectors_[desired] = self._class_detector(desired).held_for(
                self.spec_, fmt.typical_rate, fmt.typical_neighbours
            )
        return HeldClassifier(self.model_, self.lists_detectors_[desired].holds, desired)

    def prompt_input(
        self, batch: QueryBatch, i: int, index: int = 0, avoid: Collection[str] = ()
    ) -> PromptInput:
        """What query ``i``'s request shows, with the ``index``-th window of examples, leaving
        out the features in ``avoid`` (those of answers that fell short).

        The features whose smallest move reaches the goal alone, cheapest first (by its effort
        where the spec states costs, else MAD-scaled),
        with that move and farther ones; when there is none, the features that only help,
        strongest first, with their strongest values; then any feature an example moves. In
        a ``typical`` format, a person whose single-change lines keep them typical is only ever
        offered those lines, less the ones avoided; a person offered the exact program's
        answers together gets the ``index``-th of them, in turn (its features, its values
        first, then the other answers' for the same features), whatever was avoided.
        """
        spec, fmt = self.spec_, self.format_
        query = batch.X[i]
        examples = window(batch.shown[i], self.shots, index)
        flips = batch.flips[i] if batch.flips is not None else {}
        helpful = batch.probe.helpful[i]
        names = spec.feature_names
        skip = {names.index(name) for name in avoid}
        fixed, divisor = self.prices_.fixed, self.prices_.tie_scale(self.examples_.scale)
        alone = sorted(
            (j for j in flips if np.isfinite(query[j]) and j not in skip),
            key=lambda j: (abs(flips[j][0] - query[j]) / divisor[j] + fixed[j], j),
        )[: fmt.max_features]
        helps = [names.index(name) for name, _ in batch.probe.helps[i]]
        # Features that only help are shown when no single change reaches the goal: beside one
        # that does, they only lead a small model astray (its minimal answer is one of those).
        helpers = [j for j in helps if j not in flips and j not in skip and np.isfinite(query[j])]
        move = self._together_move(batch, i, index)
        # this move's value first, the other answers' values for the same features after
        together = {j: [v] for j, v in move.items()}
        for answer in batch.together[i] if move and batch.together else []:
            for j, v in answer.items():
                if j in together and v not in together[j]:
                    together[j].append(v)
        if move:  # the exact program's answers, one a request, whatever was tried before
            helpers = [j for j in move if np.isfinite(query[j])]
        elif batch.typical:
            # Typical lines only, in a repair too: once they are spent, nothing more is offered
            # (the features that merely help would lead the person out of the typical region).
            helpers = []
        helpers = helpers[: fmt.max_features] if not alone else []
        listed = set(alone) | set(helpers)
        moved = [
            j
            for j in self.mutable_
            if j not in listed
            and j not in skip
            and np.isfinite(query[j])
            and len(examples)
            and np.any(np.abs(examples[:, j] - query[j]) > self.steps_[j] / 2)
        ]
        offered: dict[str, list[int | float]] = {}
        kept_alone = 0
        for rank, j in enumerate([*alone, *helpers, *moved]):
            step = float(self.steps_[j])
            lo, hi = batch.lower[i, j], batch.upper[i, j]
            if rank < len(alone):
                source: Sequence[float] | np.ndarray = flips[j]
            elif together:
                source = together.get(int(j), [])
            else:
                source = helpful.get(int(j), np.empty(0))
            own = admissible(examples[:, j], query[j], lo, hi, step) if len(examples) else ()
            values = [plain_number(v, step) for v in list(source)[: fmt.max_values]]
            values += [plain_number(v, step) for v in own]
            current = plain_number(query[j], step)
            values = [v for v in dict.fromkeys(values) if v != current]
            if values:
                offered[names[j]] = [current, *values]
                kept_alone += rank < len(alone)
        base = answer_row(spec, query)
        rows = [
            {k: v for k, v in changed_values(answer_row(spec, r), base, list(offered)).items()}
            for r in examples
        ]
        flagged = 1.0 - float(batch.proba[i])
        return PromptInput(flagged, 1.0 - batch.needed, offered, kept_alone, rows)

    def prompt_inputs(
        self, X: np.ndarray, desired: int | None = None
    ) -> tuple[list[PromptInput], list[np.ndarray]]:
        """The first request's content for each row of ``X`` (spec order), and the examples
        each shows (for pair building: the prompts the generator will write)."""
        desired = self.spec_.desired_class if desired is None else desired
        batch = self._prepare(np.asarray(X, dtype=float), 1, desired, np.random.default_rng(0))
        inputs = [self.prompt_input(batch, i) for i in range(len(X))]
        shown = [window(batch.shown[i], self.shots, 0) for i in range(len(X))]
        return inputs, shown

    def _request(self, batch: QueryBatch, chain: AnswerChain, rnd: int) -> RoundRequest:
        # A fine-tuned model never saw feedback: a repair offers other features instead.
        if chain.row is not None and not chain.done:
            chain.tried |= set(feedback.changed_names(self.spec_, batch.X[chain.query], chain.row))
        ctx = self.prompt_input(batch, chain.query, rnd + chain.sample, chain.tried)
        if not ctx.offered:  # nothing in play: an empty answer, read as "no change"
            ctx.offered = {}
        # the current value is shown, never offered: writing it changes nothing
        candidates = {name: list(values[1:]) for name, values in ctx.offered.items()}
        # An answer offered together is asked whole: its features are required, their values
        # are the model's choice among those offered.
        move = self._together_move(batch, chain.query, rnd + chain.sample)
        names = self.spec_.feature_names
        required = [names[j] for j in move if names[j] in candidates]
        schema = None
        if self.schema:
            schema = (
                answer_schema(candidates, required=required, max_changes=batch.caps[chain.query])
                if candidates
                else _EMPTY
            )
        request = ChatRequest(
            self.format_.messages(ctx),
            schema,
            self._params(batch, chain, rnd, len(candidates)),
        )
        examples = window(batch.shown[chain.query], self.shots, rnd + chain.sample)
        shown = [answer_row(self.spec_, r) for r in examples]
        return RoundRequest(chain, request, shown, candidates, [])

    def _enforces_schema(self) -> bool:
        return self.schema and super()._enforces_schema()

    def _params(
        self, batch: QueryBatch, chain: AnswerChain, rnd: int, asked: int
    ) -> GenerationParams:
        """Greedy first answers; repairs and further samples sample, each with its own seed."""
        first = chain.sample == 0 and rnd == 0
        return GenerationParams(
            temperature=float(self.temperature if first else self.sample_temperature),
            # room for a sparse answer; one listing every feature is wrong anyway (cut off)
            max_tokens=self.max_tokens
            or 12 * min(max(asked, 1), batch.caps[chain.query] or MAX_CHANGES) + 16,
            seed=(batch.base_seed + 1009 * chain.sample + rnd) % (2**31 - 1),
        )


# The most changes an answer has room for without a cap (a teacher target has 1-3).
MAX_CHANGES = 4
# The exact program's answers a person's together lines carry (a teacher's targets per person).
TOGETHER_ANSWERS = 3

_EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
