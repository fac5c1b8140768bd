"""Counterfactuals from a language model: prompted, schema-constrained, verified, repaired.

For each query the generator

1. writes a prompt (:mod:`sensecf.llm.prompts`): the model's current prediction and the goal,
   every feature with its meaning, unit, current value, what may change and which way helps
   (measured on the classifier, one feature at a time), and — few-shot — examples: by default
   the nearest training rows of the desired class, moved onto what this person may change and
   verified by the classifier, so that copying one is a valid answer ("the context carries the
   knowledge": a small model copies what its context offers);
2. asks for JSON over the *mutable* features only, with a per-query schema
   (:mod:`sensecf.llm.schema`) that offers each feature an ``enum`` of admissible values: its
   current value, a grid of training quantiles within its allowed range, and the examples'
   values. Fixed features are never asked; they are copied back;
3. parses the answer tolerantly (:mod:`sensecf.llm.parse`), rounds it to each feature's step,
   checks bounds and directions (nothing is projected: a broken rule is a failed answer) and
   verifies it with the classifier;
4. repairs a failed answer, up to ``repair_rounds`` times, with feedback (the probability it
   reached, the rules it broke) *and a changed context*, since re-asking a small model with the
   same context returns the same answer (stack notes, measured). Each round shows the next
   examples in line and offers a narrower candidate set: round 1 only values that help on
   their own (the classifier's one-feature probe), round 2 only the examples' values
   (zero-shot: the single most helpful value per feature), and the last round (round 3 with
   the default three) is the last resort: the three strongest helpful features lose their
   current value, so they must move (three more with each further round);
5. for several CFs per query, asks further samples at ``sample_temperature`` with their own
   seed and their own examples (the next ones in line), and repairs a repeated answer too;
6. optionally lets the :class:`~sensecf.generators.oracle.Oracle` fill what the LLM could not
   (``fallback=True``, rows marked ``source="fallback"``).

Every CF row records the ``round`` it came from (0 = first answer, ``source="llm"``; later
rounds ``source="repair"``; -1 for the fallback), whether it is a verbatim copy of an example
shown (``copied_example``), and the calls and tokens of the chain of requests that led to it.
Per-query totals, including calls spent on queries left unserved, are in the queries table
(``llm_calls``, ``prompt_tokens``, ``completion_tokens``, ``rounds``, ``rejected_answers``).
Requests go out round by round for all queries at once (``backend.complete_many``), so a
remote server can serve them concurrently. An :class:`~sensecf.llm.base.LLMError` (a backend
down after its retries) propagates; what was answered so far is in the backend's cache.

>>> LLMGenerator(shots=0).name, LLMGenerator().name, LLMGenerator(examples="worked").name
('zero-shot', 'few-shot', 'few-shot-worked')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sensecf.data.constraints import allowed_ranges, changed, project
from sensecf.data.scales import FeatureScales
from sensecf.generators.base import Candidates, CounterfactualGenerator
from sensecf.generators.sparsify import sparsify
from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMBackend
from sensecf.llm.parse import changed_names, coerce_answer, names_in, parse_answer
from sensecf.llm.prompts import Help, PromptContext, PromptTemplate, answer_row, render_messages
from sensecf.llm.schema import answer_schema, plain_number
from sensecf.progress import progress_bar

Examples = Literal["nearest", "worked"]

# A probe move counts as helping when it raises the desired class's probability by this much.
HELP_MIN_GAIN = 0.005
# Helpful features (strongest first) that the last-resort rounds oblige to move.
FORCED_FEATURES = 3
# Helpful changes listed in a prompt, strongest first (the rest matter little).
LISTED_HELPS = 8
# Projected desired-class rows tried per worked-pair person, nearest first.
WORKED_NEIGHBOURS = 40
# Nearest candidates checked per example wanted (projection can make a neighbour invalid).
CANDIDATES_PER_EXAMPLE = 4


@dataclass
class _Chain:
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


@dataclass
class _Request:
    chain: _Chain
    request: ChatRequest
    shown: list[dict[str, int | float | None]]  # the examples as answers, to detect copies


@dataclass
class _Batch:
    """What one ``generate`` call knows about its queries, shared by every round."""

    X: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    proba: np.ndarray  # current probability of the desired class
    desired: int
    needed: float
    helps: list[list[tuple[str, Help]]]
    helpful: list[dict[int, np.ndarray]]
    shown: list[np.ndarray]  # per query, the examples in the order they are shown
    factuals: list[np.ndarray] | None  # worked pairs: the people the examples came from
    base_seed: int


class LLMGenerator(CounterfactualGenerator):
    """Counterfactuals from an LLM backend, verified by the classifier and repaired.

    ``backend``: any :class:`~sensecf.llm.base.LLMBackend` (``None``: the embedded
    SmolLM2-135M through :class:`~sensecf.llm.llama_cpp.LlamaCpp`, created on first use).
    ``shots``: examples per prompt (0 = zero-shot). ``examples``: ``"nearest"`` desired-class
    people (default) or ``"worked"`` (another person → their verified counterfactual; measured
    to be worse with a small model: it copies their answers, not their edits).
    ``repair_rounds``: further requests after a failed answer. ``fallback``: the oracle search
    fills queries the LLM could not serve. ``temperature`` for the first answer,
    ``sample_temperature`` for the samples beyond it (``n_cfs`` > 1). ``prompt``: the texts
    (:class:`~sensecf.llm.prompts.PromptTemplate`). ``max_tokens``: per answer (``None``:
    enough for the schema, about 16 per mutable feature). ``grid_size``: training quantiles
    offered per feature.
    """

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
        grid_size: int = 9,
    ) -> None:
        for label, value, least in (
            ("shots", shots, 0),
            ("repair_rounds", repair_rounds, 0),
            ("grid_size", grid_size, 2),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"`{label}` must be an integer ≥ {least}; got {value!r}")
        if examples not in ("nearest", "worked"):
            raise ValueError(f"`examples` must be 'nearest' or 'worked'; got {examples!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"`max_tokens` must be a positive integer or None; got {max_tokens!r}")
        if backend is not None and not isinstance(backend, LLMBackend):
            raise TypeError(f"backend must be an LLMBackend; got {type(backend).__name__}")
        if prompt is not None and not isinstance(prompt, PromptTemplate):
            raise TypeError(f"prompt must be a PromptTemplate; got {type(prompt).__name__}")
        GenerationParams(temperature=temperature)  # validates the range
        GenerationParams(temperature=sample_temperature)
        self.backend = backend
        self.shots = shots
        self.examples = examples
        self.repair_rounds = repair_rounds
        self.fallback = bool(fallback)
        self.temperature = float(temperature)
        self.sample_temperature = float(sample_temperature)
        self.prompt = prompt or PromptTemplate()
        self.max_tokens = max_tokens
        self.grid_size = grid_size
        if shots == 0:
            self.name = "zero-shot"
        else:
            self.name = "few-shot-worked" if examples == "worked" else "few-shot"

    # ---- fitting ------------------------------------------------------------------------------
    def _fit(self) -> None:
        spec = self.spec_
        X = self.reference_.X.to_numpy(dtype=float)
        self.reference_X_ = X
        self.reference_pred_ = self.model_.predict(X)
        frame = self.reference_.frame
        self.reference_y_ = frame[spec.target].to_numpy() if spec.target in frame.columns else None
        self.steps_ = np.array([float(f.step) for f in spec.features])
        self.lower_ = np.array([f.bounds[0] for f in spec.features], dtype=float)
        self.upper_ = np.array([f.bounds[1] for f in spec.features], dtype=float)
        self.scale_ = FeatureScales.from_reference(spec, X).scale
        self.mutable_ = np.array([j for j, f in enumerate(spec.features) if f.is_mutable], int)
        self.fixed_ = np.array([j for j, f in enumerate(spec.features) if not f.is_mutable], int)
        self.grid_ = [self._grid(j) for j in range(len(spec.features))]

    def _grid(self, j: int) -> np.ndarray:
        feature = self.spec_.features[j]
        if feature.levels is not None:
            return np.asarray(feature.levels, dtype=float)
        column = self.reference_X_[:, j]
        column = column[np.isfinite(column)]
        if not len(column):
            return np.empty(0)
        return np.unique(feature.round(np.quantile(column, np.linspace(0, 1, self.grid_size))))

    def backend_for_run(self) -> LLMBackend:
        """The backend in use: the one given, or the embedded model (loaded once, on first use)."""
        if self.backend is not None:
            return self.backend
        if getattr(self, "default_backend_", None) is None:
            from sensecf.llm.llama_cpp import LlamaCpp

            self.default_backend_ = LlamaCpp()
        return self.default_backend_

    def close(self) -> None:
        """Release the embedded model if this generator loaded it (a given backend is left open)."""
        backend = getattr(self, "default_backend_", None)
        if backend is not None:
            backend.close()
            self.default_backend_ = None

    # ---- generation ---------------------------------------------------------------------------
    def _propose_batch(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool = False,
    ) -> Sequence[Candidates]:
        spec, model = self.spec_, self.model_
        n = len(X)
        if n == 0:
            return []
        backend = self.backend_for_run()
        _, proba = model.predict_with_proba(X, desired)
        lo, hi = allowed_ranges(spec, X)
        # A missing current value leaves nothing to compare with: its whole bounds are open.
        lo = np.where(np.isnan(lo), self.lower_, lo)
        hi = np.where(np.isnan(hi), self.upper_, hi)
        helps, helpful = self._probe(X, lo, hi, proba, desired)
        count = self.shots * (self.repair_rounds + n_cfs)  # enough windows for every request
        factuals: list[np.ndarray] | None = None
        if self.shots and self.examples == "nearest":
            shown = self._nearest_examples(X, desired, count)
        elif self.shots:
            factuals, shown = self._worked_examples(X, desired, count)
        else:
            shown = [np.empty((0, X.shape[1]))] * n
        batch = _Batch(
            X,
            lo,
            hi,
            proba,
            desired,
            self._needed(desired),
            helps,
            helpful,
            shown,
            factuals,
            base_seed=int(rng.integers(0, 2**31 - 1)),
        )
        chains = [_Chain(i, s) for i in range(n) for s in range(n_cfs)]
        for rnd in range(self.repair_rounds + 1):
            # Round by round for all queries at once, so a server can answer them concurrently.
            active = [c for c in chains if not c.done]
            if not active:
                break
            requests = [self._request(batch, c, rnd) for c in active]
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
            for answer in answers:
                if isinstance(answer, BaseException):
                    raise answer  # the backend's own message (down after its retries)
            self._judge(batch, requests, answers, rnd, chains)
        return self._assemble(chains, X, n_cfs, desired, n)

    def _needed(self, desired: int) -> float:
        """The probability of the desired class the model's decision rule asks for."""
        threshold = self.model_.threshold
        return threshold if desired == self.model_.positive_class else 1.0 - threshold

    # ---- context -------------------------------------------------------------------------------
    def _probe(
        self, X: np.ndarray, lo: np.ndarray, hi: np.ndarray, proba: np.ndarray, desired: int
    ) -> tuple[list[list[tuple[str, Help]]], list[dict[int, np.ndarray]]]:
        """Per query: helpful changes, strongest first, and per feature the values that help.

        Each grid value within a feature's allowed range is tried on its own (one model call
        for all queries); values that raise the desired class's probability are kept, best
        first, and a feature's direction is that of its best value.
        """
        rows, owner, feature, value = [], [], [], []
        for i in range(len(X)):
            for j in self.mutable_:
                values = self._admissible(self.grid_[j], X[i, j], lo[i, j], hi[i, j], j)
                if not len(values):
                    continue
                block = np.repeat(X[i][None, :], len(values), axis=0)
                block[:, j] = values
                rows.append(block)
                owner += [i] * len(values)
                feature += [j] * len(values)
                value.append(values)
        helps: list[list[tuple[str, Help]]] = [[] for _ in range(len(X))]
        helpful: list[dict[int, np.ndarray]] = [{} for _ in range(len(X))]
        if not rows:
            return helps, helpful
        _, p = self.model_.predict_with_proba(np.vstack(rows), desired)
        owner_a, feature_a, value_a = np.array(owner), np.array(feature), np.concatenate(value)
        gain = p - proba[owner_a]
        names = self.spec_.feature_names
        for i in range(len(X)):
            ranked = []
            for j in self.mutable_:
                mask = (owner_a == i) & (feature_a == j)
                g, v = gain[mask], value_a[mask]
                good = g > HELP_MIN_GAIN
                order = np.argsort(-g[good], kind="stable")
                helpful[i][int(j)] = v[good][order]
                if good.any():
                    best = v[good][order[0]]
                    direction: Help = "raise" if best > X[i, j] else "lower"
                    ranked.append((float(g[good][order[0]]), names[j], direction))
            ranked.sort(key=lambda item: -item[0])
            helps[i] = [(name, direction) for _, name, direction in ranked]
        return helps, helpful

    def _admissible(self, values: np.ndarray, current: float, lo: float, hi: float, j: int):
        """Values within the allowed range that differ from the current one by over half a step."""
        values = np.asarray(values, dtype=float)
        far = ~(np.abs(values - current) <= self.steps_[j] / 2 + 1e-9)  # any value, if missing
        return values[(values >= lo) & (values <= hi) & far]

    def _snap(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Values within half a step of the query's are the query's (as answers are read back)."""
        near = np.abs(rows - query) <= self.steps_ / 2 + 1e-9
        return np.where(near, query, rows)

    def _desired_pool(self, desired: int) -> np.ndarray:
        """Training rows of the desired class: labelled so and predicted so (or predicted so)."""
        predicted = self.reference_pred_ == desired
        if self.reference_y_ is not None:
            both = predicted & (self.reference_y_ == desired)
            if both.sum() >= max(self.shots, 1):
                return self.reference_X_[both]
        return self.reference_X_[predicted]

    def _distance(self, query: np.ndarray, rows: np.ndarray, originals: np.ndarray) -> np.ndarray:
        """MAD-scaled L1 of the change, plus how far the row's own fixed features are.

        A person whose fixed features (age, diabetes status) differ is a worse example; a
        differing category counts as a large distance, so same-group people come first.
        """
        change = np.nansum(np.abs(rows - query) / self.scale_, axis=1)
        if not len(self.fixed_):
            return change
        fixed = originals[:, self.fixed_]
        apart = np.abs(fixed - query[self.fixed_]) / self.scale_[self.fixed_]
        discrete = np.array([self.spec_.features[j].levels is not None for j in self.fixed_])
        apart = np.where(discrete & (apart > 0), 10.0, apart)
        return change + np.nansum(apart, axis=1)

    def _nearest_examples(self, X: np.ndarray, desired: int, count: int) -> list[np.ndarray]:
        """Per query, up to ``count`` distinct projected desired-class rows the model verifies."""
        spec = self.spec_
        pool = self._desired_pool(desired)
        d = X.shape[1]
        if not len(pool):
            return [np.empty((0, d)) for _ in X]
        own = np.column_stack([f.round(pool[:, j]) for j, f in enumerate(spec.features)])
        candidates, owners = [], []
        for i, query in enumerate(X):
            projected = self._snap(query, project(spec, np.broadcast_to(query, pool.shape), pool))
            # Where this person's value is missing, the example's own value stands.
            gap = np.isnan(projected) & np.isin(np.arange(d), self.mutable_)
            projected = np.where(gap, own, projected)
            order = np.argsort(self._distance(query, projected, pool), kind="stable")
            picked = projected[order[: CANDIDATES_PER_EXAMPLE * count]]
            _, first = np.unique(picked, axis=0, return_index=True)
            picked = picked[np.sort(first)]
            candidates.append(picked)
            owners += [i] * len(picked)
        stacked = np.vstack(candidates)
        ok = self.model_.predict(stacked) == desired
        owners_a = np.array(owners)
        return [stacked[(owners_a == i) & ok][:count] for i in range(len(X))]

    def _worked_examples(
        self, X: np.ndarray, desired: int, count: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per query: other people the model flags, nearest first, and a verified CF of each.

        Each worked CF is the person's nearest desired-class row, moved onto what *they* may
        change and sparsified (the oracle's neighbour stage).
        """
        spec, model = self.spec_, self.model_
        d = X.shape[1]
        pool = self._desired_pool(desired)
        others = self.reference_X_[self.reference_pred_ != desired]
        if not len(pool) or not len(others):
            empty = [np.empty((0, d)) for _ in X]
            return empty, list(empty)
        # Candidate people per query, nearest first; each one's CF is worked out once.
        nearest = [
            np.argsort(self._distance(query, others, others), kind="stable")[: 2 * count]
            for query in X
        ]
        people = np.unique(np.concatenate(nearest))
        blocks = []
        for p in people:
            projected = project(spec, np.broadcast_to(others[p], pool.shape), pool)
            order = np.argsort(self._distance(others[p], projected, pool), kind="stable")
            blocks.append(projected[order[:WORKED_NEIGHBOURS]])
        stacked = np.vstack(blocks)
        ok = (model.predict(stacked) == desired).reshape(len(people), -1)
        has_cf = ok.any(axis=1)
        first_ok = stacked.reshape(len(people), -1, d)[np.arange(len(people)), ok.argmax(axis=1)]
        worked = np.full((len(people), d), np.nan)
        worked[has_cf] = sparsify(model, others[people[has_cf]], first_ok[has_cf], desired)
        where = {int(p): k for k, p in enumerate(people)}
        factual_out, cf_out = [], []
        for chosen in nearest:
            keep = [where[int(p)] for p in chosen if has_cf[where[int(p)]]][:count]
            factual_out.append(others[people[keep]].reshape(-1, d))
            cf_out.append(worked[keep].reshape(-1, d))
        return factual_out, cf_out

    def _stage(self, rnd: int) -> int:
        """How narrow round ``rnd``'s candidate set is: 0 (full) to 3 (last resort).

        Rounds climb one stage at a time; the final repair round is always the last resort.

        >>> [LLMGenerator(repair_rounds=r)._stage(k) for r in (1, 3, 5) for k in range(r + 1)]
        [0, 3, 0, 1, 2, 3, 0, 1, 2, 3, 3, 3]
        """
        if rnd >= 1 and rnd == self.repair_rounds:
            return 3
        return min(rnd, 3)

    def _request(self, batch: _Batch, chain: _Chain, rnd: int) -> _Request:
        """The prompt, schema and sampling settings of one chain's request in round ``rnd``."""
        spec = self.spec_
        i = chain.query
        query = batch.X[i]
        lo, hi, helps, helpful = batch.lower, batch.upper, batch.helps, batch.helpful
        # Each round and each sample sees its own window of examples: the next ones in line.
        examples = _window(batch.shown[i], self.shots, rnd + chain.sample)
        facts = None
        if batch.factuals is not None:
            facts = _window(batch.factuals[i], self.shots, rnd + chain.sample)
        stage = self._stage(rnd)
        must_move: set[str] = set()
        if stage == 3:  # the last resort: the strongest helpful features must move
            forced = FORCED_FEATURES * (1 + max(0, rnd - 3))
            must_move = {name for name, _ in helps[i][:forced]}
        candidates: dict[str, list[int | float]] = {}
        for j in self.mutable_:
            feature = spec.features[j]
            step = float(feature.step)
            own = self._admissible(examples[:, j], query[j], lo[i, j], hi[i, j], j)
            if stage == 0:
                extra = self._admissible(self.grid_[j], query[j], lo[i, j], hi[i, j], j)
            elif stage == 1:
                extra = helpful[i].get(int(j), np.empty(0))
            elif self.shots:
                extra = np.empty(0)  # only the examples' values
            else:
                extra = helpful[i].get(int(j), np.empty(0))[:1]
            values = [plain_number(v, step) for v in np.unique(np.concatenate([own, extra]))]
            keep = [plain_number(query[j], step)] if np.isfinite(query[j]) else []
            if feature.name in must_move and values:
                keep = []
            if keep or values:  # else (missing, nothing admissible): not asked, left as it is
                candidates[feature.name] = keep + values
        rows = [answer_row(spec, r) for r in examples]
        context = PromptContext(
            spec=spec,
            desired_class=batch.desired,
            query=query,
            proba=float(batch.proba[i]),
            needed=batch.needed,
            helps=helps[i][:LISTED_HELPS],
            examples=rows,
            factuals=[answer_row(spec, f) for f in facts] if facts is not None else None,
            problems=chain.problems,
        )
        first = chain.sample == 0
        params = GenerationParams(
            temperature=self.temperature if first else self.sample_temperature,
            max_tokens=self.max_tokens or 16 * len(self.mutable_) + 24,
            seed=(batch.base_seed + 1009 * chain.sample + rnd) % (2**31 - 1),
        )
        request = ChatRequest(
            render_messages(self.prompt, context), answer_schema(candidates), params
        )
        return _Request(chain, request, rows)

    # ---- answers -------------------------------------------------------------------------------
    def _judge(
        self,
        batch: _Batch,
        requests: list[_Request],
        answers: Sequence[Completion],
        rnd: int,
        chains: list[_Chain],
    ) -> None:
        """Read, check and verify one round's answers; settle the chains they complete."""
        spec = self.spec_
        X, desired, needed = batch.X, batch.desired, batch.needed
        names = [spec.features[j].name for j in self.mutable_]
        desired_name = spec.classes[desired]
        admissible: list[tuple[_Request, np.ndarray]] = []
        for req, answer in zip(requests, answers, strict=True):
            chain = req.chain
            chain.calls += 1
            chain.prompt_tokens += int(answer.prompt_tokens)
            chain.completion_tokens += int(answer.completion_tokens)
            coerced = coerce_answer(spec, X[chain.query], parse_answer(answer.text, names))
            if coerced.admissible:
                admissible.append((req, coerced.row))
                continue
            chain.rejected += 1
            if coerced.error:
                chain.problems = f"it could not be read ({coerced.error}); answer with JSON only"
            else:
                chain.problems = "it broke these rules: " + "; ".join(
                    f"{name}: {why}" if not why.startswith(name) else why
                    for name, why in coerced.problems.items()
                )
        if not admissible:
            return
        rows = np.vstack([row for _, row in admissible])
        labels, proba = self.model_.predict_with_proba(rows, desired)
        for (req, row), label, p in zip(admissible, labels, proba, strict=True):
            chain = req.chain
            taken = [
                c.row
                for c in chains
                if c.query == chain.query and c.done and c is not chain and c.row is not None
            ]
            repeated = any(np.array_equal(row, other) for other in taken)
            chain.row, chain.round = row, rnd
            chain.valid = bool(label == desired)
            chain.copied = answer_row(spec, row) in req.shown
            moved = changed_names(spec, X[chain.query], row)
            if chain.valid and not repeated:
                chain.done = True
                continue
            if chain.valid:
                chain.problems = "it repeats an answer already given; give a different one"
            elif moved:
                chain.problems = (
                    f'it changed {names_in(moved)}, and the probability of "{desired_name}" '
                    f"reached only {p:.2f} (above {needed:.2f} is needed); change other features "
                    "or change them more"
                )
            else:
                chain.problems = (
                    "it changed nothing, so the prediction stayed the same; move some features "
                    "in the direction that helps"
                )

    def _assemble(
        self, chains: list[_Chain], X: np.ndarray, n_cfs: int, desired: int, n: int
    ) -> list[Candidates]:
        """Per query: its valid answers, then its last admissible invalid ones (or the fallback)."""
        d = X.shape[1]
        by_query: list[list[_Chain]] = [[] for _ in range(n)]
        for chain in chains:
            by_query[chain.query].append(chain)
        fills: dict[int, np.ndarray] = {}
        if self.fallback:
            short = {
                i: n_cfs - sum(c.done for c in group)
                for i, group in enumerate(by_query)
                if sum(c.done for c in group) < n_cfs
            }
            fills = self._fallback(X, short, desired)
        out = []
        for i, group in enumerate(by_query):
            kept = [c for c in group if c.done]
            if i not in fills:  # the honest record of a failure, unless it proposed nothing
                kept += [
                    c
                    for c in group
                    if not c.done and c.row is not None and changed(X[i], c.row).any()
                ]
            rows = [c.row for c in kept]
            info = {
                "llm_calls": sum(c.calls for c in group),
                "prompt_tokens": sum(c.prompt_tokens for c in group),
                "completion_tokens": sum(c.completion_tokens for c in group),
                "rounds": max(c.round for c in group) if any(c.round >= 0 for c in group) else -1,
                "rejected_answers": sum(c.rejected for c in group),
            }
            sources = ["llm" if c.round == 0 else "repair" for c in kept]
            calls = [c.calls for c in kept]
            prompt_tokens = [c.prompt_tokens for c in kept]
            completion_tokens = [c.completion_tokens for c in kept]
            rounds = [c.round for c in kept]
            copied = [c.copied for c in kept]
            filled = fills.get(i, np.empty((0, d)))
            rows += list(filled)
            sources += ["fallback"] * len(filled)
            calls += [0] * len(filled)
            prompt_tokens += [0] * len(filled)
            completion_tokens += [0] * len(filled)
            rounds += [-1] * len(filled)
            copied += [False] * len(filled)
            out.append(
                Candidates(
                    np.array(rows, dtype=float).reshape(-1, d),
                    source=sources,
                    llm_calls=calls,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    extra={"round": rounds, "copied_example": copied},
                    query_info=info,
                )
            )
        return out

    def _fallback(
        self, X: np.ndarray, short: dict[int, int], desired: int
    ) -> dict[int, np.ndarray]:
        """The oracle's CFs for the queries the LLM left short, as many as each lacks."""
        if not short:
            return {}
        from sensecf.generators.oracle import Oracle

        if getattr(self, "oracle_", None) is None:
            self.oracle_ = Oracle().fit(self.model_, self.reference_)
        ids = sorted(short)
        frame = pd.DataFrame(X[ids], columns=self.spec_.feature_names)
        result = self.oracle_.generate(frame, n_cfs=max(short.values()), desired_class=desired)
        names = self.spec_.feature_names
        out = {}
        for position, i in enumerate(ids):
            rows = result.cfs[result.cfs["query_id"] == position][names].to_numpy(dtype=float)
            out[i] = rows[: short[i]]
        return out


def _window(rows: np.ndarray, size: int, index: int) -> np.ndarray:
    """The ``index``-th block of ``size`` rows, wrapping around when the rows run out."""
    if size == 0 or not len(rows):
        return rows[:0]
    blocks = max(1, -(-len(rows) // size))
    start = (index % blocks) * size
    return rows[start : start + size]
